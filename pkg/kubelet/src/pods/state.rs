//! What a pod worker knows about each of its containers.

use std::time::{Duration, Instant, SystemTime};

use rkube_runtime::ExitInfo;

/// One run of a container.
#[derive(Debug, Clone)]
pub struct Instance {
    /// rkube-runtime container id (`<pod-uid>-<name>-<restart>`).
    pub id: String,
    pub started_at: SystemTime,
    pub exit: Option<ExitInfo>,
    /// run_container failed (ContainerCannotRun).
    pub cannot_run: Option<String>,
}

/// A finished instance as the API shows it (state.terminated / lastState.terminated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terminated {
    pub container_id: String,
    pub exit_code: i32,
    pub signal: Option<i32>,
    pub reason: String,
    pub message: Option<String>,
    pub started_at: SystemTime,
    pub finished_at: SystemTime,
}

impl Instance {
    pub fn running(&self) -> bool {
        self.exit.is_none() && self.cannot_run.is_none()
    }

    pub fn terminated(&self) -> Option<Terminated> {
        if let Some(msg) = &self.cannot_run {
            return Some(Terminated {
                container_id: self.id.clone(),
                exit_code: 128,
                signal: None,
                reason: "ContainerCannotRun".into(),
                message: Some(msg.clone()),
                started_at: self.started_at,
                finished_at: self.started_at,
            });
        }
        let e = self.exit.as_ref()?;
        let reason = if e.oom_killed {
            "OOMKilled"
        } else if e.exit_code == 0 {
            "Completed"
        } else {
            "Error"
        };
        Some(Terminated {
            container_id: self.id.clone(),
            exit_code: e.exit_code,
            signal: e.signal,
            reason: reason.into(),
            message: None,
            started_at: self.started_at,
            finished_at: e.finished_at,
        })
    }
}

#[derive(Debug, Clone)]
pub struct ContainerState {
    pub name: String,
    pub init: bool,
    /// A sidecar: an init container with restartPolicy Always, kept running beside the app
    /// containers.
    pub sidecar: bool,
    /// A sidecar's startup finished once (started, startupProbe passed): later init
    /// containers and the app containers may start.
    pub started_once: bool,
    /// The image as written in the spec, and the resolved repo digest.
    pub image: String,
    pub image_id: String,
    pub restart_count: i32,
    pub instance: Option<Instance>,
    pub last: Option<Terminated>,
    /// Shown instead of the instance's state (ErrImagePull, CrashLoopBackOff, ...).
    pub waiting: Option<(String, String)>,
    /// Crash-loop backoff: the next delay, and when a restart may happen.
    pub backoff: Option<Duration>,
    pub not_before: Option<Instant>,
    /// Image pull backoff.
    pub pull_backoff: Option<Duration>,
    pub pull_not_before: Option<Instant>,
    /// Readiness as the probes say (true without a readiness probe once running).
    pub ready: bool,
    pub probe_successes: i32,
    pub probe_failures: i32,
    pub liveness_failures: i32,
}

impl ContainerState {
    pub fn new(name: &str, image: &str, init: bool) -> ContainerState {
        ContainerState {
            name: name.into(),
            init,
            sidecar: false,
            started_once: false,
            image: image.into(),
            image_id: String::new(),
            restart_count: 0,
            instance: None,
            last: None,
            waiting: None,
            backoff: None,
            not_before: None,
            pull_backoff: None,
            pull_not_before: None,
            ready: false,
            probe_successes: 0,
            probe_failures: 0,
            liveness_failures: 0,
        }
    }

    pub fn running(&self) -> bool {
        self.instance.as_ref().is_some_and(Instance::running)
    }

    /// Exited (and not being restarted yet): the terminated record.
    pub fn terminated(&self) -> Option<Terminated> {
        self.instance.as_ref().and_then(Instance::terminated)
    }

    /// An init container that finished successfully.
    pub fn succeeded(&self) -> bool {
        self.terminated().is_some_and(|t| t.exit_code == 0)
    }

    /// An init container the pod no longer waits for: a regular one that succeeded, a
    /// sidecar that started.
    pub fn init_done(&self) -> bool {
        if self.sidecar {
            self.started_once
        } else {
            self.succeeded()
        }
    }

    /// Running, past its startup, and ready as its readiness probe says.
    pub fn running_ready(&self) -> bool {
        self.running() && self.waiting.is_none() && self.ready
    }
}
