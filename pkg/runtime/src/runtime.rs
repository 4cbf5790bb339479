//! The runtime's shared state and the plumbing every operation uses: paths, the helper
//! process, and tracking container exits.

use std::{
    collections::HashMap,
    os::fd::OwnedFd,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use tokio::sync::watch;

use crate::{
    attach, cgroup,
    helper::{self, Reply, Request},
    reaper, record, Error, ExitInfo, Result, RuntimeConfig,
};

/// How long a finished container's output may take to drain into its log before its exit is
/// reported anyway (a daemonized child could hold the pipe open forever).
const LOG_DRAIN: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub(crate) struct Inner {
    pub cfg: RuntimeConfig,
    tracked: Mutex<HashMap<String, Tracked>>,
    seq: AtomicU64,
    /// Running containers' stdin/pty and output, for attach.
    pub attach: attach::Registry,
}

/// A container whose exit this process watches.
#[derive(Debug, Clone)]
pub(crate) struct Tracked {
    /// For signals without a PID-reuse race.
    pub pidfd: Arc<OwnedFd>,
    pub exit: watch::Receiver<Option<ExitInfo>>,
}

impl Inner {
    pub(crate) fn new(cfg: RuntimeConfig) -> Self {
        Self {
            cfg,
            tracked: Mutex::default(),
            seq: AtomicU64::new(0),
            attach: attach::Registry::default(),
        }
    }

    pub(crate) fn containers_dir(&self) -> PathBuf {
        self.cfg.root.join("containers")
    }

    pub(crate) fn bundle(&self, id: &str) -> PathBuf {
        self.containers_dir().join(id)
    }

    /// libcontainer's state root.
    pub(crate) fn state_root(&self) -> PathBuf {
        self.cfg.root.join("state")
    }

    pub(crate) fn sandbox_dir(&self, id: &str) -> PathBuf {
        self.cfg.root.join("sandboxes").join(id)
    }

    /// Scratch files: helper results, console sockets.
    pub(crate) fn run_dir(&self) -> PathBuf {
        self.cfg.root.join("run")
    }

    pub(crate) fn cgroups_path(&self, id: &str) -> String {
        format!("{}/{id}", self.cfg.cgroup_parent.trim_end_matches('/'))
    }

    /// A name unique among this process' and earlier processes' scratch files.
    pub(crate) fn unique(&self, prefix: &str) -> String {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}{}-{n}", std::process::id())
    }

    /// Runs one helper operation with the given stdio (the container's or exec'd process').
    pub(crate) async fn helper(
        &self,
        req: &Request,
        stdio: [Stdio; 3],
    ) -> Result<Option<i32>, String> {
        let result = self.run_dir().join(self.unique("r") + ".json");
        let [stdin, stdout, stderr] = stdio;
        let status = tokio::process::Command::new(&self.cfg.helper_exe)
            .args(helper::argv(req, &result))
            .stdin(stdin)
            .stdout(stdout)
            .stderr(stderr)
            .status()
            .await
            .map_err(|e| format!("starting {}: {e}", self.cfg.helper_exe.display()))?;
        let reply = std::fs::read(&result)
            .ok()
            .and_then(|b| serde_json::from_slice::<Reply>(&b).ok());
        let _ = std::fs::remove_file(&result);
        match reply {
            Some(Reply { error: Some(e), .. }) => Err(e),
            Some(Reply { pid, error: None }) => Ok(pid),
            None => Err(format!("runtime helper failed ({status})")),
        }
    }

    pub(crate) fn tracked(&self, id: &str) -> Option<Tracked> {
        self.lock().get(id).cloned()
    }

    pub(crate) fn untrack(&self, id: &str) {
        self.lock().remove(id);
        self.attach.remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Tracked>> {
        self.tracked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Watches `pid`'s exit: once it exits (and its output drained), the exit is recorded in
    /// the bundle and published to `wait`ers.
    pub(crate) fn track(
        self: &Arc<Self>,
        id: &str,
        pid: i32,
        pidfd: OwnedFd,
        logs: Option<tokio::task::JoinHandle<()>>,
    ) -> Result<Tracked> {
        let for_wait = pidfd.try_clone().map_err(|source| Error::Io {
            op: "dup pidfd".into(),
            source,
        })?;
        let (tx, rx) = watch::channel(None);
        let tracked = Tracked {
            pidfd: Arc::new(pidfd),
            exit: rx,
        };
        self.lock().insert(id.to_string(), tracked.clone());
        let (inner, id) = (self.clone(), id.to_string());
        tokio::spawn(async move {
            let exit = reaper::wait(pid, for_wait).await;
            if let Some(logs) = logs {
                if tokio::time::timeout(LOG_DRAIN, logs).await.is_err() {
                    tracing::warn!(container = %id, "output still open after exit; not waiting for it");
                }
            }
            let info = ExitInfo {
                exit_code: exit.code,
                signal: exit.signal,
                oom_killed: cgroup::oom_kills(&inner.cgroups_path(&id)) > 0,
                finished_at: exit.at,
            };
            tracing::info!(container = %id, pid, exit_code = info.exit_code, signal = ?info.signal, oom_killed = info.oom_killed, "container exited");
            let bundle = inner.bundle(&id);
            if bundle.exists() {
                if let Err(e) = record::save_exit(&bundle, &info) {
                    tracing::warn!(container = %id, error = %e, "recording exit");
                }
            }
            let _ = tx.send(Some(info));
        });
        Ok(tracked)
    }
}

/// Creates `dir` and any parents.
pub(crate) fn mkdirs(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        op: format!("creating {}", dir.display()),
        source,
    })
}
