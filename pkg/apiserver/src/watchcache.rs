//! One store watch per resource type, fanned out in memory to every client watch of that type
//! (kube-apiserver's watch cache). Recent events are kept in a ring that every client watch
//! reads at its own pace, so that a client resuming from a recent resourceVersion is served
//! from memory; older ones go to the store directly. The ring grows with the events it holds
//! (an idle type costs a few words, not a preallocated channel per type).

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, OnceLock},
};

use futures_util::StreamExt;
use rkube_store::{EventKind, Store, WatchRequest};
use serde_json::Value;
use tokio::sync::Notify;
use tracing::{debug, warn};

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
    /// The stored JSON of the new state, or for a delete of the last state.
    stored: Vec<u8>,
    prev_stored: Option<(Vec<u8>, i64)>,
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
            .map(|kv| (kv.value.clone(), kv.mod_revision));
        let (deleted, stored) = match ev.kind {
            EventKind::Put => (false, ev.kv.value.clone()),
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

struct HubState {
    ring: VecDeque<Arc<Event>>,
    /// Every event after this revision is in `ring` or still to come.
    oldest: i64,
    /// Bumped when the feed restarts: subscribers of an older generation are cut off.
    generation: u64,
}

struct Hub {
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

pub struct WatchCache {
    store: Arc<dyn Store>,
    hubs: Mutex<HashMap<String, Arc<Hub>>>,
    ring: usize,
}

impl WatchCache {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with_ring(store, RING)
    }

    /// A cache keeping `ring` events per resource type.
    pub fn with_ring(store: Arc<dyn Store>, ring: usize) -> Self {
        Self {
            store,
            hubs: Mutex::new(HashMap::new()),
            ring: ring.max(1),
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

    async fn hub(&self, prefix: &str) -> Result<Arc<Hub>, rkube_store::Error> {
        if let Some(h) = self.hubs.lock().expect("hubs lock").get(prefix) {
            return Ok(h.clone());
        }
        let start = self.store.revisions().await?.current;
        let hub = Arc::new(Hub {
            state: Mutex::new(HubState {
                ring: VecDeque::new(),
                oldest: start,
                generation: 0,
            }),
            notify: Notify::new(),
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
            self.ring,
        ));
        Ok(hub)
    }
}

/// Follows the store for one prefix, forever; restarts after a failure, cutting off the
/// clients (who re-watch and, if needed, re-list) since they may have missed events.
async fn feed(store: Arc<dyn Store>, prefix: String, hub: Arc<Hub>, mut after: i64, ring: usize) {
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
                        warn!(%prefix, revision = after, "watch cache: a delete without its last state skipped");
                        continue;
                    };
                    {
                        let mut st = hub.state.lock().expect("hub lock");
                        st.ring.push_back(Arc::new(event));
                        if st.ring.len() > ring {
                            if let Some(old) = st.ring.pop_front() {
                                st.oldest = old.revision;
                            }
                        }
                    }
                    hub.notify.notify_waiters();
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
        {
            let mut st = hub.state.lock().expect("hub lock");
            st.ring = VecDeque::new();
            st.oldest = current;
            st.generation += 1;
        }
        hub.notify.notify_waiters();
        after = current;
        debug!(%prefix, revision = current, "watch cache restarted");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rkube_store::{embedded::EmbeddedStore, StoreExt};

    use super::*;

    fn value(name: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"metadata": {"name": name}})).unwrap()
    }

    async fn next(sub: &mut Subscription) -> Result<Arc<Event>, CutOff> {
        tokio::time::timeout(Duration::from_secs(10), sub.recv())
            .await
            .expect("an event within 10 s")
    }

    #[tokio::test]
    async fn watchers_read_the_ring_at_their_own_pace_and_are_cut_off_behind_it() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        let cache = WatchCache::with_ring(store.clone(), 4);
        let start = store.revisions().await.unwrap().current;
        let mut fast = cache.subscribe("/p/", start).await.unwrap().unwrap();
        let mut slow = cache.subscribe("/p/", start).await.unwrap().unwrap();
        let mut revs = Vec::new();
        for i in 0..3 {
            revs.push(
                store
                    .put(format!("/p/{i}").as_bytes(), &value(&i.to_string()))
                    .await
                    .unwrap(),
            );
            // Keys outside the prefix are not this hub's.
            store.put(b"/q/x", &value("x")).await.unwrap();
        }
        for (i, rev) in revs.iter().enumerate() {
            let ev = next(&mut fast).await.unwrap();
            assert_eq!(
                (ev.revision, ev.key.clone()),
                (*rev, format!("/p/{i}").into_bytes())
            );
            assert_eq!(
                ev.object().unwrap()["metadata"]["resourceVersion"],
                rev.to_string()
            );
        }
        // A watch resuming from a revision the ring holds is served from it.
        let mut resumed = cache.subscribe("/p/", revs[0]).await.unwrap().unwrap();
        assert_eq!(next(&mut resumed).await.unwrap().revision, revs[1]);
        // What is already in the ring comes at once, up to the maximum asked for.
        let mut burst = cache.subscribe("/p/", start).await.unwrap().unwrap();
        let mut got = Vec::new();
        burst.recv_many(&mut got, 2).await.unwrap();
        burst.recv_many(&mut got, 10).await.unwrap();
        let got: Vec<i64> = got.iter().map(|e| e.revision).collect();
        assert_eq!(got, revs);
        // Three more events push the slow watcher's next one out of the 4-event ring.
        for i in 3..6 {
            store
                .put(format!("/p/{i}").as_bytes(), &value("v"))
                .await
                .unwrap();
        }
        for _ in 3..6 {
            next(&mut fast).await.unwrap();
        }
        assert!(
            next(&mut slow).await.is_err(),
            "a watcher behind the ring is cut off"
        );
        // A revision older than the ring goes to the store instead.
        assert!(cache.subscribe("/p/", start).await.unwrap().is_none());
        store.close().await.unwrap();
    }
}
