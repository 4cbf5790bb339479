//! rkube-kubelet: runs the pods bound to one node as real containers (rkube-runtime), with images
//! from rkube-image and addresses from rkube-network. Talks to the cluster only through
//! `kube::Client`, like the upstream kubelet; serves the kubelet API (logs, exec, attach,
//! port-forward) that the API server proxies to.

pub mod agent;
mod airgap;
mod container_spec;
mod env;
mod grpc_probe;
mod hooks;
mod image_gc;
mod killall;
mod lease;
mod lifecycle;
mod machine;
mod node;
mod pods;
mod probes;
mod proxy;
mod routes;
pub mod server;

pub use killall::killall;

/// The cgroup under which every container of this agent lives.
pub const CGROUP_PARENT: &str = "/rkube";
mod status;
mod time;
mod volumes;

use std::{net::IpAddr, path::PathBuf, sync::Arc, time::Duration};

use k8s_openapi::api::core::v1::Node;
use kube::api::Api;
use tracing::{info, warn};

pub use pods::PodTable;

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
    /// The pod bridge (`rkube0`; tests use their own so clusters do not collide).
    pub pod_bridge: String,
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
    /// imageGCHighThresholdPercent, imageGCLowThresholdPercent, imageMinimumGCAge.
    pub image_gc: rkube_image::GcPolicy,
}

/// Runs the kubelet until `shutdown` resolves. Running containers are left running on shutdown
/// (a restarted kubelet re-adopts them: see pods::adopt).
pub async fn run(
    cfg: KubeletConfig,
    client: kube::Client,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<()> {
    let runtime = rkube_runtime::Runtime::new(rkube_runtime::RuntimeConfig {
        root: cfg.agent_dir.join("containers"),
        helper_exe: cfg.helper_exe.clone(),
        cgroup_parent: CGROUP_PARENT.into(),
    })?;
    let images = rkube_image::ImageService::open(
        &cfg.agent_dir.join("images-store"),
        cfg.registries.clone(),
    )?;
    airgap::import_dir(&images, &cfg.agent_dir.join("images")).await;
    let (net_tx, net_rx) = tokio::sync::watch::channel(None);
    let table = PodTable::default();
    let ctx = Arc::new(pods::Ctx {
        client: client.clone(),
        runtime: runtime.clone(),
        images,
        network: net_rx,
        events: pods::Recorder::new(client.clone(), cfg.node_name.clone()),
        table: table.clone(),
        host_resolv: std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        host_ip: cfg.node_ip.to_string(),
        cfg: cfg.clone(),
    });
    let streaming = server::serve(
        server::StreamingConfig {
            bind: std::net::SocketAddr::new(cfg.node_ip, cfg.port),
            serving_cert_pem: cfg.serving_cert_pem.clone(),
            serving_key_pem: cfg.serving_key_pem.clone(),
            client_ca_pem: cfg.client_ca_pem.clone(),
            idle_timeout: cfg.streaming_idle_timeout,
        },
        runtime,
        Arc::new(table),
        std::future::pending(),
    );
    let proxy = std::sync::Mutex::new(None::<proxy::Proxy>);
    let work = async {
        let mut reporter =
            node::NodeReporter::new(cfg.clone(), client.clone()).with_images(ctx.images.clone());
        let mut not_ready: node::NotReady = Some(
            "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:no podCIDR assigned yet".into(),
        );
        let registered = loop {
            match reporter.register(&not_ready).await {
                Ok(n) => break n,
                Err(e) => {
                    warn!(error = %e, "registering the node failed; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        };
        let node_uid = registered.metadata.uid.clone().unwrap_or_default();
        tokio::spawn(lease::renew_forever(
            client.clone(),
            cfg.node_name.clone(),
            node_uid,
            cfg.lease_interval,
        ));
        let pods = tokio::spawn(pods::run(ctx.clone()));
        tokio::spawn(image_gc::run_forever(
            client.clone(),
            ctx.images.clone(),
            cfg.image_gc,
            cfg.node_name.clone(),
        ));
        let pod_cidr = wait_pod_cidr(&cfg, &client, registered).await;
        let network = loop {
            match rkube_network::PodNetwork::new(rkube_network::NetworkConfig {
                pod_cidr: pod_cidr.clone(),
                cluster_cidr: cfg.cluster_cidr.clone(),
                bridge: cfg.pod_bridge.clone(),
                state_dir: cfg.agent_dir.join("network"),
                mtu: 1500,
            })
            .await
            {
                Ok(n) => break n,
                Err(e) => {
                    warn!(error = %e, "setting up the pod network failed; retrying");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
        };
        info!(pod_cidr = %pod_cidr, bridge = %cfg.pod_bridge, "pod network ready");
        let _ = net_tx.send(Some(network));
        start_proxy(&cfg, &client, &proxy);
        // Routes to the other nodes' pod CIDRs; aborted when this work ends.
        let _routes = routes::start(
            client.clone(),
            cfg.node_name.clone(),
            &cfg.cluster_cidr,
            &cfg.agent_dir.join("network"),
        );
        not_ready = None;
        let mut tick = tokio::time::interval(node::NodeReporter::check_every());
        loop {
            tick.tick().await;
            if let Err(e) = reporter.update(&not_ready).await {
                warn!(error = %e, "reporting node status failed");
            }
            if pods.is_finished() {
                warn!("the pod watch ended");
            }
        }
    };
    tokio::select! {
        _ = work => {}
        r = streaming => {
            if let Err(e) = r {
                return Err(Error::Server(e.to_string()));
            }
        }
        _ = shutdown => {}
    }
    let started_proxy = proxy.lock().ok().and_then(|mut p| p.take());
    if let Some(p) = started_proxy {
        p.stop().await;
    }
    info!("kubelet stopped; containers keep running");
    Ok(())
}

/// Starts the Service proxy (after the pod network is up), keeping its handle for the stop.
fn start_proxy(
    cfg: &KubeletConfig,
    client: &kube::Client,
    slot: &std::sync::Mutex<Option<proxy::Proxy>>,
) {
    let cluster_cidr = match cfg.cluster_cidr.parse() {
        Ok(c) => c,
        Err(e) => {
            warn!(error = %e, "no Service proxy: the cluster CIDR is invalid");
            return;
        }
    };
    let p = proxy::Proxy::start(
        rkube_network::proxy::ProxyConfig {
            bridge: cfg.pod_bridge.clone(),
            node_name: cfg.node_name.clone(),
            cluster_cidr,
        },
        client.clone(),
    );
    if let Ok(mut slot) = slot.lock() {
        *slot = Some(p);
    }
}

/// The configured pod CIDR, else the node's spec.podCIDR once the node IPAM controller set it.
async fn wait_pod_cidr(cfg: &KubeletConfig, client: &kube::Client, node: Node) -> String {
    let from = |n: &Node| {
        n.spec
            .as_ref()
            .and_then(|s| s.pod_cidr.clone())
            .filter(|c| !c.is_empty())
    };
    if let Some(c) = from(&node).or_else(|| cfg.pod_cidr.clone()) {
        return c;
    }
    info!("waiting for the node's podCIDR");
    let api: Api<Node> = Api::all(client.clone());
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Ok(n) = api.get(&cfg.node_name).await {
            if let Some(c) = from(&n) {
                return c;
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn config() -> KubeletConfig {
        KubeletConfig {
            node_name: "n1".into(),
            agent_dir: "/tmp/rkube-test-agent".into(),
            node_ip: "10.0.0.5".parse().unwrap(),
            port: 10250,
            serving_cert_pem: String::new(),
            serving_key_pem: String::new(),
            client_ca_pem: String::new(),
            pod_cidr: None,
            cluster_cidr: "10.42.0.0/16".into(),
            pod_bridge: "rkube0".into(),
            cluster_dns: "10.43.0.10".parse().unwrap(),
            cluster_domain: "cluster.local".into(),
            registries: Default::default(),
            control_plane: false,
            helper_exe: "/bin/false".into(),
            lease_interval: Duration::from_secs(10),
            streaming_idle_timeout: Duration::from_secs(3600),
            image_gc: Default::default(),
        }
    }
}
