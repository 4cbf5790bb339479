use std::pin::Pin;

use async_trait::async_trait;
use futures_core::Stream;

use crate::{
    Compare, KeyValue, Op, OpResponse, RangeRequest, RangeResponse, Result, Txn, TxnResponse,
    WatchEvent, WatchRequest,
};

/// Events in revision order; a `Compacted` error (then the end) when history needed by the
/// watch is gone; the end when the store closes.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchEvent>> + Send>>;

/// The contract etcd v3 defines, which the API server builds on: one cluster-wide revision,
/// ranges at a revision, compare-then-write transactions, watches from a revision, compaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `"embedded"` or `"etcd"`.
    fn backend(&self) -> &'static str;

    async fn range(&self, req: RangeRequest) -> Result<RangeResponse>;

    /// Atomically evaluates `compare` and runs one branch. A branch that writes commits exactly
    /// one new revision, shared by all its writes, and is durable when this returns.
    async fn txn(&self, txn: Txn) -> Result<TxnResponse>;

    async fn watch(&self, req: WatchRequest) -> Result<WatchStream>;

    /// Drops history older than `revision`: later reads and watches before it are `Compacted`.
    async fn compact(&self, revision: i64) -> Result<()>;

    /// The current revision and the compacted one (0: never compacted).
    async fn revisions(&self) -> Result<Revisions>;

    /// Flushes and closes; further calls fail with `Closed`, open watches end.
    async fn close(&self) -> Result<()>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Revisions {
    pub current: i64,
    pub compacted: i64,
}

/// Conveniences over [`Store`], the shapes the API server uses most.
#[async_trait]
pub trait StoreExt: Store {
    async fn get(&self, key: &[u8]) -> Result<Option<KeyValue>> {
        Ok(self
            .range(RangeRequest::key(key))
            .await?
            .kvs
            .into_iter()
            .next())
    }

    /// Unconditional put; returns the new revision.
    async fn put(&self, key: &[u8], value: &[u8]) -> Result<i64> {
        Ok(self
            .txn(Txn::new().and_then([Op::put(key, value)]))
            .await?
            .revision)
    }

    /// Creates `key` only if absent: `Ok(Some(rev))`, or `Ok(None)` when it exists.
    async fn create(&self, key: &[u8], value: &[u8]) -> Result<Option<i64>> {
        let txn = Txn::new()
            .when([Compare::mod_revision_eq(key, 0)])
            .and_then([Op::put(key, value)]);
        let resp = self.txn(txn).await?;
        Ok(resp.succeeded.then_some(resp.revision))
    }

    /// Replaces `key` only if its mod_revision is `expected`: `Ok(Ok(rev))` with the new revision,
    /// or `Ok(Err(current))` with the current value (None: absent) when it moved on.
    async fn update(
        &self,
        key: &[u8],
        expected: i64,
        value: &[u8],
    ) -> Result<std::result::Result<i64, Option<KeyValue>>> {
        let txn = Txn::new()
            .when([Compare::mod_revision_eq(key, expected)])
            .and_then([Op::put(key, value)])
            .or_else([Op::get(key)]);
        let resp = self.txn(txn).await?;
        Ok(if resp.succeeded {
            Ok(resp.revision)
        } else {
            Err(first_kv(resp.responses))
        })
    }

    /// Deletes `key` if present (and, when `expected` is non-zero, only at that mod_revision):
    /// `Ok(Ok((rev, deleted)))` or `Ok(Err(current))` when the precondition failed.
    async fn delete(
        &self,
        key: &[u8],
        expected: i64,
    ) -> Result<std::result::Result<(i64, Option<KeyValue>), Option<KeyValue>>> {
        let mut txn = Txn::new()
            .and_then([Op::delete(key)])
            .or_else([Op::get(key)]);
        if expected != 0 {
            txn = txn.when([Compare::mod_revision_eq(key, expected)]);
        }
        let resp = self.txn(txn).await?;
        if !resp.succeeded {
            return Ok(Err(first_kv(resp.responses)));
        }
        let prev = match resp.responses.into_iter().next() {
            Some(OpResponse::Delete { prev_kv, .. }) => prev_kv,
            _ => None,
        };
        Ok(Ok((resp.revision, prev)))
    }
}

impl<S: Store + ?Sized> StoreExt for S {}

fn first_kv(responses: Vec<OpResponse>) -> Option<KeyValue> {
    match responses.into_iter().next() {
        Some(OpResponse::Range(r)) => r.kvs.into_iter().next(),
        _ => None,
    }
}
