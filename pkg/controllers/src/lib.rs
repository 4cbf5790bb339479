//! rkube-controllers: kube-controller-manager's controllers, built on kube-runtime, seeing the
//! cluster only through `kube::Client` (so they work against any conformant API server).

mod clusterrole_aggregation;
mod context;
mod deployment;
mod endpoints;
mod endpointslice;
mod gc;
pub mod informers;
pub mod leader;
mod namespace;
pub mod nodeipam;
pub mod nodelifecycle;
mod replicaset;
mod serviceaccount;

use std::future::Future;

use tracing::info;

pub use context::{user_agent, Context};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Runs every controller until `shutdown` resolves.
pub async fn run(ctx: Context, shutdown: impl Future<Output = ()>) {
    info!("controllers starting");
    let tasks = vec![
        tokio::spawn(namespace::run(ctx.clone())),
        tokio::spawn(serviceaccount::run(ctx.clone())),
        tokio::spawn(replicaset::run(ctx.clone())),
        tokio::spawn(deployment::run(ctx.clone())),
        tokio::spawn(gc::run(ctx.clone())),
        tokio::spawn(endpoints::run(ctx.clone())),
        tokio::spawn(endpointslice::run(ctx.clone())),
        tokio::spawn(nodelifecycle::run(ctx.clone())),
        tokio::spawn(clusterrole_aggregation::run(ctx.clone())),
    ];
    shutdown.await;
    for t in tasks {
        t.abort();
    }
    info!("controllers stopped");
}
