//! The default profile's scores over the nodes that passed the filters, each 0..=100, then
//! weighted as upstream weighs its plugins: TaintToleration 3, NodeAffinity 2, spreading
//! (PodTopologySpread's system default by hostname) 2, NodeResourcesFit (LeastAllocated) 1,
//! NodeResourcesBalancedAllocation 1.

use crate::{
    filter::{term_matches, tolerates},
    types::{NodeInfo, PodInfo},
};

pub const MAX_NODE_SCORE: i64 = 100;
pub const WEIGHT_TAINT_TOLERATION: i64 = 3;
pub const WEIGHT_NODE_AFFINITY: i64 = 2;
pub const WEIGHT_SPREAD: i64 = 2;
pub const WEIGHT_LEAST_ALLOCATED: i64 = 1;
pub const WEIGHT_BALANCED_ALLOCATION: i64 = 1;

/// The weighted total for each node, in the order given.
pub fn score(pod: &PodInfo, nodes: &[&NodeInfo]) -> Vec<i64> {
    let mut out = Vec::with_capacity(nodes.len());
    score_with(pod, nodes.len(), |i| nodes[i], &mut out);
    out
}

/// [`score`] over `n` nodes reached through `node`, into `out` (reused between pods).
pub fn score_with<'a>(
    pod: &PodInfo,
    n: usize,
    node: impl Fn(usize) -> &'a NodeInfo,
    out: &mut Vec<i64>,
) {
    out.clear();
    let (mut max_taints, mut max_affinity, mut max_owned) = (0, 0, 0);
    for i in 0..n {
        let nd = node(i);
        max_taints = max_taints.max(intolerable_prefer_no_schedule(pod, nd));
        max_affinity = max_affinity.max(preferred_affinity(pod, nd));
        max_owned = max_owned.max(owned_here(pod, nd));
    }
    for i in 0..n {
        let nd = node(i);
        let taint = normalize(intolerable_prefer_no_schedule(pod, nd), max_taints, true);
        let affinity = normalize(preferred_affinity(pod, nd), max_affinity, false);
        let spread = normalize(owned_here(pod, nd), max_owned, true);
        out.push(
            WEIGHT_TAINT_TOLERATION * taint
                + WEIGHT_NODE_AFFINITY * affinity
                + WEIGHT_SPREAD * spread
                + WEIGHT_LEAST_ALLOCATED * least_allocated(pod, nd)
                + WEIGHT_BALANCED_ALLOCATION * balanced_allocation(pod, nd),
        );
    }
}

/// Upstream's DefaultNormalizeScore: scale to 0..=100 by the largest; `reverse` for counts
/// where fewer is better.
fn normalize(v: i64, max: i64, reverse: bool) -> i64 {
    if max == 0 {
        return if reverse { MAX_NODE_SCORE } else { 0 };
    }
    let s = MAX_NODE_SCORE * v / max;
    if reverse {
        MAX_NODE_SCORE - s
    } else {
        s
    }
}

/// LeastAllocated over cpu and memory (equal weights), with the pod's and the node's
/// requests counted with upstream's defaults for containers that request nothing.
pub fn least_allocated(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let least = |requested: i64, capacity: i64| {
        if capacity <= 0 || requested > capacity {
            0
        } else {
            (capacity - requested) * MAX_NODE_SCORE / capacity
        }
    };
    let cpu = least(
        node.non_zero_milli_cpu + pod.non_zero_milli_cpu,
        node.allocatable.milli_cpu,
    );
    let mem = least(
        node.non_zero_memory + pod.non_zero_memory,
        node.allocatable.memory,
    );
    (cpu + mem) / 2
}

/// BalancedAllocation: 100 × (1 − |cpu fraction − memory fraction| / 2) with actual
/// requests; best-effort pods are not scored by it (upstream skips them).
pub fn balanced_allocation(pod: &PodInfo, node: &NodeInfo) -> i64 {
    if pod.requests.milli_cpu == 0 && pod.requests.memory == 0 {
        return 0;
    }
    let mut fractions = [0f64; 2];
    let mut n = 0;
    for (req, alloc) in [
        (
            node.requested.milli_cpu + pod.requests.milli_cpu,
            node.allocatable.milli_cpu,
        ),
        (
            node.requested.memory + pod.requests.memory,
            node.allocatable.memory,
        ),
    ] {
        if alloc <= 0 {
            continue;
        }
        fractions[n] = (req as f64 / alloc as f64).min(1.0);
        n += 1;
    }
    let std = if n == 2 {
        ((fractions[0] - fractions[1]) / 2.0).abs()
    } else {
        0.0
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

/// TaintToleration's raw score: PreferNoSchedule taints the pod does not tolerate.
fn intolerable_prefer_no_schedule(pod: &PodInfo, node: &NodeInfo) -> i64 {
    node.taints
        .iter()
        .filter(|t| t.effect == "PreferNoSchedule")
        .filter(|t| {
            !pod.tolerations.iter().any(|tol| {
                matches!(
                    tol.effect.as_deref(),
                    None | Some("") | Some("PreferNoSchedule")
                ) && tolerates(tol, t)
            })
        })
        .count() as i64
}

/// NodeAffinity's raw score: the weights of the preferred terms the node matches.
fn preferred_affinity(pod: &PodInfo, node: &NodeInfo) -> i64 {
    pod.preferred_affinity
        .iter()
        .filter(|t| t.weight != 0 && term_matches(&t.preference, &node.name, &node.labels))
        .map(|t| i64::from(t.weight))
        .sum()
}

/// Spreading's raw score: pods of the same controller already on the node.
fn owned_here(pod: &PodInfo, node: &NodeInfo) -> i64 {
    pod.owner_uid
        .as_ref()
        .and_then(|o| node.owners.get(o))
        .map_or(0, |n| i64::from(*n))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    use super::*;

    fn node(name: &str, cpu: &str, mem: &str) -> NodeInfo {
        NodeInfo::new(
            &serde_json::from_value(json!({
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
                "status": {"allocatable": {"cpu": cpu, "memory": mem, "pods": "110"},
                           "conditions": [{"type": "Ready", "status": "True"}]},
            }))
            .unwrap(),
        )
    }

    fn pod(v: serde_json::Value) -> PodInfo {
        let mut p: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u"},
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]},
        }))
        .unwrap();
        let extra: Pod = serde_json::from_value(v).unwrap();
        if let Some(m) = extra.metadata.owner_references {
            p.metadata.owner_references = Some(m);
        }
        if let Some(s) = extra.spec {
            let spec = p.spec.as_mut().unwrap();
            spec.affinity = s.affinity;
            spec.tolerations = s.tolerations;
        }
        PodInfo::from_pod(&p)
    }

    #[test]
    fn least_allocated_prefers_emptier_nodes() {
        let p = pod(json!({}));
        let empty = node("a", "4", "8Gi");
        let mut busy = node("b", "4", "8Gi");
        busy.add_pod(Arc::new(PodInfo {
            uid: "x".into(),
            ..pod(json!({}))
        }));
        assert_eq!(
            least_allocated(&p, &empty),
            (75 + 87) / 2,
            "3/4 cpu and 7/8 memory free"
        );
        assert_eq!(least_allocated(&p, &busy), (50 + 75) / 2);
        let s = score(&p, &[&empty, &busy]);
        assert!(s[0] > s[1], "{s:?}");
    }

    #[test]
    fn balanced_allocation_prefers_even_use() {
        let p = pod(json!({}));
        // 1 of 4 cpu and 1Gi of 4Gi: even.
        assert_eq!(balanced_allocation(&p, &node("a", "4", "4Gi")), 100);
        // 1 of 2 cpu, 1Gi of 8Gi: fractions 0.5 and 0.125.
        assert_eq!(balanced_allocation(&p, &node("b", "2", "8Gi")), 81);
        let best_effort = PodInfo::default();
        assert_eq!(balanced_allocation(&best_effort, &node("a", "4", "4Gi")), 0);
    }

    #[test]
    fn spreads_an_owners_pods() {
        let owned = json!({"metadata": {"ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "rs-1", "controller": true}]}});
        let p = pod(owned.clone());
        let a = node("a", "32", "64Gi");
        let mut b = node("b", "32", "64Gi");
        b.add_pod(Arc::new(PodInfo {
            uid: "x".into(),
            ..pod(owned)
        }));
        let s = score(&p, &[&a, &b]);
        assert!(s[0] > s[1], "{s:?}");
        assert_eq!(normalize(1, 1, true), 0);
        assert_eq!(normalize(0, 1, true), 100);
        assert_eq!(normalize(0, 0, true), 100);
    }

    #[test]
    fn preferred_affinity_and_soft_taints() {
        let p = pod(
            json!({"spec": {"containers": [], "affinity": {"nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 10, "preference": {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["b"]}]}},
                {"weight": 5, "preference": {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["c"]}]}},
            ]}}}}),
        );
        let (a, b, c) = (
            node("a", "4", "4Gi"),
            node("b", "4", "4Gi"),
            node("c", "4", "4Gi"),
        );
        assert_eq!(preferred_affinity(&p, &b), 10);
        let s = score(&p, &[&a, &b, &c]);
        assert!(s[1] > s[2] && s[2] > s[0], "{s:?}");
        assert_eq!(s[1] - s[0], WEIGHT_NODE_AFFINITY * 100);
        assert_eq!(s[2] - s[0], WEIGHT_NODE_AFFINITY * 50);

        let mut soft = node("d", "4", "4Gi");
        soft.taints = serde_json::from_value(
            json!([{"key": "k", "value": "v", "effect": "PreferNoSchedule"}]),
        )
        .unwrap();
        let plain = pod(json!({}));
        let s = score(&plain, &[&a, &soft]);
        assert_eq!(s[0] - s[1], WEIGHT_TAINT_TOLERATION * 100);
        let tolerant = pod(
            json!({"spec": {"containers": [], "tolerations": [{"key": "k", "operator": "Exists"}]}}),
        );
        let s = score(&tolerant, &[&a, &soft]);
        assert_eq!(s[0], s[1]);
    }
}
