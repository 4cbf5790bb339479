//! `exec`: a process in a running container's namespaces and cgroup (libcontainer's tenant
//! builder in the helper), with its stdio as async streams and its exit code.

use std::{os::fd::OwnedFd, process::Stdio, sync::Arc};

use nix::{
    sys::signal::{killpg, Signal},
    unistd::Pid,
};
use serde_json::Value;

use crate::{
    console, container, helper::Request, reaper, runtime::Inner, sys, Error, ExecProcess, ExecSpec,
    ExitInfo, KillHandle, Result,
};

fn io(op: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io {
        op: op.into(),
        source,
    }
}

/// The container's process (user, capabilities, cwd, env) with the exec's args, env and tty.
fn process_json(config: &[u8], spec: &ExecSpec) -> Result<Value> {
    let config: Value =
        serde_json::from_slice(config).map_err(|e| Error::Other(format!("config.json: {e}")))?;
    let mut process = config["process"].clone();
    let key = |kv: &str| kv.split('=').next().unwrap_or_default().to_string();
    let overrides: Vec<String> = spec.env.iter().map(|e| key(e)).collect();
    let mut env: Vec<Value> = process["env"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| !overrides.contains(&key(e.as_str().unwrap_or_default())))
        .collect();
    env.extend(spec.env.iter().map(|e| Value::from(e.as_str())));
    process["env"] = Value::from(env);
    process["args"] = Value::from(spec.args.clone());
    process["terminal"] = Value::from(spec.tty);
    Ok(process)
}

pub(crate) async fn exec(inner: &Arc<Inner>, id: &str, spec: ExecSpec) -> Result<ExecProcess> {
    match container::watch(inner, id)? {
        Ok(t) if t.exit.borrow().is_none() => {}
        _ => return Err(Error::Other(format!("container {id:?} is not running"))),
    }
    let bundle = inner.bundle(id);
    let config = std::fs::read(bundle.join("config.json")).map_err(io("reading config.json"))?;
    let process = process_json(&config, &spec)?;
    let name = inner.unique("exec-");
    let process_path = inner.run_dir().join(format!("{name}.json"));
    std::fs::write(&process_path, process.to_string()).map_err(io("writing process.json"))?;
    let result = if spec.tty {
        exec_tty(inner, id, &name, &process_path).await
    } else {
        exec_pipes(inner, id, &process_path, spec.stdin).await
    };
    let _ = std::fs::remove_file(&process_path);
    result
}

fn request(
    inner: &Inner,
    id: &str,
    process: &std::path::Path,
    console: Option<std::path::PathBuf>,
) -> Request {
    Request::Exec {
        state_root: inner.state_root(),
        id: id.to_string(),
        process: process.to_path_buf(),
        console_socket: console,
    }
}

async fn exec_pipes(
    inner: &Arc<Inner>,
    id: &str,
    process: &std::path::Path,
    with_stdin: bool,
) -> Result<ExecProcess> {
    use tokio::net::unix::pipe;
    let (stdin, stdin_w) = if with_stdin {
        let (r, w) = std::io::pipe().map_err(io("pipe"))?;
        (Stdio::from(OwnedFd::from(r)), Some(OwnedFd::from(w)))
    } else {
        (Stdio::null(), None)
    };
    let (out_r, out_w) = std::io::pipe().map_err(io("pipe"))?;
    let (err_r, err_w) = std::io::pipe().map_err(io("pipe"))?;
    let stdio = [
        stdin,
        OwnedFd::from(out_w).into(),
        OwnedFd::from(err_w).into(),
    ];
    // The helper's stdio ends are closed here when it exits, so EOF means the process is done.
    let pid = run_helper(inner, &request(inner, id, process, None), stdio).await?;
    let (exit, kill) = watch_exit(pid)?;
    let stdin = match stdin_w {
        Some(w) => Some(
            Box::new(pipe::Sender::from_owned_fd(w).map_err(io("stdin pipe"))?)
                as Box<dyn tokio::io::AsyncWrite + Send + Unpin>,
        ),
        None => None,
    };
    Ok(ExecProcess {
        stdin,
        stdout: Some(Box::new(
            pipe::Receiver::from_owned_fd(out_r.into()).map_err(io("stdout pipe"))?,
        )),
        stderr: Some(Box::new(
            pipe::Receiver::from_owned_fd(err_r.into()).map_err(io("stderr pipe"))?,
        )),
        resize: None,
        exit,
        kill: Some(kill),
    })
}

async fn exec_tty(
    inner: &Arc<Inner>,
    id: &str,
    name: &str,
    process: &std::path::Path,
) -> Result<ExecProcess> {
    let sock_path = inner.run_dir().join(format!("{name}.sock"));
    let req = request(inner, id, process, Some(sock_path.clone()));
    let stdio = [Stdio::null(), Stdio::null(), Stdio::null()];
    let (master, pid) =
        console::run_with_console(&sock_path, run_helper(inner, &req, stdio)).await?;
    let (exit, kill) = watch_exit(pid)?;
    let resize_fd = master.try_clone().map_err(io("dup pty"))?;
    let write =
        crate::pty::Pty::new(master.try_clone().map_err(io("dup pty"))?).map_err(io("pty"))?;
    let read = crate::pty::Pty::new(master).map_err(io("pty"))?;
    Ok(ExecProcess {
        stdin: Some(Box::new(write)),
        stdout: Some(Box::new(read)),
        stderr: None,
        resize: Some(resize_fn(resize_fd)),
        exit,
        kill: Some(kill),
    })
}

/// Sets the terminal size of the pty behind `fd`.
pub(crate) fn resize_fn(fd: OwnedFd) -> crate::ResizeFn {
    Box::new(move |cols, rows| sys::set_winsize(&fd, cols, rows).map_err(io("TIOCSWINSZ")))
}

async fn run_helper(inner: &Arc<Inner>, req: &Request, stdio: [Stdio; 3]) -> Result<i32> {
    inner
        .helper(req, stdio)
        .await
        .map_err(|e| Error::Other(format!("exec: {e}")))?
        .ok_or_else(|| Error::Other("exec: runtime helper returned no pid".into()))
}

/// The exit of an exec'd process, and a handle that kills it.
fn watch_exit(pid: i32) -> Result<(tokio::sync::oneshot::Receiver<ExitInfo>, KillHandle)> {
    let pidfd = sys::pidfd_open(pid).map_err(io("pidfd_open"))?;
    let kill = KillHandle(Arc::new(ExecTarget {
        pidfd: pidfd.try_clone().map_err(io("dup pidfd"))?,
        pid,
    }));
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let exit = reaper::wait(pid, pidfd).await;
        let _ = tx.send(ExitInfo {
            exit_code: exit.code,
            signal: exit.signal,
            oom_killed: false,
            finished_at: exit.at,
        });
    });
    Ok((rx, kill))
}

/// An exec'd process, as its kill handle ends it. libcontainer's init makes every process it
/// starts a session (and so process group) leader: the group holds what the process started
/// (a non-interactive shell's background jobs included).
#[derive(Debug)]
pub(crate) struct ExecTarget {
    pidfd: OwnedFd,
    pid: i32,
}

impl ExecTarget {
    pub(crate) fn kill(&self) {
        // The group is only signalled while the leader is unreaped (signal 0 through the pidfd
        // succeeds for a live process or a zombie): its PID, the group's id, cannot have been
        // reused. Once it exited normally (and was reaped), what it left running stays, as
        // upstream leaves it.
        match sys::pidfd_send_signal(&self.pidfd, 0) {
            Ok(()) => {
                if let Err(e) = killpg(Pid::from_raw(self.pid), Signal::SIGKILL) {
                    if e != nix::errno::Errno::ESRCH {
                        tracing::warn!(pid = self.pid, error = %e, "killing an exec'd process group");
                    }
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return,
            Err(e) => tracing::warn!(pid = self.pid, error = %e, "checking an exec'd process"),
        }
        // The process itself, should it not lead its group.
        if let Err(e) = sys::pidfd_send_signal(&self.pidfd, libc::SIGKILL) {
            if e.raw_os_error() != Some(libc::ESRCH) {
                tracing::warn!(pid = self.pid, error = %e, "killing an exec'd process");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_env_overrides_container_env() {
        let config = br#"{"process":{"env":["PATH=/bin","A=1"],"args":["sleep"],"cwd":"/"}}"#;
        let spec = ExecSpec {
            args: vec!["env".into()],
            env: vec!["A=2".into()],
            tty: false,
            stdin: false,
        };
        let p = process_json(config, &spec).unwrap();
        assert_eq!(p["env"], serde_json::json!(["PATH=/bin", "A=2"]));
        assert_eq!(p["args"], serde_json::json!(["env"]));
        assert_eq!(p["terminal"], serde_json::json!(false));
    }
}
