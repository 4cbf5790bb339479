//! The embedded store's on-disk layout (redb tables) and record encoding.
//!
//! - `log`: (revision, sub) -> record. Every change, in commit order: the watch history.
//! - `hist`: (key, revision) -> sub (| DELETED): each key's revisions, for reads at a revision.
//! - `cur`: key -> (revision, sub) of its live record: the fast path for latest reads.
//! - `meta`: the current and compacted revisions.

use redb::{ReadableTable, TableDefinition};

use crate::{Error, KeyValue, Result};

pub(super) const LOG: TableDefinition<'_, (u64, u32), &[u8]> = TableDefinition::new("log");
pub(super) const HIST: TableDefinition<'_, (&[u8], u64), u32> = TableDefinition::new("hist");
pub(super) const CUR: TableDefinition<'_, &[u8], (u64, u32)> = TableDefinition::new("cur");
pub(super) const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");

pub(super) const META_REVISION: &str = "revision";
pub(super) const META_COMPACTED: &str = "compacted";

/// Set in a `hist` value when that revision deleted the key.
pub(super) const DELETED: u32 = 1 << 31;

pub(super) type Ptr = (u64, u32);

/// One change as stored in `log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record {
    pub deleted: bool,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub create_revision: i64,
    pub version: i64,
    /// The key's previous record, if it existed before this change.
    pub prev: Option<Ptr>,
}

const HEADER: usize = 1 + 8 + 8 + 8 + 4 + 4;

impl Record {
    pub fn encode(&self) -> Vec<u8> {
        encode(
            self.deleted,
            &self.key,
            &self.value,
            self.create_revision,
            self.version,
            self.prev,
        )
    }

    /// The encoding of a put of `kv` (the record `Record { deleted: false, .. }` would give),
    /// without copying the value into a `Record` first.
    pub fn encode_put(kv: &KeyValue, prev: Option<Ptr>) -> Vec<u8> {
        encode(
            false,
            &kv.key,
            &kv.value,
            kv.create_revision,
            kv.version,
            prev,
        )
    }

    pub fn decode(revision: u64, b: &[u8]) -> Result<Self> {
        let corrupt = |reason: &str| Error::Corrupt {
            revision: revision as i64,
            reason: reason.into(),
        };
        if b.len() < HEADER {
            return Err(corrupt("short record"));
        }
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        let flags = b[0];
        let key_len = u32_at(29) as usize;
        if b.len() < HEADER + key_len {
            return Err(corrupt("key past the end of the record"));
        }
        Ok(Self {
            deleted: flags & 1 != 0,
            create_revision: u64_at(1) as i64,
            version: u64_at(9) as i64,
            prev: (flags & 2 != 0).then(|| (u64_at(17), u32_at(25))),
            key: b[HEADER..HEADER + key_len].to_vec(),
            value: b[HEADER + key_len..].to_vec(),
        })
    }

    /// The key-value this record describes at `revision` (for a delete: the key and revision only).
    pub fn into_kv(self, revision: u64) -> KeyValue {
        if self.deleted {
            return KeyValue {
                key: self.key,
                mod_revision: revision as i64,
                ..KeyValue::default()
            };
        }
        KeyValue {
            key: self.key,
            value: self.value,
            create_revision: self.create_revision,
            mod_revision: revision as i64,
            version: self.version,
        }
    }
}

fn encode(
    deleted: bool,
    key: &[u8],
    value: &[u8],
    create_revision: i64,
    version: i64,
    prev: Option<Ptr>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + key.len() + value.len());
    out.push(u8::from(deleted) | (u8::from(prev.is_some()) << 1));
    out.extend_from_slice(&create_revision.to_le_bytes());
    out.extend_from_slice(&version.to_le_bytes());
    let (prev_rev, prev_sub) = prev.unwrap_or((0, 0));
    out.extend_from_slice(&prev_rev.to_le_bytes());
    out.extend_from_slice(&prev_sub.to_le_bytes());
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    out
}

pub(super) fn load(
    log: &impl ReadableTable<(u64, u32), &'static [u8]>,
    ptr: Ptr,
) -> Result<Record> {
    match log.get(ptr)? {
        Some(v) => Record::decode(ptr.0, v.value()),
        None => Err(Error::Corrupt {
            revision: ptr.0 as i64,
            reason: "missing log record".into(),
        }),
    }
}

pub(super) fn meta(table: &impl ReadableTable<&'static str, u64>, key: &str) -> Result<i64> {
    Ok(table.get(key)?.map_or(0, |v| v.value() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_roundtrip() {
        let r = Record {
            deleted: false,
            key: b"/registry/pods/default/a".to_vec(),
            value: vec![1, 2, 3, 0, 255],
            create_revision: 7,
            version: 3,
            prev: Some((9, 2)),
        };
        assert_eq!(Record::decode(10, &r.encode()).unwrap(), r);
        let kv = r.clone().into_kv(10);
        assert_eq!(Record::encode_put(&kv, r.prev), r.encode());
        let d = Record {
            deleted: true,
            value: vec![],
            prev: None,
            ..r
        };
        assert_eq!(Record::decode(11, &d.encode()).unwrap(), d);
        assert!(Record::decode(1, &[0; 5]).is_err());
    }
}
