//! Why a pod fits nowhere, worded as kube-scheduler 1.33 words it (FitError.Error() followed
//! by DefaultPreemption's PostFilter message):
//!
//! `0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint
//! {node.kubernetes.io/unreachable: }. preemption: 0/3 nodes are available: 1 No preemption
//! victims found for incoming pod, 2 Preemption is not helpful for scheduling..`
//!
//! Each reason is counted over the nodes, and the "count reason" strings are sorted as
//! strings. The doubled period at the end is upstream's: the preemption message is itself a
//! FitError message, closed again by the outer format.

use std::{borrow::Cow, collections::HashMap};

use crate::{
    filter::filter,
    types::{Code, NodeInfo, PodInfo, Status},
};

/// The condition message when the cluster has no nodes at all.
pub const NO_NODES_AVAILABLE: &str = "no nodes available to schedule pods";
pub const PREEMPTION_NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
pub const NOT_ELIGIBLE_NEVER: &str = "not eligible due to preemptionPolicy=Never.";

/// `0/N nodes are available: <histogram>.`
pub fn nodes_available<'a>(num_nodes: usize, reasons: impl IntoIterator<Item = &'a str>) -> String {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for r in reasons {
        *counts.entry(r).or_default() += 1;
    }
    let mut parts: Vec<String> = counts
        .into_iter()
        .map(|(r, n)| format!("{n} {r}"))
        .collect();
    parts.sort();
    let mut msg = format!("0/{num_nodes} nodes are available:");
    if !parts.is_empty() {
        msg.push(' ');
        msg.push_str(&parts.join(", "));
        msg.push('.');
    }
    msg
}

/// What DefaultPreemption reports for one node the filters rejected: unresolvable rejections
/// cannot be helped; otherwise the pod needs lower-priority pods to evict, and what would
/// still block it once they are gone. (rkube does not evict: a node where eviction would
/// make room reports the reasons that hold without eviction.)
pub fn preemption_reasons(
    pod: &PodInfo,
    node: &NodeInfo,
    status: &Status,
) -> Vec<Cow<'static, str>> {
    if status.code == Code::UnschedulableAndUnresolvable {
        return vec![PREEMPTION_NOT_HELPFUL.into()];
    }
    let victims: Vec<&str> = node
        .pods
        .values()
        .filter(|p| p.priority < pod.priority)
        .map(|p| p.uid.as_str())
        .collect();
    if victims.is_empty() {
        return vec![NO_VICTIMS.into()];
    }
    let mut without = node.clone();
    for uid in victims {
        without.remove_pod(uid);
    }
    match filter(pod, &without) {
        Err(s) => s.reasons,
        Ok(()) => status.reasons.clone(),
    }
}

/// The PodScheduled=False message (and FailedScheduling event) for a pod every node rejected;
/// `rejected` holds every node with its filter status.
pub fn unschedulable_message(pod: &PodInfo, rejected: &[(&NodeInfo, &Status)]) -> String {
    let n = rejected.len();
    if n == 0 {
        return NO_NODES_AVAILABLE.to_string();
    }
    let mut msg = nodes_available(
        n,
        rejected
            .iter()
            .flat_map(|(_, s)| s.reasons.iter().map(|r| r.as_ref())),
    );
    let post = if pod.preemption_never {
        NOT_ELIGIBLE_NEVER.to_string()
    } else {
        let per_node: Vec<Vec<Cow<'static, str>>> = rejected
            .iter()
            .map(|(node, s)| preemption_reasons(pod, node, s))
            .collect();
        nodes_available(n, per_node.iter().flatten().map(|r| r.as_ref()))
    };
    msg.push_str(" preemption: ");
    msg.push_str(&post);
    msg.push('.');
    msg
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    use super::*;

    fn node(name: &str, ready: &str) -> NodeInfo {
        NodeInfo::new(
            &serde_json::from_value(json!({
                "metadata": {"name": name},
                "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                           "conditions": [{"type": "Ready", "status": ready}]},
            }))
            .unwrap(),
        )
    }

    fn pod(cpu: &str, extra: serde_json::Value) -> PodInfo {
        let mut spec =
            json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]});
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        let p: Pod =
            serde_json::from_value(json!({"metadata": {"name": "p", "uid": "u"}, "spec": spec}))
                .unwrap();
        PodInfo::from_pod(&p)
    }

    fn message(p: &PodInfo, nodes: &[NodeInfo]) -> String {
        let statuses: Vec<Status> = nodes.iter().map(|n| filter(p, n).unwrap_err()).collect();
        let pairs: Vec<(&NodeInfo, &Status)> = nodes.iter().zip(&statuses).collect();
        unschedulable_message(p, &pairs)
    }

    #[test]
    fn histogram_is_counted_and_sorted() {
        assert_eq!(
            nodes_available(3, ["b", "a", "b"]),
            "0/3 nodes are available: 1 a, 2 b."
        );
        assert_eq!(nodes_available(0, []), "0/0 nodes are available:");
        // Sorted as strings, counts included (upstream sorts the formatted entries).
        assert_eq!(
            nodes_available(12, std::iter::repeat_n("x", 10).chain(["y", "y"])),
            "0/12 nodes are available: 10 x, 2 y."
        );
    }

    #[test]
    fn too_big_everywhere() {
        let nodes = [node("a", "True"), node("b", "True"), node("c", "True")];
        assert_eq!(
            message(&pod("100", json!({})), &nodes),
            "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: \
             3 No preemption victims found for incoming pod.."
        );
    }

    #[test]
    fn mixed_reasons() {
        let nodes = [
            node("a", "True"),
            node("b", "Unknown"),
            node("c", "Unknown"),
        ];
        assert_eq!(
            message(&pod("100", json!({})), &nodes),
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint \
             {node.kubernetes.io/unreachable: }. preemption: 0/3 nodes are available: \
             1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.."
        );
    }

    #[test]
    fn unresolvable_everywhere() {
        let nodes = [node("a", "False"), node("b", "False")];
        assert_eq!(
            message(&pod("1", json!({"nodeSelector": {"disk": "ssd"}})), &nodes),
            "0/2 nodes are available: 2 node(s) had untolerated taint {node.kubernetes.io/not-ready: }. \
             preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.."
        );
        let tolerant = pod(
            "1",
            json!({"nodeSelector": {"disk": "ssd"}, "tolerations": [{"operator": "Exists"}]}),
        );
        assert_eq!(
            message(&tolerant, &nodes),
            "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. \
             preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.."
        );
    }

    #[test]
    fn preemption_policy_never_and_victims() {
        let nodes = [node("a", "True")];
        assert_eq!(
            message(&pod("100", json!({"preemptionPolicy": "Never"})), &nodes),
            "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.."
        );
        // Evicting a lower-priority pod would not be enough: the remaining reasons.
        let mut n = node("a", "True");
        let low = pod("8", json!({}));
        n.add_pod(Arc::new(PodInfo {
            uid: "low".into(),
            ..low
        }));
        let high = PodInfo {
            priority: 10,
            ..pod("100", json!({}))
        };
        let s = filter(&high, &n).unwrap_err();
        assert_eq!(
            unschedulable_message(&high, &[(&n, &s)]),
            "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 Insufficient cpu.."
        );
        assert_eq!(unschedulable_message(&high, &[]), NO_NODES_AVAILABLE);
    }
}
