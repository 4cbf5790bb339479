//! Port-forward dialing: a TCP connection made from inside a sandbox's network namespace.

use std::{net::SocketAddr, path::Path};

use nix::sched::{setns, CloneFlags};

use crate::{Error, Result};

/// Connects to 127.0.0.1:`port` in `netns` (the host's when `None`). setns runs in a dedicated
/// thread that ends right after, so no tokio worker changes namespace; the socket keeps the
/// namespace it was created in.
pub(crate) async fn dial(netns: Option<&Path>, port: u16) -> Result<tokio::net::TcpStream> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let netns = netns.map(Path::to_path_buf);
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("rkube-dial".into())
        .spawn(move || {
            let r = (|| {
                if let Some(ns) = &netns {
                    let f = std::fs::File::open(ns)?;
                    setns(&f, CloneFlags::CLONE_NEWNET)?;
                }
                let s = std::net::TcpStream::connect(addr)?;
                s.set_nonblocking(true)?;
                Ok::<_, std::io::Error>(s)
            })();
            let _ = tx.send(r);
        })
        .map_err(|source| Error::Io {
            op: "spawning dial thread".into(),
            source,
        })?;
    let stream = rx
        .await
        .map_err(|_| Error::Other("dial thread vanished".into()))?
        .map_err(|source| Error::Io {
            op: format!("connecting to {addr} in the pod"),
            source,
        })?;
    tokio::net::TcpStream::from_std(stream).map_err(|source| Error::Io {
        op: "registering socket".into(),
        source,
    })
}
