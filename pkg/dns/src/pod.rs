//! Pods as cluster DNS reads them. Every change of every pod reaches the DNS cache, and DNS
//! needs only each pod's namespace, deletion and IPs (for PTR and pod A records), so its
//! watch decodes just those (and what the reflector keys by) into a `Pod`; the spec, the rest
//! of the status and the managed fields are skipped while parsing instead of being built and
//! dropped.

use std::borrow::Cow;

use k8s_openapi::{
    api::core::v1::{Pod, PodIP, PodStatus},
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time},
};
use kube::{core::NamespaceResourceScope, runtime::watcher, Resource};
use serde::{Deserialize, Deserializer};

/// A Pod with only what DNS reads.
#[derive(Clone, Debug, Deserialize)]
pub struct DnsPod {
    #[serde(default, deserialize_with = "slim_meta")]
    metadata: ObjectMeta,
    #[serde(default)]
    status: Option<Status>,
}

#[derive(Clone, Debug, Deserialize)]
struct Status {
    #[serde(default, rename = "podIP")]
    pod_ip: Option<String>,
    #[serde(default, rename = "podIPs")]
    pod_ips: Option<Vec<PodIP>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    resource_version: Option<String>,
    #[serde(default)]
    deletion_timestamp: Option<Time>,
}

fn slim_meta<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    let m = Meta::deserialize(d)?;
    Ok(ObjectMeta {
        name: m.name,
        namespace: m.namespace,
        uid: m.uid,
        resource_version: m.resource_version,
        deletion_timestamp: m.deletion_timestamp,
        ..ObjectMeta::default()
    })
}

impl DnsPod {
    pub fn into_pod(self) -> Pod {
        Pod {
            metadata: self.metadata,
            spec: None,
            status: self.status.map(|s| PodStatus {
                pod_ip: s.pod_ip,
                pod_ips: s.pod_ips,
                ..PodStatus::default()
            }),
        }
    }
}

impl Resource for DnsPod {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "Pod".into()
    }

    fn group(_: &()) -> Cow<'_, str> {
        "".into()
    }

    fn version(_: &()) -> Cow<'_, str> {
        "v1".into()
    }

    fn plural(_: &()) -> Cow<'_, str> {
        "pods".into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// A watch event of slim pods as one of `Pod`s, for a `Store<Pod>`.
pub fn into_pods(ev: watcher::Event<DnsPod>) -> watcher::Event<Pod> {
    use watcher::Event;
    match ev {
        Event::Apply(p) => Event::Apply(p.into_pod()),
        Event::Delete(p) => Event::Delete(p.into_pod()),
        Event::Init => Event::Init,
        Event::InitApply(p) => Event::InitApply(p.into_pod()),
        Event::InitDone => Event::InitDone,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keeps_what_dns_reads_and_nothing_else() {
        let full = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "n", "uid": "u", "resourceVersion": "7",
                "deletionTimestamp": "2026-11-27T10:00:00Z", "labels": {"a": "b"},
                "managedFields": [{"manager": "m", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]},
            "spec": {"containers": [{"name": "c", "image": "i"}], "nodeName": "x"},
            "status": {"phase": "Running", "podIP": "10.42.0.5",
                "podIPs": [{"ip": "10.42.0.5"}], "conditions": [{"type": "Ready", "status": "True"}]}
        });
        let pod = serde_json::from_value::<DnsPod>(full).unwrap().into_pod();
        let want: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "n", "uid": "u", "resourceVersion": "7",
                "deletionTimestamp": "2026-11-27T10:00:00Z"},
            "status": {"podIP": "10.42.0.5", "podIPs": [{"ip": "10.42.0.5"}]}
        }))
        .unwrap();
        assert_eq!(pod, want);
        // A pod without status (just created), and a bookmark's bare metadata.
        let bare = serde_json::from_value::<DnsPod>(json!({"metadata": {"name": "q"}})).unwrap();
        assert_eq!(bare.into_pod().status, None);
        assert!(serde_json::from_value::<DnsPod>(
            json!({"kind": "Pod", "metadata": {"resourceVersion": "9"}})
        )
        .is_ok());
    }
}
