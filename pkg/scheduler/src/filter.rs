//! The default profile's filters, in upstream's order (NodeUnschedulable, TaintToleration,
//! NodeAffinity, NodePorts, NodeResourcesFit); the first that rejects a node decides its
//! reasons, as in kube-scheduler's framework.

use std::borrow::Cow;

use k8s_openapi::api::core::v1::{
    NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Taint, Toleration,
};

use crate::types::{NodeInfo, PodInfo, Status, TAINT_UNSCHEDULABLE};

pub const REASON_UNSCHEDULABLE: &str = "node(s) were unschedulable";
pub const REASON_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";
pub const REASON_PORTS: &str = "node(s) didn't have free ports for the requested pod ports";
pub const REASON_TOO_MANY_PODS: &str = "Too many pods";

/// Whether `pod` may go to `node`; when not, why (upstream's wording, for the
/// "0/N nodes are available" message).
pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    node_unschedulable(pod, node)?;
    taint_toleration(pod, node)?;
    node_affinity(pod, node)?;
    node_ports(pod, node)?;
    fits_resources(pod, node)
}

/// NodeUnschedulable: `spec.unschedulable` nodes take only pods tolerating
/// `node.kubernetes.io/unschedulable:NoSchedule`.
pub fn node_unschedulable(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    if !node.unschedulable {
        return Ok(());
    }
    let taint = Taint {
        key: TAINT_UNSCHEDULABLE.into(),
        effect: "NoSchedule".into(),
        ..Taint::default()
    };
    if pod.tolerations.iter().any(|t| tolerates(t, &taint)) {
        return Ok(());
    }
    Err(Status::unresolvable(REASON_UNSCHEDULABLE))
}

/// TaintToleration: the first NoSchedule or NoExecute taint the pod does not tolerate.
pub fn taint_toleration(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    let untolerated = node.taints.iter().find(|taint| {
        matches!(taint.effect.as_str(), "NoSchedule" | "NoExecute")
            && !pod.tolerations.iter().any(|t| tolerates(t, taint))
    });
    match untolerated {
        None => Ok(()),
        Some(t) => Err(Status::unresolvable(format!(
            "node(s) had untolerated taint {{{}: {}}}",
            t.key,
            t.value.as_deref().unwrap_or("")
        ))),
    }
}

/// Upstream's Toleration.ToleratesTaint: an empty effect matches every effect, an empty key
/// (with Exists) every key; Equal (or no operator) compares values.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    let effect = t.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = t.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match t.operator.as_deref().unwrap_or("") {
        "" | "Equal" => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        "Exists" => true,
        _ => false,
    }
}

/// NodeAffinity: spec.nodeSelector and requiredDuringSchedulingIgnoredDuringExecution.
pub fn node_affinity(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    let selector_ok = pod
        .node_selector
        .iter()
        .all(|(k, v)| node.labels.get(k) == Some(v));
    let required_ok = pod
        .required_affinity
        .as_ref()
        .is_none_or(|s| selector_matches(s, &node.name, &node.labels));
    if selector_ok && required_ok {
        Ok(())
    } else {
        Err(Status::unresolvable(REASON_AFFINITY))
    }
}

/// A NodeSelector: any of its terms matches (no terms: nothing matches).
pub fn selector_matches(
    s: &NodeSelector,
    node_name: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> bool {
    s.node_selector_terms
        .iter()
        .any(|t| term_matches(t, node_name, labels))
}

/// A NodeSelectorTerm: every expression and field requirement holds; an empty term matches
/// nothing.
pub fn term_matches(
    t: &NodeSelectorTerm,
    node_name: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> bool {
    let exprs = t.match_expressions.as_deref().unwrap_or(&[]);
    let fields = t.match_fields.as_deref().unwrap_or(&[]);
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs
        .iter()
        .all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
        && fields.iter().all(|r| {
            r.key == "metadata.name"
                && matches!(r.operator.as_str(), "In" | "NotIn")
                && requirement_matches(r, Some(node_name))
        })
}

fn requirement_matches(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = r.values.as_deref().unwrap_or(&[]);
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        op @ ("Gt" | "Lt") => {
            let (Some(v), [bound]) = (value, values) else {
                return false;
            };
            match (v.parse::<i64>(), bound.parse::<i64>()) {
                (Ok(v), Ok(b)) => {
                    if op == "Gt" {
                        v > b
                    } else {
                        v < b
                    }
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// NodePorts: no wanted host port (protocol, IP, port) is taken on the node; 0.0.0.0 clashes
/// with every IP.
pub fn node_ports(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    let clash = pod
        .host_ports
        .iter()
        .any(|want| node.used_ports.iter().any(|(used, _)| used.conflicts(want)));
    if clash {
        Err(Status::unschedulable(REASON_PORTS))
    } else {
        Ok(())
    }
}

/// NodeResourcesFit: the pod count, then cpu, memory, ephemeral-storage and scalar
/// resources against allocatable minus what the node's pods request; every shortfall is a
/// reason.
pub fn fits_resources(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    let mut reasons: Vec<Cow<'static, str>> = Vec::new();
    if node.pod_count() + 1 > node.allowed_pods {
        reasons.push(REASON_TOO_MANY_PODS.into());
    }
    let req = &pod.requests;
    let (alloc, used) = (&node.allocatable, &node.requested);
    if req.milli_cpu > 0 && req.milli_cpu > alloc.milli_cpu - used.milli_cpu {
        reasons.push("Insufficient cpu".into());
    }
    if req.memory > 0 && req.memory > alloc.memory - used.memory {
        reasons.push("Insufficient memory".into());
    }
    if req.ephemeral_storage > 0
        && req.ephemeral_storage > alloc.ephemeral_storage - used.ephemeral_storage
    {
        reasons.push("Insufficient ephemeral-storage".into());
    }
    for (name, want) in &req.scalar {
        if *want > 0 && *want > alloc.scalar(name) - used.scalar(name) {
            reasons.push(format!("Insufficient {name}").into());
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Status {
            code: crate::types::Code::Unschedulable,
            reasons,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    use super::*;
    use crate::types::Code;

    pub fn node(v: serde_json::Value) -> NodeInfo {
        NodeInfo::new(&serde_json::from_value(v).unwrap())
    }

    pub fn ready_node(name: &str, cpu: &str, mem: &str, pods: &str) -> NodeInfo {
        node(json!({
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {
                "allocatable": {"cpu": cpu, "memory": mem, "pods": pods, "ephemeral-storage": "100Gi"},
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        }))
    }

    pub fn pod(spec: serde_json::Value) -> PodInfo {
        let p: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
            "spec": spec,
        }))
        .unwrap();
        PodInfo::from_pod(&p)
    }

    fn requesting(cpu: &str, mem: &str) -> PodInfo {
        pod(
            json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": mem}}}]}),
        )
    }

    fn reasons(r: Result<(), Status>) -> Vec<String> {
        r.err()
            .map(|s| s.reasons.iter().map(|r| r.to_string()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn readiness_and_unschedulable() {
        let p = pod(json!({"containers": [{"name": "c"}]}));
        assert!(filter(&p, &ready_node("a", "1", "1Gi", "10")).is_ok());
        let not_ready = node(json!({
            "metadata": {"name": "b"},
            "status": {"allocatable": {"cpu": "1", "pods": "10"}, "conditions": [{"type": "Ready", "status": "False"}]},
        }));
        assert_eq!(
            reasons(filter(&p, &not_ready)),
            ["node(s) had untolerated taint {node.kubernetes.io/not-ready: }"]
        );
        let unknown =
            node(json!({"metadata": {"name": "c"}, "status": {"allocatable": {"pods": "10"}}}));
        let e = filter(&p, &unknown).unwrap_err();
        assert_eq!(e.code, Code::UnschedulableAndUnresolvable);
        assert_eq!(
            e.reasons,
            ["node(s) had untolerated taint {node.kubernetes.io/unreachable: }"]
        );
        // DaemonSet-style tolerations still land there.
        let tolerant = pod(json!({"containers": [{"name": "c"}], "tolerations": [
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoSchedule"},
        ]}));
        assert!(filter(&tolerant, &unknown).is_ok());

        let mut cordoned = ready_node("d", "1", "1Gi", "10");
        cordoned.unschedulable = true;
        assert_eq!(reasons(filter(&p, &cordoned)), [REASON_UNSCHEDULABLE]);
        let tolerant = pod(json!({"containers": [{"name": "c"}], "tolerations": [
            {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]}));
        assert!(filter(&tolerant, &cordoned).is_ok());
    }

    #[test]
    fn taints_and_tolerations() {
        let mut n = ready_node("a", "1", "1Gi", "10");
        n.taints = serde_json::from_value(json!([
            {"key": "soft", "value": "x", "effect": "PreferNoSchedule"},
            {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
            {"key": "evict", "effect": "NoExecute"},
        ]))
        .unwrap();
        let none = pod(json!({"containers": [{"name": "c"}]}));
        assert_eq!(
            reasons(filter(&none, &n)),
            ["node(s) had untolerated taint {dedicated: gpu}"]
        );
        let equal = pod(json!({"containers": [{"name": "c"}], "tolerations": [
            {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}));
        assert_eq!(
            reasons(filter(&equal, &n)),
            ["node(s) had untolerated taint {evict: }"]
        );
        let wrong_value = pod(json!({"containers": [{"name": "c"}], "tolerations": [
            {"key": "dedicated", "value": "cpu"}, {"key": "evict", "operator": "Exists"}]}));
        assert_eq!(
            reasons(filter(&wrong_value, &n)),
            ["node(s) had untolerated taint {dedicated: gpu}"]
        );
        let both = pod(json!({"containers": [{"name": "c"}], "tolerations": [
            {"key": "dedicated", "value": "gpu"}, {"key": "evict", "operator": "Exists"}]}));
        assert!(filter(&both, &n).is_ok());
        let all =
            pod(json!({"containers": [{"name": "c"}], "tolerations": [{"operator": "Exists"}]}));
        assert!(filter(&all, &n).is_ok());
        let wrong_effect = pod(json!({"containers": [{"name": "c"}], "tolerations": [
            {"operator": "Exists", "effect": "NoExecute"}]}));
        assert!(filter(&wrong_effect, &n).is_err());
    }

    #[test]
    fn node_selector_and_affinity() {
        let mut n = ready_node("node-1", "1", "1Gi", "10");
        n.labels.insert("zone".into(), "a".into());
        n.labels.insert("gen".into(), "5".into());
        let sel = pod(json!({"containers": [{"name": "c"}], "nodeSelector": {"zone": "a"}}));
        assert!(filter(&sel, &n).is_ok());
        let sel = pod(json!({"containers": [{"name": "c"}], "nodeSelector": {"zone": "b"}}));
        assert_eq!(reasons(filter(&sel, &n)), [REASON_AFFINITY]);

        let with = |terms: serde_json::Value| {
            pod(
                json!({"containers": [{"name": "c"}], "affinity": {"nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}}),
            )
        };
        let ok = |terms| filter(&with(terms), &n).is_ok();
        assert!(ok(
            json!([{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}])
        ));
        assert!(!ok(
            json!([{"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}])
        ));
        assert!(ok(
            json!([{"matchExpressions": [{"key": "rack", "operator": "NotIn", "values": ["a"]}]}])
        ));
        assert!(ok(
            json!([{"matchExpressions": [{"key": "zone", "operator": "Exists"}]}])
        ));
        assert!(!ok(
            json!([{"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}])
        ));
        assert!(ok(
            json!([{"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["4"]}]}])
        ));
        assert!(!ok(
            json!([{"matchExpressions": [{"key": "gen", "operator": "Lt", "values": ["5"]}]}])
        ));
        assert!(!ok(
            json!([{"matchExpressions": [{"key": "zone", "operator": "Gt", "values": ["1"]}]}])
        ));
        assert!(ok(
            json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}]}])
        ));
        assert!(!ok(
            json!([{"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["node-1"]}]}])
        ));
        // Terms are ORed, requirements within a term ANDed; an empty term matches nothing.
        assert!(ok(json!([
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]},
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]},
                                  {"key": "gen", "operator": "Exists"}]}])));
        assert!(!ok(
            json!([{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]},
                                                {"key": "gpu", "operator": "Exists"}]}])
        ));
        assert!(!ok(json!([{}])));
        assert!(!ok(json!([])));
    }

    #[test]
    fn host_ports() {
        let mut n = ready_node("a", "4", "4Gi", "10");
        let web = pod(
            json!({"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}),
        );
        assert!(filter(&web, &n).is_ok());
        n.add_pod(Arc::new(PodInfo {
            uid: "other".into(),
            ..web.clone()
        }));
        assert_eq!(reasons(filter(&web, &n)), [REASON_PORTS]);
        assert_eq!(filter(&web, &n).unwrap_err().code, Code::Unschedulable);
        let udp = pod(
            json!({"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080, "protocol": "UDP"}]}]}),
        );
        assert!(filter(&udp, &n).is_ok());
        let specific = pod(
            json!({"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080, "hostIP": "10.0.0.1"}]}]}),
        );
        assert!(
            filter(&specific, &n).is_err(),
            "0.0.0.0 clashes with every IP"
        );
        n.remove_pod("other");
        n.add_pod(Arc::new(PodInfo {
            uid: "s".into(),
            ..specific.clone()
        }));
        let other_ip = pod(
            json!({"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080, "hostIP": "10.0.0.2"}]}]}),
        );
        assert!(filter(&other_ip, &n).is_ok());
        assert!(filter(&web, &n).is_err());
    }

    #[test]
    fn resources() {
        let mut n = ready_node("a", "2", "4Gi", "3");
        assert!(filter(&requesting("1500m", "1Gi"), &n).is_ok());
        n.add_pod(Arc::new(PodInfo {
            uid: "x".into(),
            ..requesting("1500m", "3Gi")
        }));
        assert_eq!(
            reasons(filter(&requesting("600m", "100Mi"), &n)),
            ["Insufficient cpu"]
        );
        assert!(filter(&requesting("500m", "1Gi"), &n).is_ok());
        assert_eq!(
            reasons(filter(&requesting("1", "2Gi"), &n)),
            ["Insufficient cpu", "Insufficient memory"]
        );
        n.add_pod(Arc::new(PodInfo {
            uid: "y".into(),
            ..pod(json!({"containers": [{"name": "c"}]}))
        }));
        n.add_pod(Arc::new(PodInfo {
            uid: "z".into(),
            ..pod(json!({"containers": [{"name": "c"}]}))
        }));
        assert_eq!(
            reasons(filter(&requesting("1", "100Mi"), &n)),
            ["Too many pods", "Insufficient cpu"]
        );
        n.remove_pod("x");
        n.remove_pod("y");
        assert!(filter(&requesting("2", "4Gi"), &n).is_ok());
        assert_eq!(n.requested.milli_cpu, 0);

        let storage = pod(
            json!({"containers": [{"name": "c", "resources": {"requests": {"ephemeral-storage": "200Gi"}}}]}),
        );
        assert_eq!(
            reasons(filter(&storage, &n)),
            ["Insufficient ephemeral-storage"]
        );
        let gpu = pod(
            json!({"containers": [{"name": "c", "resources": {"requests": {"example.com/gpu": "1"}}}]}),
        );
        assert_eq!(reasons(filter(&gpu, &n)), ["Insufficient example.com/gpu"]);
        n.allocatable.scalar.push(("example.com/gpu".into(), 1));
        assert!(filter(&gpu, &n).is_ok());
    }

    #[test]
    fn pod_requests_follow_upstream() {
        let p = pod(json!({
            "initContainers": [
                {"name": "i1", "resources": {"requests": {"cpu": "2", "memory": "1Gi"}}},
                {"name": "i2", "resources": {"requests": {"cpu": "2", "memory": "3Gi"}}},
            ],
            "containers": [
                {"name": "c1", "resources": {"requests": {"cpu": "2", "memory": "1Gi"}}},
                {"name": "c2", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}},
            ],
            "overhead": {"cpu": "250m"},
        }));
        assert_eq!(p.requests.milli_cpu, 3250);
        assert_eq!(p.requests.memory, 3 << 30);
        // A sidecar adds to the sum and to every init step after it.
        let p = pod(json!({
            "initContainers": [
                {"name": "s", "restartPolicy": "Always", "resources": {"requests": {"cpu": "1"}}},
                {"name": "i", "resources": {"requests": {"cpu": "3"}}},
            ],
            "containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}],
        }));
        assert_eq!(p.requests.milli_cpu, 4000);
        // Scoring's defaults for containers without requests.
        let p = pod(
            json!({"containers": [{"name": "a"}, {"name": "b", "resources": {"requests": {"cpu": "0"}}}]}),
        );
        assert!(p.requests.is_zero());
        assert_eq!(p.non_zero_milli_cpu, 100);
        assert_eq!(p.non_zero_memory, 2 * 200 * 1024 * 1024);
    }
}
