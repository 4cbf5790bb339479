//! Standard base64 (RFC 4648, padded), as Go's `encoding/json` uses for `[]byte` fields
//! (Secret `data`, ConfigMap `binaryData`).

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes bytes with padding.
pub fn encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(ALPHABET[(n >> 18) as usize & 63] as char);
        out.push(ALPHABET[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            ALPHABET[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            ALPHABET[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

fn value_of(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// Decodes padded standard base64 (newlines ignored, as Go does). The error is Go's
/// `illegal base64 data at input byte N`.
pub fn decode(s: &str) -> Result<Vec<u8>, String> {
    let bytes: Vec<(usize, u8)> = s
        .bytes()
        .enumerate()
        .filter(|(_, c)| *c != b'\n' && *c != b'\r')
        .collect();
    let err = |i: usize| format!("illegal base64 data at input byte {i}");
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (ci, chunk) in bytes.chunks(4).enumerate() {
        if chunk.len() < 4 {
            return Err(err(chunk.first().map_or(s.len(), |c| c.0).max(ci * 4)));
        }
        let mut n: u32 = 0;
        let mut pad = 0;
        for (k, (pos, c)) in chunk.iter().enumerate() {
            if *c == b'=' {
                if k < 2 || (k == 2 && chunk[3].1 != b'=') {
                    return Err(err(*pos));
                }
                pad += 1;
                n <<= 6;
                continue;
            }
            if pad > 0 {
                return Err(err(*pos));
            }
            n = (n << 6) | value_of(*c).ok_or_else(|| err(*pos))?;
        }
        if pad > 0 && (ci + 1) * 4 < bytes.len() {
            return Err(err(chunk[3].0));
        }
        out.push((n >> 16) as u8);
        if pad < 2 {
            out.push((n >> 8) as u8);
        }
        if pad < 1 {
            out.push(n as u8);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for s in ["", "a", "ab", "abc", "abcd", "hello world"] {
            assert_eq!(decode(&encode(s.as_bytes())).unwrap(), s.as_bytes());
        }
        assert_eq!(encode(b"admin"), "YWRtaW4=");
        assert_eq!(decode("YWRtaW4=").unwrap(), b"admin");
        assert!(decode("YWRta!4=").is_err());
        assert!(decode("YWR").is_err());
    }
}
