//! The `rkube __runtime <op> <json>` helper process: one libcontainer operation per process,
//! single-threaded, then exit. Its stdin/stdout/stderr are the container's (or exec'd process')
//! stdio; the outcome goes to the `result` file named in the request, as JSON.

use std::{
    io::Write,
    os::fd::{AsFd, OwnedFd},
    path::{Path, PathBuf},
    process::ExitCode,
};

use libcontainer::{
    container::{builder::ContainerBuilder, Container},
    syscall::syscall::SyscallType,
    workload::{default::DefaultExecutor, Executor, ExecutorError, ExecutorValidationError},
};
use serde::{Deserialize, Serialize};

use crate::{overlay, sandbox};

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Request {
    /// Creates a sandbox's persistent namespaces under `dir/ns`.
    Sandbox {
        dir: PathBuf,
        hostname: String,
        host_network: bool,
    },
    /// Mounts the overlay rootfs, creates and starts the container.
    Create {
        state_root: PathBuf,
        id: String,
        bundle: PathBuf,
        layers: Vec<PathBuf>,
        /// For a tty container: where to send the pty master.
        #[serde(default)]
        console_socket: Option<PathBuf>,
    },
    /// Starts `process` (an OCI process JSON file) in the container's namespaces and cgroup.
    Exec {
        state_root: PathBuf,
        id: String,
        process: PathBuf,
        console_socket: Option<PathBuf>,
    },
    /// Deletes libcontainer's state and the container's cgroup.
    Delete { state_root: PathBuf, id: String },
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Reply {
    pub pid: Option<i32>,
    pub error: Option<String>,
}

/// The op name comes first only so `ps` shows what a helper does.
pub(crate) fn argv(req: &Request, result: &Path) -> Vec<String> {
    let op = match req {
        Request::Sandbox { .. } => "sandbox",
        Request::Create { .. } => "create",
        Request::Exec { .. } => "exec",
        Request::Delete { .. } => "delete",
    };
    vec![
        "__runtime".into(),
        op.into(),
        result.display().to_string(),
        serde_json::to_string(req).unwrap_or_default(),
    ]
}

/// See [`crate::helper_main`].
pub fn main(args: Vec<String>) -> ExitCode {
    let [_op, result, req] = args.as_slice() else {
        eprintln!("usage: rkube __runtime <op> <result-file> <request-json>");
        return ExitCode::from(2);
    };
    let reply = match serde_json::from_str::<Request>(req) {
        Ok(req) => match run(req) {
            Ok(pid) => Reply { pid, error: None },
            Err(e) => Reply {
                pid: None,
                error: Some(e),
            },
        },
        Err(e) => Reply {
            pid: None,
            error: Some(format!("bad request: {e}")),
        },
    };
    let ok = reply.error.is_none();
    let written = std::fs::File::create(result).and_then(|mut f| {
        f.write_all(serde_json::to_string(&reply).unwrap_or_default().as_bytes())
    });
    if written.is_err() || !ok {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn run(req: Request) -> Result<Option<i32>, String> {
    match req {
        Request::Sandbox {
            dir,
            hostname,
            host_network,
        } => sandbox::create_namespaces(&dir, &hostname, host_network)
            .map(|()| None)
            .map_err(|e| format!("creating sandbox namespaces: {e}")),
        Request::Create {
            state_root,
            id,
            bundle,
            layers,
            console_socket,
        } => create(&state_root, &id, &bundle, &layers, console_socket).map(Some),
        Request::Exec {
            state_root,
            id,
            process,
            console_socket,
        } => exec(&state_root, &id, &process, console_socket).map(Some),
        Request::Delete { state_root, id } => delete(&state_root, &id).map(|()| None),
    }
}

fn stdio() -> Result<[OwnedFd; 3], String> {
    let dup = |fd: std::os::fd::BorrowedFd<'_>| {
        fd.try_clone_to_owned()
            .map_err(|e| format!("dup stdio: {e}"))
    };
    Ok([
        dup(std::io::stdin().as_fd())?,
        dup(std::io::stdout().as_fd())?,
        dup(std::io::stderr().as_fd())?,
    ])
}

fn create(
    state_root: &Path,
    id: &str,
    bundle: &Path,
    layers: &[PathBuf],
    console_socket: Option<PathBuf>,
) -> Result<i32, String> {
    let rootfs = bundle.join("rootfs");
    overlay::mount(bundle, &rootfs, layers).map_err(|e| format!("mounting rootfs: {e}"))?;
    let built = stdio().and_then(|[stdin, stdout, stderr]| {
        ContainerBuilder::new(id.to_string(), SyscallType::default())
            .with_root_path(state_root)
            .map_err(|e| e.to_string())?
            .with_executor(ContainerExecutor)
            .with_console_socket(console_socket)
            .with_stdin(stdin)
            .with_stdout(stdout)
            .with_stderr(stderr)
            .as_init(bundle)
            .with_systemd(false)
            .with_detach(true)
            .build()
            .map_err(|e| e.to_string())
    });
    let mut container = match built {
        Ok(c) => c,
        Err(e) => {
            cleanup_failed(state_root, id, &rootfs);
            return Err(e);
        }
    };
    if let Err(e) = container.start() {
        cleanup_failed(state_root, id, &rootfs);
        return Err(e.to_string());
    }
    container
        .pid()
        .map(|p| p.as_raw())
        .ok_or_else(|| "container started without a pid".to_string())
}

/// A failed create leaves nothing behind: the caller reports CannotRun and may retry.
fn cleanup_failed(state_root: &Path, id: &str, rootfs: &Path) {
    let _ = delete(state_root, id);
    let _ = overlay::unmount(rootfs);
}

fn exec(
    state_root: &Path,
    id: &str,
    process: &Path,
    console_socket: Option<PathBuf>,
) -> Result<i32, String> {
    let [stdin, stdout, stderr] = stdio()?;
    let builder = ContainerBuilder::new(id.to_string(), SyscallType::default())
        .with_root_path(state_root)
        .map_err(|e| e.to_string())?
        .with_executor(ContainerExecutor)
        .with_console_socket(console_socket)
        .with_stdin(stdin)
        .with_stdout(stdout)
        .with_stderr(stderr);
    builder
        .as_tenant()
        .with_process(Some(process))
        .with_detach(true)
        .build()
        .map(|pid| pid.as_raw())
        .map_err(|e| e.to_string())
}

fn delete(state_root: &Path, id: &str) -> Result<(), String> {
    let dir = state_root.join(id);
    if !dir.exists() {
        return Ok(());
    }
    let mut container = Container::load(dir.clone()).map_err(|e| e.to_string())?;
    container.delete(true).map_err(|e| e.to_string())?;
    // delete() may keep the directory when the state was half-written by a failed create.
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
        _ => Ok(()),
    }
}

/// libcontainer's default executor, plus SIGPIPE back to its default: Rust ignores it and an
/// ignored signal stays ignored across exec (`yes | head` would spin instead of dying).
#[derive(Clone)]
struct ContainerExecutor;

impl Executor for ContainerExecutor {
    fn exec(&self, spec: &oci_spec::runtime::Spec) -> Result<(), ExecutorError> {
        crate::sys::reset_sigpipe();
        DefaultExecutor {}.exec(spec)
    }

    fn validate(&self, spec: &oci_spec::runtime::Spec) -> Result<(), ExecutorValidationError> {
        DefaultExecutor {}.validate(spec)
    }
}
