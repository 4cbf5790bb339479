//! An agent: a kubelet with its node identity. Shared by the server's embedded agent (which
//! issues the identity from its own CA) and `rkube agent` (which obtains it by joining another
//! machine's cluster with a token, see [`join`]).

pub mod files;
mod https;
pub mod join;
mod run;

use std::{future::Future, net::IpAddr, path::PathBuf, time::Duration};

use tracing::{error, info};

pub use join::{join, JoinError, JoinRequest, Joined};
pub use run::{run, AgentError, AgentRunConfig};

/// Parses a join token (k3s' full `K10...` or short form).
pub fn parse_token(token: &str) -> rkube_pki::Result<rkube_pki::token::JoinToken> {
    rkube_pki::token::parse(token)
}

/// Where a node runs and how its kubelet is set up.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    pub node_name: String,
    pub node_ip: IpAddr,
    /// `<data-dir>/agent`: images, containers, pods, network state, joined credentials.
    pub agent_dir: PathBuf,
    pub kubelet_port: u16,
    pub pod_bridge: String,
    pub registries: rkube_image::RegistriesConfig,
    pub cluster: ClusterSettings,
    /// The node also runs the control plane (the server's embedded agent).
    pub control_plane: bool,
    pub image_gc: rkube_image::GcPolicy,
}

/// What the whole cluster agrees on (the server's flags; a joining agent receives them).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSettings {
    #[serde(rename = "clusterCIDR")]
    pub cluster_cidr: String,
    #[serde(rename = "clusterDNS")]
    pub cluster_dns: IpAddr,
    pub cluster_domain: String,
}

/// The node's credentials: its client certificate towards the API server
/// (`system:node:<name>` in `system:nodes`) and its kubelet serving certificate, both from the
/// cluster CA.
#[derive(Clone)]
pub struct NodeIdentity {
    pub server_url: String,
    pub ca_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
    pub serving_cert_pem: String,
    pub serving_key_pem: String,
}

impl std::fmt::Debug for NodeIdentity {
    /// Keys are secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeIdentity")
            .field("server_url", &self.server_url)
            .finish_non_exhaustive()
    }
}

impl NodeIdentity {
    /// A kubeconfig for the node's client identity.
    pub fn kubeconfig(&self) -> String {
        rkube_pki::kubeconfig::render(
            &self.server_url,
            &self.ca_pem,
            &self.client_cert_pem,
            &self.client_key_pem,
            "default",
            "kubelet",
        )
    }
}

/// Connects to the API server as the node and spawns the kubelet; it runs until `stop`
/// resolves.
pub async fn start(
    settings: AgentSettings,
    identity: NodeIdentity,
    stop: impl Future<Output = ()> + Send + 'static,
) -> crate::Result<tokio::task::JoinHandle<()>> {
    let client = client(&identity.kubeconfig()).await?;
    Ok(start_with(settings, identity, client, stop))
}

/// As [`start`], over a client the caller made (the server's in-process transport, acting
/// as this node); `identity` still provides the kubelet's serving certificate.
pub fn start_with(
    settings: AgentSettings,
    identity: NodeIdentity,
    client: kube::Client,
    stop: impl Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    let cfg = crate::KubeletConfig {
        node_name: settings.node_name.clone(),
        agent_dir: settings.agent_dir,
        node_ip: settings.node_ip,
        port: settings.kubelet_port,
        serving_cert_pem: chain(&identity.serving_cert_pem, &identity.ca_pem),
        serving_key_pem: identity.serving_key_pem,
        client_ca_pem: identity.ca_pem,
        // The node IPAM controller assigns spec.podCIDR.
        pod_cidr: None,
        cluster_cidr: settings.cluster.cluster_cidr,
        pod_bridge: settings.pod_bridge,
        cluster_dns: settings.cluster.cluster_dns,
        cluster_domain: settings.cluster.cluster_domain,
        registries: settings.registries,
        control_plane: settings.control_plane,
        helper_exe: std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into()),
        lease_interval: Duration::from_secs(10),
        streaming_idle_timeout: Duration::from_secs(4 * 3600),
        image_gc: settings.image_gc,
    };
    info!(node = %cfg.node_name, ip = %cfg.node_ip, port = cfg.port, "starting the agent");
    tokio::spawn(async move {
        if let Err(e) = crate::run(cfg, client, stop).await {
            error!(error = %e, "the agent failed");
        }
    })
}

async fn client(kubeconfig_yaml: &str) -> crate::Result<kube::Client> {
    let kc = kube::config::Kubeconfig::from_yaml(kubeconfig_yaml)
        .map_err(|e| crate::Error::Other(format!("node kubeconfig: {e}")))?;
    let mut config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .map_err(|e| crate::Error::Other(format!("node client configuration: {e}")))?;
    // Writes without a fieldManager are attributed to the User-Agent's component, as upstream.
    let agent = format!("kubelet/{}", env!("CARGO_PKG_VERSION"));
    if let Ok(v) = hyper::header::HeaderValue::from_str(&agent) {
        config.headers.push((hyper::header::USER_AGENT, v));
    }
    Ok(kube::Client::try_from(config)?)
}

fn chain(leaf: &str, ca: &str) -> String {
    let mut s = leaf.to_string();
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s.push_str(ca);
    s
}
