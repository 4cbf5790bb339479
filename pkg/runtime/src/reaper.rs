//! Seeing a process exit without polling: a pidfd in tokio's reactor, then waitid for the
//! status. We are a child subreaper, so container processes are (re-parented) children; after
//! an agent restart they are not, and the exit code is then unknown.

use std::{os::fd::OwnedFd, time::SystemTime};

use nix::{
    errno::Errno,
    sys::wait::{waitid, Id, WaitPidFlag, WaitStatus},
    unistd::Pid,
};

/// containerd's convention for an exit status it could not collect.
pub(crate) const UNKNOWN_EXIT_CODE: i32 = 255;

/// The exit of one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exit {
    pub code: i32,
    pub signal: Option<i32>,
    pub at: SystemTime,
}

/// Resolves when `pid` (referred to by `pidfd`) has exited, reaping it if it is our child.
pub(crate) async fn wait(pid: i32, pidfd: OwnedFd) -> Exit {
    match crate::sys::async_pidfd(pidfd) {
        Ok(fd) => {
            if let Ok(mut guard) = fd.readable().await {
                guard.retain_ready();
            }
        }
        Err(e) => tracing::warn!(pid, error = %e, "registering pidfd; waiting in a thread"),
    }
    let at = SystemTime::now();
    // The process has exited: WNOHANG cannot block for long; blocking waitid covers the
    // moment between its exit and its re-parenting to us.
    let status = match waitid(
        Id::Pid(Pid::from_raw(pid)),
        WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG,
    ) {
        Ok(WaitStatus::StillAlive) => tokio::task::spawn_blocking(move || {
            waitid(Id::Pid(Pid::from_raw(pid)), WaitPidFlag::WEXITED)
        })
        .await
        .unwrap_or(Err(Errno::ECHILD)),
        other => other,
    };
    match status {
        Ok(WaitStatus::Exited(_, code)) => Exit {
            code,
            signal: None,
            at,
        },
        Ok(WaitStatus::Signaled(_, sig, _)) => Exit {
            code: 128 + sig as i32,
            signal: Some(sig as i32),
            at,
        },
        other => {
            tracing::debug!(pid, status = ?other, "exit status unknown (not our child)");
            Exit {
                code: UNKNOWN_EXIT_CODE,
                signal: None,
                at,
            }
        }
    }
}

/// The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), to tell
/// a re-adopted container from a reused PID.
pub(crate) fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may contain spaces and parentheses: fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_of_self() {
        assert!(start_time(std::process::id() as i32).is_some_and(|t| t > 0));
    }
}
