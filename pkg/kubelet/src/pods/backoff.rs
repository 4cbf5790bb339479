//! Restart and image-pull backoff: 10 s doubling to 300 s, reset after 10 min of running;
//! delays printed as Go's time.Duration does (`10s`, `1m20s`, `5m0s`). Upstream keeps the
//! backoff in memory only; rkube restores it after an agent restart from the pod's status
//! (`restore`), so a crash-looping container is not restarted at once.

use std::time::{Duration, SystemTime};

use k8s_openapi::api::core::v1::ContainerStatus;

pub const INITIAL: Duration = Duration::from_secs(10);
pub const MAX: Duration = Duration::from_secs(300);
pub const RESET_AFTER: Duration = Duration::from_secs(600);

/// Given the current backoff and how long the instance ran: the delay before the next
/// restart and the backoff after it. The first crash restarts at once, as upstream.
pub fn next(current: Option<Duration>, ran: Duration) -> (Duration, Duration) {
    match current {
        Some(d) if ran < RESET_AFTER => (d, (d * 2).min(MAX)),
        _ => (Duration::ZERO, INITIAL),
    }
}

/// The backoff held after `restart_count` restarts that all crashed quickly: the delay before
/// the next restart (None before the first crash was handled).
pub fn after_restarts(restart_count: i32) -> Option<Duration> {
    if restart_count <= 0 {
        return None;
    }
    let doublings = (restart_count - 1).min(16) as u32;
    Some((INITIAL * 2u32.pow(doublings)).min(MAX))
}

/// A crash-loop backoff rebuilt from the API after an agent restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The delay the container was waiting out, and when it ends.
    pub delay: Duration,
    pub until: SystemTime,
    /// The backoff after that restart.
    pub next: Duration,
}

/// For a container the API shows in CrashLoopBackOff: its restartCount says how far the
/// backoff had doubled, lastState.terminated how long the crashed run lasted (a run of 10 min
/// resets it) and when it ended, from which the wait counts. None for anything else (running,
/// or a reboot: those start again at once).
pub fn restore(status: &ContainerStatus) -> Option<Restored> {
    let waiting = status.state.as_ref()?.waiting.as_ref()?;
    if waiting.reason.as_deref() != Some("CrashLoopBackOff") {
        return None;
    }
    let last = status.last_state.as_ref()?.terminated.as_ref()?;
    let finished: SystemTime = last.finished_at.as_ref()?.0.into();
    let started: SystemTime = last.started_at.as_ref().map_or(finished, |t| t.0.into());
    let ran = finished.duration_since(started).unwrap_or_default();
    let (delay, next) = next(after_restarts(status.restart_count), ran);
    Some(Restored {
        delay,
        until: finished + delay,
        next,
    })
}

pub fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{}m{}s", s / 3600, (s % 3600) / 60, s % 60)
    } else if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_caps_and_resets() {
        let (d, b) = next(None, Duration::ZERO);
        assert_eq!((d, b), (Duration::ZERO, INITIAL));
        let (d, b) = next(Some(b), Duration::from_secs(1));
        assert_eq!((d, b), (INITIAL, Duration::from_secs(20)));
        let (d, _) = next(Some(MAX), Duration::from_secs(1));
        assert_eq!(d, MAX);
        assert_eq!(next(Some(MAX), Duration::from_secs(601)).0, Duration::ZERO);
        assert_eq!(go_duration(Duration::from_secs(10)), "10s");
        assert_eq!(go_duration(Duration::from_secs(80)), "1m20s");
        assert_eq!(go_duration(MAX), "5m0s");
    }

    fn status(restarts: i32, waiting: &str, started: &str, finished: &str) -> ContainerStatus {
        serde_json::from_value(serde_json::json!({
            "name": "c", "image": "busybox", "imageID": "", "ready": false,
            "restartCount": restarts,
            "state": {"waiting": {"reason": waiting}},
            "lastState": {"terminated": {"exitCode": 1, "startedAt": started, "finishedAt": finished}},
        }))
        .unwrap()
    }

    fn at(rfc3339: &str) -> SystemTime {
        rfc3339
            .parse::<k8s_openapi::jiff::Timestamp>()
            .unwrap()
            .into()
    }

    #[test]
    fn backoff_after_restarts_matches_the_live_doubling() {
        // Replaying quick crashes through next() gives the same backoff as the formula.
        let mut b = None;
        for restarts in 0..12 {
            assert_eq!(after_restarts(restarts), b, "after {restarts} restarts");
            b = Some(next(b, Duration::from_secs(1)).1);
        }
        assert_eq!(after_restarts(1000), Some(MAX));
    }

    #[test]
    fn crash_loop_restored_from_the_pod_status() {
        // 3 restarts, the last run 2 s long: it was waiting 40 s from its finish.
        let s = status(
            3,
            "CrashLoopBackOff",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:02Z",
        );
        assert_eq!(
            restore(&s),
            Some(Restored {
                delay: Duration::from_secs(40),
                until: at("2026-01-01T00:00:42Z"),
                next: Duration::from_secs(80),
            })
        );
        // Capped at 5 min.
        let s = status(
            9,
            "CrashLoopBackOff",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:02Z",
        );
        assert_eq!(restore(&s).unwrap().delay, MAX);
        // A run of 10 min or more resets the backoff: no wait.
        let s = status(
            5,
            "CrashLoopBackOff",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:11:00Z",
        );
        let r = restore(&s).unwrap();
        assert_eq!((r.delay, r.next), (Duration::ZERO, INITIAL));
        // Not crash-looping: nothing to restore.
        assert_eq!(
            restore(&status(
                3,
                "ContainerCreating",
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:00:02Z"
            )),
            None
        );
    }
}
