//! Upstream defaulting for the served kinds, applied to objects as JSON (camelCase, as served):
//! `pkg/apis/*/v1/defaults.go`, the declarative (`+default`) defaults, the v1 conversions that
//! shape what is stored (Secret `stringData`, Pod `serviceAccount`), the Priority admission
//! plugin's pod priority and the fields kube-apiserver always serializes (`resources: {}`,
//! template `creationTimestamp: null`, zero-valued statuses). Everything only fills what is
//! absent, so [`apply`] is idempotent.
use serde_json::{json, Map, Value};

use crate::validation::base64;
use crate::validation::quantity::Quantity;
use crate::ResourceDef;

mod core;
mod pod;
mod rbac;
mod workloads;

pub use pod::image_tag;

/// Fills in what kube-apiserver would default on create and update.
pub fn apply(def: &ResourceDef, obj: &mut Value) {
    let Some(m) = obj.as_object_mut() else { return };
    match (def.group, def.kind) {
        ("", "Pod") => pod::pod(m),
        ("", "PodTemplate") => workloads::template(m, "template"),
        ("", "ReplicationController") => workloads::replication_controller(m),
        ("", "Service") => core::service(m),
        ("", "Secret") => core::secret(m),
        ("", "Namespace") => core::namespace(m),
        ("", "Endpoints") => core::endpoints(m),
        ("", "Node") => core::node(m),
        ("discovery.k8s.io", "EndpointSlice") => core::endpoint_slice(m),
        ("apps", "Deployment") => workloads::deployment(m),
        ("apps", "ReplicaSet") => workloads::replica_set(m),
        ("apps", "DaemonSet") => workloads::daemon_set(m),
        ("apps", "StatefulSet") => workloads::stateful_set(m),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => rbac::binding(m),
        _ => {}
    }
}

/// On update, before [`apply`] and validation: what kube-apiserver carries over from the stored
/// object (`rest.BeforeUpdate` and the Service storage's `patchAllocatedValues`): an empty
/// `metadata.uid`, `metadata.creationTimestamp` (changes are ignored, as upstream), the
/// deletion timestamp/grace period, and for Services the allocated `clusterIP(s)`, IP
/// families, node ports and health-check node port the request left out. Then [`apply`].
pub fn apply_update(def: &ResourceDef, obj: &mut Value, old: &Value) {
    if let (Some(m), Some(old_meta)) = (
        obj.as_object_mut(),
        old.get("metadata").and_then(Value::as_object),
    ) {
        let meta = ensure_object(m, "metadata");
        if is_zero(meta.get("uid")) {
            copy_field(meta, old_meta, "uid");
        }
        for field in [
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            if old_meta.get(field).is_some_and(|v| !v.is_null()) {
                copy_field(meta, old_meta, field);
            }
        }
    }
    if def.group.is_empty() && def.kind == "Service" {
        core::service_carry_over(obj, old);
    }
    apply(def, obj);
}

/// The status kube-apiserver's `PrepareForCreate` gives a new object (the client's status is
/// discarded), e.g. a Pod's `{"phase": "Pending", "qosClass": "BestEffort"}`; `None` when the
/// kind keeps what the client sent (Node) or has no status. Call after [`apply`].
pub fn initial_status(def: &ResourceDef, obj: &Value) -> Option<Value> {
    let status = match (def.group, def.kind) {
        ("", "Pod") => json!({"phase": "Pending", "qosClass": pod::qos_class(obj.get("spec"))}),
        ("", "Service") => json!({"loadBalancer": {}}),
        ("", "Namespace") => json!({"phase": "Active"}),
        ("", "PersistentVolumeClaim") => json!({"phase": "Pending"}),
        ("", "PersistentVolume") => json!({"phase": "Pending"}),
        ("", "ReplicationController") | ("apps", "ReplicaSet") => json!({"replicas": 0}),
        ("apps", "Deployment") => json!({}),
        ("apps", "StatefulSet") => json!({"replicas": 0, "availableReplicas": 0}),
        ("apps", "DaemonSet") => json!({
            "currentNumberScheduled": 0,
            "numberMisscheduled": 0,
            "desiredNumberScheduled": 0,
            "numberReady": 0
        }),
        ("batch", "Job") | ("batch", "CronJob") => json!({}),
        _ => return None,
    };
    Some(status)
}

fn copy_field(to: &mut Map<String, Value>, from: &Map<String, Value>, key: &str) {
    match from.get(key) {
        Some(v) => to.insert(key.to_string(), v.clone()),
        None => to.remove(key),
    };
}

/// Go's zero value: absent, null, false, 0 or "".
pub(crate) fn is_zero(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => !b,
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        Some(Value::String(s)) => s.is_empty(),
        _ => false,
    }
}

/// Sets `key` when absent or null (a nil pointer upstream).
pub(crate) fn set_if_absent(m: &mut Map<String, Value>, key: &str, v: Value) {
    if m.get(key).is_none_or(Value::is_null) {
        m.insert(key.to_string(), v);
    }
}

/// Sets `key` when it holds Go's zero value (a value field upstream: "", 0).
pub(crate) fn set_if_zero(m: &mut Map<String, Value>, key: &str, v: Value) {
    if is_zero(m.get(key)) {
        m.insert(key.to_string(), v);
    }
}

/// The object at `key`, created (`{}`) when absent or not an object.
pub(crate) fn ensure_object<'a>(
    m: &'a mut Map<String, Value>,
    key: &str,
) -> &'a mut Map<String, Value> {
    if !m.get(key).is_some_and(Value::is_object) {
        m.insert(key.to_string(), Value::Object(Map::new()));
    }
    match m.get_mut(key) {
        Some(Value::Object(o)) => o,
        _ => unreachable!("just inserted an object"),
    }
}

/// Rewrites a ResourceList's quantities in the canonical form kube-apiserver serializes,
/// rounded up to milli-units first when `round` (`SetDefaults_ResourceList`). Unparsable
/// values are left for validation to report.
pub(crate) fn canonical_quantities(list: &mut Map<String, Value>, round: bool) {
    for v in list.values_mut() {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => continue,
        };
        if let Some(mut q) = Quantity::parse(&s) {
            if round {
                q.round_up(-3);
            }
            *v = Value::from(q.canonical());
        }
    }
}

/// Base64 of a string, for Secret `stringData`.
pub(crate) fn b64(s: &str) -> String {
    base64::encode(s.as_bytes())
}

#[cfg(test)]
mod tests;
