//! One store watch per resource type, fanned out in memory to every client watch of that type
//! (kube-apiserver's watch cache). Recent events are kept in a ring so that a client resuming
//! from a recent resourceVersion is served from memory; older ones go to the store directly.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
};

use futures_util::StreamExt;
use rkube_store::{EventKind, Store, WatchRequest};
use serde_json::Value;
use tokio::sync::broadcast;
use tracing::{debug, warn};

use crate::object::from_stored;

/// Events kept per resource type for resuming watches.
const RING: usize = 4096;
/// Events a slow client may fall behind by before it is dropped (it then re-lists).
const FANOUT: usize = 8192;

/// One change, decoded once for every watcher.
#[derive(Debug)]
pub struct Event {
    pub revision: i64,
    pub key: Vec<u8>,
    pub deleted: bool,
    /// The new state, or for a delete the last state (resourceVersion = the delete's).
    pub object: Value,
    pub prev: Option<Value>,
    /// `object` as JSON with its kind and apiVersion, encoded once for all watchers.
    encoded: std::sync::OnceLock<bytes::Bytes>,
}

impl Event {
    /// The object's JSON as served (kind and apiVersion set), shared by every watcher.
    pub fn encoded(&self, def: &rkube_api::ResourceDef) -> bytes::Bytes {
        self.encoded
            .get_or_init(|| {
                let mut o = self.object.clone();
                crate::object::set_type_meta(def, &mut o);
                serde_json::to_vec(&o).unwrap_or_default().into()
            })
            .clone()
    }

    pub fn from_store(ev: &rkube_store::WatchEvent) -> Option<Self> {
        let prev = ev.prev_kv.as_ref().and_then(|kv| from_stored(kv).ok());
        let (deleted, object) = match ev.kind {
            EventKind::Put => (false, from_stored(&ev.kv).ok()?),
            EventKind::Delete => {
                let mut last = prev.clone()?;
                crate::object::set_resource_version(&mut last, ev.kv.mod_revision);
                (true, last)
            }
        };
        Some(Self {
            revision: ev.kv.mod_revision,
            key: ev.kv.key.clone(),
            deleted,
            object,
            prev,
            encoded: std::sync::OnceLock::new(),
        })
    }
}

struct HubState {
    ring: VecDeque<Arc<Event>>,
    /// Every event after this revision is in `ring` or still to come.
    oldest: i64,
    tx: broadcast::Sender<Arc<Event>>,
}

struct Hub {
    state: Mutex<HubState>,
}

/// What a client watch follows: events already due, then the live feed.
pub struct Subscription {
    pub backlog: Vec<Arc<Event>>,
    pub live: broadcast::Receiver<Arc<Event>>,
}

pub struct WatchCache {
    store: Arc<dyn Store>,
    hubs: Mutex<HashMap<String, Arc<Hub>>>,
}

impl WatchCache {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            hubs: Mutex::new(HashMap::new()),
        }
    }

    /// Events under `prefix` after revision `after`, or `None` when that is older than what
    /// memory holds (the caller then watches the store directly).
    pub async fn subscribe(
        &self,
        prefix: &str,
        after: i64,
    ) -> Result<Option<Subscription>, rkube_store::Error> {
        let hub = self.hub(prefix).await?;
        let st = hub.state.lock().expect("hub lock");
        if after < st.oldest {
            return Ok(None);
        }
        let backlog = st
            .ring
            .iter()
            .filter(|e| e.revision > after)
            .cloned()
            .collect();
        Ok(Some(Subscription {
            backlog,
            live: st.tx.subscribe(),
        }))
    }

    async fn hub(&self, prefix: &str) -> Result<Arc<Hub>, rkube_store::Error> {
        if let Some(h) = self.hubs.lock().expect("hubs lock").get(prefix) {
            return Ok(h.clone());
        }
        let start = self.store.revisions().await?.current;
        let (tx, _) = broadcast::channel(FANOUT);
        let hub = Arc::new(Hub {
            state: Mutex::new(HubState {
                ring: VecDeque::new(),
                oldest: start,
                tx,
            }),
        });
        {
            let mut hubs = self.hubs.lock().expect("hubs lock");
            if let Some(h) = hubs.get(prefix) {
                return Ok(h.clone());
            }
            hubs.insert(prefix.to_string(), hub.clone());
        }
        tokio::spawn(feed(
            self.store.clone(),
            prefix.to_string(),
            hub.clone(),
            start,
        ));
        Ok(hub)
    }
}

/// Follows the store for one prefix, forever; restarts after a failure, cutting off the
/// clients (who re-watch and, if needed, re-list) since they may have missed events.
async fn feed(store: Arc<dyn Store>, prefix: String, hub: Arc<Hub>, mut after: i64) {
    loop {
        let req = WatchRequest::prefix(prefix.clone()).from_revision(after + 1);
        let mut stream = match store.watch(req).await {
            Ok(s) => s,
            Err(rkube_store::Error::Closed) => return,
            Err(e) => {
                warn!(%prefix, error = %e, "watch cache: watching the store failed; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        while let Some(item) = stream.next().await {
            match item {
                Ok(ev) => {
                    after = ev.kv.mod_revision;
                    let Some(event) = Event::from_store(&ev) else {
                        warn!(%prefix, revision = after, "watch cache: undecodable object skipped");
                        continue;
                    };
                    let event = Arc::new(event);
                    let mut st = hub.state.lock().expect("hub lock");
                    st.ring.push_back(event.clone());
                    if st.ring.len() > RING {
                        if let Some(old) = st.ring.pop_front() {
                            st.oldest = old.revision;
                        }
                    }
                    let _ = st.tx.send(event);
                }
                Err(e) => {
                    warn!(%prefix, error = %e, "watch cache: store watch ended");
                    break;
                }
            }
        }
        if matches!(store.revisions().await, Err(rkube_store::Error::Closed)) {
            return;
        }
        // Start over from now: every client of this hub is cut off and must resume itself.
        let current = store.revisions().await.map(|r| r.current).unwrap_or(after);
        let (tx, _) = broadcast::channel(FANOUT);
        let mut st = hub.state.lock().expect("hub lock");
        st.ring.clear();
        st.oldest = current;
        st.tx = tx;
        after = current;
        debug!(%prefix, revision = current, "watch cache restarted");
    }
}
