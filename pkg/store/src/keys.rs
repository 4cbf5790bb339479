/// The end of the range of keys that start with `prefix`, as etcd computes it: the prefix with
/// its last byte below 0xff incremented and what follows dropped; all 0xff (or empty) means
/// "to the end of the keyspace", spelled `[0]`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// Whether `k` is in `[key, range_end)`; an empty `range_end` means exactly `key`, and
/// `range_end == [0]` means every key from `key` on.
pub fn in_range(key: &[u8], range_end: &[u8], k: &[u8]) -> bool {
    if range_end.is_empty() {
        return k == key;
    }
    k >= key && (range_end == [0] || k < range_end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_last_byte() {
        assert_eq!(prefix_end(b"/a/b/"), b"/a/b0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
        assert_eq!(prefix_end(b""), vec![0]);
    }

    #[test]
    fn range_membership() {
        assert!(in_range(b"/a/b/", &prefix_end(b"/a/b/"), b"/a/b/x"));
        assert!(!in_range(b"/a/b/", &prefix_end(b"/a/b/"), b"/a/bc"));
        assert!(in_range(b"/a/b", b"", b"/a/b"));
        assert!(!in_range(b"/a/b", b"", b"/a/bc"));
        assert!(in_range(b"x", &[0], b"zzz"));
        assert!(!in_range(b"x", &[0], b"a"));
    }
}
