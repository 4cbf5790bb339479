//! Bound pods as the taint manager needs them: a few fields each rather than whole pods, since
//! this cache holds every pod in the cluster (other controllers keep their own full copies).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Pod, Toleration};
use kube::{
    api::{Api, ObjectMeta},
    runtime::{watcher, WatchStreamExt},
    ResourceExt,
};
use tokio::sync::watch;
use tracing::debug;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BoundPod {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub node: String,
    pub tolerations: Vec<Toleration>,
    pub ready: bool,
    pub deleting: bool,
}

impl BoundPod {
    /// `None` for a pod not bound to a node.
    pub(crate) fn of(pod: &Pod) -> Option<Self> {
        let spec = pod.spec.as_ref()?;
        let node = spec.node_name.clone().filter(|n| !n.is_empty())?;
        Some(Self {
            namespace: pod.namespace().unwrap_or_default(),
            name: pod.name_any(),
            uid: pod.uid().unwrap_or_default(),
            node,
            tolerations: spec.tolerations.clone().unwrap_or_default(),
            ready: crate::replicaset::pods::is_ready(pod),
            deleting: pod.metadata.deletion_timestamp.is_some(),
        })
    }

    /// Enough of the pod for an event's involvedObject.
    pub(crate) fn as_pod(&self) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(self.namespace.clone()),
                uid: Some(self.uid.clone()),
                ..ObjectMeta::default()
            },
            ..Pod::default()
        }
    }
}

type Key = (String, String);

#[derive(Default)]
struct Inner {
    pods: HashMap<Key, Arc<BoundPod>>,
    /// A relist in progress: what it has seen so far.
    relist: Option<HashMap<Key, Arc<BoundPod>>>,
}

/// The cache, filled by [`PodCache::run`].
#[derive(Clone, Default)]
pub(crate) struct PodCache {
    inner: Arc<Mutex<Inner>>,
}

impl PodCache {
    /// The pods bound to nodes `on` accepts.
    pub(crate) fn on(&self, on: impl Fn(&str) -> bool) -> Vec<Arc<BoundPod>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .pods
            .values()
            .filter(|p| on(&p.node))
            .cloned()
            .collect()
    }

    /// Watches all pods forever; `synced` turns true after the first full list.
    pub(crate) async fn run(self, api: Api<Pod>, synced: watch::Sender<bool>) {
        let mut events = std::pin::pin!(watcher(api, watcher::Config::default()).default_backoff());
        while let Some(ev) = events.next().await {
            let ev = match ev {
                Ok(ev) => ev,
                Err(e) => {
                    debug!(error = %e, "pod watch failed; retrying");
                    continue;
                }
            };
            let key = |p: &Pod| (p.namespace().unwrap_or_default(), p.name_any());
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            match ev {
                watcher::Event::Init => inner.relist = Some(HashMap::new()),
                watcher::Event::InitApply(p) => {
                    if let (Some(b), Some(relist)) = (BoundPod::of(&p), inner.relist.as_mut()) {
                        relist.insert(key(&p), Arc::new(b));
                    }
                }
                watcher::Event::InitDone => {
                    if let Some(relist) = inner.relist.take() {
                        inner.pods = relist;
                    }
                    let _ = synced.send(true);
                }
                watcher::Event::Apply(p) => match BoundPod::of(&p) {
                    Some(b) => {
                        inner.pods.insert(key(&p), Arc::new(b));
                    }
                    None => {
                        inner.pods.remove(&key(&p));
                    }
                },
                watcher::Event::Delete(p) => {
                    inner.pods.remove(&key(&p));
                }
            }
        }
    }
}
