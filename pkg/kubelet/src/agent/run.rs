//! `rkube agent`: join another machine's cluster, then run the kubelet until shutdown.

use std::{future::Future, net::IpAddr, path::PathBuf};

use tracing::info;

use super::{join, AgentSettings, JoinError, JoinRequest};

/// `rkube agent`'s resolved configuration.
#[derive(Debug, Clone)]
pub struct AgentRunConfig {
    pub server_url: String,
    pub token: String,
    pub data_dir: PathBuf,
    pub node_name: String,
    /// `None`: this host's first IPv4 address.
    pub node_ip: Option<IpAddr>,
    pub kubelet_port: u16,
    pub pod_bridge: String,
    pub registries: rkube_image::RegistriesConfig,
    pub image_gc: rkube_image::GcPolicy,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Join(#[from] JoinError),
    #[error(transparent)]
    Kubelet(#[from] crate::Error),
}

/// Joins, starts the kubelet and runs it until `shutdown` resolves.
pub async fn run(
    cfg: AgentRunConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AgentError> {
    let node_ip = cfg.node_ip.unwrap_or_else(|| {
        rkube_pki::host_addresses()
            .into_iter()
            .find(|a| a.is_ipv4() && !a.is_loopback())
            .unwrap_or_else(|| IpAddr::from([127, 0, 0, 1]))
    });
    let agent_dir = cfg.data_dir.join("agent");
    let joined = join(&JoinRequest {
        server_url: cfg.server_url.clone(),
        token: cfg.token,
        node_name: cfg.node_name.clone(),
        node_ip,
        agent_dir: agent_dir.clone(),
    })
    .await?;
    info!(
        node = %cfg.node_name,
        server = %cfg.server_url,
        reused = joined.reused,
        "node credentials ready"
    );
    let settings = AgentSettings {
        node_name: cfg.node_name,
        node_ip,
        agent_dir,
        kubelet_port: cfg.kubelet_port,
        pod_bridge: cfg.pod_bridge,
        registries: cfg.registries,
        cluster: joined.cluster,
        control_plane: false,
        image_gc: cfg.image_gc,
    };
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let kubelet = super::start(settings, joined.identity, async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    })
    .await?;
    shutdown.await;
    info!("shutting down");
    let _ = stop_tx.send(true);
    let _ = kubelet.await;
    Ok(())
}
