//! Pod facts controllers go by (upstream's podutil and controller helpers).

use k8s_openapi::{
    api::core::v1::{Pod, PodCondition},
    jiff::Timestamp,
};

pub(crate) fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// `controller.IsPodActive`: not finished and not being deleted.
pub(crate) fn is_active(pod: &Pod) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && pod.metadata.deletion_timestamp.is_none()
}

fn ready_condition(pod: &Pod) -> Option<&PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

pub(crate) fn is_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some_and(|c| c.status == "True")
}

/// When the pod last became ready (`None` when it is not ready or the time is unknown).
pub(crate) fn ready_since(pod: &Pod) -> Option<Timestamp> {
    ready_condition(pod)
        .filter(|c| c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

/// `podutil.IsPodAvailable`: ready, and for longer than `min_ready_seconds`.
pub(crate) fn is_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    if !is_ready(pod) {
        return false;
    }
    if min_ready_seconds <= 0 {
        return true;
    }
    ready_since(pod).is_some_and(|t| t.as_second() + i64::from(min_ready_seconds) < now.as_second())
}

/// How long until a ready pod becomes available (`None` if it is not ready or already is).
pub(crate) fn until_available(
    pod: &Pod,
    min_ready_seconds: i32,
    now: Timestamp,
) -> Option<std::time::Duration> {
    if min_ready_seconds <= 0 || !is_ready(pod) || is_available(pod, min_ready_seconds, now) {
        return None;
    }
    let since = ready_since(pod)?;
    let at = since.as_second() + i64::from(min_ready_seconds) + 1;
    Some(std::time::Duration::from_secs(
        u64::try_from(at - now.as_second()).unwrap_or(0).max(1),
    ))
}

/// The highest restart count among the pod's containers.
pub(crate) fn max_restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| cs.iter().map(|c| c.restart_count).max().unwrap_or(0))
        .unwrap_or(0)
}

/// A whole-second timestamp, as the API serializes times.
pub(crate) fn now() -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
pub(crate) mod testing {
    use k8s_openapi::{
        api::core::v1::{ContainerStatus, PodSpec, PodStatus},
        apimachinery::pkg::apis::meta::v1::Time,
    };

    use super::*;

    pub(crate) fn ts(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    /// A pod: `node` may be empty, `ready_at` is when it became ready.
    pub(crate) fn pod(
        name: &str,
        node: &str,
        phase: &str,
        ready_at: Option<i64>,
        created: i64,
        restarts: i32,
    ) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.namespace = Some("default".into());
        p.metadata.uid = Some(format!("uid-{name}"));
        p.metadata.creation_timestamp = Some(Time(ts(created)));
        p.spec = Some(PodSpec {
            node_name: (!node.is_empty()).then(|| node.into()),
            ..Default::default()
        });
        p.status = Some(PodStatus {
            phase: Some(phase.into()),
            conditions: ready_at.map(|t| {
                vec![PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_transition_time: Some(Time(ts(t))),
                    ..Default::default()
                }]
            }),
            container_statuses: Some(vec![ContainerStatus {
                restart_count: restarts,
                ..Default::default()
            }]),
            ..Default::default()
        });
        p
    }
}

#[cfg(test)]
mod tests {
    use super::{testing::*, *};

    #[test]
    fn availability_waits_min_ready_seconds() {
        let p = pod("a", "n1", "Running", Some(100), 50, 0);
        assert!(is_ready(&p));
        assert!(is_available(&p, 0, ts(100)));
        assert!(!is_available(&p, 10, ts(110)));
        assert!(is_available(&p, 10, ts(111)));
        assert_eq!(
            until_available(&p, 10, ts(105)),
            Some(std::time::Duration::from_secs(6))
        );
        assert_eq!(until_available(&p, 10, ts(200)), None);
        let unready = pod("b", "n1", "Running", None, 50, 0);
        assert!(!is_available(&unready, 0, ts(100)));
    }

    #[test]
    fn activity() {
        let mut p = pod("a", "", "Pending", None, 0, 0);
        assert!(is_active(&p));
        p.status.as_mut().unwrap().phase = Some("Succeeded".into());
        assert!(!is_active(&p));
        let mut q = pod("b", "", "Running", None, 0, 3);
        assert_eq!(max_restarts(&q), 3);
        q.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(ts(1)));
        assert!(!is_active(&q));
    }
}
