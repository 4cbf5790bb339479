//! Stopping one container the kubelet decided to kill while its pod keeps running (liveness
//! or startup probe failure, postStart failure, activeDeadlineSeconds), as upstream's
//! killContainer: the preStop hook first (within the grace period), then SIGTERM, then SIGKILL
//! once the rest of the grace period (at least 2 s) has passed.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Container, Pod};
use rkube_runtime::{ExitInfo, Runtime, Sandbox};
use tracing::{debug, warn};

use super::Recorder;
use crate::hooks::{self, Hook};

const SIGTERM: i32 = 15;
const SIGKILL: i32 = 9;
/// Upstream's minimumGracePeriodInSeconds: a container always gets this long after SIGTERM.
pub const MIN_GRACE: Duration = Duration::from_secs(2);

/// Upstream's containerKillReason, as far as it picks the grace period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    LivenessProbe,
    StartupProbe,
    FailedPostStartHook,
    DeadlineExceeded,
}

/// Upstream's setTerminationGracePeriod: the deletion's grace period, else the probe's own
/// terminationGracePeriodSeconds for probe kills, else the pod's (30 s by default).
pub fn grace_period(pod: &Pod, spec: &Container, reason: Reason) -> Duration {
    let secs = |s: i64| Duration::from_secs(s.max(0) as u64);
    if let Some(s) = pod.metadata.deletion_grace_period_seconds {
        return secs(s);
    }
    let probe = match reason {
        Reason::LivenessProbe => spec.liveness_probe.as_ref(),
        Reason::StartupProbe => spec.startup_probe.as_ref(),
        _ => None,
    };
    if let Some(s) = probe.and_then(|p| p.termination_grace_period_seconds) {
        return secs(s);
    }
    secs(
        pod.spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds)
            .unwrap_or(30),
    )
}

/// Everything a kill needs, owned, so it can run in its own task.
#[derive(Clone)]
pub struct Kill {
    pub runtime: Runtime,
    pub sandbox: Option<Sandbox>,
    pub events: Recorder,
    pub pod: Pod,
    pub spec: Container,
    /// The instance (runtime container id).
    pub id: String,
    pub field_path: Option<String>,
}

impl Kill {
    /// preStop, SIGTERM, the rest of `grace` (at least 2 s), SIGKILL. Returns the exit when it
    /// was seen (None: the container was already gone).
    pub async fn run(self, grace: Duration) -> Option<ExitInfo> {
        let started = Instant::now();
        if let (Some(sb), true) = (&self.sandbox, !grace.is_zero()) {
            if Hook::PreStop.handler(&self.spec).is_some() {
                let r = hooks::run(
                    &self.runtime,
                    sb,
                    &self.pod,
                    &self.spec,
                    &self.id,
                    Hook::PreStop,
                    grace,
                )
                .await;
                if let Err(msg) = r {
                    warn!(container = %self.spec.name, error = %msg, "preStop hook failed");
                    self.events.record(
                        &self.pod,
                        self.field_path.clone(),
                        true,
                        Hook::PreStop.failed_reason(),
                        msg,
                    );
                }
            }
        }
        let rest = grace.saturating_sub(started.elapsed()).max(MIN_GRACE);
        if let Err(e) = self.runtime.kill(&self.id, SIGTERM).await {
            debug!(container = %self.id, error = %e, "SIGTERM failed");
        }
        if let Ok(Ok(exit)) = tokio::time::timeout(rest, self.runtime.wait(&self.id)).await {
            return Some(exit);
        }
        let _ = self.runtime.kill(&self.id, SIGKILL).await;
        match tokio::time::timeout(Duration::from_secs(10), self.runtime.wait(&self.id)).await {
            Ok(Ok(exit)) => Some(exit),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_periods_as_upstream() {
        let pod = |v: serde_json::Value| -> Pod { serde_json::from_value(v).unwrap() };
        let spec: Container = serde_json::from_value(serde_json::json!({
            "name": "c",
            "livenessProbe": {"exec": {"command": ["true"]}, "terminationGracePeriodSeconds": 3},
            "startupProbe": {"exec": {"command": ["true"]}},
        }))
        .unwrap();
        let p = pod(
            serde_json::json!({"spec": {"containers": [], "terminationGracePeriodSeconds": 7}}),
        );
        assert_eq!(
            grace_period(&p, &spec, Reason::LivenessProbe),
            Duration::from_secs(3)
        );
        assert_eq!(
            grace_period(&p, &spec, Reason::StartupProbe),
            Duration::from_secs(7)
        );
        assert_eq!(
            grace_period(&p, &spec, Reason::DeadlineExceeded),
            Duration::from_secs(7)
        );
        let deleting = pod(serde_json::json!({
            "metadata": {"deletionGracePeriodSeconds": 1},
            "spec": {"containers": [], "terminationGracePeriodSeconds": 7},
        }));
        assert_eq!(
            grace_period(&deleting, &spec, Reason::LivenessProbe),
            Duration::from_secs(1)
        );
        let default = pod(serde_json::json!({"spec": {"containers": []}}));
        assert_eq!(
            grace_period(&default, &spec, Reason::FailedPostStartHook),
            Duration::from_secs(30)
        );
    }
}
