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
    /// A context over `client` (`rkube server` gives its in-process transport).
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
