//! The cache's one store watch, of every key: each change goes to the hub of its type, and the
//! revision of the last change handed out is published. Watching every key (not one prefix
//! per type) is what lets a LIST know the cache is fresh: every revision the store reports
//! has an event here, so once the feed has passed revision R it has seen all changes up to R.
//! (etcd's progress notifications would say the same per prefix, but before 3.4.31 they can
//! run ahead of the events, etcd#15220, and Debian ships 3.4.23.)

use std::sync::Arc;

use futures_util::{FutureExt, StreamExt};
use rkube_store::{Store, WatchEvent, WatchRequest};
use tracing::{debug, warn};

use super::{live, Event, Hub, Shared};

/// Follows the store forever; restarts after a failure, cutting off every client watch (who
/// re-watch and, if needed, re-list) since they may have missed events.
pub(super) async fn run(store: Arc<dyn Store>, shared: Arc<Shared>, mut after: i64) {
    let mut batch = Vec::new();
    loop {
        let req = WatchRequest::prefix(Vec::new()).from_revision(after + 1);
        let mut stream = match store.watch(req).await {
            Ok(s) => s,
            Err(rkube_store::Error::Closed) => return,
            Err(e) => {
                warn!(error = %e, "watch cache: watching the store failed; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        let why = loop {
            // Everything the stream has ready goes out as one batch. A store hands over each
            // revision's events together (etcd in one response, the embedded store in one
            // commit), so a batch never ends inside a revision.
            let ended = match stream.next().await {
                Some(Ok(ev)) => {
                    batch.push(ev);
                    loop {
                        match stream.next().now_or_never() {
                            Some(Some(Ok(ev))) => batch.push(ev),
                            Some(Some(Err(e))) => break Some(e.to_string()),
                            Some(None) => break Some("the store ended the watch".into()),
                            None => break None,
                        }
                    }
                }
                Some(Err(e)) => Some(e.to_string()),
                None => Some("the store ended the watch".into()),
            };
            if let Some(last) = batch.last() {
                after = last.kv.mod_revision;
                dispatch(&shared, &batch, after);
                batch.clear();
            }
            if let Some(e) = ended {
                break e;
            }
        };
        // A closed store ends every watch: that is the end, not a failure.
        if matches!(store.revisions().await, Err(rkube_store::Error::Closed)) {
            return;
        }
        warn!(error = %why, "watch cache: store watch ended");
        // Start over from now.
        let current = store.revisions().await.map(|r| r.current).unwrap_or(after);
        restart(&store, &shared, current);
        after = current;
        debug!(revision = current, "watch cache restarted");
    }
}

/// Hands a batch of changes to the hubs of their types, each hub under its lock once, then
/// publishes the batch's last revision.
fn dispatch(shared: &Shared, batch: &[WatchEvent], last: i64) {
    let mut touched: Vec<Arc<Hub>> = Vec::new();
    {
        let mut hubs = shared.hubs.lock().expect("hubs lock");
        let mut i = 0;
        while i < batch.len() {
            let Some(hub) = hubs
                .by_prefix
                .iter()
                .find(|h| batch[i].kv.key.starts_with(&h.prefix))
            else {
                i += 1;
                continue;
            };
            // The run of consecutive changes of this type, applied under one lock.
            let mut j = i;
            while j < batch.len() && batch[j].kv.key.starts_with(&hub.prefix) {
                j += 1;
            }
            let mut st = hub.state.lock().expect("hub lock");
            for ev in &batch[i..j] {
                let Some(event) = Event::from_store(ev) else {
                    warn!(
                        revision = ev.kv.mod_revision,
                        "watch cache: a delete without its last state skipped"
                    );
                    continue;
                };
                if let Some(objects) = st.live.as_mut() {
                    live::apply(objects, &event);
                }
                st.ring.push_back(Arc::new(event));
                if st.ring.len() > shared.ring {
                    if let Some(old) = st.ring.pop_front() {
                        st.oldest = old.revision;
                    }
                }
            }
            st.through = st.through.max(batch[j - 1].kv.mod_revision);
            drop(st);
            if !touched.iter().any(|h| Arc::ptr_eq(h, hub)) {
                touched.push(hub.clone());
            }
            i = j;
        }
        hubs.dispatched = last;
    }
    shared.published.send_replace(last);
    for hub in touched {
        hub.notify.notify_waiters();
    }
}

/// After the store watch failed: every hub starts over at `current`, its watchers cut off and
/// its objects read again.
fn restart(store: &Arc<dyn Store>, shared: &Shared, current: i64) {
    let hubs: Vec<Arc<Hub>> = {
        let mut hubs = shared.hubs.lock().expect("hubs lock");
        hubs.dispatched = current;
        for hub in &hubs.by_prefix {
            let mut st = hub.state.lock().expect("hub lock");
            st.ring.clear();
            st.oldest = current;
            st.through = current;
            st.generation += 1;
            st.live = None;
        }
        hubs.by_prefix.clone()
    };
    shared.published.send_replace(current);
    for hub in hubs {
        hub.notify.notify_waiters();
        if shared.list_cache {
            live::start_load(store.clone(), hub);
        }
    }
}
