//! One etcd watch as a [`WatchStream`]: each response's events flattened in order, compaction
//! as one `Compacted` error and then the end, the end when the store closes.

use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc,
    },
};

use etcd_client as ec;
use tokio::sync::watch as signal;
use tracing::debug;

use super::{classify, wait_closed, Failure};
use crate::{Error, EventKind, Result, WatchEvent, WatchStream};

pub(super) struct Watch {
    /// The etcd stream; dropping it resets the gRPC stream, which cancels the watch in etcd.
    /// `None` once the watch has ended, so a consumer that keeps a finished stream holds nothing.
    stream: Option<ec::WatchStream>,
    /// Events of the response being delivered: at most one response is buffered, and HTTP/2 flow
    /// control holds etcd back while the consumer is slow.
    pending: VecDeque<WatchEvent>,
    /// The first revision not yet delivered, to name in a `Compacted` error.
    next_revision: i64,
    closed: signal::Receiver<bool>,
    compacted: Arc<AtomicI64>,
    endpoints: String,
}

impl Watch {
    pub(super) fn new(
        stream: ec::WatchStream,
        start_revision: i64,
        closed: signal::Receiver<bool>,
        compacted: Arc<AtomicI64>,
        endpoints: String,
    ) -> Self {
        Self {
            stream: Some(stream),
            pending: VecDeque::new(),
            next_revision: start_revision,
            closed,
            compacted,
            endpoints,
        }
    }

    /// The stream, starting with `first`, the response that acknowledged the watch. Fused, so a
    /// consumer that polls again after the end gets `None` again rather than a panic.
    pub(super) fn into_stream(mut self, first: ec::WatchResponse) -> WatchStream {
        let first = self.absorb(first).map(Err);
        let events = futures_util::stream::unfold((self, first), |(mut watch, first)| async move {
            let item = match first {
                Some(err) => {
                    watch.end();
                    err
                }
                None => watch.next().await?,
            };
            Some((item, (watch, None)))
        });
        Box::pin(futures_util::StreamExt::fuse(events))
    }

    async fn next(&mut self) -> Option<Result<WatchEvent>> {
        loop {
            if *self.closed.borrow() {
                self.end();
                return None;
            }
            if let Some(ev) = self.pending.pop_front() {
                return Some(Ok(ev));
            }
            let stream = self.stream.as_mut()?;
            let msg = tokio::select! {
                biased;
                () = wait_closed(&mut self.closed) => {
                    self.end();
                    return None;
                }
                m = stream.message() => m,
            };
            let err = match msg {
                Ok(Some(resp)) => match self.absorb(resp) {
                    None => continue,
                    Some(err) => err,
                },
                Ok(None) => {
                    Error::Unavailable(format!("etcd at {} ended the watch", self.endpoints))
                }
                Err(e) => match classify(e, &self.endpoints) {
                    Failure::Other(e) => e,
                    Failure::Compacted => {
                        self.compacted_error(self.compacted.load(Ordering::Acquire))
                    }
                    Failure::FutureRevision => Error::FutureRevision {
                        requested: self.next_revision,
                        current: 0,
                    },
                },
            };
            self.end();
            return Some(Err(err));
        }
    }

    /// Queues a response's events; returns the error that ends the watch, if it does.
    fn absorb(&mut self, resp: ec::WatchResponse) -> Option<Error> {
        let compact_revision = resp.compact_revision();
        if compact_revision > 0 {
            // etcd cancels a watcher whose next revision was compacted away; this is the only
            // place etcd 3.4 names its compact revision, so remember it.
            self.compacted.fetch_max(compact_revision, Ordering::AcqRel);
            return Some(self.compacted_error(compact_revision));
        }
        if resp.canceled() {
            return Some(Error::Unavailable(format!(
                "etcd canceled the watch: {}",
                resp.cancel_reason()
            )));
        }
        if resp.created() && self.next_revision <= 0 {
            // "From now": etcd delivers changes after the revision it acknowledged at.
            self.next_revision = resp.header().map_or(0, |h| h.revision()) + 1;
        }
        // Created and progress responses carry no events and are skipped here.
        for ev in resp.events() {
            let Some(kv) = ev.kv() else { continue };
            let kind = match ev.event_type() {
                ec::EventType::Put => EventKind::Put,
                ec::EventType::Delete => EventKind::Delete,
            };
            self.next_revision = self.next_revision.max(kv.mod_revision() + 1);
            self.pending.push_back(WatchEvent {
                kind,
                kv: convert(kv),
                prev_kv: ev.prev_kv().map(convert),
            });
        }
        None
    }

    fn compacted_error(&self, compact_revision: i64) -> Error {
        debug!(
            requested = self.next_revision,
            compact_revision, "etcd watch compacted"
        );
        Error::Compacted {
            requested: self.next_revision,
            compact_revision,
        }
    }

    /// Drops the etcd stream (cancelling the watch there) and anything still queued.
    fn end(&mut self) {
        self.stream = None;
        self.pending.clear();
    }
}

fn convert(kv: &ec::KeyValue) -> crate::KeyValue {
    crate::KeyValue {
        key: kv.key().to_vec(),
        value: kv.value().to_vec(),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
        version: kv.version(),
    }
}
