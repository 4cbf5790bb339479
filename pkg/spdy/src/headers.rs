//! Name/value header blocks (SPDY/3 section 2.6.10): a u32 count, then u32-length-prefixed names
//! and values; several values of one name are joined with NUL. Names travel lowercased, so lookups
//! here are case-insensitive (Go's spdystream canonicalises `streamType` to `Streamtype`).

use crate::error::{Error, Result};

/// An ordered multimap of header names (lowercase) to values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces every value of `name` with `value`.
    pub fn set(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        let name = name.to_ascii_lowercase();
        self.0.retain(|(n, _)| *n != name);
        self.0.push((name, value.into()));
        self
    }

    /// Adds a value, keeping the existing ones.
    pub fn append(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.0.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The uncompressed block: one entry per distinct name, values joined with NUL.
    pub fn encode_block(&self) -> Vec<u8> {
        let mut names: Vec<&str> = Vec::new();
        for (n, _) in &self.0 {
            if !names.contains(&n.as_str()) {
                names.push(n);
            }
        }
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&(names.len() as u32).to_be_bytes());
        for name in names {
            let value = self.get_all(name).collect::<Vec<_>>().join("\0");
            out.extend_from_slice(&(name.len() as u32).to_be_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&(value.len() as u32).to_be_bytes());
            out.extend_from_slice(value.as_bytes());
        }
        out
    }

    /// Parses an uncompressed block. Names are lowercased (as Go's reader does).
    pub fn decode_block(block: &[u8]) -> Result<Self> {
        let mut r = block;
        let count = take_u32(&mut r)? as usize;
        // Each entry needs at least 8 bytes: bounds the allocation by the input.
        if count > r.len() / 8 {
            return Err(Error::Protocol(format!(
                "header block claims {count} entries in {} bytes",
                block.len()
            )));
        }
        let mut headers = Headers(Vec::with_capacity(count));
        for _ in 0..count {
            let name = take_str(&mut r)?.to_ascii_lowercase();
            let value = take_str(&mut r)?;
            for v in value.split('\0') {
                headers.0.push((name.clone(), v.to_string()));
            }
        }
        if !r.is_empty() {
            return Err(Error::Protocol(format!(
                "{} bytes after the header block",
                r.len()
            )));
        }
        Ok(headers)
    }
}

impl<N: AsRef<str>, V: Into<String>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut h = Headers::new();
        for (n, v) in iter {
            h.append(n.as_ref(), v);
        }
        h
    }
}

fn take_u32(r: &mut &[u8]) -> Result<u32> {
    if r.len() < 4 {
        return Err(Error::Protocol("truncated header block".into()));
    }
    let (head, rest) = r.split_at(4);
    *r = rest;
    Ok(u32::from_be_bytes([head[0], head[1], head[2], head[3]]))
}

fn take_str(r: &mut &[u8]) -> Result<String> {
    let len = take_u32(r)? as usize;
    if r.len() < len {
        return Err(Error::Protocol("truncated header block".into()));
    }
    let (s, rest) = r.split_at(len);
    *r = rest;
    String::from_utf8(s.to_vec())
        .map_err(|_| Error::Protocol("header name or value is not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_round_trips_and_joins_repeated_names() {
        let mut h = Headers::new();
        h.set("streamType", "error")
            .append("X-Multi", "a")
            .append("x-multi", "b");
        let block = h.encode_block();
        let expected: &[u8] =
            b"\0\0\0\x02\0\0\0\x0astreamtype\0\0\0\x05error\0\0\0\x07x-multi\0\0\0\x03a\0b";
        assert_eq!(block, expected);
        let back = Headers::decode_block(&block).unwrap();
        assert_eq!(back.get("StreamType"), Some("error"));
        assert_eq!(back.get_all("x-multi").collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn truncated_and_oversized_blocks_are_errors() {
        assert!(Headers::decode_block(b"\0\0\0\x01\0\0\0\x05ab").is_err());
        assert!(Headers::decode_block(b"\xff\xff\xff\xff").is_err());
        assert!(Headers::decode_block(b"\0\0\0\0extra").is_err());
    }
}
