//! rkube-server: composes the store, API server, controllers and agent into `rkube server`.

mod config;

use std::future::Future;

use rkube_store::Compactor;
use thiserror::Error;
use tracing::{info, info_span, Instrument};

pub use config::ServerConfig;

#[derive(Debug, Error)]
pub enum Error {
    #[error("opening the datastore: {0}")]
    Store(#[from] rkube_store::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Runs the server until `shutdown` resolves, then closes the store cleanly.
pub async fn run(cfg: ServerConfig, shutdown: impl Future<Output = ()>) -> Result<()> {
    let span = info_span!("server", data_dir = %cfg.data_dir.display());
    async move {
        let store = rkube_store::open(&cfg.backend()).await?;
        let revisions = store.revisions().await?;
        info!(
            backend = store.backend(),
            revision = revisions.current,
            "datastore ready"
        );
        let compactor = Compactor::start(store.clone(), cfg.compaction_interval);

        shutdown.await;
        info!("shutting down");
        drop(compactor);
        store.close().await?;
        info!("datastore closed");
        Ok(())
    }
    .instrument(span)
    .await
}
