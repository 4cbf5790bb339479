//! libcontainer's console socket: the helper creates the pty and sends its master over a unix
//! socket; the runtime keeps the master (exec TTYs and tty containers alike).

use std::{future::Future, os::fd::OwnedFd, path::Path};

use crate::{sys, Error, Result};

fn io(op: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io {
        op: op.into(),
        source,
    }
}

/// Binds `sock_path`, runs `helper` (which must name that socket), and returns the pty master
/// it sent with the helper's pid. The socket file is removed either way.
pub(crate) async fn run_with_console<F>(sock_path: &Path, helper: F) -> Result<(OwnedFd, i32)>
where
    F: Future<Output = Result<i32>>,
{
    let listener = tokio::net::UnixListener::bind(sock_path).map_err(io("console socket"))?;
    let accept = async {
        let (conn, _) = listener.accept().await.map_err(io("console accept"))?;
        let conn = conn.into_std().map_err(io("console socket"))?;
        conn.set_nonblocking(false).map_err(io("console socket"))?;
        tokio::task::spawn_blocking(move || sys::recv_fd(&conn))
            .await
            .map_err(|e| Error::Other(e.to_string()))?
            .map_err(io("receiving the pty master"))
    };
    tokio::pin!(helper, accept);
    // The helper sends the pty master before it exits; if it fails first, report its error.
    let result = tokio::select! {
        m = &mut accept => match m {
            Ok(m) => helper.await.map(|pid| (m, pid)),
            Err(e) => { let _ = helper.await; Err(e) }
        },
        p = &mut helper => match p {
            Err(e) => Err(e),
            Ok(pid) => accept.await.map(|m| (m, pid)),
        },
    };
    let _ = std::fs::remove_file(sock_path);
    result
}
