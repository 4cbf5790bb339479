//! Flannel-style VXLAN to nodes that are not on this node's L2 (reached only through a router).
//! One device per agent (VNI [`VNI`], UDP [`PORT`], local = the node's address, no learning),
//! holding the node's VTEP address: its pod CIDR's network address as a /32. For each remote node
//! the controller programs, all on that device: a route `<podCIDR> via <remote VTEP> onlink`
//! (proto 82, recorded by [`crate::routes::PodRoutes`]), a permanent neighbour entry
//! (remote VTEP -> remote VTEP MAC) and an FDB entry (remote MAC -> remote node address). Nothing
//! is learned or flooded. Deleting the device takes all its routes and entries with it; the device
//! name is recorded in `<state_dir>/vxlan`, so `rkube killall` deletes only this agent's device.
//!
//! MTU: the device has the link MTU minus 50 (VXLAN over IPv4), 1450 on an Ethernet link. Pods'
//! veths stay at the bridge's MTU (1500): TCP across nodes adapts through path-MTU discovery
//! (the vxlan device answers "fragmentation needed"), large UDP datagrams are fragmented.

use std::{
    net::{IpAddr, Ipv4Addr},
    path::{Path, PathBuf},
};

use futures_util::TryStreamExt;
use rtnetlink::{
    packet_route::{
        link::{InfoData, InfoVxlan, LinkAttribute, LinkInfo},
        neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage},
        AddressFamily,
    },
    LinkVxlan,
};
use tracing::info;

use crate::{
    cidr::Ipv4Cidr,
    netlink::{errno, exists, nl_err, Netlink},
    Error, Result,
};

/// flannel's VNI.
pub const VNI: u32 = 1;
/// flannel's (and the Linux kernel's historical) VXLAN port.
pub const PORT: u16 = 8472;
/// VXLAN over IPv4: outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14).
pub const OVERHEAD: u32 = 50;
/// The Node annotation holding a node's VTEP MAC address.
pub const MAC_ANNOTATION: &str = "rkube.io/vxlan-mac";
/// The Node annotation holding the address other nodes send this node's VXLAN packets to.
pub const PUBLIC_IP_ANNOTATION: &str = "rkube.io/vxlan-public-ip";

const ENOENT: i32 = 2;
const ENODEV: i32 = 19;

/// This node's VXLAN endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vtep {
    pub device: String,
    pub index: u32,
    pub mac: [u8; 6],
    /// The VTEP address (the pod CIDR's network address).
    pub ip: Ipv4Addr,
}

/// A remote node's endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    pub pod_cidr: Ipv4Cidr,
    pub mac: [u8; 6],
    /// The remote node's address (the outer destination).
    pub public_ip: Ipv4Addr,
}

impl Peer {
    /// The remote VTEP address: the network address of its pod CIDR.
    pub fn vtep_ip(&self) -> Ipv4Addr {
        self.pod_cidr.network()
    }
}

/// The device name for the agent of `node`: `rkvx` + 8 hex digits of a hash of the name (at most
/// 15 bytes, distinct for several agents sharing a host in tests).
pub fn device_name(node: &str) -> String {
    // FNV-1a: stable across builds (std's hasher is not).
    let h = node.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    });
    format!("rkvx{h:08x}")
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = s
        .split(':')
        .map(|p| u8::from_str_radix(p, 16).ok().filter(|_| p.len() == 2))
        .collect::<Option<_>>()?;
    parts.try_into().ok()
}

fn record(state_dir: &Path) -> PathBuf {
    state_dir.join("vxlan")
}

/// Creates (or adopts) the device `device` with local address `local` and VTEP address
/// `pod_cidr`'s network address /32, up, MTU `mtu`; records its name under `state_dir`.
/// Idempotent: an existing device keeps its MAC (which other nodes have programmed).
pub async fn ensure(
    state_dir: &Path,
    device: &str,
    local: Ipv4Addr,
    pod_cidr: &Ipv4Cidr,
    mtu: u32,
) -> Result<Vtep> {
    // Record first: a crash right after the create leaves something killall finds.
    std::fs::create_dir_all(state_dir)
        .map_err(|e| Error::Other(format!("create {}: {e}", state_dir.display())))?;
    std::fs::write(record(state_dir), device)
        .map_err(|e| Error::Other(format!("write the vxlan record: {e}")))?;
    let nl = Netlink::connect()?;
    if let Some(index) = nl.link_index(device).await? {
        // Made for another address, VNI or port (the node's IP changed): the other nodes will
        // learn the new MAC from the annotation.
        let wanted = [
            InfoVxlan::Id(VNI),
            InfoVxlan::Local(local),
            InfoVxlan::Port(PORT),
        ];
        let info = vxlan_info(&nl, index).await?;
        if !wanted.iter().all(|w| info.contains(w)) {
            info!(%device, %local, "vxlan device has other settings; making it again");
            nl.delete_index(index).await?;
        }
    }
    if nl.link_index(device).await?.is_none() {
        let msg = LinkVxlan::new(device, VNI)
            .port(PORT)
            .local(local)
            .learning(false)
            .mtu(mtu)
            .build();
        match nl.handle.link().add(msg).execute().await {
            Ok(()) => info!(%device, %local, vni = VNI, port = PORT, "vxlan device created"),
            Err(e) if exists(&e) => {}
            Err(e) => return Err(nl_err(&format!("create vxlan device {device}"), e)),
        }
    }
    let index = nl
        .link_index(device)
        .await?
        .ok_or_else(|| Error::Other(format!("vxlan device {device} vanished")))?;
    let vtep_ip = pod_cidr.network();
    match nl
        .handle
        .address()
        .add(index, IpAddr::V4(vtep_ip), 32)
        .execute()
        .await
    {
        Ok(()) => {}
        Err(e) if exists(&e) => {}
        Err(e) => return Err(nl_err(&format!("address {vtep_ip}/32 on {device}"), e)),
    }
    nl.set_up(index, Some(mtu)).await?;
    Ok(Vtep {
        device: device.to_string(),
        index,
        mac: link_mac(&nl, index).await?,
        ip: vtep_ip,
    })
}

/// The VXLAN settings of link `index` (empty when it is not a VXLAN device).
async fn vxlan_info(nl: &Netlink, index: u32) -> Result<Vec<InfoVxlan>> {
    let msg = nl.link_by_index(index, "read the vxlan device").await?;
    let info = msg
        .into_iter()
        .flat_map(|m| m.attributes)
        .filter_map(|a| match a {
            LinkAttribute::LinkInfo(infos) => Some(infos),
            _ => None,
        })
        .flatten()
        .find_map(|i| match i {
            LinkInfo::Data(InfoData::Vxlan(v)) => Some(v),
            _ => None,
        });
    Ok(info.unwrap_or_default())
}

async fn link_mac(nl: &Netlink, index: u32) -> Result<[u8; 6]> {
    let msg = nl
        .link_by_index(index, "read the vxlan device")
        .await?
        .ok_or_else(|| Error::Other("vxlan device vanished".into()))?;
    msg.attributes
        .iter()
        .find_map(|a| match a {
            LinkAttribute::Address(mac) => mac.as_slice().try_into().ok(),
            _ => None,
        })
        .ok_or_else(|| Error::Other("vxlan device has no MAC address".into()))
}

/// The MTU for a VXLAN device over the link that reaches `local` (its MTU minus [`OVERHEAD`]),
/// 1450 when that link is not found.
pub async fn mtu_for(local: Ipv4Addr) -> Result<u32> {
    let nl = Netlink::connect()?;
    let mut addrs = nl.handle.address().get().execute();
    let mut index = None;
    while let Some(a) = addrs
        .try_next()
        .await
        .map_err(|e| nl_err("list addresses", e))?
    {
        let found = a.attributes.iter().any(|at| {
            matches!(at, rtnetlink::packet_route::address::AddressAttribute::Address(IpAddr::V4(ip)) if *ip == local)
        });
        if found {
            index = Some(a.header.index);
            break;
        }
    }
    let Some(index) = index else {
        return Ok(1500 - OVERHEAD);
    };
    let msg = nl.link_by_index(index, "read link").await?;
    let mtu = msg
        .and_then(|m| {
            m.attributes.iter().find_map(|a| match a {
                LinkAttribute::Mtu(m) => Some(*m),
                _ => None,
            })
        })
        .unwrap_or(1500);
    Ok(mtu.saturating_sub(OVERHEAD).max(576))
}

/// Programs the neighbour and FDB entries for `peer` on `vtep` (replacing older ones); the
/// route is the caller's ([`crate::routes::PodRoutes::set_via_device`]).
pub async fn set_peer(vtep: &Vtep, peer: &Peer) -> Result<()> {
    let nl = Netlink::connect()?;
    nl.handle
        .neighbours()
        .add(vtep.index, IpAddr::V4(peer.vtep_ip()))
        .link_layer_address(&peer.mac)
        .replace()
        .execute()
        .await
        .map_err(|e| {
            nl_err(
                &format!("neighbour {} on {}", peer.vtep_ip(), vtep.device),
                e,
            )
        })?;
    nl.handle
        .neighbours()
        .add_bridge(vtep.index, &peer.mac)
        .destination(IpAddr::V4(peer.public_ip))
        .flags(NeighbourFlags::Own)
        .replace()
        .execute()
        .await
        .map_err(|e| {
            nl_err(
                &format!("fdb {} on {}", format_mac(&peer.mac), vtep.device),
                e,
            )
        })?;
    info!(device = %vtep.device, pod_cidr = %peer.pod_cidr, mac = %format_mac(&peer.mac), public_ip = %peer.public_ip, "vxlan peer programmed");
    Ok(())
}

/// Removes `peer`'s neighbour and FDB entries from `vtep`; absent entries are fine.
pub async fn remove_peer(vtep: &Vtep, peer: &Peer) -> Result<()> {
    let nl = Netlink::connect()?;
    let mut neigh = NeighbourMessage::default();
    neigh.header.family = AddressFamily::Inet;
    neigh.header.ifindex = vtep.index;
    neigh
        .attributes
        .push(NeighbourAttribute::Destination(NeighbourAddress::Inet(
            peer.vtep_ip(),
        )));
    let mut fdb = NeighbourMessage::default();
    fdb.header.family = AddressFamily::Bridge;
    fdb.header.ifindex = vtep.index;
    fdb.header.flags = NeighbourFlags::Own;
    fdb.attributes
        .push(NeighbourAttribute::LinkLayerAddress(peer.mac.to_vec()));
    fdb.attributes
        .push(NeighbourAttribute::Destination(NeighbourAddress::Inet(
            peer.public_ip,
        )));
    for (what, msg) in [("neighbour", neigh), ("fdb", fdb)] {
        match nl.handle.neighbours().del(msg).execute().await {
            Ok(()) => {}
            Err(e) if matches!(errno(&e), Some(ENOENT | ENODEV)) => {}
            Err(e) => return Err(nl_err(&format!("delete {what} of {}", peer.pod_cidr), e)),
        }
    }
    info!(device = %vtep.device, pod_cidr = %peer.pod_cidr, "vxlan peer removed");
    Ok(())
}

/// Removes the neighbour and FDB entries on `vtep` that belong to none of `keep` (nodes deleted
/// while the agent was down, peers that moved to direct routes); returns how many went.
pub async fn prune(vtep: &Vtep, keep: &[Peer]) -> Result<usize> {
    let nl = Netlink::connect()?;
    let mut stale = Vec::new();
    for family in [AddressFamily::Inet, AddressFamily::Bridge] {
        let mut dump = nl
            .handle
            .neighbours()
            .get()
            .set_address_family(family)
            .execute();
        while let Some(msg) = dump
            .try_next()
            .await
            .map_err(|e| nl_err("list neighbours", e))?
        {
            if msg.header.ifindex != vtep.index {
                continue;
            }
            let dst = msg.attributes.iter().find_map(|a| match a {
                NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)) => Some(*ip),
                // FDB entries (family bridge) carry the remote as raw bytes.
                NeighbourAttribute::Destination(NeighbourAddress::Other(b)) => {
                    <[u8; 4]>::try_from(b.as_slice()).ok().map(Ipv4Addr::from)
                }
                _ => None,
            });
            let mac = msg.attributes.iter().find_map(|a| match a {
                NeighbourAttribute::LinkLayerAddress(m) => <[u8; 6]>::try_from(m.as_slice()).ok(),
                _ => None,
            });
            let wanted = match (family, dst, mac) {
                (AddressFamily::Inet, Some(ip), _) => keep.iter().any(|p| p.vtep_ip() == ip),
                (_, Some(ip), Some(mac)) => keep.iter().any(|p| p.public_ip == ip && p.mac == mac),
                // Entries without a remote (none are made here): not ours to judge.
                _ => true,
            };
            if !wanted {
                stale.push(msg);
            }
        }
    }
    let count = stale.len();
    for msg in stale {
        match nl.handle.neighbours().del(msg).execute().await {
            Ok(()) => {}
            Err(e) if matches!(errno(&e), Some(ENOENT | ENODEV)) => {}
            Err(e) => {
                return Err(nl_err(
                    &format!("delete a stale entry on {}", vtep.device),
                    e,
                ))
            }
        }
    }
    if count > 0 {
        info!(device = %vtep.device, count, "stale vxlan entries removed");
    }
    Ok(count)
}

/// The recorded device name of the agent whose network state is in `state_dir`.
pub fn recorded(state_dir: &Path) -> Option<String> {
    std::fs::read_to_string(record(state_dir))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Deletes the recorded device (with its routes, neighbour and FDB entries) and the record
/// (`rkube killall`); returns whether a device was removed.
pub async fn remove(state_dir: &Path) -> Result<bool> {
    let Some(device) = recorded(state_dir) else {
        return Ok(false);
    };
    let removed = Netlink::connect()?.delete_link(&device).await?;
    if removed {
        info!(%device, "vxlan device removed");
    }
    match std::fs::remove_file(record(state_dir)) {
        Ok(()) => Ok(removed),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(removed),
        Err(e) => Err(Error::Other(format!("remove the vxlan record: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_macs() {
        let a = device_name("node-a");
        assert!(a.len() <= 15 && a.starts_with("rkvx"), "{a}");
        assert_eq!(a, device_name("node-a"));
        assert_ne!(a, device_name("node-b"));
        let mac = [0x0a, 0xbc, 0, 1, 0xff, 0x10];
        assert_eq!(format_mac(&mac), "0a:bc:00:01:ff:10");
        assert_eq!(parse_mac("0a:bc:00:01:ff:10"), Some(mac));
        assert_eq!(parse_mac("0a:bc:00:01:ff"), None);
        assert_eq!(parse_mac("0a:bc:00:01:ff:1"), None);
        assert_eq!(parse_mac("zz:bc:00:01:ff:10"), None);
    }
}
