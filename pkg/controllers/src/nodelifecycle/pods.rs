//! Bound pods as the taint manager needs them: a few fields each, kept from the shared pod
//! informer's changes, so a pass over the bound pods of some nodes is cheap.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use k8s_openapi::api::core::v1::{Pod, Toleration};
use kube::{api::ObjectMeta, ResourceExt};
use tokio::sync::watch;

use crate::informers::{Change, Subscription};

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

    /// Follows the pod informer forever; `synced` turns true after the first full list.
    pub(crate) async fn run(self, mut changes: Subscription<Pod>, synced: watch::Sender<bool>) {
        let key = |p: &Pod| (p.namespace().unwrap_or_default(), p.name_any());
        while let Some(change) = changes.recv().await {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            match change {
                Change::Added(p) | Change::Updated { new: p, .. } => match BoundPod::of(&p) {
                    Some(b) => {
                        inner.pods.insert(key(&p), Arc::new(b));
                    }
                    None => {
                        inner.pods.remove(&key(&p));
                    }
                },
                Change::Deleted(p) => {
                    inner.pods.remove(&key(&p));
                }
                Change::Synced => {
                    let _ = synced.send(true);
                }
            }
        }
    }
}
