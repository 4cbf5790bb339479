//! kube-apiserver's watch cache: one store watch (of every key, see feed.rs) fanned out in
//! memory to every client watch, per resource type. Recent events are kept in a ring that
//! every client watch reads at its own pace, so that a client resuming from a recent
//! resourceVersion is served from memory; older ones go to the store directly. The ring grows
//! with the events it holds (an idle type costs a few words, not a preallocated channel).
//!
//! With `list_cache` (over etcd) each type also keeps its current objects (live.rs), and a
//! LIST is served from them once the cache has seen every change up to the revision the
//! request must reflect, as upstream's consistent reads from cache (1.31+).

mod feed;
mod live;

pub use live::Listed;

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use bytes::Bytes;
use rkube_store::{EventKind, Store};
use serde_json::Value;
use tokio::sync::{watch, Notify, OnceCell};
use tracing::warn;

use crate::object::from_stored;

/// Events kept per resource type: what a resuming watch can be served from, and how far a
/// slow client may fall behind before it is cut off (it then resumes or re-lists).
const RING: usize = 8192;

/// One change, as stored; decoded (for selectors, conversions, tables) and encoded (for
/// JSON watchers) at most once, on first use, for every watcher.
#[derive(Debug)]
pub struct Event {
    pub revision: i64,
    pub key: Vec<u8>,
    pub deleted: bool,
    /// The stored JSON of the new state, or for a delete of the last state (shared with the
    /// type's live objects).
    stored: Bytes,
    prev_stored: Option<(Bytes, i64)>,
    /// `stored` decoded, resourceVersion = `revision` (the delete's for a delete).
    object: OnceLock<Option<Value>>,
    prev: OnceLock<Option<Value>>,
    /// The object's JSON as served (kind and apiVersion set), encoded once for all watchers.
    encoded: OnceLock<Option<bytes::Bytes>>,
    /// Its meta.k8s.io/v1 PartialObjectMetadata, for every metadata-only watcher.
    partial: OnceLock<Option<bytes::Bytes>>,
}

impl Event {
    /// The new state (for a delete the last state, with the delete's resourceVersion);
    /// `None` when it does not decode.
    pub fn object(&self) -> Option<&Value> {
        self.object
            .get_or_init(|| decode(&self.key, &self.stored, self.revision))
            .as_ref()
    }

    /// The state before this change, if known.
    pub fn prev(&self) -> Option<&Value> {
        self.prev
            .get_or_init(|| {
                let (stored, rev) = self.prev_stored.as_ref()?;
                decode(&self.key, stored, *rev)
            })
            .as_ref()
    }

    /// The stored JSON of the new state (for a delete, of the last state).
    pub fn stored(&self) -> &[u8] {
        &self.stored
    }

    /// Whether the object existed before this change.
    pub fn prev_existed(&self) -> bool {
        self.prev_stored.is_some()
    }

    /// The object's JSON as served (kind and apiVersion set), shared by every watcher;
    /// `None` when it does not decode.
    pub fn encoded(&self, def: &rkube_api::ResourceDef) -> Option<bytes::Bytes> {
        self.encoded
            .get_or_init(|| {
                let spliced = crate::rest::splice::object(
                    &self.stored,
                    self.revision,
                    &def.api_version(),
                    def.kind,
                );
                match spliced {
                    Some(b) => Some(b.into()),
                    None => {
                        let mut o = self.object()?.clone();
                        crate::object::set_type_meta(def, &mut o);
                        serde_json::to_vec(&o).ok().map(Into::into)
                    }
                }
            })
            .clone()
    }

    /// The object as a meta.k8s.io `PartialObjectMetadata` of `version` (metadata only),
    /// shared by every such watcher of v1; `None` when it does not decode.
    pub fn partial(&self, version: &str) -> Option<bytes::Bytes> {
        let make = || match crate::rest::splice::partial(&self.stored, self.revision, version) {
            Some(b) => Some(b.into()),
            None => {
                let o = crate::rest::partial_object(version, self.object()?);
                serde_json::to_vec(&o).ok().map(Into::into)
            }
        };
        if version == "v1" {
            self.partial.get_or_init(make).clone()
        } else {
            make()
        }
    }

    /// `None` for a delete whose last state is unknown.
    pub fn from_store(ev: &rkube_store::WatchEvent) -> Option<Self> {
        let prev_stored = ev
            .prev_kv
            .as_ref()
            .map(|kv| (Bytes::from(kv.value.clone()), kv.mod_revision));
        let (deleted, stored) = match ev.kind {
            EventKind::Put => (false, Bytes::from(ev.kv.value.clone())),
            EventKind::Delete => (true, prev_stored.as_ref()?.0.clone()),
        };
        Some(Self {
            revision: ev.kv.mod_revision,
            key: ev.kv.key.clone(),
            deleted,
            stored,
            prev_stored,
            object: OnceLock::new(),
            prev: OnceLock::new(),
            encoded: OnceLock::new(),
            partial: OnceLock::new(),
        })
    }
}

fn decode(key: &[u8], stored: &[u8], revision: i64) -> Option<Value> {
    let kv = rkube_store::KeyValue {
        key: key.to_vec(),
        value: stored.to_vec(),
        mod_revision: revision,
        ..rkube_store::KeyValue::default()
    };
    match from_stored(&kv) {
        Ok(v) => Some(v),
        Err(e) => {
            warn!(revision, error = %e, "watch cache: undecodable object skipped");
            None
        }
    }
}

/// One resource type's share of the cache.
struct HubState {
    ring: VecDeque<Arc<Event>>,
    /// Every event after this revision is in `ring` or still to come.
    oldest: i64,
    /// Bumped when the feed restarts: subscribers of an older generation are cut off.
    generation: u64,
    /// The type's current objects by key, when it keeps them (`None` until loaded).
    live: Option<BTreeMap<Vec<u8>, live::Entry>>,
    /// The revision of the last change applied to this hub (events and loads).
    through: i64,
    /// A load of `live` is under way.
    loading: bool,
}

struct Hub {
    prefix: Vec<u8>,
    state: Mutex<HubState>,
    /// Woken after every event and every restart.
    notify: Notify,
}

/// A client watch's place in its type's ring.
pub struct Subscription {
    hub: Arc<Hub>,
    generation: u64,
    last: i64,
}

/// The subscriber fell behind what the ring holds, or the cache restarted: it must resume.
#[derive(Debug)]
pub struct CutOff;

impl Subscription {
    /// The next event after the last one returned (or after the subscription's revision).
    #[cfg(test)]
    pub async fn recv(&mut self) -> Result<Arc<Event>, CutOff> {
        let mut one = Vec::with_capacity(1);
        self.recv_many(&mut one, 1).await?;
        Ok(one.pop().expect("recv_many returns at least one event"))
    }

    /// Waits for the next event, then appends it and those after it already in the ring,
    /// up to `max` in all: one lock and one wake-up for a burst. Cancel-safe: nothing is
    /// taken unless it is returned.
    pub async fn recv_many(&mut self, out: &mut Vec<Arc<Event>>, max: usize) -> Result<(), CutOff> {
        loop {
            // Registered before looking, so an event pushed in between still wakes us.
            let notified = self.hub.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let st = self.hub.state.lock().expect("hub lock");
                if st.generation != self.generation || self.last < st.oldest {
                    return Err(CutOff);
                }
                let i = st.ring.partition_point(|e| e.revision <= self.last);
                if i < st.ring.len() {
                    let taken = st.ring.range(i..).take(max.max(1));
                    out.extend(taken.cloned());
                    self.last = out.last().expect("at least one").revision;
                    return Ok(());
                }
            }
            notified.await;
        }
    }
}

/// The hubs and how far the feed has got, shared with the feed task.
struct Shared {
    hubs: Mutex<Hubs>,
    /// The revision up to which every change has been applied to every hub: a LIST that
    /// must reflect revision R waits for this to reach R.
    published: watch::Sender<i64>,
    ring: usize,
    list_cache: bool,
}

struct Hubs {
    by_prefix: Vec<Arc<Hub>>,
    /// The revision of the last change handed to the hubs; a new hub starts after it.
    dispatched: i64,
}

pub struct WatchCache {
    store: Arc<dyn Store>,
    shared: Arc<Shared>,
    /// The feed starts with the first hub.
    feed: OnceCell<()>,
    /// [`FRESH_WAIT`], shorter in tests.
    fresh_wait: Duration,
}

/// How long a LIST waits for the cache to reach the revision it must reflect before it reads
/// the store instead (upstream waits up to 3 s too).
const FRESH_WAIT: Duration = Duration::from_secs(3);

impl WatchCache {
    /// A watch cache over `store`; LISTs are served from it when `list_cache`.
    pub fn new(store: Arc<dyn Store>, list_cache: bool) -> Self {
        Self::with_ring(store, RING, list_cache)
    }

    /// A cache keeping `ring` events per resource type.
    pub fn with_ring(store: Arc<dyn Store>, ring: usize, list_cache: bool) -> Self {
        Self {
            store,
            shared: Arc::new(Shared {
                hubs: Mutex::new(Hubs {
                    by_prefix: Vec::new(),
                    dispatched: 0,
                }),
                published: watch::Sender::new(0),
                ring: ring.max(1),
                list_cache,
            }),
            feed: OnceCell::new(),
            fresh_wait: FRESH_WAIT,
        }
    }

    #[cfg(test)]
    pub(crate) fn with_fresh_wait(mut self, wait: Duration) -> Self {
        self.fresh_wait = wait;
        self
    }

    /// Events under `prefix` after revision `after`, or `None` when that is older than what
    /// memory holds (the caller then watches the store directly).
    pub async fn subscribe(
        &self,
        prefix: &str,
        after: i64,
    ) -> Result<Option<Subscription>, rkube_store::Error> {
        let hub = self.hub(prefix).await?;
        let generation = {
            let st = hub.state.lock().expect("hub lock");
            if after < st.oldest {
                return Ok(None);
            }
            st.generation
        };
        Ok(Some(Subscription {
            hub,
            generation,
            last: after,
        }))
    }

    /// The objects under `range` (within the type whose keys start with `prefix`) and the
    /// revision they are the state of: at least `at_least`, or when `None` the store's current
    /// revision (a consistent read). `None` when this cache keeps no objects, has not loaded
    /// them yet, or does not get there within [`FRESH_WAIT`]: the caller reads the store.
    /// A revision the store itself has not reached within the wait is
    /// `Error::FutureRevision`, as upstream answers (504 Too large resource version).
    pub async fn list(
        &self,
        prefix: &str,
        range: &[u8],
        at_least: Option<i64>,
    ) -> Result<Option<Listed>, rkube_store::Error> {
        if let Some(n) = at_least.filter(|n| *n > 0) {
            self.start_feed().await?;
            if !self.reached(None, n).await {
                let current = self.store.revisions().await?.current;
                if current < n {
                    return Err(rkube_store::Error::FutureRevision {
                        requested: n,
                        current,
                    });
                }
            }
        }
        if !self.shared.list_cache {
            return Ok(None);
        }
        let hub = self.hub(prefix).await?;
        if hub.state.lock().expect("hub lock").live.is_none() {
            return Ok(None);
        }
        let target = match at_least {
            Some(n) => n,
            None => self.store.revisions().await?.current,
        };
        if !self.reached(Some(&hub), target).await {
            return Ok(None);
        }
        let published = *self.shared.published.borrow();
        Ok(live::snapshot(&hub, range, published))
    }

    /// Waits up to [`FRESH_WAIT`] for the cache (or `hub`, whose last change may be ahead of
    /// what is published) to have every change up to `revision`.
    async fn reached(&self, hub: Option<&Hub>, revision: i64) -> bool {
        let mut published = self.shared.published.subscribe();
        let wait = async {
            loop {
                if *published.borrow_and_update() >= revision
                    || hub.is_some_and(|h| h.state.lock().expect("hub lock").through >= revision)
                {
                    return true;
                }
                if published.changed().await.is_err() {
                    return false;
                }
            }
        };
        matches!(tokio::time::timeout(self.fresh_wait, wait).await, Ok(true))
    }

    /// Starts following the store, once.
    async fn start_feed(&self) -> Result<(), rkube_store::Error> {
        self.feed
            .get_or_try_init(|| async {
                let start = self.store.revisions().await?.current;
                self.shared.hubs.lock().expect("hubs lock").dispatched = start;
                self.shared.published.send_replace(start);
                tokio::spawn(feed::run(self.store.clone(), self.shared.clone(), start));
                Ok::<_, rkube_store::Error>(())
            })
            .await?;
        Ok(())
    }

    async fn hub(&self, prefix: &str) -> Result<Arc<Hub>, rkube_store::Error> {
        self.start_feed().await?;
        let (hub, created) = {
            let mut hubs = self.shared.hubs.lock().expect("hubs lock");
            match hubs
                .by_prefix
                .iter()
                .find(|h| h.prefix == prefix.as_bytes())
            {
                Some(h) => (h.clone(), false),
                None => {
                    let hub = Arc::new(Hub {
                        prefix: prefix.as_bytes().to_vec(),
                        state: Mutex::new(HubState {
                            ring: VecDeque::new(),
                            oldest: hubs.dispatched,
                            generation: 0,
                            live: None,
                            through: hubs.dispatched,
                            loading: false,
                        }),
                        notify: Notify::new(),
                    });
                    hubs.by_prefix.push(hub.clone());
                    (hub, true)
                }
            }
        };
        if created && self.shared.list_cache {
            live::start_load(self.store.clone(), hub.clone());
        }
        Ok(hub)
    }
}

#[cfg(test)]
mod tests;
