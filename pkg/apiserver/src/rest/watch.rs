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

use super::{list::Filter, output::to_table, partial_object, Call};
use crate::{
    object::set_type_meta,
    request::Output,
    status::{ApiError, ApiResult},
    watchcache::{Event, Subscription},
};

/// How often a watch that asked for bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);
/// Writes (each one or more events) buffered towards one client.
const CLIENT_BUFFER: usize = 256;
/// Most events written to a client at once: a burst already in the watch cache goes out as
/// one write (one HTTP/2 DATA frame or chunk, a few TLS records) rather than one per event.
const MAX_BATCH: usize = 128;

struct Sink {
    def: &'static ResourceDef,
    output: Output,
    tx: mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
}

impl Sink {
    async fn send(&self, kind: &str, object: Value) -> bool {
        let mut line = Vec::new();
        self.write(&mut line, kind, object);
        self.flush(line).await
    }

    /// Sends what was written; false when the client is gone.
    async fn flush(&self, lines: Vec<u8>) -> bool {
        self.tx.send(Ok(lines.into())).await.is_ok()
    }

    /// Appends one event line.
    fn write(&self, out: &mut Vec<u8>, kind: &str, mut object: Value) {
        if kind != "ERROR" && kind != "BOOKMARK" {
            set_type_meta(self.def, &mut object);
            match self.output {
                Output::Table(v) => object = to_table(self.def, v, &object, false, None),
                Output::PartialMetadata(v) => object = partial_object(v, &object),
                Output::Json | Output::Yaml => {}
            }
        }
        if serde_json::to_writer(&mut *out, &json!({"type": kind, "object": object})).is_ok() {
            out.push(b'\n');
        }
    }

    /// Appends one event line whose object is already encoded: no per-watcher serialization.
    fn write_encoded(out: &mut Vec<u8>, kind: &str, object: &[u8]) {
        out.reserve(object.len() + 32);
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\",\"object\":");
        out.extend_from_slice(object);
        out.extend_from_slice(b"}\n");
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
    super::list_options::validate(&call.params, true)?;
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
            user: call.user,
            trusted: call.trusted,
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
    /// Appends the next events (at least one, at most `MAX_BATCH`); `Err(Some(status))`
    /// ends the watch with an ERROR event, `Err(None)` ends it quietly (a client too slow
    /// for the cache, or the cache restarted: it resumes). Cancel-safe.
    async fn next(&mut self, out: &mut Vec<Arc<Event>>) -> Result<(), Option<ApiError>> {
        loop {
            match self {
                Source::Cache(sub) => return sub.recv_many(out, MAX_BATCH).await.map_err(|_| None),
                Source::Store(stream) => match stream.next().await {
                    Some(Ok(ev)) => match Event::from_store(&ev) {
                        Some(ev) => {
                            out.push(Arc::new(ev));
                            return Ok(());
                        }
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
    let mut events = Vec::with_capacity(MAX_BATCH);
    loop {
        tokio::select! {
            r = source.next(&mut events) => match r {
                Ok(()) => {
                    let mut lines = Vec::new();
                    for ev in events.drain(..) {
                        // Never deliver a revision twice (the API server writes one object
                        // per revision, so the revision tells events apart).
                        if ev.revision <= last {
                            continue;
                        }
                        last = ev.revision;
                        deliver(sink, filter, ns_prefix, &ev, &mut lines);
                    }
                    if !lines.is_empty() && !sink.flush(lines).await {
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

/// Appends one change as the client's selection sees it (nothing when it does not see it).
fn deliver(sink: &Sink, filter: &Filter, ns_prefix: &[u8], ev: &Event, out: &mut Vec<u8>) {
    if !ev.key.starts_with(ns_prefix) {
        return;
    }
    // Kinds whose served form differs from the stored one (events.k8s.io Events) are
    // converted before the selectors and sent converted; the cache's shared encoding is
    // the stored form.
    let converts = super::convert::converts(sink.def);
    // JSON and metadata-only watchers share one encoding of each event, written from the
    // stored bytes.
    let shared = |ev: &Event| match sink.output {
        Output::Json => ev.encoded(sink.def),
        Output::PartialMetadata(v) => ev.partial(v),
        Output::Table(_) | Output::Yaml => None,
    };
    let fast = matches!(sink.output, Output::Json | Output::PartialMetadata(_)) && !converts;
    // An unfiltered watch of these, or one selecting by name and namespace (which the key
    // holds and no update changes), needs neither the decoded object nor its previous state.
    let by_key = if filter.is_empty() {
        Some(true)
    } else {
        filter.matches_key(&ev.key)
    };
    if let (true, Some(selected)) = (fast, by_key) {
        if !selected {
            return;
        }
        let kind = if ev.deleted {
            "DELETED"
        } else if ev.prev_existed() {
            "MODIFIED"
        } else {
            "ADDED"
        };
        if let Some(encoded) = shared(ev) {
            Sink::write_encoded(out, kind, &encoded);
        }
        return;
    }
    let Some(object) = ev.object() else {
        return;
    };
    let converted = converts.then(|| {
        (
            super::convert::from_storage(sink.def, object.clone()),
            ev.prev()
                .map(|p| super::convert::from_storage(sink.def, p.clone())),
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
        (true, false, _) => return,
        (false, false, true) => "ADDED",
        (false, true, true) => "MODIFIED",
        (false, true, false) => "DELETED",
        (false, false, false) => return,
    };
    if fast {
        if let Some(encoded) = shared(ev) {
            Sink::write_encoded(out, kind, &encoded);
            return;
        }
    }
    sink.write(out, kind, object.clone());
}

/// Upstream spreads watch timeouts over [min, 2*min) so clients do not reconnect in step.
fn rand_secs(max: u64) -> u64 {
    let b = uuid::Uuid::new_v4().as_u128();
    (b % u128::from(max.max(1))) as u64
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
