//! Shared informers (client-go's SharedInformerFactory): ONE watch and ONE reflector store per
//! type for every in-process controller and the scheduler, so each object is decoded once and
//! held once (as `Arc`), and each subscriber is told about every add, update and delete after
//! the store reflects it. A relist reports what changed across it, including objects that
//! vanished meanwhile, so subscribers never see the watcher's Init/InitApply/InitDone.

use std::{
    any::{Any, TypeId},
    collections::{HashMap, HashSet},
    fmt::Debug,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context as TaskContext, Poll},
};

use futures_util::{Stream, StreamExt};
use kube::{
    api::Api,
    runtime::{
        reflector::{self, ObjectRef, Store},
        watcher::{self, Event},
        WatchStreamExt,
    },
    Client, Resource,
};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tracing::debug;

pub use crate::replicaset::index::ByNamespace;

/// What a subscriber is told, in store order.
pub enum Change<K> {
    Added(Arc<K>),
    Updated {
        old: Arc<K>,
        new: Arc<K>,
    },
    Deleted(Arc<K>),
    /// The store holds a complete list: sent to each subscriber once, after the changes of
    /// the first list (or, for a late subscriber, after the replay of the store).
    Synced,
}

impl<K> Clone for Change<K> {
    fn clone(&self) -> Self {
        match self {
            Change::Added(o) => Change::Added(o.clone()),
            Change::Updated { old, new } => Change::Updated {
                old: old.clone(),
                new: new.clone(),
            },
            Change::Deleted(o) => Change::Deleted(o.clone()),
            Change::Synced => Change::Synced,
        }
    }
}

/// What an informer's type must be.
pub trait Object:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
}
impl<K> Object for K where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
}

/// The events with every object's managedFields dropped.
fn without_managed_fields<K: Object>(
    events: impl Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static,
) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static {
    events.modify(|o| o.meta_mut().managed_fields = None)
}

/// Subscribers, and whether the store has been complete once; locked while a change is applied
/// and fanned out, and while a new subscriber is given the store's contents, so that a
/// subscriber sees every object exactly once in order.
struct Hub<K> {
    subscribers: Vec<mpsc::UnboundedSender<Change<K>>>,
    synced: bool,
}

/// Aborts the watch task when the last handle to the informer goes.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One watch of one type, its store, its by-namespace index, and its subscribers.
pub struct Informer<K: Object> {
    store: Store<K>,
    by_ns: Arc<ByNamespace<K>>,
    hub: Arc<Mutex<Hub<K>>>,
    _task: Arc<AbortOnDrop>,
}

impl<K: Object> Clone for Informer<K> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            by_ns: self.by_ns.clone(),
            hub: self.hub.clone(),
            _task: self._task.clone(),
        }
    }
}

impl<K: Object> Informer<K> {
    /// Starts watching `api` (must be called inside a tokio runtime). The watch runs until the
    /// last clone of the informer is dropped. Objects are held without their managedFields,
    /// which no controller reads (upstream's controller-manager and scheduler strip them too:
    /// client-go's `TransformStripManagedFields`): at 10k pods they were a large part of the
    /// informer's memory.
    pub fn spawn(api: Api<K>) -> Self {
        Self::from_events(without_managed_fields(
            watcher::watcher(api, watcher::Config::default()).default_backoff(),
        ))
    }

    /// An informer over any stream of watch events (tests feed their own).
    fn from_events(
        events: impl Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static,
    ) -> Self {
        let (store, writer) = reflector::store();
        let by_ns = Arc::new(ByNamespace::default());
        let hub = Arc::new(Mutex::new(Hub {
            subscribers: Vec::new(),
            synced: false,
        }));
        let task = tokio::spawn(run(events, writer, by_ns.clone(), hub.clone()));
        Self {
            store,
            by_ns,
            hub,
            _task: Arc::new(AbortOnDrop(task.abort_handle())),
        }
    }

    /// The shared store (ready once the first list is complete).
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// The same objects by namespace, complete before the store reports ready.
    pub fn by_namespace(&self) -> Arc<ByNamespace<K>> {
        self.by_ns.clone()
    }

    /// Every change from now on; a subscriber arriving after the first list gets the store's
    /// objects as `Added`, then `Synced`, as client-go's late event handlers do.
    pub fn subscribe(&self) -> Subscription<K> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut hub = lock(&self.hub);
        if hub.synced {
            for obj in self.store.state() {
                let _ = tx.send(Change::Added(obj));
            }
            let _ = tx.send(Change::Synced);
        }
        hub.subscribers.push(tx);
        Subscription {
            rx,
            _informer: self.clone(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A subscriber's changes; keeps the informer alive.
pub struct Subscription<K: Object> {
    rx: mpsc::UnboundedReceiver<Change<K>>,
    _informer: Informer<K>,
}

impl<K: Object> Subscription<K> {
    pub async fn recv(&mut self) -> Option<Change<K>> {
        self.rx.recv().await
    }
}

impl<K: Object> Stream for Subscription<K> {
    type Item = Change<K>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

/// Applies one batch of changes (already in the store) to the index and the subscribers.
fn publish<K: Object>(hub: &mut Hub<K>, by_ns: &ByNamespace<K>, changes: Vec<Change<K>>) {
    for change in &changes {
        by_ns.apply(change);
    }
    hub.subscribers
        .retain(|s| changes.iter().all(|c| s.send(c.clone()).is_ok()));
}

async fn run<K: Object>(
    events: impl Stream<Item = Result<Event<K>, watcher::Error>>,
    mut writer: reflector::store::Writer<K>,
    by_ns: Arc<ByNamespace<K>>,
    hub: Arc<Mutex<Hub<K>>>,
) {
    let reader = writer.as_reader();
    let mut stream = std::pin::pin!(events);
    // A (re)list in progress: the keys seen and what the store held for them before.
    let mut listed: Vec<(ObjectRef<K>, Option<Arc<K>>)> = Vec::new();
    while let Some(ev) = stream.next().await {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                debug!(error = %e, kind = %K::kind(&()), "watch failed; retrying");
                continue;
            }
        };
        match &ev {
            Event::Apply(obj) => {
                let key = ObjectRef::from_obj(obj);
                let mut hub = lock(&hub);
                let old = reader.get(&key);
                writer.apply_watcher_event(&ev);
                let new = reader.get(&key).unwrap_or_else(|| Arc::new(obj.clone()));
                let change = match old {
                    Some(old) => Change::Updated { old, new },
                    None => Change::Added(new),
                };
                publish(&mut hub, &by_ns, vec![change]);
            }
            Event::Delete(obj) => {
                let mut hub = lock(&hub);
                writer.apply_watcher_event(&ev);
                // The object's last state, as the delete event carries it.
                publish(
                    &mut hub,
                    &by_ns,
                    vec![Change::Deleted(Arc::new(obj.clone()))],
                );
            }
            Event::Init => {
                listed.clear();
                writer.apply_watcher_event(&ev);
            }
            Event::InitApply(obj) => {
                let key = ObjectRef::from_obj(obj);
                let old = reader.get(&key);
                listed.push((key, old));
                writer.apply_watcher_event(&ev);
            }
            Event::InitDone => {
                let mut hub = lock(&hub);
                let before = reader.state();
                writer.apply_watcher_event(&ev);
                // The store's own Arcs, so the index and subscribers share its objects.
                let seen: HashSet<&ObjectRef<K>> = listed.iter().map(|(k, _)| k).collect();
                let mut changes: Vec<Change<K>> = before
                    .into_iter()
                    .filter(|o| !seen.contains(&ObjectRef::from_obj(&**o)))
                    .map(Change::Deleted)
                    .collect();
                for (key, old) in listed.drain(..) {
                    let Some(new) = reader.get(&key) else {
                        continue;
                    };
                    changes.push(match old {
                        Some(old) => Change::Updated { old, new },
                        None => Change::Added(new),
                    });
                }
                if !hub.synced {
                    hub.synced = true;
                    changes.push(Change::Synced);
                }
                publish(&mut hub, &by_ns, changes);
            }
        }
    }
}

/// One informer per type, started on first use and shared by everything given this factory
/// (the controllers and the scheduler in `rkube server`).
#[derive(Clone)]
pub struct Informers {
    client: Client,
    started: Arc<Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>>,
}

impl Informers {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            started: Arc::default(),
        }
    }

    /// The cluster-wide informer of `K`, started on the first call.
    pub fn get<K: Object>(&self) -> Informer<K> {
        let mut started = lock(&self.started);
        if let Some(i) = started
            .get(&TypeId::of::<K>())
            .and_then(|b| b.downcast_ref::<Informer<K>>())
        {
            return i.clone();
        }
        let informer = Informer::spawn(Api::<K>::all(self.client.clone()));
        started.insert(TypeId::of::<K>(), Box::new(informer.clone()));
        informer
    }
}

impl std::fmt::Debug for Informers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Informers").finish_non_exhaustive()
    }
}

#[cfg(test)]
#[path = "informers_tests.rs"]
mod tests;
