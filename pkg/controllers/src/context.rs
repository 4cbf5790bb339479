//! What every controller shares.

use std::sync::Arc;

/// A client and the cluster facts controllers need.
#[derive(Clone)]
pub struct Context {
    pub client: kube::Client,
    /// The cluster CA bundle (PEM), published in every namespace as kube-root-ca.crt.
    pub root_ca_pem: Arc<str>,
    /// How long a node may stay silent before it is marked Unknown and tainted unreachable
    /// (`--node-monitor-grace-period`, 40 s).
    pub node_monitor_grace_period: std::time::Duration,
    /// Nodes per second whose pods may start being evicted, per zone (`--node-eviction-rate`,
    /// 0.1), and the same in a partially disrupted large zone (`--secondary-node-eviction-rate`,
    /// 0.01).
    pub node_eviction_rate: f64,
    pub secondary_node_eviction_rate: f64,
    /// A zone with more nodes than this keeps tainting at the secondary rate in partial
    /// disruption (smaller ones stop) (`--large-cluster-size-threshold`, 50).
    pub large_cluster_size_threshold: usize,
    /// The fraction of a zone's nodes not ready (at least 3) that makes it partially disrupted
    /// (`--unhealthy-zone-threshold`, 0.55).
    pub unhealthy_zone_threshold: f64,
    /// One watch and store per type, shared by every controller given this context (and by
    /// the in-process scheduler): each object decoded and held once.
    pub informers: crate::informers::Informers,
}

impl Context {
    /// A client from a kubeconfig document (the server renders one for its controllers),
    /// identifying itself as kube-controller-manager.
    pub async fn connect(kubeconfig_yaml: &str, root_ca_pem: &str) -> crate::Result<Self> {
        Self::connect_as(kubeconfig_yaml, root_ca_pem, "kube-controller-manager").await
    }

    /// As [`Context::connect`], with `component` as the User-Agent's first segment: the API
    /// server names the field manager of writes without a fieldManager after it, as upstream.
    pub async fn connect_as(
        kubeconfig_yaml: &str,
        root_ca_pem: &str,
        component: &str,
    ) -> crate::Result<Self> {
        let kc = kube::config::Kubeconfig::from_yaml(kubeconfig_yaml)
            .map_err(|e| crate::Error::Other(format!("controller kubeconfig: {e}")))?;
        let config =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| {
                    crate::Error::Other(format!("controller client configuration: {e}"))
                })?;
        let mut config = config;
        if let Ok(v) = http::HeaderValue::from_str(&user_agent(component)) {
            config.headers.push((http::header::USER_AGENT, v));
        }
        Ok(Self::new(kube::Client::try_from(config)?, root_ca_pem))
    }

    /// A context over an existing client (the server's in-process transport, say).
    pub fn new(client: kube::Client, root_ca_pem: &str) -> Self {
        Self {
            informers: crate::informers::Informers::new(client.clone()),
            client,
            root_ca_pem: root_ca_pem.into(),
            node_monitor_grace_period: crate::nodelifecycle::DEFAULT_GRACE_PERIOD,
            node_eviction_rate: crate::nodelifecycle::DEFAULT_NODE_EVICTION_RATE,
            secondary_node_eviction_rate:
                crate::nodelifecycle::DEFAULT_SECONDARY_NODE_EVICTION_RATE,
            large_cluster_size_threshold:
                crate::nodelifecycle::DEFAULT_LARGE_CLUSTER_SIZE_THRESHOLD,
            unhealthy_zone_threshold: crate::nodelifecycle::DEFAULT_UNHEALTHY_ZONE_THRESHOLD,
        }
    }
}

/// The User-Agent a component sends: the API server names the field manager of writes
/// without a fieldManager after its first segment, as upstream.
pub fn user_agent(component: &str) -> String {
    format!("{component}/{}", env!("CARGO_PKG_VERSION"))
}
