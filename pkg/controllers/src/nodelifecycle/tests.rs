use std::time::Duration;

use k8s_openapi::{
    api::core::v1::{Node, Taint, Toleration},
    jiff::Timestamp,
};
use serde_json::json;
use tokio::time::Instant;

use super::{disruption, eviction, health, min_pass_gap, monitor_period, taints};

fn ts(s: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + s).unwrap()
}

fn node(ready: Option<&str>, taints: serde_json::Value) -> Node {
    let conditions: Vec<_> = ready
        .map(|r| {
            json!({"type": "Ready", "status": r, "reason": "KubeletReady",
                   "lastHeartbeatTime": "2025-01-01T00:00:00Z"})
        })
        .into_iter()
        .chain([json!({"type": "MemoryPressure", "status": "False"})])
        .collect();
    serde_json::from_value(json!({
        "metadata": {"name": "n1", "creationTimestamp": "2024-12-31T00:00:00Z"},
        "spec": {"taints": taints},
        "status": {"conditions": conditions},
    }))
    .unwrap()
}

fn keys(t: &[Taint]) -> Vec<String> {
    t.iter()
        .map(|t| format!("{}:{}", t.key, t.effect))
        .collect()
}

#[test]
fn silence_is_timed_from_the_last_change_seen() {
    let mut tr = health::Tracker::default();
    let grace = Duration::from_secs(40);
    let t0 = Instant::now();
    let hb = |s: i64| health::Heartbeat {
        lease_renew: Some(ts(s)),
        ready_heartbeat: None,
    };
    // First sight starts the clock, whatever the lease says.
    assert!(!tr.silent("n1", hb(0), t0, grace));
    assert!(!tr.silent("n1", hb(0), t0 + Duration::from_secs(40), grace));
    assert!(tr.silent("n1", hb(0), t0 + Duration::from_secs(41), grace));
    // A renewal resets it.
    assert!(!tr.silent("n1", hb(10), t0 + Duration::from_secs(42), grace));
    assert!(tr.silent("n1", hb(10), t0 + Duration::from_secs(83), grace));
    tr.retain(|_| false);
    assert!(!tr.silent("n1", hb(10), t0 + Duration::from_secs(100), grace));
}

#[test]
fn silent_nodes_go_unknown_once() {
    let n = node(Some("True"), json!(null));
    let conditions = health::mark_unknown(&n, ts(5)).unwrap();
    let ready = conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(ready.status, "Unknown");
    assert_eq!(ready.reason.as_deref(), Some(health::REASON_UNKNOWN));
    assert_eq!(
        ready.message.as_deref(),
        Some("Kubelet stopped posting node status.")
    );
    assert_eq!(ready.last_transition_time.as_ref().unwrap().0, ts(5));
    // The heartbeat is the kubelet's last, not ours.
    assert_eq!(
        ready.last_heartbeat_time.as_ref().unwrap().0.to_string(),
        "2025-01-01T00:00:00Z"
    );
    let types: Vec<_> = conditions.iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(
        types,
        ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"]
    );
    let never = conditions
        .iter()
        .find(|c| c.type_ == "PIDPressure")
        .unwrap();
    assert_eq!(never.reason.as_deref(), Some("NodeStatusNeverUpdated"));
    let mut marked = n.clone();
    marked.status.as_mut().unwrap().conditions = Some(conditions);
    assert!(health::mark_unknown(&marked, ts(6)).is_none());
}

#[test]
fn taints_follow_conditions_and_keep_others() {
    let now = ts(0);
    let unknown = node(
        Some("Unknown"),
        json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
    );
    let t = taints::reconcile(&unknown, now).unwrap();
    assert_eq!(
        keys(&t),
        [
            "dedicated:NoSchedule",
            "node.kubernetes.io/unreachable:NoSchedule",
            "node.kubernetes.io/unreachable:NoExecute"
        ]
    );
    assert!(t[1].time_added.is_none());
    assert_eq!(t[2].time_added.as_ref().unwrap().0, now);
    // Reconciled: nothing to do, and timeAdded is kept.
    let tainted = node(Some("Unknown"), serde_json::to_value(&t).unwrap());
    assert!(taints::reconcile(&tainted, ts(100)).is_none());
    // Ready False swaps unreachable for not-ready.
    let not_ready = node(Some("False"), serde_json::to_value(&t).unwrap());
    assert_eq!(
        keys(&taints::reconcile(&not_ready, now).unwrap()),
        [
            "dedicated:NoSchedule",
            "node.kubernetes.io/not-ready:NoSchedule",
            "node.kubernetes.io/not-ready:NoExecute"
        ]
    );
    // Back to Ready: only the foreign taint stays.
    let back = node(Some("True"), serde_json::to_value(&t).unwrap());
    assert_eq!(
        keys(&taints::reconcile(&back, now).unwrap()),
        ["dedicated:NoSchedule"]
    );
    // No Ready condition yet: nothing (the grace period decides first).
    assert!(taints::reconcile(&node(None, json!(null)), now).is_none());
    // A cordon and memory pressure bring their NoSchedule taints.
    let mut cordoned = node(Some("True"), json!(null));
    cordoned.spec.as_mut().unwrap().unschedulable = Some(true);
    cordoned
        .status
        .as_mut()
        .unwrap()
        .conditions
        .as_mut()
        .unwrap()[1]
        .status = "True".into();
    assert_eq!(
        keys(&taints::reconcile(&cordoned, now).unwrap()),
        [
            "node.kubernetes.io/memory-pressure:NoSchedule",
            "node.kubernetes.io/unschedulable:NoSchedule"
        ]
    );
}

fn toleration(v: serde_json::Value) -> Toleration {
    serde_json::from_value(v).unwrap()
}

#[test]
fn eviction_deadlines() {
    let unreachable: Vec<Taint> = serde_json::from_value(json!([
        {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2025-01-01T00:00:00Z"},
    ]))
    .unwrap();
    let added: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
    let now = added + k8s_openapi::jiff::SignedDuration::from_secs(2);
    // No toleration: at once.
    assert_eq!(eviction::deadline(&[], &unreachable, now), Some(now));
    // The default 300 s toleration: timeAdded + 300 s.
    let default = toleration(
        json!({"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                    "effect": "NoExecute", "tolerationSeconds": 300}),
    );
    assert_eq!(
        eviction::deadline(std::slice::from_ref(&default), &unreachable, now),
        Some(added + k8s_openapi::jiff::SignedDuration::from_secs(300))
    );
    // The first matching toleration is the one used (as upstream).
    let forever = toleration(json!({"operator": "Exists"}));
    assert_eq!(
        eviction::deadline(&[forever.clone(), default.clone()], &unreachable, now),
        None
    );
    assert!(eviction::deadline(&[default, forever], &unreachable, now).is_some());
    // A NoSchedule-only toleration does not help against NoExecute.
    let no_schedule = toleration(
        json!({"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                        "effect": "NoSchedule"}),
    );
    assert_eq!(
        eviction::deadline(&[no_schedule], &unreachable, now),
        Some(now)
    );
    // Negative seconds mean at once (from timeAdded); no NoExecute taints, never.
    let negative = toleration(
        json!({"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                     "tolerationSeconds": -5}),
    );
    assert_eq!(
        eviction::deadline(&[negative], &unreachable, now),
        Some(added)
    );
    assert_eq!(eviction::deadline(&[], &unreachable[..1], now), None);
}

#[test]
fn toleration_matching() {
    let taint: Taint =
        serde_json::from_value(json!({"key": "k", "value": "v", "effect": "NoExecute"})).unwrap();
    let yes = [
        json!({"key": "k", "operator": "Equal", "value": "v"}),
        json!({"key": "k", "value": "v", "effect": "NoExecute"}),
        json!({"key": "k", "operator": "Exists"}),
        json!({"operator": "Exists"}),
    ];
    let no = [
        json!({"key": "k", "operator": "Equal", "value": "w"}),
        json!({"key": "k", "operator": "Exists", "effect": "NoSchedule"}),
        json!({"key": "j", "operator": "Exists"}),
    ];
    for t in yes {
        assert!(eviction::tolerates(&toleration(t.clone()), &taint), "{t}");
    }
    for t in no {
        assert!(!eviction::tolerates(&toleration(t.clone()), &taint), "{t}");
    }
}

#[test]
fn monitor_period_scales_with_grace() {
    assert_eq!(min_pass_gap(Duration::from_secs(5)), Duration::from_secs(1));
    assert_eq!(
        min_pass_gap(Duration::from_millis(200)),
        Duration::from_millis(40)
    );
    assert_eq!(
        monitor_period(Duration::from_secs(40)),
        Duration::from_secs(5)
    );
    assert_eq!(
        monitor_period(Duration::from_secs(4)),
        Duration::from_millis(500)
    );
    assert_eq!(
        monitor_period(Duration::from_millis(100)),
        Duration::from_millis(200)
    );
}

#[test]
fn bound_pods_keep_what_eviction_needs() {
    let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "deletionTimestamp": "2025-01-01T00:00:00Z"},
        "spec": {"nodeName": "n1", "containers": [],
                 "tolerations": [{"operator": "Exists"}]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }))
    .unwrap();
    let b = super::pods::BoundPod::of(&pod).unwrap();
    assert_eq!(
        (b.namespace.as_str(), b.name.as_str(), b.uid.as_str()),
        ("ns", "p", "u1")
    );
    assert_eq!(b.node, "n1");
    assert!(b.ready && b.deleting);
    assert_eq!(b.tolerations.len(), 1);
    assert_eq!(b.as_pod().metadata.uid.as_deref(), Some("u1"));
    let mut unbound = pod;
    unbound.spec.as_mut().unwrap().node_name = None;
    assert!(super::pods::BoundPod::of(&unbound).is_none());
}

fn zoned(name: &str, zone: &str, ready: &str, taints: serde_json::Value) -> Node {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": zone}},
        "spec": {"taints": taints},
        "status": {"conditions": [{"type": "Ready", "status": ready}]},
    }))
    .unwrap()
}

/// `ready` nodes Ready and `not_ready` nodes Unknown in `zone`.
fn zone_of(zone: &str, ready: usize, not_ready: usize) -> Vec<Node> {
    (0..ready + not_ready)
        .map(|i| {
            let status = if i < ready { "True" } else { "Unknown" };
            zoned(&format!("{zone}-{i}"), zone, status, json!(null))
        })
        .collect()
}

#[test]
fn zone_states_as_upstream() {
    use disruption::{zone_state, ZoneState::*};
    assert_eq!(zone_state(0, 1), FullDisruption);
    assert_eq!(zone_state(0, 0), Normal);
    assert_eq!(zone_state(2, 3), PartialDisruption, "3 of 5 >= 55%");
    assert_eq!(zone_state(3, 3), Normal, "50% < 55%");
    assert_eq!(zone_state(1, 2), Normal, "2 not ready never disrupt a zone");
    assert_eq!(zone_state(100, 2), Normal);
    let mut n = zoned("a", "z1", "True", json!(null));
    assert_eq!(disruption::zone_key(&n), ":\0:z1");
    n.metadata.labels = None;
    assert_eq!(disruption::zone_key(&n), "");
}

#[test]
fn no_execute_tainting_is_rate_limited_per_zone() {
    use disruption::{Limiter, NoExecute::*};
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let mut l = Limiter::default();
    let mut nodes = zone_of("z1", 8, 2);
    nodes.extend(zone_of("z2", 9, 1));
    l.observe(&nodes, t0);
    // A burst of one per zone, then one every 10 s (0.1 nodes/s).
    assert_eq!(l.admit(&nodes[8], t0), Allow);
    assert_eq!(l.admit(&nodes[9], t0), Defer);
    assert_eq!(
        l.admit(&nodes[19], t0),
        Allow,
        "another zone, another limiter"
    );
    let next = l.next_token().unwrap() - t0;
    assert!(next.abs_diff(s(10)) < Duration::from_millis(1), "{next:?}");
    assert_eq!(l.admit(&nodes[9], t0 + s(9)), Defer);
    l.observe(&nodes, t0 + s(10));
    assert_eq!(l.admit(&nodes[9], t0 + s(10)), Allow);

    // The taint that waits is not added; the NoSchedule one is, and an existing
    // not-ready NoExecute taint is swapped for unreachable without a token.
    let unknown = zoned("u", "z1", "Unknown", json!(null));
    assert!(taints::needs_no_execute(&unknown));
    let t = taints::reconcile_with(&unknown, ts(0), Defer).unwrap();
    assert_eq!(keys(&t), ["node.kubernetes.io/unreachable:NoSchedule"]);
    let swapped = zoned(
        "u",
        "z1",
        "Unknown",
        json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute", "timeAdded": "2025-01-01T00:00:00Z"}]),
    );
    assert!(!taints::needs_no_execute(&swapped));
    let t = taints::reconcile_with(&swapped, ts(0), l.free()).unwrap();
    assert_eq!(
        keys(&t),
        [
            "node.kubernetes.io/unreachable:NoSchedule",
            "node.kubernetes.io/unreachable:NoExecute"
        ]
    );
}

#[test]
fn disrupted_zones_slow_down_or_stop() {
    use disruption::{Limiter, NoExecute::*};
    let t0 = Instant::now();
    let s = Duration::from_secs;
    // A small zone with 6 of 10 nodes not ready: no more tainting at all.
    let mut l = Limiter::default();
    let mut nodes = zone_of("small", 4, 6);
    // A large one (> 50 nodes) with 40 of 60: the secondary rate, 0.01 nodes/s.
    nodes.extend(zone_of("large", 20, 40));
    l.observe(&nodes, t0);
    assert_eq!(l.admit(&nodes[9], t0), Defer);
    assert_eq!(
        l.admit(&nodes[9], t0 + s(3600)),
        Defer,
        "stopped, not slowed"
    );
    let large = &nodes[nodes.len() - 1];
    assert_eq!(l.admit(large, t0), Allow);
    assert_eq!(l.admit(large, t0 + s(99)), Defer);
    assert_eq!(l.admit(large, t0 + s(100)), Allow);
    // The small zone recovers: the normal rate again.
    let mut healed = zone_of("small", 9, 1);
    healed.extend(zone_of("large", 20, 40));
    l.observe(&healed, t0 + s(200));
    assert_eq!(l.admit(&healed[9], t0 + s(200)), Allow);

    // A zone with no ready node at all, next to a healthy zone: tainted at the normal rate.
    let mut l = Limiter::default();
    let mut nodes = zone_of("down", 0, 3);
    nodes.extend(zone_of("up", 3, 0));
    l.observe(&nodes, t0);
    assert!(!l.all_disrupted);
    assert_eq!(l.admit(&nodes[0], t0), Allow);

    // No ready node anywhere: the control plane is the likelier culprit, so nothing is
    // tainted and the NoExecute taints already there come off (NoSchedule stays).
    let all_down = zone_of("down", 0, 3);
    l.observe(&all_down, t0 + s(1));
    assert!(l.all_disrupted);
    assert_eq!(l.admit(&all_down[1], t0 + s(100)), Remove);
    assert_eq!(l.free(), Remove);
    let tainted = zoned(
        "down-0",
        "down",
        "Unknown",
        json!([
            {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2025-01-01T00:00:00Z"},
        ]),
    );
    let t = taints::reconcile_with(&tainted, ts(0), l.free()).unwrap();
    assert_eq!(keys(&t), ["node.kubernetes.io/unreachable:NoSchedule"]);
    // One node back: out of that mode, the normal rate.
    let mut back = zone_of("down", 1, 2);
    back.extend(zone_of("down2", 0, 1));
    l.observe(&back, t0 + s(2));
    assert!(!l.all_disrupted);
    assert_eq!(l.admit(&back[1], t0 + s(2)), Allow);
}

#[test]
fn zone_thresholds_come_from_the_flags() {
    use disruption::{Limiter, NoExecute::*};
    let t0 = Instant::now();
    let s = Duration::from_secs;
    // 4 of 10 not ready is normal at 0.55 but partial disruption at 0.3; with 10 nodes the
    // zone is large above a threshold of 5, so it slows to the secondary rate (0.5/s here).
    let nodes = zone_of("z", 6, 4);
    let mut l = Limiter::new(0.1, 0.5).with_thresholds(5, 0.3);
    l.observe(&nodes, t0);
    assert_eq!(l.admit(&nodes[6], t0), Allow);
    assert_eq!(l.admit(&nodes[7], t0 + s(1)), Defer);
    assert_eq!(l.admit(&nodes[7], t0 + s(2)), Allow, "0.5 nodes/s");
    // The same zone is small under the default 50: partial disruption stops tainting.
    let mut l = Limiter::new(0.1, 0.5).with_thresholds(50, 0.3);
    l.observe(&nodes, t0);
    assert_eq!(l.admit(&nodes[6], t0), Defer);
    // At the default 0.55 it is a normal zone: the primary rate.
    let mut l = Limiter::new(0.1, 0.5);
    l.observe(&nodes, t0);
    assert_eq!(l.admit(&nodes[6], t0), Allow);
    assert_eq!(l.admit(&nodes[7], t0 + s(2)), Defer, "0.1 nodes/s");
}
