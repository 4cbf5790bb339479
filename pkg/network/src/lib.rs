//! rkube-network: the pod network of one node. A bridge (`rkube0`) holding the first address of the
//! node's podCIDR, one veth pair per pod into the pod's network namespace, IPAM persisted on disk,
//! a default route via the bridge, and masquerade for traffic leaving the cluster CIDR. Built on
//! netlink (rtnetlink) and nftables libraries, never on shelled-out `ip` commands.

mod bridge;
mod cidr;
mod ipam;
mod masquerade;
mod netlink;
mod netns;
pub mod proxy;
pub mod routes;
mod sysctl;
mod veth;
pub mod vxlan;

use std::{
    net::Ipv4Addr,
    path::{Path, PathBuf},
    sync::Arc,
};

use tracing::{debug, info, instrument, warn};

pub use cidr::Ipv4Cidr;
pub use ipam::next_free;

use crate::{ipam::Ipam, netlink::Netlink};

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
    cfg: Arc<NetworkConfig>,
    pod_cidr: Ipv4Cidr,
    gateway: Ipv4Addr,
    mtu: u32,
    ipam: Ipam,
    /// Serializes attach/detach/teardown of this instance, so two attaches of one pod agree.
    lock: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub ip: Ipv4Addr,
    pub gateway: Ipv4Addr,
    pub prefix_len: u8,
}

/// The host-side interface name of a pod's veth (`veth` + 8 hex digits of a hash of `pod_id`).
pub fn host_interface(pod_id: &str) -> String {
    veth::host_name(pod_id)
}

/// The nftables table (family `ip`) holding the masquerade rules of `bridge`.
pub fn masquerade_table(bridge: &str) -> String {
    masquerade::table_name(bridge)
}

/// Removes `bridge`, the veths still on it and its masquerade table, without needing the
/// network's configuration (`rkube killall`, tests); idempotent.
#[instrument]
pub async fn remove_bridge(bridge: &str) -> Result<()> {
    let nl = Netlink::connect()?;
    if let Some(index) = nl.link_index(bridge).await? {
        for port in nl.ports_of(index).await? {
            nl.delete_index(port).await?;
        }
        nl.delete_index(index).await?;
    }
    masquerade::delete(&masquerade::table_name(bridge)).await?;
    proxy::delete(bridge).await?;
    info!("pod network removed");
    Ok(())
}

impl PodNetwork {
    /// Creates (or adopts) the bridge, gateway address, forwarding and masquerade rules.
    #[instrument(skip_all, fields(bridge = %cfg.bridge, pod_cidr = %cfg.pod_cidr))]
    pub async fn new(cfg: NetworkConfig) -> Result<Self> {
        let pod_cidr: Ipv4Cidr = cfg.pod_cidr.parse()?;
        let cluster_cidr: Ipv4Cidr = cfg.cluster_cidr.parse()?;
        // A gateway and at least one pod: /30 or larger.
        let gateway = pod_cidr
            .gateway()
            .filter(|_| pod_cidr.prefix_len() <= 30)
            .ok_or_else(|| Error::InvalidCidr(cfg.pod_cidr.clone()))?;
        if !cluster_cidr.contains(pod_cidr.network()) {
            warn!(%cluster_cidr, "pod CIDR is outside the cluster CIDR; all its traffic is masqueraded");
        }
        let mtu = if cfg.mtu == 0 { 1500 } else { cfg.mtu };
        let ipam = Ipam::open(&cfg.state_dir.join("ipam"), pod_cidr)?;

        sysctl::enable_ip_forward()?;
        sysctl::ensure_bridge_netfilter();
        let nl = Netlink::connect()?;
        bridge::ensure(&nl, &cfg.bridge, gateway, pod_cidr.prefix_len(), mtu).await?;
        masquerade::ensure(
            &masquerade::table_name(&cfg.bridge),
            &pod_cidr,
            &cluster_cidr,
        )
        .await?;
        info!(%gateway, mtu, "pod network ready");
        Ok(Self {
            cfg: Arc::new(cfg),
            pod_cidr,
            gateway,
            mtu,
            ipam,
            lock: Arc::default(),
        })
    }

    /// Gives the pod an address: veth pair, one end in `netns` as eth0 (and lo up), default route.
    /// Idempotent for the same `pod_id` (returns the same address).
    #[instrument(skip(self, netns), fields(netns = %netns.display()))]
    pub async fn attach(&self, pod_id: &str, netns: &Path) -> Result<Attachment> {
        let _serial = self.lock.lock().await;
        // Open first: a wrong path must not cost an address.
        let ns = netns::open(netns)?;
        let host = veth::host_name(pod_id);
        let (ip, fresh) = self.ipam.allocate(pod_id)?;
        let att = Attachment {
            ip,
            gateway: self.gateway,
            prefix_len: self.pod_cidr.prefix_len(),
        };
        let nl = Netlink::connect()?;
        if !fresh && nl.link_index(&host).await?.is_some() {
            // Already attached (an agent restart or a retried sync): make sure the pod side is
            // complete; if this is a different namespace, rebuild below.
            match veth::configure_pod_side(netns, att.clone()).await {
                Ok(()) => {
                    debug!(%ip, "already attached");
                    return Ok(att);
                }
                Err(e) => debug!(error = %e, "existing attachment unusable; recreating"),
            }
        }
        let wired = async {
            nl.delete_link(&host).await?;
            let bridge = nl
                .link_index(&self.cfg.bridge)
                .await?
                .ok_or_else(|| Error::Other(format!("bridge {} is missing", self.cfg.bridge)))?;
            veth::create(&nl, &host, bridge, self.mtu, &ns).await?;
            veth::configure_pod_side(netns, att.clone()).await
        }
        .await;
        if let Err(e) = wired {
            let _ = nl.delete_link(&host).await;
            if fresh {
                let _ = self.ipam.release(pod_id);
            }
            return Err(e);
        }
        info!(%ip, veth = %host, "pod attached");
        Ok(att)
    }

    /// Removes the pod's veth and releases its address; idempotent.
    #[instrument(skip(self))]
    pub async fn detach(&self, pod_id: &str) -> Result<()> {
        let _serial = self.lock.lock().await;
        let host = veth::host_name(pod_id);
        let nl = Netlink::connect()?;
        let had_link = nl.delete_link(&host).await?;
        let released = self.ipam.release(pod_id)?;
        if had_link || !released.is_empty() {
            info!(veth = %host, ?released, "pod detached");
        }
        Ok(())
    }

    /// Removes the bridge and rules (for tests and uninstall); idempotent. Veths still on the
    /// bridge are removed with it; the IPAM files under `state_dir` are left to the caller.
    #[instrument(skip(self), fields(bridge = %self.cfg.bridge))]
    pub async fn teardown(&self) -> Result<()> {
        let _serial = self.lock.lock().await;
        remove_bridge(&self.cfg.bridge).await
    }

    /// The address a pod has now, if any (after an agent restart).
    pub fn address_of(&self, pod_id: &str) -> Option<Ipv4Addr> {
        match self.ipam.find(pod_id) {
            Ok(ip) => ip,
            Err(e) => {
                warn!(error = %e, pod_id, "reading IPAM state failed");
                None
            }
        }
    }
}
