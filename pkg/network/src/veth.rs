//! One veth pair per pod: the host end (named from a hash of the pod id) on the bridge, the
//! other end created directly inside the pod's namespace as eth0 (so no temporary name can
//! collide on the host), then addressed, brought up with lo, and given the default route.

use std::{
    fs::File,
    net::{IpAddr, Ipv4Addr},
    os::fd::AsRawFd,
    path::Path,
};

use rtnetlink::{
    packet_route::link::{InfoData, InfoKind, InfoVeth},
    LinkBridgePort, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder,
};

use crate::{
    netlink::{exists, nl_err, Netlink},
    netns, Attachment, Error, Result,
};

pub(crate) const POD_IFNAME: &str = "eth0";

/// The host-side interface name of a pod: `veth` + 8 hex digits of FNV-1a(pod_id) (fits
/// IFNAMSIZ, stable across restarts).
pub(crate) fn host_name(pod_id: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in pod_id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("veth{h:08x}")
}

/// Creates the pair: `host` enslaved to the bridge (hairpin on, so a pod can reach itself
/// through a Service address, as the CNI bridge plugin's hairpinMode) and up, eth0 inside `netns`.
pub(crate) async fn create(
    nl: &Netlink,
    host: &str,
    bridge_index: u32,
    mtu: u32,
    netns: &File,
) -> Result<()> {
    let peer = LinkUnspec::new_with_name(POD_IFNAME)
        .mtu(mtu)
        .setns_by_fd(netns.as_raw_fd())
        .build();
    let msg = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
        .name(host.to_string())
        .mtu(mtu)
        .controller(bridge_index)
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
        .build();
    nl.handle
        .link()
        .add(msg)
        .execute()
        .await
        .map_err(|e| nl_err(&format!("create veth {host}"), e))?;
    let index = nl
        .link_index(host)
        .await?
        .ok_or_else(|| Error::Other(format!("veth {host} vanished after creation")))?;
    nl.handle
        .link()
        .set_port(LinkBridgePort::new(index).hairpin(true).build())
        .execute()
        .await
        .map_err(|e| nl_err(&format!("hairpin on {host}"), e))?;
    nl.set_up(index, None).await
}

/// Inside the pod's namespace: eth0 gets the address and comes up, lo comes up, and the default
/// route points at the gateway. Tolerates parts that already exist (a retried attach).
pub(crate) async fn configure_pod_side(netns_path: &Path, att: Attachment) -> Result<()> {
    netns::run_in(netns_path, move || async move {
        let nl = Netlink::connect()?;
        let eth0 = nl
            .link_index(POD_IFNAME)
            .await?
            .ok_or_else(|| Error::Other(format!("{POD_IFNAME} missing in the pod namespace")))?;
        match nl
            .handle
            .address()
            .add(eth0, IpAddr::V4(att.ip), att.prefix_len)
            .execute()
            .await
        {
            Ok(()) => {}
            Err(e) if exists(&e) => {}
            Err(e) => return Err(nl_err(&format!("add {} to {POD_IFNAME}", att.ip), e)),
        }
        nl.set_up(eth0, None).await?;
        if let Some(lo) = nl.link_index("lo").await? {
            nl.set_up(lo, None).await?;
        }
        let route = RouteMessageBuilder::<Ipv4Addr>::new()
            .gateway(att.gateway)
            .output_interface(eth0)
            .build();
        match nl.handle.route().add(route).execute().await {
            Ok(()) => Ok(()),
            Err(e) if exists(&e) => Ok(()),
            Err(e) => Err(nl_err("add default route", e)),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_stable_short_and_distinct() {
        let a = host_name("default/web-0/3f2a");
        assert_eq!(a, host_name("default/web-0/3f2a"));
        assert_eq!(a.len(), 12);
        assert!(a.len() < 16, "IFNAMSIZ");
        assert_ne!(a, host_name("default/web-1/3f2a"));
    }
}
