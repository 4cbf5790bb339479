//! WATCH: a stream of JSON events (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR), one per line,
//! from a resourceVersion, filtered by namespace and selectors (an object moving into or out
//! of the selection is ADDED or DELETED, as upstream), served from the watch cache.

use std::{sync::Arc, time::Duration};

use axum::{
    body::Body,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};
use futures_util::StreamExt;
use rkube_api::ResourceDef;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::{list::Filter, output::to_table, Call};
use crate::{
    object::set_type_meta,
    request::Output,
    status::{ApiError, ApiResult},
    watchcache::{Event, Subscription},
};

/// How often a watch that asked for bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);
/// Events buffered towards one client.
const CLIENT_BUFFER: usize = 256;

struct Sink {
    def: &'static ResourceDef,
    output: Output,
    tx: mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
}

impl Sink {
    async fn send(&self, kind: &str, mut object: Value) -> bool {
        if kind != "ERROR" && kind != "BOOKMARK" {
            set_type_meta(self.def, &mut object);
            if let Output::Table(v) = self.output {
                object = to_table(self.def, v, &object, false, None);
            }
        }
        let mut line =
            serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
        line.push(b'\n');
        self.tx.send(Ok(line.into())).await.is_ok()
    }

    /// An event whose object is already encoded: no per-watcher serialization.
    async fn send_encoded(&self, kind: &str, object: &[u8]) -> bool {
        let mut line = Vec::with_capacity(object.len() + 32);
        line.extend_from_slice(b"{\"type\":\"");
        line.extend_from_slice(kind.as_bytes());
        line.extend_from_slice(b"\",\"object\":");
        line.extend_from_slice(object);
        line.extend_from_slice(b"}\n");
        self.tx.send(Ok(line.into())).await.is_ok()
    }

    async fn bookmark(&self, rev: i64, initial_end: bool) -> bool {
        let mut meta = json!({"resourceVersion": rev.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj =
            json!({"kind": self.def.kind, "apiVersion": self.def.api_version(), "metadata": meta});
        self.send("BOOKMARK", obj).await
    }
}

pub async fn watch(call: &Call<'_>) -> ApiResult<Response> {
    let def = call.def();
    let filter = Filter::new(def, &call.params)?;
    let p = &call.params;
    let rv = p.resource_version.as_deref().unwrap_or("");
    let start: i64 = if rv.is_empty() {
        0
    } else {
        rv.parse()
            .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv:?}")))?
    };
    // "" and "0" start with the current state as ADDED events; sendInitialEvents asks for it.
    let initial = p.send_initial_events.unwrap_or(start == 0);
    let (initial_items, after) = if initial {
        let mut listing = Call {
            api: call.api,
            req: call.req.clone(),
            params: call.params.clone(),
            output: call.output,
            content_type: None,
            body: bytes::Bytes::new(),
        };
        listing.params.limit = None;
        listing.params.continue_ = None;
        listing.params.resource_version = None;
        listing.params.resource_version_match = None;
        let listed = super::list::read_list(&listing, &filter).await?;
        (listed.items, listed.revision)
    } else {
        (Vec::new(), start)
    };
    let prefix = def.prefix(None);
    let ns_prefix = def.prefix(call.ns()).into_bytes();
    let sub = call.api.watch_cache.subscribe(&prefix, after).await?;
    let direct = match sub {
        Some(_) => None,
        None => {
            let req = rkube_store::WatchRequest::prefix(ns_prefix.clone()).from_revision(after + 1);
            Some(call.api.store.watch(req).await?)
        }
    };
    let timeout = Duration::from_secs(p.timeout_seconds.unwrap_or_else(|| 1800 + rand_secs(1800)));
    let bookmarks = p.allow_watch_bookmarks;
    let send_initial_end = p.send_initial_events == Some(true) && bookmarks;
    let (tx, rx) = mpsc::channel(CLIENT_BUFFER);
    let sink = Sink {
        def,
        output: call.output,
        tx,
    };
    tokio::spawn(async move {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let work = async {
            for mut item in initial_items {
                if let Some(o) = item.as_object_mut() {
                    o.insert("kind".into(), json!(def.kind));
                }
                if !sink.send("ADDED", item).await {
                    return;
                }
            }
            if send_initial_end && !sink.bookmark(after, true).await {
                return;
            }
            let source = match (sub, direct) {
                (Some(sub), _) => Source::Cache(sub),
                (None, Some(stream)) => Source::Store(stream),
                (None, None) => return,
            };
            follow(&sink, &filter, &ns_prefix, source, after, bookmarks).await;
        };
        tokio::select! {
            () = work => {}
            () = &mut deadline => {}
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let body = Body::from_stream(stream);
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response())
}

/// Where a watch's events come from: the shared watch cache, or the store
/// itself for a resourceVersion older than the cache holds.
enum Source {
    Cache(Subscription),
    Store(rkube_store::WatchStream),
}

impl Source {
    /// The next event; `Err(Some(status))` ends the watch with an ERROR event, `Err(None)`
    /// ends it quietly (a client too slow for the cache, or the cache restarted: it resumes).
    async fn next(&mut self) -> Result<Arc<Event>, Option<ApiError>> {
        loop {
            match self {
                Source::Cache(sub) => return sub.recv().await.map_err(|_| None),
                Source::Store(stream) => match stream.next().await {
                    Some(Ok(ev)) => match Event::from_store(&ev) {
                        Some(ev) => return Ok(Arc::new(ev)),
                        None => continue,
                    },
                    Some(Err(rkube_store::Error::Compacted {
                        requested,
                        compact_revision,
                    })) => {
                        return Err(Some(ApiError::gone(format!(
                            "too old resource version: {} ({compact_revision})",
                            requested - 1
                        ))))
                    }
                    Some(Err(other)) => return Err(Some(ApiError::from(other))),
                    None => return Err(None),
                },
            }
        }
    }
}

async fn follow(
    sink: &Sink,
    filter: &Filter,
    ns_prefix: &[u8],
    mut source: Source,
    mut last: i64,
    bookmarks: bool,
) {
    let mut ticker = tokio::time::interval(BOOKMARK_EVERY);
    ticker.tick().await;
    loop {
        tokio::select! {
            r = source.next() => match r {
                Ok(ev) => {
                    // Never deliver a revision twice (the API server writes one object per
                    // revision, so the revision tells events apart).
                    if ev.revision <= last {
                        continue;
                    }
                    last = ev.revision;
                    if !deliver(sink, filter, ns_prefix, &ev).await {
                        return;
                    }
                }
                Err(Some(status)) => {
                    sink.send("ERROR", status.status()).await;
                    return;
                }
                Err(None) => return,
            },
            _ = ticker.tick(), if bookmarks => {
                if !sink.bookmark(last, false).await {
                    return;
                }
            }
        }
    }
}

/// Sends one change as the client's selection sees it; false when the client is gone.
async fn deliver(sink: &Sink, filter: &Filter, ns_prefix: &[u8], ev: &Event) -> bool {
    if !ev.key.starts_with(ns_prefix) {
        return true;
    }
    // Kinds whose served form differs from the stored one (events.k8s.io Events) are
    // converted before the selectors and sent converted; the cache's shared encoding is
    // the stored form.
    let converts = super::convert::converts(sink.def);
    let fast = sink.output == Output::Json && !converts;
    // An unfiltered JSON watch needs neither the decoded object nor its previous state.
    if fast && filter.is_empty() {
        let kind = if ev.deleted {
            "DELETED"
        } else if ev.prev_existed() {
            "MODIFIED"
        } else {
            "ADDED"
        };
        return match ev.encoded(sink.def) {
            Some(encoded) => sink.send_encoded(kind, &encoded).await,
            None => true,
        };
    }
    let Some(object) = ev.object() else {
        return true;
    };
    let converted = converts.then(|| {
        (
            super::convert::from_storage(sink.def, object),
            ev.prev().map(|p| super::convert::from_storage(sink.def, p)),
        )
    });
    let (object, prev) = match &converted {
        Some((o, p)) => (o, p.as_ref()),
        None => (object, ev.prev()),
    };
    let now_in = !ev.deleted && filter.matches(object);
    let was_in = prev.is_some_and(|p| filter.matches(p));
    let kind = match (ev.deleted, was_in, now_in) {
        (true, true, _) => "DELETED",
        (true, false, _) => return true,
        (false, false, true) => "ADDED",
        (false, true, true) => "MODIFIED",
        (false, true, false) => "DELETED",
        (false, false, false) => return true,
    };
    if fast {
        if let Some(encoded) = ev.encoded(sink.def) {
            return sink.send_encoded(kind, &encoded).await;
        }
    }
    sink.send(kind, object.clone()).await
}

/// Upstream spreads watch timeouts over [min, 2*min) so clients do not reconnect in step.
fn rand_secs(max: u64) -> u64 {
    let b = uuid::Uuid::new_v4().as_u128();
    (b % u128::from(max.max(1))) as u64
}
