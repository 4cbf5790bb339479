//! rkube-sim: simulated nodes, KWOK-style. Each registers a Node (capacity, conditions,
//! addresses, nodeInfo, a pod CIDR), holds its Lease in kube-node-lease, and plays the
//! kubelet for pods bound to it: Pending to Running with an IP from its pod CIDR (no
//! containers run), readiness after a readiness probe's initial delay, and on deletion the
//! containers' termination followed by the final `DELETE` with grace period 0, as the kubelet
//! does. Everything goes through `kube::Client`, so it works against any cluster.

mod ipam;
mod nodes;
mod pods;

use std::{future::Future, sync::Arc};

use futures_util::StreamExt;
use kube::Client;
use tracing::info;

pub use ipam::{node_cidr, node_ip, node_prefix, Cidr, NodeIpam};
pub use nodes::SimNode;

/// What the simulated nodes look like.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// How many nodes: `<name_prefix>0` .. `<name_prefix><nodes-1>`.
    pub nodes: usize,
    /// Capacity (and allocatable) of each node, as Kubernetes quantities.
    pub cpu: String,
    pub memory: String,
    pub ephemeral_storage: String,
    pub pods: u32,
    /// Node pod CIDRs are carved from this (sim-0 gets the second /24: 10.42.1.0/24).
    pub pod_cidr_base: String,
    /// Node InternalIPs: the base's 1st, 2nd, ... addresses. Never used for traffic.
    pub node_ip_base: String,
    pub name_prefix: String,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            nodes: 3,
            cpu: "32".into(),
            memory: "256Gi".into(),
            ephemeral_storage: "100Gi".into(),
            pods: 110,
            pod_cidr_base: "10.42.0.0/16".into(),
            node_ip_base: "10.41.0.0/16".into(),
            name_prefix: "sim-".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("simulated nodes: {0}")]
    Config(String),
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
}

/// Node `i`'s name, InternalIP and planned pod CIDR.
#[derive(Debug, Clone)]
pub struct NodePlan {
    pub name: String,
    pub ip: std::net::Ipv4Addr,
    pub pod_cidr: Cidr,
}

impl SimConfig {
    /// Checks the settings and lays out every node's name and addresses.
    pub fn plan(&self) -> Result<Vec<NodePlan>, Error> {
        let bad = |m: String| Error::Config(m);
        for (key, q) in [
            ("cpu", &self.cpu),
            ("memory", &self.memory),
            ("ephemeral-storage", &self.ephemeral_storage),
        ] {
            if !valid_quantity(q) {
                return Err(bad(format!(
                    "{key}: {q:?} is not a quantity like 32 or 256Gi"
                )));
            }
        }
        if self.name_prefix.is_empty()
            || !self
                .name_prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        {
            return Err(bad(format!(
                "name prefix {:?} is not a DNS name prefix",
                self.name_prefix
            )));
        }
        let pod_base: Cidr = self.pod_cidr_base.parse().map_err(bad)?;
        let ip_base: Cidr = self.node_ip_base.parse().map_err(bad)?;
        let prefix = node_prefix(&pod_base, self.nodes).map_err(bad)?;
        (0..self.nodes)
            .map(|i| {
                Ok(NodePlan {
                    name: format!("{}{i}", self.name_prefix),
                    ip: node_ip(&ip_base, i).ok_or_else(|| {
                        bad(format!(
                            "node IP base {ip_base} has no room for {} nodes",
                            self.nodes
                        ))
                    })?,
                    pod_cidr: node_cidr(&pod_base, prefix, i).expect("node_prefix made room"),
                })
            })
            .collect()
    }
}

fn valid_quantity(q: &str) -> bool {
    let digits = q.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &q[digits.len()..];
    !digits.is_empty()
        && digits.parse::<f64>().is_ok_and(|v| v >= 0.0)
        && matches!(
            suffix,
            "" | "m" | "k" | "M" | "G" | "T" | "P" | "E" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei"
        )
}

/// Registers the nodes, then keeps their leases and status fresh and runs their pods until
/// `shutdown` resolves. Fails only on bad settings; API errors are retried.
pub async fn run(
    client: Client,
    cfg: SimConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let plan = cfg.plan()?;
    let cfg = Arc::new(cfg);
    info!(nodes = plan.len(), "simulated nodes starting");
    let work = async {
        let registered: Vec<SimNode> = futures_util::stream::iter(plan)
            .map(|p| nodes::register_until_done(client.clone(), cfg.clone(), p))
            .buffered(16)
            .collect()
            .await;
        let registered = Arc::new(registered);
        info!(nodes = registered.len(), "simulated nodes registered");
        let (dirty_tx, dirty_rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::join!(
            nodes::heartbeats(client.clone(), registered.clone(), dirty_rx),
            nodes::watch(client.clone(), registered.clone(), dirty_tx),
            pods::run(client.clone(), registered.clone()),
        );
    };
    tokio::select! {
        _ = work => {}
        _ = shutdown => {}
    }
    info!("simulated nodes stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_lays_out_nodes() {
        let plan = SimConfig::default().plan().unwrap();
        let names: Vec<_> = plan.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["sim-0", "sim-1", "sim-2"]);
        assert_eq!(plan[0].pod_cidr.to_string(), "10.42.1.0/24");
        assert_eq!(plan[2].pod_cidr.to_string(), "10.42.3.0/24");
        assert_eq!(plan[1].ip.to_string(), "10.41.0.2");
        let big = SimConfig {
            nodes: 1000,
            ..SimConfig::default()
        }
        .plan()
        .unwrap();
        assert_eq!(big[999].pod_cidr.to_string(), "10.42.250.0/26");
        for bad in [
            SimConfig {
                cpu: "lots".into(),
                ..SimConfig::default()
            },
            SimConfig {
                memory: "1Gb".into(),
                ..SimConfig::default()
            },
            SimConfig {
                pod_cidr_base: "10.42.0.0".into(),
                ..SimConfig::default()
            },
            SimConfig {
                node_ip_base: "192.0.2.0/30".into(),
                ..SimConfig::default()
            },
            SimConfig {
                name_prefix: "Sim_".into(),
                ..SimConfig::default()
            },
            SimConfig {
                nodes: 100_000,
                ..SimConfig::default()
            },
        ] {
            assert!(bad.plan().is_err(), "{bad:?}");
        }
        assert!(valid_quantity("1.5Gi") && valid_quantity("500m") && valid_quantity("32"));
    }
}
