//! The cluster as the DNS server sees it: kube-runtime reflectors of Services, EndpointSlices
//! and Pods (decoded as pod.rs's `DnsPod`: namespace, name, deletion and IPs, all that PTR and
//! pod A records need).

use std::sync::Arc;

use futures_util::{future::ready, Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::{
    core::v1::{Pod, Service},
    discovery::v1::EndpointSlice,
};
use kube::{
    api::Api,
    runtime::{
        reflector::{self, ObjectRef, Store},
        watcher, WatchStreamExt,
    },
    Client, Resource,
};
use tracing::warn;

use crate::{
    pod::{into_pods, DnsPod},
    records::{ClusterView, SERVICE_NAME_LABEL},
};

/// Read side of the three reflectors; cheap to clone.
#[derive(Clone)]
pub struct Cache {
    services: Store<Service>,
    slices: Store<EndpointSlice>,
    pods: Store<Pod>,
}

impl Cache {
    /// The cache and the future that keeps it current (run it until shutdown).
    pub fn start(client: &Client) -> (Self, impl std::future::Future<Output = ()> + Send) {
        let (services, svc_w) = reflector::store::<Service>();
        let (slices, slice_w) = reflector::store::<EndpointSlice>();
        let (pods, pod_w) = reflector::store::<Pod>();
        let cfg = watcher::Config::default;
        let svc = reflector::reflector(svc_w, watcher(Api::all(client.clone()), cfg()));
        let slice = reflector::reflector(slice_w, watcher(Api::all(client.clone()), cfg()));
        let pod = reflector::reflector(
            pod_w,
            watcher(Api::<DnsPod>::all(client.clone()), cfg()).map_ok(into_pods),
        );
        let run = async move {
            futures_util::join!(
                drain(svc, "services"),
                drain(slice, "endpointslices"),
                drain(pod, "pods")
            );
        };
        (
            Cache {
                services,
                slices,
                pods,
            },
            run,
        )
    }

    /// Resolves once every reflector has listed (answers before that would be NXDOMAINs).
    pub async fn ready(&self) {
        let _ = self.services.wait_until_ready().await;
        let _ = self.slices.wait_until_ready().await;
        let _ = self.pods.wait_until_ready().await;
    }
}

async fn drain<K, S>(events: S, what: &'static str)
where
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send,
{
    events
        .default_backoff()
        .for_each(|ev| {
            if let Err(e) = ev {
                warn!(resource = what, error = %e, "DNS cache watch failed; retrying");
            }
            ready(())
        })
        .await;
}

impl ClusterView for Cache {
    fn service(&self, ns: &str, name: &str) -> Option<Arc<Service>> {
        self.services
            .get(&ObjectRef::<Service>::new(name).within(ns))
    }

    fn services(&self) -> Vec<Arc<Service>> {
        self.services.state()
    }

    fn slices(&self, ns: &str, svc: &str) -> Vec<Arc<EndpointSlice>> {
        self.slices.state_filter(|s| {
            s.meta().namespace.as_deref() == Some(ns)
                && s.meta()
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(SERVICE_NAME_LABEL))
                    .is_some_and(|n| n == svc)
        })
    }

    fn all_slices(&self) -> Vec<Arc<EndpointSlice>> {
        self.slices.state()
    }

    fn pods(&self) -> Vec<Arc<Pod>> {
        self.pods.state()
    }
}
