//! The request and response shapes of etcd v3's KV and Watch APIs, backend-neutral.

/// One key's state at one revision.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyValue {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    /// Revision of the write that created the key (since its last deletion).
    pub create_revision: i64,
    /// Revision of the last write to the key.
    pub mod_revision: i64,
    /// Number of writes since creation (1 after create).
    pub version: i64,
}

/// A range read: one key (`range_end` empty) or `[key, range_end)`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RangeRequest {
    pub key: Vec<u8>,
    pub range_end: Vec<u8>,
    /// At most this many kvs (0: no limit); `more` tells whether some were left out.
    pub limit: i64,
    /// Read at this revision (0: the latest). Older than the retained history is `Compacted`.
    pub revision: i64,
    pub keys_only: bool,
    pub count_only: bool,
}

impl RangeRequest {
    pub fn key(key: impl Into<Vec<u8>>) -> Self {
        Self {
            key: key.into(),
            ..Self::default()
        }
    }

    /// Every key that starts with `prefix` (byte-wise, as etcd's `--prefix`).
    pub fn prefix(prefix: impl Into<Vec<u8>>) -> Self {
        let key = prefix.into();
        let range_end = crate::prefix_end(&key);
        Self {
            key,
            range_end,
            ..Self::default()
        }
    }

    pub fn range(key: impl Into<Vec<u8>>, range_end: impl Into<Vec<u8>>) -> Self {
        Self {
            key: key.into(),
            range_end: range_end.into(),
            ..Self::default()
        }
    }

    pub fn with_limit(mut self, limit: i64) -> Self {
        self.limit = limit;
        self
    }

    pub fn at_revision(mut self, revision: i64) -> Self {
        self.revision = revision;
        self
    }

    pub fn count_only(mut self) -> Self {
        self.count_only = true;
        self
    }

    pub fn keys_only(mut self) -> Self {
        self.keys_only = true;
        self
    }

    /// Whether `k` falls in this request's range.
    pub fn contains(&self, k: &[u8]) -> bool {
        crate::in_range(&self.key, &self.range_end, k)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RangeResponse {
    pub kvs: Vec<KeyValue>,
    /// More keys than `limit` were in range.
    pub more: bool,
    /// How many keys are in range in all (ignoring `limit`).
    pub count: i64,
    /// The store's revision when the read was served (not the read revision).
    pub revision: i64,
}

/// What a comparison looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompareTarget {
    /// 0 means the key does not exist.
    ModRevision(i64),
    /// 0 means the key does not exist.
    CreateRevision(i64),
    /// 0 means the key does not exist.
    Version(i64),
    Value(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareResult {
    Equal,
    NotEqual,
    Greater,
    Less,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compare {
    pub key: Vec<u8>,
    pub result: CompareResult,
    pub target: CompareTarget,
}

impl Compare {
    /// `mod_revision(key) == rev`; `rev == 0` means "the key does not exist".
    pub fn mod_revision_eq(key: impl Into<Vec<u8>>, rev: i64) -> Self {
        Self {
            key: key.into(),
            result: CompareResult::Equal,
            target: CompareTarget::ModRevision(rev),
        }
    }

    pub fn new(key: impl Into<Vec<u8>>, result: CompareResult, target: CompareTarget) -> Self {
        Self {
            key: key.into(),
            result,
            target,
        }
    }

    /// Evaluates against the key's current state (`None`: absent), as etcd does:
    /// an absent key has revisions and version 0 and matches no value comparison.
    pub fn holds(&self, current: Option<&KeyValue>) -> bool {
        use std::cmp::Ordering;
        let ord = match (&self.target, current) {
            (CompareTarget::ModRevision(r), kv) => kv.map_or(0, |kv| kv.mod_revision).cmp(r),
            (CompareTarget::CreateRevision(r), kv) => kv.map_or(0, |kv| kv.create_revision).cmp(r),
            (CompareTarget::Version(v), kv) => kv.map_or(0, |kv| kv.version).cmp(v),
            (CompareTarget::Value(_), None) => return false,
            (CompareTarget::Value(v), Some(kv)) => kv.value.as_slice().cmp(v.as_slice()),
        };
        match self.result {
            CompareResult::Equal => ord == Ordering::Equal,
            CompareResult::NotEqual => ord != Ordering::Equal,
            CompareResult::Greater => ord == Ordering::Greater,
            CompareResult::Less => ord == Ordering::Less,
        }
    }
}

/// One operation of a transaction branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    /// Deletes one key (absent: nothing happens, `deleted == 0`).
    Delete {
        key: Vec<u8>,
    },
    Range(RangeRequest),
}

impl Op {
    pub fn put(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Self {
        Op::Put {
            key: key.into(),
            value: value.into(),
        }
    }

    pub fn delete(key: impl Into<Vec<u8>>) -> Self {
        Op::Delete { key: key.into() }
    }

    pub fn get(key: impl Into<Vec<u8>>) -> Self {
        Op::Range(RangeRequest::key(key))
    }

    pub(crate) fn written_key(&self) -> Option<&[u8]> {
        match self {
            Op::Put { key, .. } | Op::Delete { key } => Some(key),
            Op::Range(_) => None,
        }
    }
}

/// If every comparison holds, `success` runs, else `failure`; atomically, as one revision.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Txn {
    pub compare: Vec<Compare>,
    pub success: Vec<Op>,
    pub failure: Vec<Op>,
}

impl Txn {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn when(mut self, compare: impl IntoIterator<Item = Compare>) -> Self {
        self.compare.extend(compare);
        self
    }

    pub fn and_then(mut self, ops: impl IntoIterator<Item = Op>) -> Self {
        self.success.extend(ops);
        self
    }

    pub fn or_else(mut self, ops: impl IntoIterator<Item = Op>) -> Self {
        self.failure.extend(ops);
        self
    }

    /// etcd refuses a branch that writes one key twice; so do we, on both backends.
    pub(crate) fn validate(&self) -> crate::Result<()> {
        for branch in [&self.success, &self.failure] {
            let mut seen = std::collections::HashSet::new();
            for key in branch.iter().filter_map(Op::written_key) {
                if !seen.insert(key) {
                    return Err(crate::Error::InvalidArgument(format!(
                        "duplicate key given in txn request: {}",
                        String::from_utf8_lossy(key)
                    )));
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResponse {
    /// The key's value before the put, if it existed.
    Put {
        prev_kv: Option<KeyValue>,
    },
    /// How many keys were deleted (0 or 1) and the deleted value.
    Delete {
        deleted: i64,
        prev_kv: Option<KeyValue>,
    },
    Range(RangeResponse),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnResponse {
    pub succeeded: bool,
    /// The store's revision after the transaction (its own revision if it wrote).
    pub revision: i64,
    pub responses: Vec<OpResponse>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Put,
    Delete,
}

/// One change. For a delete, `kv` carries the key and the deleting revision as `mod_revision`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    pub kind: EventKind,
    pub kv: KeyValue,
    /// The key's state before this change (absent on creation).
    pub prev_kv: Option<KeyValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WatchRequest {
    pub key: Vec<u8>,
    /// Empty: only `key`; else `[key, range_end)`.
    pub range_end: Vec<u8>,
    /// First revision to deliver (inclusive, as etcd); 0: changes after now.
    pub start_revision: i64,
}

impl WatchRequest {
    pub fn key(key: impl Into<Vec<u8>>) -> Self {
        Self {
            key: key.into(),
            ..Self::default()
        }
    }

    pub fn prefix(prefix: impl Into<Vec<u8>>) -> Self {
        let key = prefix.into();
        let range_end = crate::prefix_end(&key);
        Self {
            key,
            range_end,
            ..Self::default()
        }
    }

    pub fn from_revision(mut self, start_revision: i64) -> Self {
        self.start_revision = start_revision;
        self
    }

    pub fn contains(&self, k: &[u8]) -> bool {
        crate::in_range(&self.key, &self.range_end, k)
    }
}
