//! Workload defaults: apps/v1 `defaults.go` (Deployment, ReplicaSet, DaemonSet, StatefulSet),
//! core ReplicationController and pod templates.
use serde_json::{Map, Value};

use super::pod::{list_mut, pod_spec};
use super::{ensure_object, set_if_absent, set_if_zero};

/// A pod template at `obj[key]`: PodSpec defaults and the `creationTimestamp: null` its
/// metadata always serializes with.
pub(crate) fn template(obj: &mut Map<String, Value>, key: &str) {
    let t = ensure_object(obj, key);
    ensure_object(t, "metadata")
        .entry("creationTimestamp")
        .or_insert(Value::Null);
    pod_spec(ensure_object(t, "spec"));
}

fn zero_status(obj: &mut Map<String, Value>, fields: &[&str]) {
    let status = ensure_object(obj, "status");
    for f in fields {
        set_if_absent(status, f, Value::from(0));
    }
}

pub(crate) fn deployment(obj: &mut Map<String, Value>) {
    let spec = ensure_object(obj, "spec");
    set_if_absent(spec, "replicas", Value::from(1));
    let strategy = ensure_object(spec, "strategy");
    set_if_zero(strategy, "type", Value::from("RollingUpdate"));
    if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
        let ru = ensure_object(strategy, "rollingUpdate");
        set_if_absent(ru, "maxUnavailable", Value::from("25%"));
        set_if_absent(ru, "maxSurge", Value::from("25%"));
    }
    set_if_absent(spec, "revisionHistoryLimit", Value::from(10));
    set_if_absent(spec, "progressDeadlineSeconds", Value::from(600));
    template(spec, "template");
    zero_status(obj, &[]);
}

pub(crate) fn replica_set(obj: &mut Map<String, Value>) {
    let spec = ensure_object(obj, "spec");
    set_if_absent(spec, "replicas", Value::from(1));
    template(spec, "template");
    zero_status(obj, &["replicas"]);
}

pub(crate) fn daemon_set(obj: &mut Map<String, Value>) {
    let spec = ensure_object(obj, "spec");
    let strategy = ensure_object(spec, "updateStrategy");
    set_if_zero(strategy, "type", Value::from("RollingUpdate"));
    if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
        let ru = ensure_object(strategy, "rollingUpdate");
        set_if_absent(ru, "maxUnavailable", Value::from(1));
        set_if_absent(ru, "maxSurge", Value::from(0));
    }
    set_if_absent(spec, "revisionHistoryLimit", Value::from(10));
    template(spec, "template");
    zero_status(
        obj,
        &[
            "currentNumberScheduled",
            "numberMisscheduled",
            "desiredNumberScheduled",
            "numberReady",
        ],
    );
}

pub(crate) fn stateful_set(obj: &mut Map<String, Value>) {
    let spec = ensure_object(obj, "spec");
    set_if_zero(spec, "podManagementPolicy", Value::from("OrderedReady"));
    let strategy = ensure_object(spec, "updateStrategy");
    if strategy
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .is_empty()
    {
        strategy.insert("type".into(), Value::from("RollingUpdate"));
        set_if_absent(strategy, "rollingUpdate", Value::Object(Map::new()));
    }
    if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
        if let Some(ru) = strategy
            .get_mut("rollingUpdate")
            .and_then(Value::as_object_mut)
        {
            set_if_absent(ru, "partition", Value::from(0));
        }
    }
    let policy = ensure_object(spec, "persistentVolumeClaimRetentionPolicy");
    set_if_zero(policy, "whenDeleted", Value::from("Retain"));
    set_if_zero(policy, "whenScaled", Value::from("Retain"));
    set_if_absent(spec, "replicas", Value::from(1));
    set_if_absent(spec, "revisionHistoryLimit", Value::from(10));
    for pvc in list_mut(spec, "volumeClaimTemplates") {
        set_if_absent(
            ensure_object(pvc, "spec"),
            "volumeMode",
            Value::from("Filesystem"),
        );
        set_if_zero(
            ensure_object(pvc, "status"),
            "phase",
            Value::from("Pending"),
        );
    }
    template(spec, "template");
    zero_status(obj, &["replicas", "availableReplicas"]);
}

/// `SetDefaults_ReplicationController`: selector and labels from the template's labels.
pub(crate) fn replication_controller(obj: &mut Map<String, Value>) {
    let labels = obj
        .get("spec")
        .and_then(|s| s.get("template"))
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("labels"))
        .filter(|l| l.is_object())
        .cloned();
    if let Some(labels) = labels {
        let spec = ensure_object(obj, "spec");
        if spec
            .get("selector")
            .and_then(Value::as_object)
            .is_none_or(Map::is_empty)
        {
            spec.insert("selector".into(), labels.clone());
        }
        let meta = ensure_object(obj, "metadata");
        if meta
            .get("labels")
            .and_then(Value::as_object)
            .is_none_or(Map::is_empty)
        {
            meta.insert("labels".into(), labels);
        }
    }
    let spec = ensure_object(obj, "spec");
    set_if_absent(spec, "replicas", Value::from(1));
    if spec.get("template").is_some_and(Value::is_object) {
        template(spec, "template");
    }
    zero_status(obj, &["replicas"]);
}
