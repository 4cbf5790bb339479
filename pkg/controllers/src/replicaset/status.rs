//! A ReplicaSet's status from its pods (upstream's replica_set_utils.calculateStatus).

use std::{collections::BTreeMap, sync::Arc};

use k8s_openapi::{
    api::{
        apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus},
        core::v1::Pod,
    },
    apimachinery::pkg::apis::meta::v1::Time,
    jiff::Timestamp,
};

use super::pods;

pub(crate) const REPLICA_FAILURE: &str = "ReplicaFailure";

fn nonzero(n: usize) -> Option<i32> {
    (n > 0).then(|| i32::try_from(n).unwrap_or(i32::MAX))
}

/// The status `rs` should report for its active pods; `manage_error` is why creating or deleting
/// pods failed in this sync, if it did.
pub(crate) fn calculate(
    rs: &ReplicaSet,
    active: &[Arc<Pod>],
    manage_error: Option<&str>,
    now: Timestamp,
) -> ReplicaSetStatus {
    let mut status = rs.status.clone().unwrap_or_default();
    let spec = rs.spec.as_ref();
    let template_labels: BTreeMap<String, String> = spec
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let min_ready = spec.and_then(|s| s.min_ready_seconds).unwrap_or(0);
    let (mut fully_labeled, mut ready, mut available) = (0, 0, 0);
    for pod in active {
        let labels = pod.metadata.labels.as_ref();
        if template_labels
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        {
            fully_labeled += 1;
        }
        if pods::is_ready(pod) {
            ready += 1;
            if pods::is_available(pod, min_ready, now) {
                available += 1;
            }
        }
    }

    let has_failure = status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == REPLICA_FAILURE);
    match manage_error {
        Some(msg) if !has_failure => {
            let want = spec.and_then(|s| s.replicas).unwrap_or(1);
            let diff = active.len() as i64 - i64::from(want);
            let reason = match diff {
                d if d < 0 => "FailedCreate",
                d if d > 0 => "FailedDelete",
                _ => "",
            };
            let cond = ReplicaSetCondition {
                type_: REPLICA_FAILURE.into(),
                status: "True".into(),
                reason: Some(reason.into()),
                message: Some(msg.into()),
                last_transition_time: Some(Time(now)),
            };
            status.conditions.get_or_insert_with(Vec::new).push(cond);
        }
        None if has_failure => {
            if let Some(conds) = status.conditions.as_mut() {
                conds.retain(|c| c.type_ != REPLICA_FAILURE);
            }
            if status.conditions.as_ref().is_some_and(Vec::is_empty) {
                status.conditions = None;
            }
        }
        _ => {}
    }

    status.replicas = i32::try_from(active.len()).unwrap_or(i32::MAX);
    status.fully_labeled_replicas = nonzero(fully_labeled);
    status.ready_replicas = nonzero(ready);
    status.available_replicas = nonzero(available);
    status
}

/// Whether `status` differs from what `rs` reports in anything the controller owns (upstream
/// skips the write when only nothing changed and the generation was observed).
pub(crate) fn needs_update(rs: &ReplicaSet, status: &ReplicaSetStatus) -> bool {
    let old = rs.status.clone().unwrap_or_default();
    let z = |v: Option<i32>| v.unwrap_or(0);
    old.replicas != status.replicas
        || z(old.fully_labeled_replicas) != z(status.fully_labeled_replicas)
        || z(old.ready_replicas) != z(status.ready_replicas)
        || z(old.available_replicas) != z(status.available_replicas)
        || old.observed_generation.unwrap_or(0) != rs.metadata.generation.unwrap_or(0)
        || old.conditions.unwrap_or_default() != status.conditions.clone().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::{
        api::{apps::v1::ReplicaSetSpec, core::v1::PodTemplateSpec},
        apimachinery::pkg::apis::meta::v1::ObjectMeta,
    };

    use super::*;
    use crate::replicaset::pods::testing::{pod, ts};

    fn rs(replicas: i32, min_ready: i32) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some("web-1".into()),
                generation: Some(2),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                min_ready_seconds: Some(min_ready),
                template: Some(PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(
                            [
                                ("app".to_string(), "web".to_string()),
                                ("v".to_string(), "1".to_string()),
                            ]
                            .into(),
                        ),
                        ..Default::default()
                    }),
                    spec: None,
                }),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn labeled(mut p: Pod, labels: &[(&str, &str)]) -> Arc<Pod> {
        p.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        Arc::new(p)
    }

    #[test]
    fn counts_labels_readiness_and_availability() {
        let r = rs(3, 10);
        let pods = vec![
            labeled(
                pod("a", "n", "Running", Some(100), 0, 0),
                &[("app", "web"), ("v", "1"), ("extra", "x")],
            ),
            labeled(
                pod("b", "n", "Running", Some(195), 0, 0),
                &[("app", "web"), ("v", "1")],
            ),
            labeled(pod("c", "n", "Pending", None, 0, 0), &[("app", "web")]),
        ];
        let st = calculate(&r, &pods, None, ts(200));
        assert_eq!(st.replicas, 3);
        assert_eq!(st.fully_labeled_replicas, Some(2));
        assert_eq!(st.ready_replicas, Some(2));
        assert_eq!(st.available_replicas, Some(1));
        assert!(st.conditions.is_none());
        assert!(needs_update(&r, &st));
    }

    #[test]
    fn replica_failure_condition_comes_and_goes() {
        let mut r = rs(2, 0);
        let st = calculate(&r, &[], Some("pods \"web-1-\" is forbidden: quota"), ts(10));
        let c = &st.conditions.as_ref().unwrap()[0];
        assert_eq!(
            (c.type_.as_str(), c.status.as_str(), c.reason.as_deref()),
            ("ReplicaFailure", "True", Some("FailedCreate"))
        );
        r.status = Some(st.clone());
        // The condition is not rewritten while the failure persists ...
        assert_eq!(
            calculate(&r, &[], Some("again"), ts(20)).conditions,
            st.conditions
        );
        // ... and goes once a sync succeeds.
        assert!(calculate(&r, &[], None, ts(30)).conditions.is_none());
    }

    #[test]
    fn steady_state_needs_no_write() {
        let mut r = rs(0, 0);
        r.status = Some(ReplicaSetStatus {
            observed_generation: Some(2),
            ..Default::default()
        });
        let st = calculate(&r, &[], None, ts(1));
        assert!(!needs_update(&r, &st));
    }
}
