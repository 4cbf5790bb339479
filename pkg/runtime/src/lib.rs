//! rkube-runtime: pods' containers as real Linux containers through youki's libcontainer.
//!
//! libcontainer forks and is not safe to call concurrently from a multi-threaded process, so every
//! libcontainer call runs in a short-lived re-exec of the rkube binary (`rkube __runtime ...`,
//! [`helper_main`]); this process is a child subreaper, so container processes are re-parented to it
//! and their exits are seen at once. No Kubernetes types here.
//!
//! Choices worth knowing:
//! - Exits are seen through a pidfd in tokio's reactor, then `waitid` on that one PID (never
//!   `waitpid(-1)`). A container started by an earlier agent process is re-adopted by
//!   [`Runtime::list`]/[`Runtime::wait`] (PID plus start time, so a reused PID is not mistaken
//!   for it), but only the parent can collect an exit status: its exit code is then reported
//!   as 255 (containerd's convention for "unknown").
//! - stdout/stderr are FIFOs in the bundle that the container holds read-write: it never gets
//!   EPIPE while no agent reads, and a restarted agent reopens them and continues the CRI log.
//! - A container's own stdin (a third FIFO) and TTY (a pty through libcontainer's console
//!   socket) stay with the runtime, and its output is also broadcast, so `kubectl attach` can
//!   connect at any time ([`Runtime::attach`]) while the log still records everything.

mod attach;
mod cgroup;
mod console;
mod container;
mod dial;
mod exec;
mod helper;
mod logs;
mod overlay;
mod pty;
mod reaper;
mod record;
mod runtime;
mod sandbox;
mod spec;
mod sys;

use std::{path::PathBuf, sync::Arc, time::SystemTime};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("container {0:?} not found")]
    NotFound(String),
    #[error("container {0:?} already exists")]
    AlreadyExists(String),
    /// The container could not be created or started (reason ContainerCannotRun / StartError).
    #[error("{0}")]
    CannotRun(String),
    #[error("{op}: {source}")]
    Io {
        op: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How to start the helper: the rkube binary (normally `std::env::current_exe()`) and the hidden
/// subcommand that leads to [`helper_main`].
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// `<data-dir>/agent/containers`: bundles, state, sandboxes' namespace files.
    pub root: PathBuf,
    pub helper_exe: PathBuf,
    /// Absolute cgroup parent for pods, e.g. `/rkube` (cgroupsPath = `<parent>/pod<uid>/<container>`).
    pub cgroup_parent: String,
}

/// A pod sandbox: namespaces its containers share, kept alive by bind mounts under `root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSpec {
    /// The pod UID.
    pub id: String,
    pub hostname: String,
    pub host_network: bool,
    /// Content of the pod's /etc/hosts and /etc/resolv.conf (the kubelet renders them).
    pub hosts_file: String,
    pub resolv_conf: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sandbox {
    pub id: String,
    /// `None` for hostNetwork pods.
    pub netns: Option<PathBuf>,
    pub ipc_ns: PathBuf,
    pub uts_ns: Option<PathBuf>,
    pub hosts_file: PathBuf,
    pub resolv_conf: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// A bind mount of `source` (file or directory).
    Bind,
    /// A tmpfs (emptyDir medium Memory); `size` in bytes when limited.
    Tmpfs { size: Option<u64> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub source: PathBuf,
    pub destination: String,
    pub read_only: bool,
    pub kind: MountKind,
}

/// cgroup limits; `None` = unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub memory_limit: Option<i64>,
    pub pids_limit: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Security {
    pub privileged: bool,
    /// Capability names without the `CAP_` prefix, as in a PodSpec (`NET_ADMIN`, `ALL`).
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub read_only_rootfs: bool,
    pub no_new_privileges: bool,
    /// `RuntimeDefault`/`Unconfined`/`Localhost` profile path; `None` = Unconfined.
    pub seccomp: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    /// Unique on the node, a valid file name (the kubelet uses `<pod-uid>-<name>-<restart>`).
    pub id: String,
    pub sandbox: Sandbox,
    /// Unpacked image layers, bottom first; the runtime mounts an overlay with a fresh upperdir.
    pub layers: Vec<PathBuf>,
    /// The final argv (image entrypoint/cmd already merged by the kubelet).
    pub args: Vec<String>,
    /// `KEY=value`.
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub mounts: Vec<Mount>,
    pub resources: Resources,
    pub security: Security,
    /// CRI-format log file (`<ts> stdout|stderr F|P <line>`), rotated at `log_max_size` bytes
    /// keeping `log_max_files`.
    pub log_path: PathBuf,
    pub log_max_size: u64,
    pub log_max_files: usize,
    pub tty: bool,
    pub stdin: bool,
    /// stdinOnce: the container's stdin ends when the first attach (with stdin) ends.
    pub stdin_once: bool,
}

/// A created and started container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    pub id: String,
    pub pid: i32,
    pub started_at: SystemTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitInfo {
    pub exit_code: i32,
    /// Set when the process died of a signal (exit_code is then 128 + signal).
    pub signal: Option<i32>,
    /// The cgroup recorded an OOM kill of this container.
    pub oom_killed: bool,
    pub finished_at: SystemTime,
}

/// A container this runtime knows about (for re-adoption after an agent restart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    pub id: String,
    pub sandbox_id: String,
    pub pid: Option<i32>,
    pub running: bool,
    pub started_at: Option<SystemTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecSpec {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub tty: bool,
    pub stdin: bool,
}

/// Sets a TTY's size (columns, rows).
pub type ResizeFn = Box<dyn Fn(u16, u16) -> Result<()> + Send + Sync>;

/// A running exec'd process. Dropping the stdio ends closes them; `wait` gives the exit code.
pub struct ExecProcess {
    pub stdin: Option<Box<dyn tokio::io::AsyncWrite + Send + Unpin>>,
    pub stdout: Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>,
    /// `None` when tty (stderr is merged into the terminal).
    pub stderr: Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>,
    pub resize: Option<ResizeFn>,
    pub exit: tokio::sync::oneshot::Receiver<ExitInfo>,
    /// Ends the process (SIGKILL) when its client goes away; `None` for an attach (the
    /// container outlives its attached clients).
    pub kill: Option<KillHandle>,
}

/// Kills an exec'd process and its process group (what it started), through its pidfd (no
/// PID-reuse race; a no-op once it has exited and been reaped).
#[derive(Debug, Clone)]
pub struct KillHandle(Arc<exec::ExecTarget>);

impl KillHandle {
    pub fn kill(&self) {
        self.0.kill();
    }
}

/// What a CRI log reader returns, for `kubectl logs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    pub follow: bool,
    pub tail_lines: Option<u64>,
    pub since: Option<SystemTime>,
    pub timestamps: bool,
    pub limit_bytes: Option<u64>,
    /// Include stdout and/or stderr (both by default).
    pub stdout: bool,
    pub stderr: bool,
}

/// The container runtime. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Runtime {
    inner: Arc<runtime::Inner>,
}

impl Runtime {
    /// Creates the root directories and makes this process a child subreaper.
    pub fn new(cfg: RuntimeConfig) -> Result<Self> {
        nix::sys::prctl::set_child_subreaper(true).map_err(|e| Error::Io {
            op: "PR_SET_CHILD_SUBREAPER".into(),
            source: e.into(),
        })?;
        let inner = runtime::Inner::new(cfg);
        for dir in [
            inner.containers_dir(),
            inner.state_root(),
            inner.cfg.root.join("sandboxes"),
            inner.run_dir(),
        ] {
            runtime::mkdirs(&dir)?;
        }
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    pub async fn create_sandbox(&self, spec: &SandboxSpec) -> Result<Sandbox> {
        let dir = self.inner.sandbox_dir(&spec.id);
        let sandbox = sandbox::layout(&dir, &spec.id, spec.host_network);
        if dir.join("ns").join("ipc").exists() && sandbox::is_mounted(&sandbox.ipc_ns) {
            return Ok(sandbox);
        }
        sandbox::write_files(&dir, spec).map_err(|source| Error::Io {
            op: format!("writing sandbox files in {}", dir.display()),
            source,
        })?;
        let req = helper::Request::Sandbox {
            dir: dir.clone(),
            hostname: spec.hostname.clone(),
            host_network: spec.host_network,
        };
        let null = || std::process::Stdio::null();
        if let Err(e) = self.inner.helper(&req, [null(), null(), null()]).await {
            let _ = sandbox::remove(&dir);
            return Err(Error::Other(format!("sandbox {}: {e}", spec.id)));
        }
        Ok(sandbox)
    }

    /// Unmounts and removes the sandbox's namespaces and files; idempotent.
    pub async fn remove_sandbox(&self, id: &str) -> Result<()> {
        let dir = self.inner.sandbox_dir(id);
        sandbox::remove(&dir).map_err(|source| Error::Io {
            op: format!("removing sandbox {}", dir.display()),
            source,
        })
    }

    /// Creates and starts a container; its stdout/stderr go to `spec.log_path`.
    pub async fn run_container(&self, spec: &ContainerSpec) -> Result<ContainerInfo> {
        container::run(&self.inner, spec).await
    }

    /// Resolves when the container's init process exits (at once if it already has).
    /// For a container started by an earlier agent process the exit code is unknown
    /// (reported as 255, containerd's convention), since only the parent can collect it.
    pub async fn wait(&self, id: &str) -> Result<ExitInfo> {
        container::wait(&self.inner, id).await
    }

    pub async fn kill(&self, id: &str, signal: i32) -> Result<()> {
        container::kill(&self.inner, id, signal).await
    }

    /// Deletes a stopped container: state, cgroup, overlay mounts; idempotent.
    pub async fn remove_container(&self, id: &str) -> Result<()> {
        container::remove(&self.inner, id).await
    }

    /// Containers on disk; running ones are re-adopted (exit watched, logs copied again).
    pub async fn list(&self) -> Result<Vec<ContainerState>> {
        container::list(&self.inner).await
    }

    /// Runs a process inside a running container (its namespaces and cgroup).
    pub async fn exec(&self, id: &str, spec: ExecSpec) -> Result<ExecProcess> {
        exec::exec(&self.inner, id, spec).await
    }

    /// The container's own stdio, as `kubectl attach` sees it: output from now on (stdout, and
    /// stderr unless tty), stdin when the container was started with `stdin`, resizes when tty.
    /// `exit` resolves when the container exits.
    pub async fn attach(&self, id: &str) -> Result<ExecProcess> {
        attach::attach(&self.inner, id, true)
    }

    /// [`Runtime::attach`] for a client that does (`stdin`) or does not send stdin: only one that
    /// does takes a stdinOnce container's stdin (which ends when that attach ends).
    pub async fn attach_with(&self, id: &str, stdin: bool) -> Result<ExecProcess> {
        attach::attach(&self.inner, id, stdin)
    }

    /// A TCP connection to `port` on the sandbox's loopback, made from inside its network namespace.
    pub async fn dial(&self, sandbox: &Sandbox, port: u16) -> Result<tokio::net::TcpStream> {
        dial::dial(sandbox.netns.as_deref(), port).await
    }
}

/// Reads a CRI-format log (with its rotated files) as `kubectl logs` output bytes.
pub fn read_logs(
    path: &std::path::Path,
    opts: LogOptions,
) -> impl futures_core::Stream<Item = Result<bytes::Bytes>> + Send + 'static {
    logs::reader::read_logs(path, opts)
}

/// The entry of the `rkube __runtime` helper process: does one libcontainer operation, single
/// threaded, and exits. `args` are the arguments after the hidden subcommand.
pub fn helper_main(args: Vec<String>) -> std::process::ExitCode {
    helper::main(args)
}
