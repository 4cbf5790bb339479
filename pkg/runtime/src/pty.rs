//! A pty master as an async stream, polled through epoll (AsyncFd) rather than blocking reads
//! on tokio's blocking pool: a read parked there on an idle terminal never returns, and the
//! tokio runtime waits for it when the process shuts down (a tty container kept the agent
//! from stopping on SIGTERM).
// AsyncFd::register is unsafe (an I/O-safety contract), nothing else here.
#![allow(unsafe_code)]

use std::{
    io::{Read, Write},
    os::fd::{AsRawFd, OwnedFd},
    pin::Pin,
    task::{ready, Context, Poll},
};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use tokio::io::{unix::AsyncFd, AsyncRead, AsyncWrite, ReadBuf};

/// One descriptor of a pty master (reader or writer). O_NONBLOCK is set on the open file
/// description, which every dup of the master shares: all of them must go through this type.
pub(crate) struct Pty(AsyncFd<std::fs::File>);

impl Pty {
    pub(crate) fn new(master: OwnedFd) -> std::io::Result<Self> {
        let flags = fcntl(master.as_raw_fd(), FcntlArg::F_GETFL)?;
        let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
        fcntl(master.as_raw_fd(), FcntlArg::F_SETFL(flags))?;
        // SAFETY: the File owns the descriptor and lives inside the AsyncFd, so it stays open
        // and the same for the AsyncFd's whole lifetime.
        let fd = unsafe { AsyncFd::register(std::fs::File::from(master)) }
            .map_err(|e| e.into_parts().1)?;
        Ok(Self(fd))
    }
}

impl AsyncRead for Pty {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        loop {
            let mut guard = ready!(self.0.poll_read_ready(cx))?;
            match guard.try_io(|f| f.get_ref().read(buf.initialize_unfilled())) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                // A pty master reports EIO once the last slave closes: that is EOF.
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Poll::Ready(Ok(())),
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for Pty {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        loop {
            let mut guard = ready!(self.0.poll_write_ready(cx))?;
            match guard.try_io(|f| f.get_ref().write(data)) {
                Ok(r) => return Poll::Ready(r),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Through a real pty pair: written to the master, echoed back by the line discipline;
    /// an idle read does not hold the runtime's shutdown; EOF once the slave closes.
    #[test]
    fn master_reads_writes_and_ends() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let pair = nix::pty::openpty(None, None).unwrap();
        let master = pair.master;
        let writer = master.try_clone().unwrap();
        rt.block_on(async {
            let mut r = Pty::new(master).unwrap();
            let mut w = Pty::new(writer).unwrap();
            w.write_all(b"hi\n").await.unwrap();
            let mut buf = [0u8; 16];
            let n = r.read(&mut buf).await.unwrap();
            assert!(buf[..n].starts_with(b"hi"), "{:?}", &buf[..n]);
            drop(pair.slave);
            // Drain the rest of the echo, then EOF.
            let mut rest = Vec::new();
            r.read_to_end(&mut rest).await.unwrap();
        });
        // A read parked on an idle pty must not keep the runtime from shutting down.
        let idle = nix::pty::openpty(None, None).unwrap();
        let mut r = rt.block_on(async { Pty::new(idle.master).unwrap() });
        rt.spawn(async move {
            let mut buf = [0u8; 1];
            let _ = r.read(&mut buf).await;
        });
        let t = std::time::Instant::now();
        drop(rt);
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
        drop(idle.slave);
    }
}
