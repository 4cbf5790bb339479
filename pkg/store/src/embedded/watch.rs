//! Watches without polling: committed groups are broadcast in memory; a watcher that starts in
//! the past, or falls behind the broadcast buffer, catches up from the `log` table and then
//! follows the broadcast again. Delivery is in revision order with nothing missed or doubled,
//! and memory stays bounded: a slow consumer only makes its own watcher read the log later.

use std::sync::{atomic::Ordering, Arc, Weak};

use redb::ReadableDatabase;
use tokio::sync::{broadcast, mpsc};

use super::{
    tables::{load, meta, Record, LOG, META, META_COMPACTED, META_REVISION},
    Inner,
};
use crate::{Error, EventKind, Result, WatchEvent, WatchRequest, WatchStream};

/// Events a commit produced, in order, and the revision the commit ended at.
pub(super) struct Batch {
    pub events: Vec<WatchEvent>,
    pub last_revision: i64,
}

/// Events queued per watcher before its task waits for the consumer.
const WATCH_BUFFER: usize = 256;

pub(super) fn start(inner: &Arc<Inner>, req: WatchRequest) -> Option<WatchStream> {
    // Subscribe before reading the current revision so no commit falls between the two.
    let sub = inner
        .events
        .read()
        .expect("events lock")
        .as_ref()?
        .subscribe();
    let current = inner.current.load(Ordering::Acquire);
    let next = if req.start_revision > 0 {
        req.start_revision
    } else {
        current + 1
    };
    let (tx, mut rx) = mpsc::channel(WATCH_BUFFER);
    tokio::spawn(follow(Arc::downgrade(inner), req, next, sub, tx));
    Some(Box::pin(futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx)
    })))
}

async fn follow(
    inner: Weak<Inner>,
    req: WatchRequest,
    mut next: i64,
    mut sub: broadcast::Receiver<Arc<Batch>>,
    tx: mpsc::Sender<Result<WatchEvent>>,
) {
    // The log is read at the start and after the broadcast lagged, never merely because
    // commits landed meanwhile: those are in the broadcast (subscribed before the first read),
    // and a compaction since must not fail a watcher that is keeping up.
    let mut behind = true;
    loop {
        // Catch up from disk while the broadcast cannot cover what is owed.
        let Some(store) = inner.upgrade() else { return };
        if behind && next <= store.current.load(Ordering::Acquire) {
            let backlog = match read_log(&store, &req, next) {
                Ok(b) => b,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            drop(store);
            next = backlog.1 + 1;
            behind = false;
            for ev in backlog.0 {
                if tx.send(Ok(ev)).await.is_err() {
                    return;
                }
            }
            continue;
        }
        drop(store);
        match sub.recv().await {
            Ok(batch) => {
                for ev in batch.events.iter().filter(|e| e.kv.mod_revision >= next) {
                    if req.contains(&ev.kv.key) && tx.send(Ok(ev.clone())).await.is_err() {
                        return;
                    }
                }
                next = next.max(batch.last_revision + 1);
            }
            Err(broadcast::error::RecvError::Lagged(_)) => behind = true,
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// The events in range from `from` to the snapshot's revision, and that revision.
fn read_log(inner: &Inner, req: &WatchRequest, from: i64) -> Result<(Vec<WatchEvent>, i64)> {
    let rtx = inner.db.begin_read()?;
    let m = rtx.open_table(META)?;
    let (current, compacted) = (meta(&m, META_REVISION)?, meta(&m, META_COMPACTED)?);
    if from <= compacted {
        return Err(Error::Compacted {
            requested: from,
            compact_revision: compacted,
        });
    }
    let log = rtx.open_table(LOG)?;
    let mut out = Vec::new();
    for item in log.range((from as u64, 0u32)..)? {
        let (k, v) = item?;
        let (rev, _) = k.value();
        let record = Record::decode(rev, v.value())?;
        if !req.contains(&record.key) {
            continue;
        }
        let prev_kv = match record.prev {
            Some(p) => Some(load(&log, p)?.into_kv(p.0)),
            None => None,
        };
        let kind = if record.deleted {
            EventKind::Delete
        } else {
            EventKind::Put
        };
        out.push(WatchEvent {
            kind,
            kv: record.into_kv(rev),
            prev_kv,
        });
    }
    Ok((out, current))
}
