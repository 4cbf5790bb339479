//! rkube-network: the pod network of one node. A bridge (`rkube0`) holding the first address of the
//! node's podCIDR, one veth pair per pod into the pod's network namespace, IPAM persisted on disk,
//! a default route via the bridge, and masquerade for traffic leaving the cluster CIDR. Built on
//! netlink (rtnetlink) and nftables libraries, never on shelled-out `ip` commands.

use std::{
    net::Ipv4Addr,
    path::{Path, PathBuf},
};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid CIDR {0:?}")]
    InvalidCidr(String),
    #[error("no free address left in {0}")]
    Exhausted(String),
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// This node's pod CIDR, e.g. `10.42.0.0/24`.
    pub pod_cidr: String,
    /// The whole cluster's pod CIDR, e.g. `10.42.0.0/16` (no masquerade inside it).
    pub cluster_cidr: String,
    /// Bridge name, `rkube0` by default (tests use their own).
    pub bridge: String,
    /// Where IPAM keeps its allocations, e.g. `<data-dir>/agent/network`.
    pub state_dir: PathBuf,
    /// MTU for the bridge and veths (1500 by default).
    pub mtu: u32,
}

/// The node's pod network. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PodNetwork {
    _cfg: NetworkConfig,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub ip: Ipv4Addr,
    pub gateway: Ipv4Addr,
    pub prefix_len: u8,
}

impl PodNetwork {
    /// Creates (or adopts) the bridge, gateway address, forwarding and masquerade rules.
    pub async fn new(cfg: NetworkConfig) -> Result<Self> {
        Ok(Self { _cfg: cfg })
    }

    /// Gives the pod an address: veth pair, one end in `netns` as eth0 (and lo up), default route.
    /// Idempotent for the same `pod_id` (returns the same address).
    pub async fn attach(&self, pod_id: &str, netns: &Path) -> Result<Attachment> {
        let _ = (pod_id, netns);
        Err(Error::Other("attach: not implemented yet".into()))
    }

    /// Removes the pod's veth and releases its address; idempotent.
    pub async fn detach(&self, pod_id: &str) -> Result<()> {
        let _ = pod_id;
        Ok(())
    }

    /// Removes the bridge and rules (for tests and uninstall); idempotent.
    pub async fn teardown(&self) -> Result<()> {
        Ok(())
    }

    /// The address a pod has now, if any (after an agent restart).
    pub fn address_of(&self, pod_id: &str) -> Option<Ipv4Addr> {
        let _ = pod_id;
        None
    }
}
