//! Deployment conditions and the reasons upstream gives them.

use k8s_openapi::{
    api::apps::v1::{DeploymentCondition, DeploymentStatus},
    apimachinery::pkg::apis::meta::v1::Time,
    jiff::Timestamp,
};

pub(crate) const AVAILABLE: &str = "Available";
pub(crate) const PROGRESSING: &str = "Progressing";
pub(crate) const REPLICA_FAILURE: &str = "ReplicaFailure";

pub(crate) const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
pub(crate) const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";
pub(crate) const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
pub(crate) const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
pub(crate) const RS_UPDATED: &str = "ReplicaSetUpdated";
pub(crate) const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub(crate) const TIMED_OUT: &str = "ProgressDeadlineExceeded";
pub(crate) const PAUSED: &str = "DeploymentPaused";
pub(crate) const RESUMED: &str = "DeploymentResumed";
pub(crate) const FAILED_RS_CREATE: &str = "ReplicaSetCreateError";

pub(crate) fn new(
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

pub(crate) fn get<'a>(
    status: &'a DeploymentStatus,
    type_: &str,
) -> Option<&'a DeploymentCondition> {
    status
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// `SetDeploymentCondition`: no-op when status and reason are unchanged; keeps the transition
/// time when only the reason changes; replaces the condition of that type, appending it last.
pub(crate) fn set(status: &mut DeploymentStatus, mut cond: DeploymentCondition) {
    if let Some(cur) = get(status, &cond.type_) {
        if cur.status == cond.status && cur.reason == cond.reason {
            return;
        }
        if cur.status == cond.status {
            cond.last_transition_time = cur.last_transition_time.clone();
        }
    }
    remove(status, &cond.type_);
    status.conditions.get_or_insert_with(Vec::new).push(cond);
}

pub(crate) fn remove(status: &mut DeploymentStatus, type_: &str) {
    if let Some(conds) = status.conditions.as_mut() {
        conds.retain(|c| c.type_ != type_);
        if conds.is_empty() {
            status.conditions = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn set_keeps_transition_time_for_same_status() {
        let mut st = DeploymentStatus::default();
        set(
            &mut st,
            new(
                PROGRESSING,
                "True",
                NEW_RS_CREATED,
                "created".into(),
                ts(10),
            ),
        );
        set(
            &mut st,
            new(
                AVAILABLE,
                "False",
                MINIMUM_REPLICAS_UNAVAILABLE,
                "x".into(),
                ts(10),
            ),
        );
        // Same status and reason: untouched.
        set(
            &mut st,
            new(PROGRESSING, "True", NEW_RS_CREATED, "again".into(), ts(20)),
        );
        assert_eq!(
            get(&st, PROGRESSING).unwrap().message.as_deref(),
            Some("created")
        );
        // New reason, same status: transition time kept, moved last.
        set(
            &mut st,
            new(PROGRESSING, "True", NEW_RS_AVAILABLE, "done".into(), ts(30)),
        );
        let c = get(&st, PROGRESSING).unwrap();
        assert_eq!(c.last_transition_time, Some(Time(ts(10))));
        assert_eq!(c.last_update_time, Some(Time(ts(30))));
        assert_eq!(
            st.conditions.as_ref().unwrap().last().unwrap().type_,
            PROGRESSING
        );
        // New status: new transition time.
        set(
            &mut st,
            new(PROGRESSING, "False", TIMED_OUT, "late".into(), ts(40)),
        );
        assert_eq!(
            get(&st, PROGRESSING).unwrap().last_transition_time,
            Some(Time(ts(40)))
        );
        remove(&mut st, PROGRESSING);
        remove(&mut st, AVAILABLE);
        assert!(st.conditions.is_none());
    }
}
