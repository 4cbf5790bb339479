//! Element order of merged lists, as upstream's strategic merge patch settles it: items named
//! in the patch (or its `$setElementOrder` list) keep that order, items only on the server
//! keep theirs, and the two are interleaved by the server's order. Ported from
//! strategicpatch's `normalizeElementOrder` with Go's `sort.SliceStable`, so lists come out
//! exactly as kube-apiserver orders them (new items of a plain merge go first).

use serde_json::Value;

use super::strategic::{bad_arg_type, no_merge_key, DELETE, DIRECTIVE_MARKER};
use super::PatchError;

/// Sorts `patch` items by `patch_order` and server-only items by `server_order`, then
/// interleaves them. `is_map`: the items are maps identified by `merge_key`.
pub(super) fn normalize_element_order(
    patch: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    is_map: bool,
) -> Result<Vec<Value>, PatchError> {
    let patch = normalize_slice_order(patch, patch_order, merge_key, is_map)?;
    let server_only = normalize_slice_order(server_only, server_order, merge_key, is_map)?;
    Ok(merge_sorted_slice(
        server_only,
        patch,
        server_order,
        merge_key,
        is_map,
    ))
}

/// Inserts each of `left` into `right`: before the next `right` item only when both are on
/// the server and `left`'s comes first there.
fn merge_sorted_slice(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: &str,
    is_map: bool,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!(
                (
                    index(server_order, l, merge_key, is_map),
                    index(server_order, r, merge_key, is_map),
                ),
                (Some(li), Some(ri)) if li < ri
            ),
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

/// What identifies an item: its merge key's value for maps (missing or null alike, as Go's
/// nil), the item itself otherwise.
fn identity<'a>(item: &'a Value, merge_key: &str, is_map: bool) -> Option<&'a Value> {
    let v = if is_map {
        item.as_object().and_then(|m| m.get(merge_key))
    } else {
        Some(item)
    };
    v.filter(|v| !v.is_null())
}

/// The position of `item` in `list`, as upstream's `index`.
fn index(list: &[Value], item: &Value, merge_key: &str, is_map: bool) -> Option<usize> {
    let wanted = identity(item, merge_key, is_map);
    list.iter()
        .position(|v| identity(v, merge_key, is_map) == wanted)
}

/// Sorts `to_sort` by `order` (stable; `$patch: delete` items last), as `normalizeSliceOrder`.
fn normalize_slice_order(
    to_sort: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    is_map: bool,
) -> Result<Vec<Value>, PatchError> {
    let (mut to_sort, to_delete) = if is_map {
        validate_merge_key_in_lists(merge_key, &[&to_sort, order])?;
        extract_to_delete_items(to_sort)?
    } else {
        (to_sort, Vec::new())
    };
    // Upstream's comparator calls any pair with an item missing from `order` "less"; Go's
    // stable sort with that comparator is reproduced step for step.
    slice_stable(&mut to_sort, |a, b| {
        match (
            index(order, a, merge_key, is_map),
            index(order, b, merge_key, is_map),
        ) {
            (Some(ia), Some(ib)) => ia < ib,
            _ => true,
        }
    });
    to_sort.extend(to_delete);
    Ok(to_sort)
}

/// Every item is a map holding the merge key.
fn validate_merge_key_in_lists(merge_key: &str, lists: &[&[Value]]) -> Result<(), PatchError> {
    for item in lists.iter().flat_map(|l| l.iter()) {
        let Some(m) = item.as_object() else {
            return Err(bad_arg_type("map[string]interface {}", item));
        };
        if !m.contains_key(merge_key) {
            return Err(no_merge_key(m, merge_key));
        }
    }
    Ok(())
}

/// Splits items into those to keep and those marked `$patch: delete`.
pub(super) fn extract_to_delete_items(
    list: Vec<Value>,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut keep = Vec::new();
    let mut delete = Vec::new();
    for v in list {
        let Some(m) = v.as_object() else {
            return Err(bad_arg_type("map[string]interface {}", &v));
        };
        if m.get(DIRECTIVE_MARKER).and_then(Value::as_str) == Some(DELETE) {
            delete.push(v);
        } else {
            keep.push(v);
        }
    }
    Ok((keep, delete))
}

/// Upstream's `deduplicateScalars`: removes repeats by moving the last item into their place.
/// Works in place as Go's does on the shared backing array: items past the returned length
/// are left as they were, not cleared.
pub(super) fn deduplicate_scalars(s: &mut [Value]) -> usize {
    let mut length = s.len() as isize - 1;
    let mut i = 0;
    while i < length {
        let mut j = i + 1;
        while j <= length {
            if s[i as usize] == s[j as usize] {
                s[j as usize] = s[length as usize].clone();
                length -= 1;
                j -= 1;
            }
            j += 1;
        }
        i += 1;
    }
    (length + 1) as usize
}

/// Go's `sort.SliceStable` (insertion sort on blocks of 20, then `symMerge`), step for step,
/// so a comparator that is not a strict order sorts as it does in Go.
fn slice_stable<T>(data: &mut [T], mut less: impl FnMut(&T, &T) -> bool) {
    let n = data.len();
    let mut block = 20;
    let (mut a, mut b) = (0, block);
    while b <= n {
        insertion_sort(data, a, b, &mut less);
        a = b;
        b += block;
    }
    insertion_sort(data, a, n, &mut less);
    while block < n {
        a = 0;
        b = 2 * block;
        while b <= n {
            sym_merge(data, a, a + block, b, &mut less);
            a = b;
            b += 2 * block;
        }
        let m = a + block;
        if m < n {
            sym_merge(data, a, m, n, &mut less);
        }
        block *= 2;
    }
}

fn insertion_sort<T>(data: &mut [T], a: usize, b: usize, less: &mut impl FnMut(&T, &T) -> bool) {
    for i in a + 1..b {
        let mut j = i;
        while j > a && less(&data[j], &data[j - 1]) {
            data.swap(j, j - 1);
            j -= 1;
        }
    }
}

fn sym_merge<T>(
    data: &mut [T],
    a: usize,
    m: usize,
    b: usize,
    less: &mut impl FnMut(&T, &T) -> bool,
) {
    if m - a == 1 {
        let (mut i, mut j) = (m, b);
        while i < j {
            let h = (i + j) / 2;
            if less(&data[h], &data[a]) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        let mut k = a;
        while k + 1 < i {
            data.swap(k, k + 1);
            k += 1;
        }
        return;
    }
    if b - m == 1 {
        let (mut i, mut j) = (a, m);
        while i < j {
            let h = (i + j) / 2;
            if !less(&data[m], &data[h]) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        let mut k = m;
        while k > i {
            data.swap(k, k - 1);
            k -= 1;
        }
        return;
    }
    let mid = (a + b) / 2;
    let n = mid + m;
    let (mut start, mut r) = if m > mid { (n - b, mid) } else { (a, m) };
    let p = n - 1;
    while start < r {
        let c = (start + r) / 2;
        if !less(&data[p - c], &data[c]) {
            start = c + 1;
        } else {
            r = c;
        }
    }
    let end = n - start;
    if start < m && m < end {
        rotate(data, start, m, end);
    }
    if a < start && start < mid {
        sym_merge(data, a, start, mid, less);
    }
    if mid < end && end < b {
        sym_merge(data, mid, end, b, less);
    }
}

fn rotate<T>(data: &mut [T], a: usize, m: usize, b: usize) {
    let mut i = m - a;
    let mut j = b - m;
    while i != j {
        if i > j {
            swap_range(data, m - i, m, j);
            i -= j;
        } else {
            swap_range(data, m - i, m + j - i, i);
            j -= i;
        }
    }
    swap_range(data, m - i, m, i);
}

fn swap_range<T>(data: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        data.swap(a + i, b + i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stable_sort_matches_a_strict_order() {
        let mut v: Vec<(u32, u32)> = (0..100).map(|i| ((i * 37) % 10, i)).collect();
        let mut expect = v.clone();
        expect.sort_by_key(|p| p.0);
        slice_stable(&mut v, |a, b| a.0 < b.0);
        assert_eq!(v, expect);
    }

    #[test]
    fn new_items_of_a_merge_come_first() {
        // Server [a b], patch [c]: upstream yields [c a b].
        let out = normalize_element_order(
            vec![json!("c")],
            vec![json!("a"), json!("b")],
            &[json!("c")],
            &[json!("a"), json!("b")],
            "",
            false,
        )
        .unwrap();
        assert_eq!(out, vec![json!("c"), json!("a"), json!("b")]);
    }

    #[test]
    fn dedup_moves_the_last_item() {
        let mut v = vec![json!(1), json!(2), json!(1), json!(3)];
        assert_eq!(deduplicate_scalars(&mut v), 3);
        assert_eq!(v, [json!(1), json!(2), json!(3), json!(3)]);
        let mut v = vec![json!(1), json!(1), json!(2), json!(3)];
        assert_eq!(deduplicate_scalars(&mut v), 3);
        assert_eq!(v, [json!(1), json!(3), json!(2), json!(3)]);
    }
}
