//! The taints the node lifecycle controller owns, from the node's conditions (upstream's
//! NoExecute tainting pass and TaintNodesByCondition): Ready False means `not-ready`, Unknown
//! means `unreachable` (both NoSchedule and NoExecute), pressure conditions and a cordon mean
//! their NoSchedule taints. Other taints are left alone; kept taints keep their timeAdded.

use k8s_openapi::{
    api::core::v1::{Node, Taint},
    apimachinery::pkg::apis::meta::v1::Time,
    jiff::Timestamp,
};

use super::{
    disruption::NoExecute,
    health::{condition, ready},
};

pub(crate) const NOT_READY: &str = "node.kubernetes.io/not-ready";
pub(crate) const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
/// Condition type (status True) to the NoSchedule taint it brings.
const BY_CONDITION: [(&str, &str); 4] = [
    ("MemoryPressure", "node.kubernetes.io/memory-pressure"),
    ("DiskPressure", "node.kubernetes.io/disk-pressure"),
    ("PIDPressure", "node.kubernetes.io/pid-pressure"),
    (
        "NetworkUnavailable",
        "node.kubernetes.io/network-unavailable",
    ),
];

fn owned(t: &Taint) -> bool {
    let key = t.key.as_str();
    match t.effect.as_str() {
        "NoExecute" => key == NOT_READY || key == UNREACHABLE,
        "NoSchedule" => {
            key == NOT_READY
                || key == UNREACHABLE
                || key == UNSCHEDULABLE
                || BY_CONDITION.iter().any(|(_, k)| *k == key)
        }
        _ => false,
    }
}

fn condition_key(node: &Node) -> Option<&'static str> {
    match ready(node) {
        "False" => Some(NOT_READY),
        "Unknown" => Some(UNREACHABLE),
        _ => None,
    }
}

fn has_owned_no_execute(node: &Node) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|t| t.iter().any(|t| t.effect == "NoExecute" && owned(t)))
}

/// The node's conditions call for a NoExecute taint and it has none of ours: adding one
/// starts evicting its pods, which the zone's rate limiter paces. (Swapping not-ready for
/// unreachable or back is not paced, as upstream.)
pub(crate) fn needs_no_execute(node: &Node) -> bool {
    condition_key(node).is_some() && !has_owned_no_execute(node)
}

/// The (key, effect) pairs the node should carry.
fn wanted(node: &Node, mode: NoExecute) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    if let Some(key) = condition_key(node) {
        out.push((key, "NoSchedule"));
        let no_execute = match mode {
            NoExecute::Allow => true,
            NoExecute::Defer => has_owned_no_execute(node),
            NoExecute::Remove => false,
        };
        if no_execute {
            out.push((key, "NoExecute"));
        }
    }
    for (type_, key) in BY_CONDITION {
        if condition(node, type_).is_some_and(|c| c.status == "True") {
            out.push((key, "NoSchedule"));
        }
    }
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        out.push((UNSCHEDULABLE, "NoSchedule"));
    }
    out
}

/// The node's taints with the owned ones made to match its conditions; `None` when they
/// already do. NoExecute taints get timeAdded `now` (eviction deadlines count from it).
#[cfg(test)]
pub(crate) fn reconcile(node: &Node, now: Timestamp) -> Option<Vec<Taint>> {
    reconcile_with(node, now, NoExecute::Allow)
}

/// As `reconcile`, with the NoExecute taint added, kept or removed as `mode` says.
pub(crate) fn reconcile_with(node: &Node, now: Timestamp, mode: NoExecute) -> Option<Vec<Taint>> {
    let current = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let wanted = wanted(node, mode);
    let has = |key: &str, effect: &str| current.iter().any(|t| t.key == key && t.effect == effect);
    let stale = current
        .iter()
        .any(|t| owned(t) && !wanted.contains(&(t.key.as_str(), t.effect.as_str())));
    let missing: Vec<_> = wanted.iter().filter(|(k, e)| !has(k, e)).collect();
    if !stale && missing.is_empty() {
        return None;
    }
    let mut taints: Vec<Taint> = current
        .into_iter()
        .filter(|t| !owned(t) || wanted.contains(&(t.key.as_str(), t.effect.as_str())))
        .collect();
    taints.extend(missing.into_iter().map(|(key, effect)| Taint {
        key: (*key).into(),
        effect: (*effect).into(),
        time_added: (*effect == "NoExecute").then_some(Time(now)),
        value: None,
    }));
    Some(taints)
}
