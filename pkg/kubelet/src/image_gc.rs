//! Image garbage collection, as the upstream kubelet runs it: once after start, then every
//! period (5 min); the images that containers of the pods bound to this node use are kept.
//! Events on the Node as upstream: FreeDiskSpaceFailed when a pass cannot free enough,
//! ImageGCFailed when passes fail twice in a row.

use k8s_openapi::{
    api::core::v1::{Event, EventSource, ObjectReference, Pod},
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time},
    jiff::Timestamp,
};
use kube::{
    api::{Api, ListParams, PostParams},
    Client,
};
use rkube_image::{GcError, GcPolicy, ImageService};
use tracing::{debug, info, warn};

pub async fn run_forever(
    client: Client,
    images: ImageService,
    policy: GcPolicy,
    node_name: String,
) {
    let mut tick = tokio::time::interval(policy.period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failed_before = false;
    loop {
        tick.tick().await;
        let listed_at = std::time::SystemTime::now();
        let in_use = match in_use(&client, &node_name).await {
            Ok(v) => v,
            // Without the pods, every image might look unused: skip this pass.
            Err(e) => {
                warn!(error = %e, "image GC skipped: cannot list this node's pods");
                continue;
            }
        };
        match images.garbage_collect(&policy, &in_use, listed_at).await {
            Ok(out) => {
                if !out.removed.is_empty() {
                    info!(
                        freed = out.freed,
                        images = out.removed.len(),
                        usage = out.usage_percent,
                        "image garbage collection freed space"
                    );
                } else {
                    debug!(
                        usage = out.usage_percent,
                        "image garbage collection: nothing to do"
                    );
                }
                failed_before = false;
            }
            Err(e) => {
                if let GcError::NotEnough { removed, freed, .. } = &e {
                    warn!(error = %e, removed = removed.len(), freed, "image garbage collection could not free enough");
                    event(&client, &node_name, "FreeDiskSpaceFailed", e.to_string()).await;
                }
                if failed_before {
                    warn!(error = %e, "image garbage collection failed multiple times in a row");
                    event(&client, &node_name, "ImageGCFailed", e.to_string()).await;
                } else {
                    warn!(error = %e, "image garbage collection failed once");
                }
                failed_before = true;
            }
        }
    }
}

/// The images (as written in the specs, and the resolved imageIDs) of every container, init
/// and ephemeral container of the pods bound to this node, running or exited.
async fn in_use(client: &Client, node_name: &str) -> Result<Vec<String>, kube::Error> {
    let api: Api<Pod> = Api::all(client.clone());
    let pods = api
        .list(&ListParams::default().fields(&format!("spec.nodeName={node_name}")))
        .await?;
    Ok(pods.items.iter().flat_map(pod_images).collect())
}

fn pod_images(pod: &Pod) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(s) = &pod.spec {
        let containers = s
            .containers
            .iter()
            .chain(s.init_containers.iter().flatten());
        out.extend(containers.filter_map(|c| c.image.clone()));
        out.extend(
            s.ephemeral_containers
                .iter()
                .flatten()
                .filter_map(|c| c.image.clone()),
        );
    }
    if let Some(st) = &pod.status {
        let statuses = st
            .container_statuses
            .iter()
            .flatten()
            .chain(st.init_container_statuses.iter().flatten());
        out.extend(
            statuses
                .map(|c| c.image_id.clone())
                .filter(|id| !id.is_empty()),
        );
    }
    out
}

/// An Event about the Node, as upstream's kubelet writes them (namespace default, the node's
/// name as its UID).
async fn event(client: &Client, node_name: &str, reason: &str, message: String) {
    let now = Timestamp::now();
    let ev = Event {
        metadata: ObjectMeta {
            name: Some(format!("{node_name}.{:x}", now.as_nanosecond())),
            namespace: Some("default".into()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            kind: Some("Node".into()),
            name: Some(node_name.into()),
            uid: Some(node_name.into()),
            ..ObjectReference::default()
        },
        reason: Some(reason.into()),
        message: Some(message),
        type_: Some("Warning".into()),
        source: Some(EventSource {
            component: Some("kubelet".into()),
            host: Some(node_name.into()),
        }),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        count: Some(1),
        reporting_component: Some("kubelet".into()),
        reporting_instance: Some(node_name.into()),
        ..Event::default()
    };
    let api: Api<Event> = Api::namespaced(client.clone(), "default");
    if let Err(e) = api.create(&PostParams::default(), &ev).await {
        debug!(error = %e, reason, "writing a node event failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_of_specs_and_statuses() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "spec": {
                "containers": [{"name": "a", "image": "busybox:1.36"}],
                "initContainers": [{"name": "i", "image": "127.0.0.1:5000/init:1"}],
            },
            "status": {"containerStatuses": [{
                "name": "a", "image": "busybox:1.36", "ready": true, "restartCount": 0,
                "imageID": "docker.io/library/busybox@sha256:abc",
            }]},
        }))
        .unwrap();
        assert_eq!(
            pod_images(&pod),
            vec![
                "busybox:1.36",
                "127.0.0.1:5000/init:1",
                "docker.io/library/busybox@sha256:abc"
            ]
        );
    }
}
