//! Running netlink work inside another network namespace. setns(2) changes only the calling
//! thread, so it happens on a dedicated std thread that exits afterwards (never a tokio worker,
//! which would keep serving other tasks from inside the pod's namespace). That thread runs its
//! own current-thread runtime, so its netlink socket is opened inside the namespace.

use std::{fs::File, future::Future, path::Path};

use nix::sched::{setns, CloneFlags};

use crate::{Error, Result};

/// Runs `work` with the thread in the network namespace at `netns`.
pub(crate) async fn run_in<F, Fut, T>(netns: &Path, work: F) -> Result<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T>>,
    T: Send + 'static,
{
    let ns = open(netns)?;
    let path = netns.display().to_string();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("rkube-netns".into())
        .spawn(move || {
            let result = (|| {
                setns(&ns, CloneFlags::CLONE_NEWNET)
                    .map_err(|e| Error::Other(format!("setns {path}: {e}")))?;
                drop(ns);
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| Error::Other(format!("netns runtime: {e}")))?;
                rt.block_on(work())
            })();
            let _ = tx.send(result);
        })
        .map_err(|e| Error::Other(format!("spawn netns thread: {e}")))?;
    rx.await
        .map_err(|_| Error::Other("netns thread panicked".into()))?
}

/// Opens a network namespace file (e.g. `/var/run/netns/x` or `/proc/<pid>/ns/net`).
pub(crate) fn open(netns: &Path) -> Result<File> {
    File::open(netns).map_err(|e| Error::Other(format!("open netns {}: {e}", netns.display())))
}
