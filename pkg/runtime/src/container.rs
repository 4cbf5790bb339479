//! Container lifecycle: run (bundle, FIFOs, helper create+start, log copiers, exit watch),
//! wait, kill, remove, list and re-adoption after an agent restart.
//!
//! Output: the container's stdout/stderr are FIFOs in the bundle that the container holds
//! open read-write, so it never gets EPIPE while no agent is reading and a restarted agent
//! reopens them and continues the log (output written meanwhile waits in the pipe buffer).

use std::{
    os::fd::OwnedFd,
    path::Path,
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use nix::{sys::stat::Mode, unistd::mkfifo};

use crate::{
    attach, cgroup, console,
    helper::Request,
    logs::writer::{self, LogFile},
    overlay, reaper,
    record::{self, Record},
    runtime::{mkdirs, Inner, Tracked},
    spec, sys, ContainerInfo, ContainerSpec, ContainerState, Error, ExitInfo, Result,
};

/// How long `remove_container` waits for a still-running container after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(10);

fn io(op: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let op = op.into();
    move |source| Error::Io { op, source }
}

pub(crate) async fn run(inner: &Arc<Inner>, spec: &ContainerSpec) -> Result<ContainerInfo> {
    let id = spec.id.as_str();
    let bundle = inner.bundle(id);
    if bundle.exists() {
        return Err(Error::AlreadyExists(id.to_string()));
    }
    mkdirs(&bundle)?;
    let started = std::time::Instant::now();
    match create(inner, spec, &bundle).await {
        Ok(info) => {
            tracing::info!(
                container = id,
                pid = info.pid,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "container started"
            );
            Ok(info)
        }
        Err(e) => {
            // Nothing half-made stays behind: the kubelet retries with the same id.
            let _ = overlay::unmount(&bundle.join("rootfs"));
            let _ = std::fs::remove_dir_all(&bundle);
            cgroup::remove(&inner.cgroups_path(id));
            Err(e)
        }
    }
}

async fn create(inner: &Arc<Inner>, spec: &ContainerSpec, bundle: &Path) -> Result<ContainerInfo> {
    let cgroups_path = inner.cgroups_path(&spec.id);
    let oci =
        spec::build(spec, &cgroups_path).map_err(|e| Error::CannotRun(format!("OCI spec: {e}")))?;
    oci.save(bundle.join("config.json"))
        .map_err(|e| Error::Other(format!("writing config.json: {e}")))?;
    let log = LogFile::open(&spec.log_path, spec.log_max_size, spec.log_max_files)
        .map_err(io(format!("opening log {}", spec.log_path.display())))?;
    let [out, err] = ["stdout", "stderr"].map(|s| bundle.join(s));
    let mut write_ends = Vec::new();
    for fifo in [&out, &err] {
        mkfifo(fifo, Mode::S_IRUSR | Mode::S_IWUSR).map_err(|e| io("mkfifo")(e.into()))?;
        // Read-write: opening never blocks, and the container (which inherits this) keeps a
        // reader so it never sees EPIPE.
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(fifo)
            .map_err(io("opening fifo"))?;
        write_ends.push(OwnedFd::from(f));
    }
    // Open the read ends now: a FIFO's buffered data is dropped once no one has it open, and a
    // short-lived container may exit before the helper returns.
    let readers = open_readers(bundle)?;
    let stderr_fd = write_ends.pop().expect("two fifos");
    let stdout_fd = write_ends.pop().expect("two fifos");
    // stdin: a FIFO the runtime keeps writing to for attach (a tty container's stdin is its pty).
    let (stdin, stdin_writer) = if spec.stdin && !spec.tty {
        let (container_end, writer) = attach::stdin_fifo(bundle, spec.stdin_once)?;
        (Stdio::from(container_end), Some(writer))
    } else {
        (Stdio::null(), None)
    };
    let console = spec
        .tty
        .then(|| inner.run_dir().join(inner.unique("console-") + ".sock"));
    let req = Request::Create {
        state_root: inner.state_root(),
        id: spec.id.clone(),
        bundle: bundle.to_path_buf(),
        layers: spec.layers.clone(),
        console_socket: console.clone(),
    };
    let stdio = [stdin, stdout_fd.into(), stderr_fd.into()];
    let helper = async {
        inner
            .helper(&req, stdio)
            .await
            .map_err(Error::CannotRun)?
            .ok_or_else(|| Error::CannotRun("runtime helper returned no pid".into()))
    };
    let (pid, pty) = match &console {
        Some(sock) => {
            let (master, pid) = console::run_with_console(sock, helper).await?;
            (pid, Some(master))
        }
        None => (helper.await?, None),
    };
    let started_at = SystemTime::now();
    let pidfd = sys::pidfd_open(pid).map_err(io("pidfd_open"))?;
    let rec = Record {
        id: spec.id.clone(),
        sandbox_id: spec.sandbox.id.clone(),
        pid,
        pid_start: reaper::start_time(pid).unwrap_or(0),
        started_at_ns: record::to_ns(started_at),
        cgroups_path,
        log_path: spec.log_path.clone(),
        log_max_size: spec.log_max_size,
        log_max_files: spec.log_max_files,
    };
    record::save(bundle, &rec)?;
    let (stdio, pty_reader) = match pty {
        Some(master) => {
            let keep = master.try_clone().map_err(io("dup pty"))?;
            let stdin = match spec.stdin {
                true => Some(master.try_clone().map_err(io("dup pty"))?),
                false => None,
            };
            (
                attach::Io::new(stdin, Some(keep)),
                Some(crate::pty::Pty::new(master).map_err(io("pty"))?),
            )
        }
        None => (
            attach::Io::new(stdin_writer, None).stdin_once(spec.stdin_once),
            None,
        ),
    };
    let stdio = Arc::new(stdio);
    let logs = copy_logs(readers, pty_reader, log, &stdio);
    inner.attach.insert(&spec.id, stdio);
    inner.track(&spec.id, pid, pidfd, Some(logs))?;
    Ok(ContainerInfo {
        id: spec.id.clone(),
        pid,
        started_at,
    })
}

/// Non-blocking read ends of the bundle's stdout and stderr FIFOs.
fn open_readers(bundle: &Path) -> Result<[tokio::net::unix::pipe::Receiver; 2]> {
    let open = |stream: &str| {
        tokio::net::unix::pipe::OpenOptions::new()
            .open_receiver(bundle.join(stream))
            .map_err(io(format!("opening {stream} fifo")))
    };
    Ok([open("stdout")?, open("stderr")?])
}

/// Copies stdout and stderr (and a tty container's terminal, as stdout) into the log, also
/// broadcasting them for attach; the handle resolves at EOF on all.
fn copy_logs(
    [stdout, stderr]: [tokio::net::unix::pipe::Receiver; 2],
    pty: Option<crate::pty::Pty>,
    log: LogFile,
    stdio: &attach::Io,
) -> tokio::task::JoinHandle<()> {
    let log = Arc::new(Mutex::new(log));
    let out = tokio::spawn(writer::copy(
        stdio.tap(stdout, false),
        "stdout",
        log.clone(),
    ));
    let err = tokio::spawn(writer::copy(stdio.tap(stderr, true), "stderr", log.clone()));
    let term = pty.map(|pty| tokio::spawn(writer::copy(stdio.tap(pty, false), "stdout", log)));
    tokio::spawn(async move {
        let _ = out.await;
        let _ = err.await;
        if let Some(term) = term {
            let _ = term.await;
        }
    })
}

/// Whether the recorded container process still runs (same PID and start time).
fn alive(rec: &Record) -> bool {
    rec.pid > 0 && reaper::start_time(rec.pid).is_some_and(|t| t == rec.pid_start)
}

/// The exit watch for `id`, re-adopting a container started by an earlier process when
/// needed. `Err(exit)` when it has already exited.
pub(crate) fn watch(inner: &Arc<Inner>, id: &str) -> Result<Result<Tracked, ExitInfo>> {
    if let Some(t) = inner.tracked(id) {
        return Ok(Ok(t));
    }
    let bundle = inner.bundle(id);
    let rec = record::load(&bundle).ok_or_else(|| Error::NotFound(id.to_string()))?;
    if let Some(exit) = record::load_exit(&bundle) {
        return Ok(Err(exit));
    }
    if alive(&rec) {
        if let Ok(pidfd) = sys::pidfd_open(rec.pid) {
            // Re-check: the PID could have been reused between the check and pidfd_open.
            if alive(&rec) {
                let log = LogFile::open(&rec.log_path, rec.log_max_size, rec.log_max_files);
                let readers = open_readers(&bundle);
                // A tty container's pty master died with the earlier agent: no attach to it.
                let stdio = Arc::new(attach::Io::new(attach::reopen_stdin(&bundle), None));
                inner.attach.insert(id, stdio.clone());
                let logs = match log
                    .map_err(io("opening log"))
                    .and_then(|l| Ok(copy_logs(readers?, None, l, &stdio)))
                {
                    Ok(h) => Some(h),
                    Err(e) => {
                        tracing::warn!(container = id, error = %e, "re-attaching logs");
                        None
                    }
                };
                tracing::info!(
                    container = id,
                    pid = rec.pid,
                    "re-adopted running container"
                );
                return inner.track(id, rec.pid, pidfd, logs).map(Ok);
            }
        }
    }
    // Gone while no one watched: the exit status is lost.
    let exit = ExitInfo {
        exit_code: reaper::UNKNOWN_EXIT_CODE,
        signal: None,
        oom_killed: cgroup::oom_kills(&rec.cgroups_path) > 0,
        finished_at: SystemTime::now(),
    };
    record::save_exit(&bundle, &exit)?;
    Ok(Err(exit))
}

pub(crate) async fn wait(inner: &Arc<Inner>, id: &str) -> Result<ExitInfo> {
    let mut t = match watch(inner, id)? {
        Ok(t) => t,
        Err(exit) => return Ok(exit),
    };
    let exit = t
        .exit
        .wait_for(Option::is_some)
        .await
        .map_err(|_| Error::Other(format!("container {id:?}: exit watcher stopped")))?
        .clone();
    exit.ok_or_else(|| Error::Other("no exit".into()))
}

pub(crate) async fn kill(inner: &Arc<Inner>, id: &str, signal: i32) -> Result<()> {
    let t = match watch(inner, id)? {
        Ok(t) => t,
        Err(_) => return Ok(()),
    };
    if t.exit.borrow().is_some() {
        return Ok(());
    }
    match sys::pidfd_send_signal(&t.pidfd, signal) {
        Err(e) if e.raw_os_error() != Some(libc::ESRCH) => Err(io("signal")(e)),
        _ => Ok(()),
    }
}

pub(crate) async fn remove(inner: &Arc<Inner>, id: &str) -> Result<()> {
    let bundle = inner.bundle(id);
    if let Ok(Ok(t)) = watch(inner, id) {
        if t.exit.borrow().is_none() {
            tracing::warn!(container = id, "removing a running container: killing it");
            kill(inner, id, libc::SIGKILL).await?;
            let mut rx = t.exit.clone();
            let _ = tokio::time::timeout(KILL_WAIT, rx.wait_for(Option::is_some)).await;
        }
    }
    if inner.state_root().join(id).exists() {
        let req = Request::Delete {
            state_root: inner.state_root(),
            id: id.to_string(),
        };
        inner
            .helper(&req, [Stdio::null(), Stdio::null(), Stdio::null()])
            .await
            .map_err(|e| Error::Other(format!("deleting container {id:?}: {e}")))?;
    }
    overlay::unmount(&bundle.join("rootfs")).map_err(io("unmounting rootfs"))?;
    cgroup::remove(&inner.cgroups_path(id));
    match std::fs::remove_dir_all(&bundle) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(io(format!("removing {}", bundle.display()))(e))
        }
        _ => {}
    }
    inner.untrack(id);
    Ok(())
}

pub(crate) async fn list(inner: &Arc<Inner>) -> Result<Vec<ContainerState>> {
    let dir = inner.containers_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(format!("reading {}", dir.display()))(e)),
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let Some(rec) = record::load(&e.path()) else {
            continue;
        };
        // Adopt running containers now so their logs resume and their exits are recorded.
        let running = match watch(inner, &rec.id) {
            Ok(Ok(t)) => t.exit.borrow().is_none(),
            _ => false,
        };
        out.push(ContainerState {
            id: rec.id.clone(),
            sandbox_id: rec.sandbox_id.clone(),
            pid: Some(rec.pid),
            running,
            started_at: Some(record::from_ns(rec.started_at_ns)),
        });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}
