//! What a pod worker tracks for lifecycle completeness beyond its container states: termination
//! messages, startup-probe gating, activeDeadlineSeconds and the volume refresh clock, and how
//! they show in the pod status it writes.

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    time::{Duration, Instant, SystemTime},
};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Container, Pod};
use rkube_runtime::{LogOptions, Mount, MountKind};
use serde_json::{json, Value};

use crate::status::CONTAINER_ID_PREFIX;

pub const DEFAULT_MESSAGE_PATH: &str = "/dev/termination-log";
/// Upstream's limits: the file's first 4 KiB; logs: the last 80 lines, at most 2 KiB.
pub const MAX_MESSAGE: usize = 4096;
pub const MAX_LOG_LINES: u64 = 80;
pub const MAX_LOG_MESSAGE: usize = 2048;
/// How often configMap/secret/downwardAPI/projected volumes are compared with the API
/// (upstream: the sync period, one minute, plus its cache TTL).
pub const VOLUME_REFRESH: Duration = Duration::from_secs(10);
pub const DEADLINE_REASON: &str = "DeadlineExceeded";
pub const DEADLINE_MESSAGE: &str = "Pod was active on the node longer than the specified deadline";

#[derive(Debug, Default)]
pub struct Lifecycle {
    /// Instance id -> its termination message, read when it exited.
    pub messages: HashMap<String, String>,
    /// Instances whose startup probe has not succeeded yet (not started, not ready).
    pub unstarted: HashSet<String>,
    /// activeDeadlineSeconds passed: containers killed, phase Failed, nothing restarts.
    pub deadline_exceeded: bool,
    /// When activeDeadlineSeconds runs out (the worker's timer).
    pub deadline_at: Option<Instant>,
    pub refresh_at: Option<Instant>,
    /// Instance id -> its probe tasks, aborted when it exits.
    pub probe_tasks: HashMap<String, Vec<tokio::task::AbortHandle>>,
}

/// The host file bind-mounted at terminationMessagePath for one instance.
pub fn message_file(pod_dir: &Path, container: &str, restart: i32) -> PathBuf {
    pod_dir
        .join(".termination")
        .join(format!("{container}-{restart}"))
}

/// Creates the (empty) message file and the mount for it.
pub fn message_mount(c: &Container, file: &Path) -> std::io::Result<Mount> {
    if let Some(d) = file.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(file, b"")?;
    let dest = c
        .termination_message_path
        .clone()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_MESSAGE_PATH.into());
    Ok(Mount {
        source: file.to_path_buf(),
        destination: dest,
        read_only: false,
        kind: MountKind::Bind,
    })
}

/// The message of an instance that exited: the file's content, else (FallbackToLogsOnError
/// and a failure) the tail of its log.
pub async fn read_message(
    c: &Container,
    file: &Path,
    log: &Path,
    exit_code: i32,
) -> Option<String> {
    let mut text = std::fs::read(file).unwrap_or_default();
    text.truncate(MAX_MESSAGE);
    if text.is_empty()
        && exit_code != 0
        && c.termination_message_policy.as_deref() == Some("FallbackToLogsOnError")
    {
        let opts = LogOptions {
            tail_lines: Some(MAX_LOG_LINES),
            stdout: true,
            stderr: true,
            ..LogOptions::default()
        };
        let mut s = std::pin::pin!(rkube_runtime::read_logs(log, opts));
        while let Some(Ok(b)) = s.next().await {
            text.extend_from_slice(&b);
        }
        if text.len() > MAX_LOG_MESSAGE {
            text.drain(..text.len() - MAX_LOG_MESSAGE);
        }
    }
    (!text.is_empty()).then(|| String::from_utf8_lossy(&text).into_owned())
}

/// When activeDeadlineSeconds runs out, counted from the pod's startTime.
pub fn active_deadline(pod: &Pod, start_time: Option<&str>) -> Option<SystemTime> {
    let secs = pod.spec.as_ref()?.active_deadline_seconds?;
    let start: k8s_openapi::jiff::Timestamp = start_time?.parse().ok()?;
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(start.as_second().max(0) as u64);
    Some(start + Duration::from_secs(secs.max(0) as u64))
}

/// A wall-clock time as an Instant for the worker's timer.
pub fn instant_of(t: SystemTime) -> Instant {
    let now = Instant::now();
    match t.duration_since(SystemTime::now()) {
        Ok(d) => now + d,
        Err(_) => now,
    }
}

/// Applies what this module tracks to a status built by `status::build`.
pub fn apply(st: &mut Value, life: &Lifecycle) {
    if life.deadline_exceeded {
        st["phase"] = json!("Failed");
        st["reason"] = json!(DEADLINE_REASON);
        st["message"] = json!(DEADLINE_MESSAGE);
    }
    for key in [
        "containerStatuses",
        "initContainerStatuses",
        "ephemeralContainerStatuses",
    ] {
        let Some(list) = st.get_mut(key).and_then(Value::as_array_mut) else {
            continue;
        };
        for cs in list {
            let id = cs["containerID"]
                .as_str()
                .and_then(|s| s.strip_prefix(CONTAINER_ID_PREFIX))
                .map(str::to_string);
            if let Some(id) = &id {
                if life.unstarted.contains(id) {
                    cs["started"] = json!(false);
                    cs["ready"] = json!(false);
                }
            }
            for state in ["state", "lastState"] {
                let Some(t) = cs
                    .get_mut(state)
                    .and_then(|s| s.get_mut("terminated"))
                    .filter(|t| t.get("message").is_none())
                else {
                    continue;
                };
                let tid = t["containerID"]
                    .as_str()
                    .and_then(|s| s.strip_prefix(CONTAINER_ID_PREFIX))
                    .unwrap_or_default();
                if let Some(m) = life.messages.get(tid) {
                    t["message"] = json!(m);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_gets_messages_started_and_deadline() {
        let mut life = Lifecycle::default();
        life.messages.insert("u-c-0".into(), "bye".into());
        life.unstarted.insert("u-d-0".into());
        let p = CONTAINER_ID_PREFIX;
        let mut st = json!({"phase": "Running", "containerStatuses": [
            {"name": "c", "containerID": format!("{p}u-c-1"), "started": true,
             "state": {"running": {}}, "lastState": {"terminated": {"containerID": format!("{p}u-c-0")}}},
            {"name": "d", "containerID": format!("{p}u-d-0"), "started": true, "ready": true,
             "state": {"running": {}}, "lastState": {}},
        ]});
        apply(&mut st, &life);
        assert_eq!(
            st["containerStatuses"][0]["lastState"]["terminated"]["message"],
            "bye"
        );
        assert_eq!(st["containerStatuses"][0]["started"], true);
        assert_eq!(st["containerStatuses"][1]["started"], false);
        assert_eq!(st["containerStatuses"][1]["ready"], false);
        assert_eq!(st["phase"], "Running");
        life.deadline_exceeded = true;
        apply(&mut st, &life);
        assert_eq!(st["phase"], "Failed");
        assert_eq!(st["reason"], "DeadlineExceeded");
    }

    #[tokio::test]
    async fn messages_from_the_file_or_the_log() {
        let d = tempfile::tempdir().unwrap();
        let c: Container = serde_json::from_value(json!({"name": "c",
            "terminationMessagePolicy": "FallbackToLogsOnError"}))
        .unwrap();
        let file = message_file(d.path(), "c", 0);
        let m = message_mount(&c, &file).unwrap();
        assert_eq!(m.destination, DEFAULT_MESSAGE_PATH);
        let log = d.path().join("0.log");
        std::fs::write(
            &log,
            "2026-01-01T00:00:00.000000000Z stdout F first\n2026-01-01T00:00:00.100000000Z stderr F oops\n",
        )
        .unwrap();
        assert_eq!(read_message(&c, &file, &log, 0).await, None);
        assert_eq!(
            read_message(&c, &file, &log, 1).await.as_deref(),
            Some("first\noops\n")
        );
        std::fs::write(&file, "written").unwrap();
        assert_eq!(
            read_message(&c, &file, &log, 1).await.as_deref(),
            Some("written")
        );
    }

    #[test]
    fn deadline_from_start_time() {
        let pod: Pod = serde_json::from_value(json!({"metadata": {},
            "spec": {"activeDeadlineSeconds": 5, "containers": []}}))
        .unwrap();
        let t = active_deadline(&pod, Some("2026-01-01T00:00:00Z")).unwrap();
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        assert_eq!(t, start + Duration::from_secs(5));
    }
}
