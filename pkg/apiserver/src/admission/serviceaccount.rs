//! The ServiceAccount admission plugin (plugin/pkg/admission/serviceaccount): a new pod runs
//! as `default` unless it names an account, the account must exist, and unless automounting
//! is turned off every container gets the `kube-api-access-*` projected volume (token, CA,
//! namespace) at /var/run/secrets/kubernetes.io/serviceaccount, as in-cluster clients expect.

use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::{
    object::generate_name,
    rest::Api,
    status::{ApiError, ApiResult},
};

pub const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
const VOLUME_PREFIX: &str = "kube-api-access-";
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// The `default` account is made by a controller right after its namespace: upstream looks
/// again up to ten times, 100–199 ms apart, before refusing a pod.
const DEFAULT_LOOKUPS: u32 = 10;

/// Admits a pod being created in `ns` (after defaulting), in place.
pub async fn admit(api: &Api, ns: &str, pod: &mut Value) -> ApiResult<()> {
    let mirror = pod
        .pointer(&format!(
            "/metadata/annotations/{}",
            MIRROR_ANNOTATION.replace('/', "~1")
        ))
        .is_some();
    if mirror {
        return Ok(());
    }
    let pod_name = crate::object::name(pod).to_string();
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    let name = match spec.get("serviceAccountName").and_then(Value::as_str) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => "default".to_string(),
    };
    spec.insert("serviceAccountName".into(), json!(name));
    spec.insert("serviceAccount".into(), json!(name));

    let sa = lookup(api, ns, &name).await?.ok_or_else(|| {
        let pods = rkube_api::registry::find("", "v1", "pods").expect("pods are served");
        ApiError::forbidden(
            pods,
            &pod_name,
            &format!(
                "error looking up service account {ns}/{name}: serviceaccount {name:?} not found"
            ),
        )
    })?;
    // The pod's own setting wins over its account's; both default to mounting.
    let automount = spec
        .get("automountServiceAccountToken")
        .and_then(Value::as_bool)
        .or_else(|| sa["automountServiceAccountToken"].as_bool())
        .unwrap_or(true);
    if automount {
        mount_token(spec);
    }
    if spec
        .get("imagePullSecrets")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        if let Some(secrets) = sa
            .get("imagePullSecrets")
            .and_then(Value::as_array)
            .filter(|s| !s.is_empty())
        {
            spec.insert("imagePullSecrets".into(), Value::Array(secrets.clone()));
        }
    }
    Ok(())
}

/// The account, looking again for a while when it is the `default` one.
async fn lookup(api: &Api, ns: &str, name: &str) -> ApiResult<Option<Value>> {
    let def = rkube_api::registry::find("", "v1", "serviceaccounts").expect("served");
    let attempts = if name == "default" {
        DEFAULT_LOOKUPS
    } else {
        1
    };
    for i in 0..attempts {
        if i > 0 {
            let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 100;
            tokio::time::sleep(Duration::from_millis(100 + jitter)).await;
        }
        match api.read(def, Some(ns), name).await {
            Ok((sa, _)) => return Ok(Some(sa)),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Adds the kube-api-access volume (or reuses one the pod has) and mounts it read-only in
/// every init and app container without a mount at that path; ephemeral containers are left
/// alone, as upstream.
fn mount_token(spec: &mut Map<String, Value>) {
    let existing = spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v["name"].as_str())
        .find(|n| n.starts_with(VOLUME_PREFIX))
        .map(str::to_string);
    let volume = existing
        .clone()
        .unwrap_or_else(|| generate_name(VOLUME_PREFIX));
    let mut mounted = false;
    for field in ["initContainers", "containers"] {
        let Some(containers) = spec.get_mut(field).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in containers {
            let Some(c) = c.as_object_mut() else { continue };
            let mounts = c
                .entry("volumeMounts")
                .or_insert_with(|| Value::Array(Vec::new()));
            let Some(mounts) = mounts.as_array_mut() else {
                continue;
            };
            if mounts.iter().any(|m| m["mountPath"] == MOUNT_PATH) {
                continue;
            }
            mounts.push(json!({"name": volume, "readOnly": true, "mountPath": MOUNT_PATH}));
            mounted = true;
        }
    }
    if mounted && existing.is_none() {
        let volumes = spec
            .entry("volumes")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Some(volumes) = volumes.as_array_mut() {
            volumes.push(json!({
                "name": volume,
                "projected": {
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
                    ],
                    "defaultMode": 420,
                },
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_in_init_and_app_containers_once() {
        let mut spec = json!({
            "initContainers": [{"name": "i", "image": "x"}],
            "containers": [
                {"name": "a", "image": "x"},
                {"name": "b", "image": "x", "volumeMounts": [{"name": "mine", "mountPath": MOUNT_PATH}]},
            ],
            "ephemeralContainers": [{"name": "e", "image": "x"}],
        });
        let spec = spec.as_object_mut().unwrap();
        mount_token(spec);
        let vols = spec["volumes"].as_array().unwrap();
        assert_eq!(vols.len(), 1);
        let name = vols[0]["name"].as_str().unwrap();
        assert!(
            name.starts_with("kube-api-access-") && name.len() == 21,
            "{name}"
        );
        assert_eq!(vols[0]["projected"]["defaultMode"], 420);
        let want = json!([{"name": name, "readOnly": true, "mountPath": MOUNT_PATH}]);
        assert_eq!(spec["initContainers"][0]["volumeMounts"], want);
        assert_eq!(spec["containers"][0]["volumeMounts"], want);
        assert_eq!(spec["containers"][1]["volumeMounts"][0]["name"], "mine");
        assert!(spec["ephemeralContainers"][0].get("volumeMounts").is_none());
        // Admitting again (a pod that already has it) adds nothing.
        mount_token(spec);
        assert_eq!(spec["volumes"].as_array().unwrap().len(), 1);
        assert_eq!(
            spec["containers"][0]["volumeMounts"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
}
