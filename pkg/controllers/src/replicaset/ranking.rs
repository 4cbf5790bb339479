//! Which pods a ReplicaSet deletes first when scaling down: upstream's ActivePodsWithRanks order
//! (with PodDeletionCost and LogarithmicScaleDown, both on by default in v1.33).

use std::{cmp::Ordering, collections::HashMap, sync::Arc};

use k8s_openapi::{api::core::v1::Pod, jiff::Timestamp};

use super::pods;

const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// The `diff` pods of `pods` to delete first; `related` are the active pods of this ReplicaSet
/// and its siblings (same controller), whose co-location on a node ranks pods.
pub(crate) fn pods_to_delete(
    mut pods: Vec<Arc<Pod>>,
    related: &[Arc<Pod>],
    diff: usize,
    now: Timestamp,
) -> Vec<Arc<Pod>> {
    if diff < pods.len() {
        let mut on_node: HashMap<&str, usize> = HashMap::new();
        for p in related.iter().filter(|p| pods::is_active(p)) {
            *on_node.entry(node(p)).or_default() += 1;
        }
        let mut ranked: Vec<(usize, Arc<Pod>)> = pods
            .drain(..)
            .map(|p| (on_node.get(node(&p)).copied().unwrap_or(0), p))
            .collect();
        ranked.sort_by(|(ra, a), (rb, b)| compare(a, *ra, b, *rb, now));
        pods = ranked.into_iter().map(|(_, p)| p).collect();
    }
    pods.truncate(diff);
    pods
}

fn node(p: &Pod) -> &str {
    p.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

fn phase_ordinal(p: &Pod) -> u8 {
    match pods::phase(p) {
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    }
}

fn deletion_cost(p: &Pod) -> i32 {
    p.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DELETION_COST))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Upstream's `Less` as an ordering: `Less` means `a` goes first (is deleted sooner).
fn compare(a: &Pod, rank_a: usize, b: &Pod, rank_b: usize, now: Timestamp) -> Ordering {
    if less(a, rank_a, b, rank_b, now) {
        Ordering::Less
    } else if less(b, rank_b, a, rank_a, now) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

fn less(a: &Pod, rank_a: usize, b: &Pod, rank_b: usize, now: Timestamp) -> bool {
    // 1. Unassigned < assigned.
    let (na, nb) = (node(a), node(b));
    if na != nb && (na.is_empty() || nb.is_empty()) {
        return na.is_empty();
    }
    // 2. Pending < Unknown < Running.
    if phase_ordinal(a) != phase_ordinal(b) {
        return phase_ordinal(a) < phase_ordinal(b);
    }
    // 3. Not ready < ready.
    let (ready_a, ready_b) = (pods::is_ready(a), pods::is_ready(b));
    if ready_a != ready_b {
        return !ready_a;
    }
    // 4. Lower pod-deletion-cost < higher.
    if deletion_cost(a) != deletion_cost(b) {
        return deletion_cost(a) < deletion_cost(b);
    }
    // 5. Doubled up (more related pods on the node) < not doubled up.
    if rank_a != rank_b {
        return rank_a > rank_b;
    }
    // 6. Ready for less time < more time, on a logarithmic scale.
    if ready_a && ready_b {
        let (ta, tb) = (pods::ready_since(a), pods::ready_since(b));
        if ta != tb {
            return newer_first(ta, tb, a, b, now);
        }
    }
    // 7. More container restarts < fewer.
    if pods::max_restarts(a) != pods::max_restarts(b) {
        return pods::max_restarts(a) > pods::max_restarts(b);
    }
    // 8. Created more recently < earlier.
    let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    if created(a) != created(b) {
        return newer_first(created(a), created(b), a, b, now);
    }
    false
}

/// `afterOrZero` with LogarithmicScaleDown: unknown times first, then the more recent, comparing
/// log2 of the ages so that pods of similar age order by uid (pseudo-randomly).
fn newer_first(
    ta: Option<Timestamp>,
    tb: Option<Timestamp>,
    a: &Pod,
    b: &Pod,
    now: Timestamp,
) -> bool {
    let (Some(ta), Some(tb)) = (ta, tb) else {
        return ta.is_none();
    };
    let rank = |t: Timestamp| {
        let age = now.as_nanosecond() - t.as_nanosecond();
        if age > 0 {
            (age as f64).log2() as i64
        } else {
            -1
        }
    };
    match rank(ta) - rank(tb) {
        0 => a.metadata.uid < b.metadata.uid,
        d => d < 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replicaset::pods::testing::{pod, ts};

    fn names(pods: &[Arc<Pod>]) -> Vec<String> {
        pods.iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect()
    }

    fn order(pods: Vec<Pod>, now: i64) -> Vec<String> {
        let pods: Vec<Arc<Pod>> = pods.into_iter().map(Arc::new).collect();
        let n = pods.len();
        // diff < len forces the sort; take all but one, then append the survivor for a full order.
        let first = pods_to_delete(pods.clone(), &pods, n - 1, ts(now));
        let mut out = names(&first);
        let rest: Vec<String> = names(&pods)
            .into_iter()
            .filter(|p| !out.contains(p))
            .collect();
        out.extend(rest);
        out
    }

    #[test]
    fn upstream_preference_order() {
        let now = 1_000_000;
        let pods = vec![
            pod("ready-old", "n1", "Running", Some(1_000), 500, 0),
            pod("running-unready", "n2", "Running", None, 900_000, 0),
            pod("unscheduled", "", "Pending", None, 100, 0),
            pod("pending", "n3", "Pending", None, 100, 0),
            pod("unknown", "n4", "Unknown", None, 100, 0),
            pod("ready-new", "n5", "Running", Some(999_000), 998_000, 0),
        ];
        assert_eq!(
            order(pods, now),
            [
                "unscheduled",
                "pending",
                "unknown",
                "running-unready",
                "ready-new",
                "ready-old"
            ]
        );
    }

    #[test]
    fn restarts_then_creation_time() {
        let now = 1_000_000;
        let pods = vec![
            pod("old", "n1", "Pending", None, 1_000, 0),
            pod("restarted", "n2", "Pending", None, 1_000, 5),
            pod("new", "n3", "Pending", None, 999_990, 0),
        ];
        assert_eq!(order(pods, now), ["restarted", "new", "old"]);
    }

    #[test]
    fn doubled_up_pods_and_deletion_cost_go_first() {
        let now = 1_000_000;
        let mut cheap = pod("cheap", "n3", "Running", Some(10), 5, 0);
        cheap.metadata.annotations = Some([(DELETION_COST.to_string(), "-10".to_string())].into());
        let pods = vec![
            pod("alone", "n1", "Running", Some(10), 5, 0),
            pod("crowded-a", "n2", "Running", Some(10), 5, 0),
            pod("crowded-b", "n2", "Running", Some(10), 5, 0),
            cheap,
        ];
        let ordered = order(pods, now);
        assert_eq!(ordered[0], "cheap");
        assert!(ordered[1].starts_with("crowded") && ordered[2].starts_with("crowded"));
        assert_eq!(ordered[3], "alone");
    }

    #[test]
    fn deleting_all_needs_no_ranking() {
        let pods: Vec<Arc<Pod>> = vec![Arc::new(pod("a", "", "Pending", None, 1, 0))];
        assert_eq!(names(&pods_to_delete(pods.clone(), &pods, 1, ts(5))), ["a"]);
    }
}
