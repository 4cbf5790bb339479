//! Lifecycle hooks: postStart (right after the container starts; a failure kills it) and
//! preStop (before SIGTERM, within the grace period). exec, httpGet and tcpSocket run as the
//! probes do (in the container / its network namespace); sleep waits.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, LifecycleHandler, Pod, Probe};
use rkube_runtime::{Runtime, Sandbox};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    PostStart,
    PreStop,
}

impl Hook {
    pub fn handler(self, c: &Container) -> Option<&LifecycleHandler> {
        let l = c.lifecycle.as_ref()?;
        match self {
            Hook::PostStart => l.post_start.as_ref(),
            Hook::PreStop => l.pre_stop.as_ref(),
        }
    }

    /// The event reason of a failure (upstream's FailedPostStartHook / FailedPreStopHook).
    pub fn failed_reason(self) -> &'static str {
        match self {
            Hook::PostStart => "FailedPostStartHook",
            Hook::PreStop => "FailedPreStopHook",
        }
    }
}

/// Runs the container's `hook`, if it has one, for at most `limit`; Err is the event message
/// in upstream's words.
pub async fn run(
    runtime: &Runtime,
    sandbox: &Sandbox,
    pod: &Pod,
    c: &Container,
    instance: &str,
    hook: Hook,
    limit: Duration,
) -> Result<(), String> {
    let Some(h) = hook.handler(c) else {
        return Ok(());
    };
    let pod_ref = format!(
        "{}_{}({})",
        pod.metadata.name.as_deref().unwrap_or_default(),
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.uid.as_deref().unwrap_or_default()
    );
    if let Some(s) = &h.sleep {
        let d = Duration::from_secs(s.seconds.max(0) as u64).min(limit);
        tokio::time::sleep(d).await;
        return Ok(());
    }
    let probe = Probe {
        exec: h.exec.clone(),
        http_get: h.http_get.clone(),
        tcp_socket: h.tcp_socket.clone(),
        ..Probe::default()
    };
    let r = tokio::time::timeout(
        limit,
        crate::probes::run_once(runtime, sandbox, c, instance, &probe),
    )
    .await
    .unwrap_or_else(|_| Err(format!("timeout after {}s", limit.as_secs())));
    r.map_err(|e| {
        if let Some(x) = &h.exec {
            format!(
                "Exec lifecycle hook ({:?}) for Container {:?} in Pod {pod_ref:?} failed - error: {e}",
                x.command.clone().unwrap_or_default(),
                c.name
            )
        } else if let Some(x) = &h.http_get {
            format!(
                "HTTP lifecycle hook ({}) for Container {:?} in Pod {pod_ref:?} failed - error: {e}",
                x.path.as_deref().unwrap_or_default(),
                c.name
            )
        } else {
            format!(
                "Lifecycle hook for Container {:?} in Pod {pod_ref:?} failed - error: {e}",
                c.name
            )
        }
    })
}
