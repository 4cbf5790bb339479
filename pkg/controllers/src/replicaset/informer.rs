//! A shared-informer in miniature: a reflector store kept by a watch, and a handler told about
//! each add, update and delete after the store reflects it (as client-go's handlers are). A
//! relist reports what changed across it, including objects that vanished meanwhile.

use std::{collections::HashSet, fmt::Debug, sync::Arc};

use futures_util::StreamExt;
use kube::{
    api::Api,
    runtime::{
        reflector::{self, ObjectRef, Store},
        watcher::{self, Event},
        WatchStreamExt,
    },
    Resource,
};
use serde::de::DeserializeOwned;
use tracing::debug;

use super::index::ByNamespace;

pub(crate) enum Change<K> {
    Added(Arc<K>),
    Updated { old: Arc<K>, new: Arc<K> },
    Deleted(Arc<K>),
}

pub(crate) struct Informer<K: Resource<DynamicType = ()> + Clone + 'static> {
    api: Api<K>,
    writer: reflector::store::Writer<K>,
    index: Option<Arc<ByNamespace<K>>>,
}

/// A store and the informer that fills it (which must be run for the store to become ready).
pub(crate) fn new<K>(api: Api<K>) -> (Store<K>, Informer<K>)
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    let (store, writer) = reflector::store();
    (
        store,
        Informer {
            api,
            writer,
            index: None,
        },
    )
}

impl<K> Informer<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    /// Also keeps `index` (objects by namespace), updated with the store: it holds the whole
    /// initial list before the store reports ready.
    pub(crate) fn with_index(mut self, index: Arc<ByNamespace<K>>) -> Self {
        self.index = Some(index);
        self
    }

    /// Watches forever, keeping the store and calling `handler` for each change.
    pub(crate) async fn run(mut self, mut handler: impl FnMut(Change<K>)) {
        let reader = self.writer.as_reader();
        let by_ns = self.index.take();
        let index = |change: &Change<K>| {
            if let Some(i) = &by_ns {
                i.apply(change);
            }
        };
        let mut stream = std::pin::pin!(
            watcher::watcher(self.api, watcher::Config::default()).default_backoff()
        );
        let mut pending: Vec<Change<K>> = Vec::new();
        let mut seen: HashSet<ObjectRef<K>> = HashSet::new();
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
                    let old = reader.get(&key);
                    self.writer.apply_watcher_event(&ev);
                    let new = reader.get(&key).unwrap_or_else(|| Arc::new(obj.clone()));
                    let change = match old {
                        Some(old) => Change::Updated { old, new },
                        None => Change::Added(new),
                    };
                    index(&change);
                    handler(change);
                }
                Event::Delete(obj) => {
                    self.writer.apply_watcher_event(&ev);
                    let change = Change::Deleted(Arc::new(obj.clone()));
                    index(&change);
                    handler(change);
                }
                Event::Init => {
                    pending.clear();
                    seen.clear();
                    self.writer.apply_watcher_event(&ev);
                }
                Event::InitApply(obj) => {
                    let key = ObjectRef::from_obj(obj);
                    let new = Arc::new(obj.clone());
                    pending.push(match reader.get(&key) {
                        Some(old) => Change::Updated { old, new },
                        None => Change::Added(new),
                    });
                    seen.insert(key);
                    self.writer.apply_watcher_event(&ev);
                }
                Event::InitDone => {
                    for old in reader.state() {
                        if !seen.contains(&ObjectRef::from_obj(&*old)) {
                            pending.push(Change::Deleted(old));
                        }
                    }
                    pending.iter().for_each(&index);
                    self.writer.apply_watcher_event(&ev);
                    seen.clear();
                    for change in pending.drain(..) {
                        handler(change);
                    }
                }
            }
        }
    }
}
