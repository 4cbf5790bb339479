//! What kube-apiserver's per-kind strategies do around a write, beyond defaulting and
//! validation: status reset on create, spec/status separation on update, generation bumps,
//! the namespace finalizer, pod QoS class.

use rkube_api::ResourceDef;
use serde_json::{json, Value};

use crate::object::{meta_mut, spec_changed};

/// Kinds whose metadata.generation tracks spec changes.
fn tracks_generation(def: &ResourceDef) -> bool {
    matches!(def.kind, "Deployment" | "ReplicaSet")
}

fn has_status(def: &ResourceDef) -> bool {
    def.subresource("status").is_some()
}

pub fn prepare_for_create(def: &ResourceDef, obj: &mut Value) {
    if tracks_generation(def) {
        meta_mut(obj).insert("generation".into(), json!(1));
    }
    match def.kind {
        "Pod" => {
            let qos = qos_class(obj.get("spec").unwrap_or(&Value::Null));
            obj["status"] = json!({"phase": "Pending", "qosClass": qos});
        }
        "Namespace" => {
            obj["status"] = json!({"phase": "Active"});
            let spec = obj
                .as_object_mut()
                .expect("object")
                .entry("spec")
                .or_insert_with(|| json!({}));
            if !spec.get("finalizers").is_some_and(Value::is_array) {
                spec["finalizers"] = json!(["kubernetes"]);
            }
        }
        "Service" => obj["status"] = json!({"loadBalancer": {}}),
        // The kubelet registers its Node with status; everything else starts blank.
        "Node" => {}
        _ if has_status(def) => {
            obj.as_object_mut()
                .expect("object")
                .insert("status".into(), json!({}));
        }
        _ => {}
    }
}

/// Carries over what a write through `subresource` may not change.
pub fn prepare_for_update(
    def: &ResourceDef,
    subresource: Option<&str>,
    new: &mut Value,
    old: &Value,
) {
    match subresource {
        Some("status") => {
            // Only status changes; spec and the user-owned metadata stay as stored.
            for (k, v) in old.as_object().into_iter().flatten() {
                if !matches!(k.as_str(), "status" | "metadata") {
                    new[k.as_str()] = v.clone();
                }
            }
            // Upstream: workloads' status writes may change annotations (the Deployment
            // controller records revisions that way) but not labels; elsewhere only status.
            let kept: &[&str] = if matches!(def.kind, "Deployment" | "ReplicaSet") {
                &["labels", "deletionTimestamp", "generation"]
            } else {
                &[
                    "labels",
                    "annotations",
                    "finalizers",
                    "ownerReferences",
                    "deletionTimestamp",
                    "generation",
                ]
            };
            if let (Some(nm), Some(om)) = (
                new.get_mut("metadata").and_then(Value::as_object_mut),
                old.get("metadata"),
            ) {
                for f in kept.iter().copied() {
                    match om.get(f) {
                        Some(v) => nm.insert(f.into(), v.clone()),
                        None => nm.remove(f),
                    };
                }
            }
        }
        _ => {
            if has_status(def) && def.kind != "Node" {
                match old.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => drop(new.as_object_mut().map(|o| o.remove("status"))),
                }
            }
            if def.kind == "Namespace" && subresource != Some("finalize") {
                new["spec"] = old.get("spec").cloned().unwrap_or_else(|| json!({}));
            }
            if def.kind == "Service" && subresource.is_none() {
                crate::alloc::update::normalize_cluster_ips(new, old);
                crate::alloc::update::drop_type_dependent_fields(new, old);
            }
        }
    }
    // System metadata is never the client's to change. A uid the client sent is kept for
    // validation to refuse when it differs (upstream's BeforeUpdate fills only an empty one).
    if let (Some(nm), Some(om)) = (
        new.get_mut("metadata").and_then(Value::as_object_mut),
        old.get("metadata"),
    ) {
        let sent_uid = nm
            .get("uid")
            .and_then(Value::as_str)
            .is_some_and(|u| !u.is_empty());
        for f in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            if f == "uid" && sent_uid {
                continue;
            }
            match om.get(f) {
                Some(v) => nm.insert(f.into(), v.clone()),
                None => nm.remove(f),
            };
        }
    }
    if tracks_generation(def) && spec_changed(old, new) {
        let g = old
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        meta_mut(new).insert("generation".into(), json!(g + 1));
    }
}

/// Upstream's QoS classes: Guaranteed when every container limits cpu and memory with
/// requests equal to limits, BestEffort when nothing is requested or limited, else Burstable.
pub fn qos_class(spec: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| spec.get(*k).and_then(Value::as_array))
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = !containers.is_empty();
    for c in containers {
        let requests = c.pointer("/resources/requests").and_then(Value::as_object);
        let limits = c.pointer("/resources/limits").and_then(Value::as_object);
        let nonzero = |m: Option<&serde_json::Map<String, Value>>, r: &str| {
            m.and_then(|m| m.get(r))
                .is_some_and(|v| v.as_str().is_none_or(|s| s != "0"))
        };
        for r in ["cpu", "memory"] {
            if nonzero(requests, r) || nonzero(limits, r) {
                any = true;
            }
            let (req, lim) = (
                requests.and_then(|m| m.get(r)),
                limits.and_then(|m| m.get(r)),
            );
            if lim.is_none() || (req.is_some() && req != lim) {
                guaranteed = false;
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos() {
        assert_eq!(
            qos_class(&json!({"containers": [{"name": "a"}]})),
            "BestEffort"
        );
        let g = json!({"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]});
        assert_eq!(qos_class(&g), "Guaranteed");
        let b = json!({"containers": [{"resources": {"requests": {"cpu": "1"}}}]});
        assert_eq!(qos_class(&b), "Burstable");
    }
}
