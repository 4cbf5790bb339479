//! rkube-store: the revisioned key-value contract that etcd v3 defines, with two backends:
//! [`embedded`] (in-process, durable, the default) and [`etcd`] (a real etcd via etcd-client).
//! One conformance suite (`tests/conformance.rs`) runs the same cases against both.

mod compactor;
pub mod embedded;
mod error;
pub mod etcd;
mod keys;
mod store;
mod types;

use std::{path::PathBuf, sync::Arc, time::Duration};

pub use compactor::Compactor;
pub use error::{Error, Result};
pub use keys::{in_range, prefix_end};
pub use store::{Revisions, Store, StoreExt, WatchStream};
pub use types::*;

/// Which backend to open, and how.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The embedded store in this directory.
    Embedded { dir: PathBuf },
    /// A real etcd.
    Etcd(etcd::EtcdConfig),
}

/// How long history is kept before automatic compaction drops it (kube-apiserver's default).
pub const DEFAULT_COMPACTION_INTERVAL: Duration = Duration::from_secs(300);

/// Opens a backend.
pub async fn open(backend: &Backend) -> Result<Arc<dyn Store>> {
    Ok(match backend {
        Backend::Embedded { dir } => Arc::new(embedded::EmbeddedStore::open(dir)?),
        Backend::Etcd(cfg) => Arc::new(etcd::EtcdStore::connect(cfg).await?),
    })
}
