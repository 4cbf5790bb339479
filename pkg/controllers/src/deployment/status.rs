//! A Deployment's status from its ReplicaSets (upstream's calculateStatus and the progress
//! checks of progress.go), computed without I/O.

use std::time::Duration;

use k8s_openapi::{
    api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet},
    jiff::Timestamp,
};

use super::{
    arithmetic::{max_unavailable, replicas},
    conditions::{self as cond, AVAILABLE, PROGRESSING, REPLICA_FAILURE},
    replicasets::{actual_count, available_count, name, ready_count, replica_count},
};

fn opt(n: i32) -> Option<i32> {
    (n != 0).then_some(n)
}

/// The status with zero counts and empty lists omitted, as the API (Go's omitempty) has it.
pub(crate) fn normalized(status: Option<&DeploymentStatus>) -> DeploymentStatus {
    let mut s = status.cloned().unwrap_or_default();
    for f in [
        &mut s.replicas,
        &mut s.updated_replicas,
        &mut s.ready_replicas,
        &mut s.available_replicas,
        &mut s.unavailable_replicas,
        &mut s.terminating_replicas,
    ] {
        if *f == Some(0) {
            *f = None;
        }
    }
    if s.observed_generation == Some(0) {
        s.observed_generation = None;
    }
    if s.conditions.as_ref().is_some_and(Vec::is_empty) {
        s.conditions = None;
    }
    s
}

pub(crate) fn has_progress_deadline(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .is_some_and(|p| p != i32::MAX)
}

fn progress_deadline(d: &Deployment) -> i64 {
    i64::from(
        d.spec
            .as_ref()
            .and_then(|s| s.progress_deadline_seconds)
            .unwrap_or(600),
    )
}

/// `calculateStatus`: counts summed over `all` (which includes the new ReplicaSet) and the
/// Available condition.
pub(crate) fn calculate(
    all: &[&ReplicaSet],
    new_rs: Option<&ReplicaSet>,
    d: &Deployment,
    now: Timestamp,
) -> DeploymentStatus {
    let available = available_count(all.iter().copied());
    let total = replica_count(all.iter().copied());
    let old = normalized(d.status.as_ref());
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: opt(actual_count(all.iter().copied())),
        updated_replicas: opt(actual_count(new_rs)),
        ready_replicas: opt(ready_count(all.iter().copied())),
        available_replicas: opt(available),
        unavailable_replicas: opt((total - available).max(0)),
        collision_count: old.collision_count,
        conditions: old.conditions,
        terminating_replicas: None,
    };
    if available >= replicas(d) - max_unavailable(d) {
        let c = cond::new(
            AVAILABLE,
            "True",
            cond::MINIMUM_REPLICAS_AVAILABLE,
            "Deployment has minimum availability.".into(),
            now,
        );
        cond::set(&mut status, c);
    } else {
        let c = cond::new(
            AVAILABLE,
            "False",
            cond::MINIMUM_REPLICAS_UNAVAILABLE,
            "Deployment does not have minimum availability.".into(),
            now,
        );
        cond::set(&mut status, c);
    }
    status
}

/// `DeploymentComplete`: every replica updated and available, nothing old left, and the
/// latest spec observed.
pub(crate) fn complete(d: &Deployment, s: &DeploymentStatus) -> bool {
    let want = replicas(d);
    s.updated_replicas.unwrap_or(0) == want
        && s.replicas.unwrap_or(0) == want
        && s.available_replicas.unwrap_or(0) == want
        && s.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// `DeploymentProgressing`: any sign of progress since the recorded status.
pub(crate) fn progressing(d: &Deployment, new: &DeploymentStatus) -> bool {
    let old = normalized(d.status.as_ref());
    let z = |v: Option<i32>| v.unwrap_or(0);
    let old_old = z(old.replicas) - z(old.updated_replicas);
    let new_old = z(new.replicas) - z(new.updated_replicas);
    z(new.updated_replicas) > z(old.updated_replicas)
        || new_old < old_old
        || z(new.ready_replicas) > z(old.ready_replicas)
        || z(new.available_replicas) > z(old.available_replicas)
}

/// `DeploymentTimedOut`: no progress reported for progressDeadlineSeconds.
pub(crate) fn timed_out(d: &Deployment, new: &DeploymentStatus, now: Timestamp) -> bool {
    if !has_progress_deadline(d) {
        return false;
    }
    let Some(c) = cond::get(new, PROGRESSING) else {
        return false;
    };
    match c.reason.as_deref() {
        Some(cond::NEW_RS_AVAILABLE) => false,
        Some(cond::TIMED_OUT) => true,
        _ => {
            let from = c.last_update_time.as_ref().map_or(0, |t| t.0.as_second());
            from + progress_deadline(d) < now.as_second()
        }
    }
}

/// `getReplicaFailures`: the new ReplicaSet's ReplicaFailure condition, else any old one's.
pub(crate) fn replica_failure(
    all: &[&ReplicaSet],
    new_rs: Option<&ReplicaSet>,
) -> Option<DeploymentCondition> {
    let failure = |rs: &ReplicaSet| {
        rs.status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_ == REPLICA_FAILURE)
            .map(|c| DeploymentCondition {
                type_: c.type_.clone(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
                last_update_time: c.last_transition_time.clone(),
                last_transition_time: c.last_transition_time.clone(),
            })
    };
    new_rs
        .and_then(failure)
        .or_else(|| all.iter().find_map(|rs| failure(rs)))
}

/// The status `syncRolloutStatus` writes: counts, Available, Progressing (complete, progressing
/// or timed out against progressDeadlineSeconds) and ReplicaFailure.
pub(crate) fn rollout_status(
    all: &[&ReplicaSet],
    new_rs: Option<&ReplicaSet>,
    d: &Deployment,
    now: Timestamp,
) -> DeploymentStatus {
    let mut status = calculate(all, new_rs, d, now);
    if !has_progress_deadline(d) {
        cond::remove(&mut status, PROGRESSING);
    }
    let old = normalized(d.status.as_ref());
    let current = cond::get(&old, PROGRESSING);
    let is_complete = status.replicas == status.updated_replicas
        && current.is_some_and(|c| c.reason.as_deref() == Some(cond::NEW_RS_AVAILABLE));
    if has_progress_deadline(d) && !is_complete {
        let subject = |what: &str| match new_rs {
            Some(rs) => format!("ReplicaSet {:?} {what}", name(rs)),
            None => format!(
                "Deployment {:?} {what}",
                d.metadata.name.as_deref().unwrap_or_default()
            ),
        };
        if complete(d, &status) {
            let c = cond::new(
                PROGRESSING,
                "True",
                cond::NEW_RS_AVAILABLE,
                subject("has successfully progressed."),
                now,
            );
            cond::set(&mut status, c);
        } else if progressing(d, &status) {
            let mut c = cond::new(
                PROGRESSING,
                "True",
                cond::RS_UPDATED,
                subject("is progressing."),
                now,
            );
            // Progress refreshes lastUpdateTime even with the same reason.
            if let Some(cur) = current {
                if cur.status == "True" {
                    c.last_transition_time = cur.last_transition_time.clone();
                }
                cond::remove(&mut status, PROGRESSING);
            }
            cond::set(&mut status, c);
        } else if timed_out(d, &status, now) {
            let c = cond::new(
                PROGRESSING,
                "False",
                cond::TIMED_OUT,
                subject("has timed out progressing."),
                now,
            );
            cond::set(&mut status, c);
        }
    }
    match replica_failure(all, new_rs) {
        Some(c) => cond::set(&mut status, c),
        None => cond::remove(&mut status, REPLICA_FAILURE),
    }
    status
}

/// `requeueStuckDeployment`: when to check again for a progress deadline, if ever.
pub(crate) fn requeue_after(
    d: &Deployment,
    new: &DeploymentStatus,
    now: Timestamp,
) -> Option<Duration> {
    let old = normalized(d.status.as_ref());
    let current = cond::get(&old, PROGRESSING)?;
    if !has_progress_deadline(d)
        || complete(d, new)
        || current.reason.as_deref() == Some(cond::TIMED_OUT)
    {
        return None;
    }
    let from = current
        .last_update_time
        .as_ref()
        .map_or(0, |t| t.0.as_second());
    let after = from + progress_deadline(d) - now.as_second();
    Some(if after < 1 {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(after as u64 + 1)
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::{pkg::apis::meta::v1::Time, pkg::util::intstr::IntOrString};

    use super::*;
    use crate::deployment::{
        arithmetic::testing::{deployment, pct},
        replicasets::testing::rs,
    };

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn counts_and_availability() {
        let d = deployment(4, pct("25%"), pct("25%"));
        let old = rs("old", 1, 2, 2);
        let new = rs("new", 2, 3, 1);
        let st = calculate(&[&old, &new], Some(&new), &d, ts(100));
        assert_eq!(st.replicas, Some(5));
        assert_eq!(st.updated_replicas, Some(3));
        assert_eq!(st.ready_replicas, Some(3));
        assert_eq!(st.available_replicas, Some(3));
        assert_eq!(st.unavailable_replicas, Some(2));
        assert_eq!(st.observed_generation, Some(1));
        // 3 available >= 4 - 1.
        let a = cond::get(&st, AVAILABLE).unwrap();
        assert_eq!(
            (a.status.as_str(), a.reason.as_deref()),
            ("True", Some(cond::MINIMUM_REPLICAS_AVAILABLE))
        );
        let st = calculate(&[&old], None, &d, ts(100));
        assert_eq!(st.updated_replicas, None);
        assert_eq!(
            cond::get(&st, AVAILABLE).unwrap().reason.as_deref(),
            Some(cond::MINIMUM_REPLICAS_UNAVAILABLE)
        );
    }

    #[test]
    fn zero_replicas_report_nothing() {
        let d = deployment(0, IntOrString::Int(1), IntOrString::Int(0));
        let st = calculate(&[], None, &d, ts(1));
        assert_eq!(
            (st.replicas, st.available_replicas, st.unavailable_replicas),
            (None, None, None)
        );
        assert!(complete(&d, &st));
    }

    #[test]
    fn rollout_progress_conditions() {
        let mut d = deployment(2, pct("25%"), pct("25%"));
        d.status = Some(DeploymentStatus {
            conditions: Some(vec![cond::new(
                PROGRESSING,
                "True",
                cond::NEW_RS_CREATED,
                "x".into(),
                ts(100),
            )]),
            ..Default::default()
        });
        // Progress: updated replicas went up.
        let new = rs("web-1", 1, 2, 0);
        let st = rollout_status(&[&new], Some(&new), &d, ts(200));
        let p = cond::get(&st, PROGRESSING).unwrap();
        assert_eq!(p.reason.as_deref(), Some(cond::RS_UPDATED));
        assert_eq!(
            p.message.as_deref(),
            Some("ReplicaSet \"web-1\" is progressing.")
        );
        assert_eq!(p.last_transition_time, Some(Time(ts(100))));
        assert_eq!(p.last_update_time, Some(Time(ts(200))));

        // No further progress: requeue for the deadline, then time out.
        d.status = Some(st.clone());
        assert_eq!(
            requeue_after(&d, &st, ts(300)),
            Some(Duration::from_secs(501))
        );
        let st2 = rollout_status(&[&new], Some(&new), &d, ts(300));
        assert_eq!(st2, st);
        let late = rollout_status(&[&new], Some(&new), &d, ts(801));
        let p = cond::get(&late, PROGRESSING).unwrap();
        assert_eq!(
            (p.status.as_str(), p.reason.as_deref()),
            ("False", Some(cond::TIMED_OUT))
        );
        assert_eq!(
            p.message.as_deref(),
            Some("ReplicaSet \"web-1\" has timed out progressing.")
        );

        // Everything available: complete.
        let done = rs("web-1", 1, 2, 2);
        let st = rollout_status(&[&done], Some(&done), &d, ts(400));
        let p = cond::get(&st, PROGRESSING).unwrap();
        assert_eq!(
            (p.status.as_str(), p.reason.as_deref()),
            ("True", Some(cond::NEW_RS_AVAILABLE))
        );
        assert_eq!(
            p.message.as_deref(),
            Some("ReplicaSet \"web-1\" has successfully progressed.")
        );
        assert!(complete(&d, &st));
        d.status = Some(st.clone());
        assert_eq!(requeue_after(&d, &st, ts(500)), None);
    }

    #[test]
    fn replica_failures_surface() {
        let d = deployment(2, pct("25%"), pct("25%"));
        let mut new = rs("web-1", 1, 2, 0);
        new.status.as_mut().unwrap().conditions =
            Some(vec![k8s_openapi::api::apps::v1::ReplicaSetCondition {
                type_: "ReplicaFailure".into(),
                status: "True".into(),
                reason: Some("FailedCreate".into()),
                message: Some("quota".into()),
                last_transition_time: Some(Time(ts(5))),
            }]);
        let st = rollout_status(&[&new], Some(&new), &d, ts(10));
        let f = cond::get(&st, REPLICA_FAILURE).unwrap();
        assert_eq!(
            (f.reason.as_deref(), f.last_update_time.clone()),
            (Some("FailedCreate"), Some(Time(ts(5))))
        );
    }

    #[test]
    fn normalization_treats_zero_as_absent() {
        let s = DeploymentStatus {
            replicas: Some(0),
            conditions: Some(vec![]),
            ..Default::default()
        };
        assert_eq!(normalized(Some(&s)), DeploymentStatus::default());
    }
}
