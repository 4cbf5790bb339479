//! A container's own stdio for `kubectl attach`. The runtime keeps the container's stdin (the
//! write end of a `stdin` FIFO in the bundle, or the pty master of a tty container) and
//! broadcasts its output as the log copiers read it, so clients can attach and detach at any
//! time while the log still records everything. The container's stdin stays open across attaches
//! (it holds its FIFO end read-write), except with `stdinOnce`: then the runtime's write end is
//! the only one, handed to the first attach that takes stdin, and the container reads EOF once
//! that attach ends (upstream's semantics). A tty container's stdin is its pty: no stdinOnce.

use std::{
    collections::HashMap,
    os::fd::{AsRawFd, OwnedFd},
    path::Path,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{ready, Context, Poll},
};

use bytes::Bytes;
use nix::{
    fcntl::{fcntl, FcntlArg, OFlag},
    sys::stat::Mode,
    unistd::mkfifo,
};
use tokio::{
    io::{AsyncRead, AsyncWriteExt, ReadBuf},
    sync::{broadcast, watch},
};

use crate::{container, exec, runtime::Inner, Error, ExecProcess, ExitInfo, Result};

/// Chunks kept for a slow attached client before it skips ahead.
const BACKLOG: usize = 256;

/// Output as read from the container.
#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    stderr: bool,
    data: Bytes,
}

/// What the runtime keeps of one running container's stdio.
#[derive(Debug)]
pub(crate) struct Io {
    output: broadcast::Sender<Chunk>,
    /// FIFO write end or pty master; `None` without `stdin` (or once a stdinOnce attach took it).
    stdin: Mutex<Option<OwnedFd>>,
    /// stdinOnce: the first attach with stdin takes `stdin` instead of a copy of it.
    stdin_once: bool,
    /// The pty master of a tty container (resizes).
    pty: Option<OwnedFd>,
}

impl Io {
    pub(crate) fn new(stdin: Option<OwnedFd>, pty: Option<OwnedFd>) -> Self {
        Self {
            output: broadcast::channel(BACKLOG).0,
            stdin: Mutex::new(stdin),
            stdin_once: false,
            pty,
        }
    }

    /// The stdinOnce flavour of [`Io::new`] (the FIFO from `stdin_fifo(.., true)`).
    pub(crate) fn stdin_once(mut self, once: bool) -> Self {
        self.stdin_once = once;
        self
    }

    /// The write end for one attach: a copy, or with stdinOnce the end itself (once).
    fn take_stdin(&self) -> Result<Option<OwnedFd>> {
        let mut stdin = self.stdin.lock().unwrap_or_else(|e| e.into_inner());
        if self.stdin_once {
            return Ok(stdin.take());
        }
        stdin
            .as_ref()
            .map(|fd| fd.try_clone().map_err(io("dup stdin")))
            .transpose()
    }

    /// A reader of `src` that also broadcasts what it reads to attached clients.
    pub(crate) fn tap<R>(&self, src: R, stderr: bool) -> Tap<R> {
        Tap {
            src,
            stderr,
            out: self.output.clone(),
        }
    }
}

/// Running containers' stdio by container id.
#[derive(Debug, Default)]
pub(crate) struct Registry(Mutex<HashMap<String, Arc<Io>>>);

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Io>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn insert(&self, id: &str, io: Arc<Io>) {
        self.lock().insert(id.to_string(), io);
    }

    pub(crate) fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    fn get(&self, id: &str) -> Option<Arc<Io>> {
        self.lock().get(id).cloned()
    }
}

fn io(op: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io {
        op: op.into(),
        source,
    }
}

/// Makes the bundle's `stdin` FIFO: the container's end and the runtime's write end. The
/// container's end is read-write, so it never sees EOF between attaches, except with `once`
/// (stdinOnce): read-only, so it sees EOF when the runtime's end (given to the first attach)
/// is closed.
pub(crate) fn stdin_fifo(bundle: &Path, once: bool) -> Result<(OwnedFd, OwnedFd)> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = bundle.join("stdin");
    mkfifo(&path, Mode::S_IRUSR | Mode::S_IWUSR).map_err(|e| io("mkfifo stdin")(e.into()))?;
    // Non-blocking so a read-only open does not wait for a writer; cleared below, as the
    // container's reads must block.
    let container = std::fs::OpenOptions::new()
        .read(true)
        .write(!once)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .map_err(io("opening stdin fifo"))?;
    let writer = reopen_stdin(bundle).ok_or_else(|| Error::Other("opening stdin fifo".into()))?;
    let container = OwnedFd::from(container);
    let flags =
        fcntl(container.as_raw_fd(), FcntlArg::F_GETFL).map_err(|e| io("F_GETFL")(e.into()))?;
    let flags = OFlag::from_bits_truncate(flags) - OFlag::O_NONBLOCK;
    fcntl(container.as_raw_fd(), FcntlArg::F_SETFL(flags)).map_err(|e| io("F_SETFL")(e.into()))?;
    Ok((container, writer))
}

/// The write end of an existing `stdin` FIFO (re-adoption after an agent restart).
pub(crate) fn reopen_stdin(bundle: &Path) -> Option<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = bundle.join("stdin");
    // Non-blocking: fails (ENXIO) rather than hanging when no container holds it any more.
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .ok()
        .map(OwnedFd::from)
}

/// `with_stdin`: the client sends stdin (only such an attach consumes a stdinOnce stdin).
pub(crate) fn attach(inner: &Arc<Inner>, id: &str, with_stdin: bool) -> Result<ExecProcess> {
    let tracked = match container::watch(inner, id)? {
        Ok(t) if t.exit.borrow().is_none() => t,
        _ => return Err(Error::Other(format!("container {id:?} is not running"))),
    };
    let stdio = inner
        .attach
        .get(id)
        .ok_or_else(|| Error::Other(format!("container {id:?} has no attachable stdio")))?;
    let tty = stdio.pty.is_some();
    let fd = if with_stdin {
        stdio.take_stdin()?
    } else {
        None
    };
    let stdin: Option<Box<dyn tokio::io::AsyncWrite + Send + Unpin>> = match fd {
        None => None,
        Some(dup) => Some(if tty {
            Box::new(crate::pty::Pty::new(dup).map_err(io("pty"))?)
        } else {
            Box::new(tokio::net::unix::pipe::Sender::from_owned_fd(dup).map_err(io("stdin fifo"))?)
        }),
    };
    let resize = match &stdio.pty {
        Some(fd) => Some(exec::resize_fn(fd.try_clone().map_err(io("dup pty"))?)),
        None => None,
    };
    let reader = |stream: Option<bool>| -> Box<dyn AsyncRead + Send + Unpin> {
        Box::new(follow(
            stdio.output.subscribe(),
            stream,
            tracked.exit.clone(),
        ))
    };
    let (stdout, stderr) = if tty {
        (reader(None), None)
    } else {
        (reader(Some(false)), Some(reader(Some(true))))
    };
    Ok(ExecProcess {
        stdin,
        stdout: Some(stdout),
        stderr,
        resize,
        exit: exit_of(tracked.exit.clone()),
        kill: None,
    })
}

/// The container's exit as a oneshot; the waiting task ends early if the receiver is dropped.
fn exit_of(
    mut exit: watch::Receiver<Option<ExitInfo>>,
) -> tokio::sync::oneshot::Receiver<ExitInfo> {
    let (mut tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        tokio::select! {
            () = tx.closed() => {}
            r = exit.wait_for(Option::is_some) => {
                let info = r.ok().and_then(|e| e.clone());
                if let Some(info) = info {
                    let _ = tx.send(info);
                }
            }
        }
    });
    rx
}

/// A byte stream of the broadcast output (`stream`: Some(stderr?) to pick one, None for all)
/// that ends once the container has exited and what it wrote before has been passed on.
fn follow(
    mut rx: broadcast::Receiver<Chunk>,
    stream: Option<bool>,
    mut exit: watch::Receiver<Option<ExitInfo>>,
) -> tokio::io::ReadHalf<tokio::io::SimplexStream> {
    let (reader, mut writer) = tokio::io::simplex(64 * 1024);
    tokio::spawn(async move {
        let wanted = |c: &Chunk| stream.is_none_or(|s| s == c.stderr);
        loop {
            let exited = async { exit.wait_for(Option::is_some).await.map(|_| ()) };
            let chunk = tokio::select! {
                biased;
                c = rx.recv() => c,
                _ = exited => {
                    // The exit is published after the log copiers drained: what is left in the
                    // channel is the rest of the output.
                    loop {
                        match rx.try_recv() {
                            Ok(c) if wanted(&c) => {
                                if writer.write_all(&c.data).await.is_err() { break; }
                            }
                            Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) => {}
                            Err(_) => break,
                        }
                    }
                    let _ = writer.shutdown().await;
                    return;
                }
            };
            match chunk {
                Ok(c) if wanted(&c) => {
                    if writer.write_all(&c.data).await.is_err() {
                        return;
                    }
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    reader
}

/// See [`Io::tap`].
pub(crate) struct Tap<R> {
    src: R,
    stderr: bool,
    out: broadcast::Sender<Chunk>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Tap<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.src).poll_read(cx, buf))?;
        let new = &buf.filled()[before..];
        if !new.is_empty() && self.out.receiver_count() > 0 {
            let _ = self.out.send(Chunk {
                stderr: self.stderr,
                data: Bytes::copy_from_slice(new),
            });
        }
        Poll::Ready(Ok(()))
    }
}
