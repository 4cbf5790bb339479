//! The single writer thread: group commit. Queued transactions are applied in order in one redb
//! write transaction (each its own revision), made durable by one fsync, then acknowledged and
//! published to watchers. Throughput grows with concurrency instead of paying one fsync each.

use std::sync::{atomic::Ordering, mpsc, Arc};

use redb::{ReadableTable, Table};
use tokio::sync::oneshot;
use tracing::{debug, error};

use super::{
    read::Tables,
    tables::{load, Record, CUR, DELETED, HIST, LOG, META, META_COMPACTED, META_REVISION},
    watch::Batch,
    Inner,
};
use crate::{
    CompareTarget, Error, EventKind, KeyValue, Op, OpResponse, Result, Txn, TxnResponse, WatchEvent,
};

/// Caps a group so one commit stays bounded in memory and latency.
const MAX_BATCH: usize = 512;
const MAX_BATCH_BYTES: usize = 32 << 20;

pub(super) enum Request {
    Txn(Txn, oneshot::Sender<Result<TxnResponse>>),
    Compact(i64, oneshot::Sender<Result<()>>),
}

impl Request {
    fn size(&self) -> usize {
        match self {
            Request::Txn(t, _) => t
                .success
                .iter()
                .chain(&t.failure)
                .map(|op| match op {
                    Op::Put { key, value } => key.len() + value.len(),
                    _ => 64,
                })
                .sum(),
            Request::Compact(..) => 0,
        }
    }
}

enum Reply {
    Txn(oneshot::Sender<Result<TxnResponse>>, Result<TxnResponse>),
    Compact(oneshot::Sender<Result<()>>, Result<()>),
}

pub(super) fn run(inner: Arc<Inner>, rx: mpsc::Receiver<Request>) {
    while let Ok(first) = rx.recv() {
        let mut bytes = first.size();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(r) => {
                    bytes += r.size();
                    batch.push(r);
                }
                Err(_) => break,
            }
        }
        commit_batch(&inner, batch);
    }
    debug!("embedded store writer stopped");
}

fn commit_batch(inner: &Inner, batch: Vec<Request>) {
    let mut revision = inner.current.load(Ordering::Acquire);
    let mut compacted = inner.compacted.load(Ordering::Acquire);
    let mut events = Vec::new();
    let mut replies = Vec::with_capacity(batch.len());
    let outcome = (|| -> Result<()> {
        let wtx = inner.db.begin_write()?;
        // Opened once for the group, not per transaction.
        let mut t = WriteTables {
            cur: wtx.open_table(CUR)?,
            hist: wtx.open_table(HIST)?,
            log: wtx.open_table(LOG)?,
        };
        for req in batch {
            match req {
                Request::Txn(txn, tx) => {
                    let r = apply_txn(&mut t, &txn, &mut revision, compacted, &mut events);
                    // A storage failure mid-txn may have left partial writes: abort the group.
                    if let Err(e) = &r {
                        if !matches!(
                            e,
                            Error::InvalidArgument(_)
                                | Error::Compacted { .. }
                                | Error::FutureRevision { .. }
                        ) {
                            let msg = e.to_string();
                            drop(tx.send(r));
                            return Err(Error::Embedded(msg));
                        }
                    }
                    replies.push(Reply::Txn(tx, r));
                }
                Request::Compact(rev, tx) => {
                    let r = compact(&mut t, rev, revision, &mut compacted);
                    replies.push(Reply::Compact(tx, r));
                }
            }
        }
        drop(t);
        {
            let mut m = wtx.open_table(META)?;
            m.insert(META_REVISION, revision as u64)?;
            m.insert(META_COMPACTED, compacted as u64)?;
        }
        wtx.commit()?;
        Ok(())
    })();
    match outcome {
        Ok(()) => {
            inner.current.store(revision, Ordering::Release);
            inner.compacted.store(compacted, Ordering::Release);
            if !events.is_empty() {
                // No receiver is fine: nobody watches.
                if let Some(tx) = inner.events.read().expect("events lock").as_ref() {
                    let _ = tx.send(Arc::new(Batch {
                        events,
                        last_revision: revision,
                    }));
                }
            }
            for reply in replies {
                match reply {
                    Reply::Txn(tx, r) => drop(tx.send(r)),
                    Reply::Compact(tx, r) => drop(tx.send(r)),
                }
            }
        }
        Err(e) => {
            error!(error = %e, "embedded store commit failed");
            let msg = e.to_string();
            for reply in replies {
                match reply {
                    Reply::Txn(tx, _) => drop(tx.send(Err(Error::Embedded(msg.clone())))),
                    Reply::Compact(tx, _) => drop(tx.send(Err(Error::Embedded(msg.clone())))),
                }
            }
        }
    }
}

/// The tables a group of transactions writes.
struct WriteTables<'txn> {
    cur: Table<'txn, &'static [u8], (u64, u32)>,
    hist: Table<'txn, (&'static [u8], u64), u32>,
    log: Table<'txn, (u64, u32), &'static [u8]>,
}

fn apply_txn(
    t: &mut WriteTables<'_>,
    txn: &Txn,
    revision: &mut i64,
    compacted: i64,
    events: &mut Vec<WatchEvent>,
) -> Result<TxnResponse> {
    txn.validate()?;
    let WriteTables { cur, hist, log } = t;
    let mut succeeded = true;
    for c in &txn.compare {
        let holds = match &c.target {
            // The API server's compare-and-swap: the live pointer is the key's mod_revision, so
            // the record (and its value) need not be read.
            CompareTarget::ModRevision(_) => {
                let current = cur.get(c.key.as_slice())?.map(|p| KeyValue {
                    mod_revision: p.value().0 as i64,
                    ..KeyValue::default()
                });
                c.holds(current.as_ref())
            }
            _ => {
                let current = Tables {
                    cur: &*cur,
                    hist: &*hist,
                    log: &*log,
                }
                .get(&c.key)?;
                c.holds(current.as_ref())
            }
        };
        if !holds {
            succeeded = false;
            break;
        }
    }
    let ops = if succeeded {
        &txn.success
    } else {
        &txn.failure
    };
    // The revision this txn writes at, taken on its first change (a no-op delete takes none).
    let base = *revision;
    let mut sub = 0u32;
    let mut responses = Vec::with_capacity(ops.len());
    for op in ops {
        match op {
            Op::Range(req) => {
                let t = Tables {
                    cur: &*cur,
                    hist: &*hist,
                    log: &*log,
                };
                let current = if sub > 0 { base + 1 } else { base };
                responses.push(OpResponse::Range(t.range(req, current, compacted)?));
            }
            Op::Put { key, value } => {
                let rev = (base + 1) as u64;
                let prev_ptr = cur.get(key.as_slice())?.map(|p| p.value());
                let prev = match prev_ptr {
                    Some(p) => Some(load(&*log, p)?.into_kv(p.0)),
                    None => None,
                };
                let kv = KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                    create_revision: prev.as_ref().map_or(rev as i64, |p| p.create_revision),
                    mod_revision: rev as i64,
                    version: prev.as_ref().map_or(1, |p| p.version + 1),
                };
                let record = Record::encode_put(&kv, prev_ptr);
                log.insert((rev, sub), record.as_slice())?;
                hist.insert((key.as_slice(), rev), sub)?;
                cur.insert(key.as_slice(), (rev, sub))?;
                sub += 1;
                events.push(WatchEvent {
                    kind: EventKind::Put,
                    kv,
                    prev_kv: prev.clone(),
                });
                responses.push(OpResponse::Put { prev_kv: prev });
            }
            Op::Delete { key } => {
                let Some(prev_ptr) = cur.remove(key.as_slice())?.map(|p| p.value()) else {
                    responses.push(OpResponse::Delete {
                        deleted: 0,
                        prev_kv: None,
                    });
                    continue;
                };
                let rev = (base + 1) as u64;
                let prev = load(&*log, prev_ptr)?.into_kv(prev_ptr.0);
                let record = Record {
                    deleted: true,
                    key: key.clone(),
                    value: Vec::new(),
                    create_revision: 0,
                    version: 0,
                    prev: Some(prev_ptr),
                };
                log.insert((rev, sub), record.encode().as_slice())?;
                hist.insert((key.as_slice(), rev), sub | DELETED)?;
                sub += 1;
                events.push(WatchEvent {
                    kind: EventKind::Delete,
                    kv: KeyValue {
                        key: key.clone(),
                        mod_revision: rev as i64,
                        ..KeyValue::default()
                    },
                    prev_kv: Some(prev.clone()),
                });
                responses.push(OpResponse::Delete {
                    deleted: 1,
                    prev_kv: Some(prev),
                });
            }
        }
    }
    if sub > 0 {
        *revision = base + 1;
    }
    Ok(TxnResponse {
        succeeded,
        revision: *revision,
        responses,
    })
}

/// Drops every record at or before `rev` that no read at `rev` or later can see: those
/// superseded by a later change at or before `rev`, and deletions.
fn compact(t: &mut WriteTables<'_>, rev: i64, current: i64, compacted: &mut i64) -> Result<()> {
    if rev <= *compacted {
        return Err(Error::Compacted {
            requested: rev,
            compact_revision: *compacted,
        });
    }
    if rev > current {
        return Err(Error::FutureRevision {
            requested: rev,
            current,
        });
    }
    let WriteTables { hist, log, .. } = t;
    let mut drop_list = Vec::new();
    for item in log.range((0u64, 0u32)..=(rev as u64, u32::MAX))? {
        let (k, v) = item?;
        let (r, sub) = k.value();
        let record = Record::decode(r, v.value())?;
        let superseded = hist
            .range::<(&[u8], u64)>(
                (record.key.as_slice(), r + 1)..=(record.key.as_slice(), rev as u64),
            )?
            .next()
            .is_some();
        if superseded || record.deleted {
            drop_list.push((r, sub, record.key));
        }
    }
    for (r, sub, key) in &drop_list {
        log.remove((*r, *sub))?;
        hist.remove((key.as_slice(), *r))?;
    }
    *compacted = rev;
    debug!(
        revision = rev,
        dropped = drop_list.len(),
        "embedded store compacted"
    );
    Ok(())
}
