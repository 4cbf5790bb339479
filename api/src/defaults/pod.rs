//! Pod and PodSpec defaults, as upstream's `pkg/apis/core/v1/defaults.go` (`SetDefaults_Pod`,
//! `SetDefaults_PodSpec`, `SetDefaults_Container`, probes, volumes), the Priority admission
//! plugin's defaults and the v1 `serviceAccount` / `serviceAccountName` conversion.
use serde_json::{Map, Value};

use super::{canonical_quantities, ensure_object, is_zero, set_if_absent, set_if_zero};

/// `SetDefaults_Pod` plus `SetDefaults_PodSpec` and everything nested.
pub(crate) fn pod(obj: &mut Map<String, Value>) {
    let spec = ensure_object(obj, "spec");
    pod_spec(spec);
    for field in ["containers", "initContainers"] {
        for c in list_mut(spec, field) {
            requests_from_limits(c);
        }
    }
    set_if_absent(spec, "enableServiceLinks", Value::Bool(true));
    default_toleration_seconds(spec);
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        for field in ["containers", "initContainers"] {
            for c in list_mut(spec, field) {
                for p in list_mut(c, "ports") {
                    if is_zero(p.get("hostPort")) {
                        let cp = p.get("containerPort").cloned().unwrap_or(Value::from(0));
                        p.insert("hostPort".into(), cp);
                    }
                }
            }
        }
    }
    // The Priority admission plugin: no class means priority 0; the built-in classes' values.
    let class = spec
        .get("priorityClassName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let priority = match class.as_str() {
        "" => Some(0),
        "system-node-critical" => Some(2_000_001_000),
        "system-cluster-critical" => Some(2_000_000_000),
        _ => None,
    };
    if let Some(p) = priority {
        set_if_absent(spec, "priority", Value::from(p));
        set_if_absent(
            spec,
            "preemptionPolicy",
            Value::from("PreemptLowerPriority"),
        );
    }
}

/// The DefaultTolerationSeconds admission plugin: a pod that does not already tolerate the
/// `not-ready` / `unreachable` NoExecute taints (a toleration with that key or no key, and that
/// effect or none) gets `Exists` tolerations for 300 s, so it is evicted from a failed node
/// after five minutes instead of never.
fn default_toleration_seconds(spec: &mut Map<String, Value>) {
    const KEYS: [&str; 2] = [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ];
    let existing: Vec<Value> = spec
        .get("tolerations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let field = |t: &Value, k: &str| t.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let missing: Vec<&str> = KEYS
        .into_iter()
        .filter(|key| {
            !existing.iter().any(|t| {
                let (k, e) = (field(t, "key"), field(t, "effect"));
                (k.is_empty() || k == *key) && (e.is_empty() || e == "NoExecute")
            })
        })
        .collect();
    if missing.is_empty() {
        return;
    }
    let mut all = existing;
    all.extend(missing.into_iter().map(|key| {
        serde_json::json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})
    }));
    spec.insert("tolerations".into(), Value::Array(all));
}

/// Upstream's `qos.ComputePodQOS`: `Guaranteed`, `Burstable` or `BestEffort` from the cpu and
/// memory requests and limits of the containers and init containers.
pub(crate) fn qos_class(spec: Option<&Value>) -> &'static str {
    use crate::validation::quantity::Quantity;
    use std::collections::BTreeMap;
    let mut requests: BTreeMap<String, Quantity> = BTreeMap::new();
    let mut limits: BTreeMap<String, Quantity> = BTreeMap::new();
    let mut guaranteed = true;
    let containers = ["containers", "initContainers"]
        .into_iter()
        .filter_map(|f| spec.and_then(|s| s.get(f)).and_then(Value::as_array))
        .flatten();
    for c in containers {
        let res = c.get("resources");
        let mut found_limits = 0;
        for (field, acc) in [("requests", &mut requests), ("limits", &mut limits)] {
            let Some(list) = res.and_then(|r| r.get(field)).and_then(Value::as_object) else {
                continue;
            };
            for name in ["cpu", "memory"] {
                let Some(q) = list
                    .get(name)
                    .and_then(Value::as_str)
                    .and_then(Quantity::parse)
                else {
                    continue;
                };
                if q.is_zero() || q.is_negative() {
                    continue;
                }
                if field == "limits" {
                    found_limits += 1;
                }
                acc.entry(name.to_string())
                    .and_modify(|sum| *sum = sum.add(&q))
                    .or_insert(q);
            }
        }
        if found_limits < 2 {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed {
        for (name, req) in &requests {
            if limits
                .get(name)
                .is_none_or(|l| l.cmp_value(req) != std::cmp::Ordering::Equal)
            {
                guaranteed = false;
                break;
            }
        }
    }
    if guaranteed && requests.len() == limits.len() {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// `SetDefaults_PodSpec` and the defaults of everything a PodSpec holds (templates get only
/// these, not the Pod-only ones).
pub(crate) fn pod_spec(spec: &mut Map<String, Value>) {
    set_if_zero(spec, "dnsPolicy", Value::from("ClusterFirst"));
    set_if_zero(spec, "restartPolicy", Value::from("Always"));
    set_if_absent(spec, "securityContext", Value::Object(Map::new()));
    set_if_absent(spec, "terminationGracePeriodSeconds", Value::from(30));
    set_if_zero(spec, "schedulerName", Value::from("default-scheduler"));
    // v1 conversion: serviceAccount is the deprecated alias of serviceAccountName.
    let sa = [spec.get("serviceAccountName"), spec.get("serviceAccount")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|s| !s.is_empty())
        .map(str::to_string);
    match sa {
        Some(sa) => {
            spec.insert("serviceAccountName".into(), Value::from(sa.clone()));
            spec.insert("serviceAccount".into(), Value::from(sa));
        }
        None => {
            spec.remove("serviceAccount");
        }
    }
    for field in ["containers", "initContainers", "ephemeralContainers"] {
        for c in list_mut(spec, field) {
            container(c);
        }
    }
    for v in list_mut(spec, "volumes") {
        volume(v);
    }
    if let Some(Value::Object(overhead)) = spec.get_mut("overhead") {
        canonical_quantities(overhead, true);
    }
}

pub(crate) fn list_mut<'a>(
    m: &'a mut Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    m.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flat_map(|a| a.iter_mut())
        .filter_map(Value::as_object_mut)
}

fn obj_mut<'a>(m: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    m.get_mut(key).and_then(Value::as_object_mut)
}

/// The image's tag as upstream's `parsers.ParseImageName` reports it: `latest` when the
/// reference has neither tag nor digest, empty when it has only a digest.
pub fn image_tag(image: &str) -> String {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.split_once(':') {
        Some((_, tag)) => tag.to_string(),
        None if digest.is_some() => String::new(),
        None => "latest".to_string(),
    }
}

/// `SetDefaults_Container` and the defaults of what a container holds.
fn container(c: &mut Map<String, Value>) {
    if is_zero(c.get("imagePullPolicy")) {
        let image = c.get("image").and_then(Value::as_str).unwrap_or("");
        let policy = if image_tag(image) == "latest" {
            "Always"
        } else {
            "IfNotPresent"
        };
        c.insert("imagePullPolicy".into(), Value::from(policy));
    }
    set_if_zero(
        c,
        "terminationMessagePath",
        Value::from("/dev/termination-log"),
    );
    set_if_zero(c, "terminationMessagePolicy", Value::from("File"));
    for p in list_mut(c, "ports") {
        set_if_zero(p, "protocol", Value::from("TCP"));
    }
    let resources = ensure_object(c, "resources");
    for field in ["limits", "requests"] {
        if let Some(list) = obj_mut(resources, field) {
            canonical_quantities(list, true);
        }
    }
    for e in list_mut(c, "env") {
        if let Some(fr) = obj_mut(e, "valueFrom").and_then(|vf| obj_mut(vf, "fieldRef")) {
            set_if_zero(fr, "apiVersion", Value::from("v1"));
        }
        if let Some(rf) = obj_mut(e, "valueFrom").and_then(|vf| obj_mut(vf, "resourceFieldRef")) {
            canonical_divisor(rf);
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = obj_mut(c, probe) {
            set_if_zero(p, "timeoutSeconds", Value::from(1));
            set_if_zero(p, "periodSeconds", Value::from(10));
            set_if_zero(p, "successThreshold", Value::from(1));
            set_if_zero(p, "failureThreshold", Value::from(3));
            http_get(p);
        }
    }
    if let Some(l) = obj_mut(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = obj_mut(l, hook) {
                http_get(h);
            }
        }
    }
}

fn canonical_divisor(rf: &mut Map<String, Value>) {
    if let Some(Value::String(s)) = rf.get("divisor") {
        if let Some(q) = crate::validation::quantity::Quantity::parse(s) {
            rf.insert("divisor".into(), Value::from(q.canonical()));
        }
    }
}

/// `SetDefaults_HTTPGetAction` for a probe or lifecycle handler.
fn http_get(handler: &mut Map<String, Value>) {
    if let Some(h) = obj_mut(handler, "httpGet") {
        set_if_zero(h, "path", Value::from("/"));
        set_if_zero(h, "scheme", Value::from("HTTP"));
    }
}

/// `SetDefaults_Pod`'s requests-from-limits for one container.
fn requests_from_limits(c: &mut Map<String, Value>) {
    let Some(res) = obj_mut(c, "resources") else {
        return;
    };
    let Some(limits) = res.get("limits").and_then(Value::as_object).cloned() else {
        return;
    };
    let requests = ensure_object(res, "requests");
    for (k, v) in limits {
        requests.entry(k).or_insert(v);
    }
}

const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

/// `SetDefaults_Volume` and the volume sources' defaults.
fn volume(v: &mut Map<String, Value>) {
    if !VOLUME_SOURCES
        .iter()
        .any(|s| v.get(*s).is_some_and(|x| !x.is_null()))
    {
        v.insert("emptyDir".into(), Value::Object(Map::new()));
    }
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(s) = obj_mut(v, source) {
            set_if_absent(s, "defaultMode", Value::from(420));
        }
    }
    if let Some(h) = obj_mut(v, "hostPath") {
        set_if_absent(h, "type", Value::from(""));
    }
    if let Some(e) = obj_mut(v, "emptyDir") {
        if let Some(Value::String(s)) = e.get("sizeLimit") {
            if let Some(q) = crate::validation::quantity::Quantity::parse(s) {
                e.insert("sizeLimit".into(), Value::from(q.canonical()));
            }
        }
    }
    if let Some(d) = obj_mut(v, "downwardAPI") {
        downward_api_items(d);
    }
    if let Some(p) = obj_mut(v, "projected") {
        for s in list_mut(p, "sources") {
            if let Some(t) = obj_mut(s, "serviceAccountToken") {
                set_if_absent(t, "expirationSeconds", Value::from(3600));
            }
            if let Some(d) = obj_mut(s, "downwardAPI") {
                downward_api_items(d);
            }
        }
    }
    if let Some(pvc) = obj_mut(v, "ephemeral")
        .and_then(|e| obj_mut(e, "volumeClaimTemplate"))
        .and_then(|t| obj_mut(t, "spec"))
    {
        set_if_absent(pvc, "volumeMode", Value::from("Filesystem"));
    }
}

fn downward_api_items(d: &mut Map<String, Value>) {
    for item in list_mut(d, "items") {
        if let Some(fr) = obj_mut(item, "fieldRef") {
            set_if_zero(fr, "apiVersion", Value::from("v1"));
        }
        if let Some(rf) = obj_mut(item, "resourceFieldRef") {
            canonical_divisor(rf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_toleration_seconds_fills_only_what_is_missing() {
        let spec = |tolerations: serde_json::Value| {
            let mut m = serde_json::json!({"containers": [], "tolerations": tolerations})
                .as_object()
                .cloned()
                .unwrap();
            super::default_toleration_seconds(&mut m);
            m["tolerations"].clone()
        };
        let both = spec(serde_json::json!([]));
        assert_eq!(
            both,
            serde_json::json!([
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            ])
        );
        // Idempotent: applying again changes nothing.
        assert_eq!(spec(both.clone()), both);
        let own = serde_json::json!({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5});
        let got = spec(serde_json::json!([own]));
        assert_eq!(got.as_array().unwrap().len(), 2);
        assert_eq!(got[0], own);
        assert_eq!(got[1]["key"], "node.kubernetes.io/not-ready");
        // An empty key and effect tolerates everything: nothing added.
        let all = serde_json::json!([{"operator": "Exists"}]);
        assert_eq!(spec(all.clone()), all);
        // A NoSchedule toleration does not count.
        let no_schedule = serde_json::json!([{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"}]);
        assert_eq!(spec(no_schedule).as_array().unwrap().len(), 3);
    }

    #[test]
    fn image_tags() {
        assert_eq!(image_tag("busybox"), "latest");
        assert_eq!(image_tag("busybox:1.36"), "1.36");
        assert_eq!(image_tag("busybox:latest"), "latest");
        assert_eq!(image_tag("localhost:5000/busybox"), "latest");
        assert_eq!(image_tag("localhost:5000/busybox:v1"), "v1");
        assert_eq!(image_tag("busybox@sha256:abc"), "");
        assert_eq!(image_tag("busybox:latest@sha256:abc"), "latest");
    }
}
