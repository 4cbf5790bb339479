//! The node bridge: created or adopted, up, with the pod range's first address (the pods'
//! default gateway) and the configured MTU. An adopted bridge loses IPv4 addresses from an
//! earlier pod range (the node's podCIDR changed), which would otherwise keep stale routes.

use std::net::{IpAddr, Ipv4Addr};

use futures_util::TryStreamExt;
use rtnetlink::{
    packet_route::address::{AddressAttribute, AddressMessage},
    LinkBridge,
};
use tracing::{debug, info};

use crate::{
    netlink::{exists, nl_err, Netlink},
    Error, Result,
};

/// Ensures the bridge `name` exists, is up with `mtu` and holds `gateway/prefix_len`.
/// Returns its interface index.
pub(crate) async fn ensure(
    nl: &Netlink,
    name: &str,
    gateway: Ipv4Addr,
    prefix_len: u8,
    mtu: u32,
) -> Result<u32> {
    if nl.link_index(name).await?.is_none() {
        match nl
            .handle
            .link()
            .add(LinkBridge::new(name).mtu(mtu).build())
            .execute()
            .await
        {
            Ok(()) => info!(bridge = name, "bridge created"),
            // Created concurrently by another instance: adopt it.
            Err(e) if exists(&e) => {}
            Err(e) => return Err(nl_err(&format!("create bridge {name}"), e)),
        }
    } else {
        debug!(bridge = name, "adopting existing bridge");
    }
    let index = nl
        .link_index(name)
        .await?
        .ok_or_else(|| Error::Other(format!("bridge {name} vanished after creation")))?;
    nl.set_up(index, Some(mtu)).await?;
    remove_stale_addresses(nl, name, index, gateway, prefix_len).await?;
    match nl
        .handle
        .address()
        .add(index, IpAddr::V4(gateway), prefix_len)
        .execute()
        .await
    {
        Ok(()) => {}
        Err(e) if exists(&e) => {}
        Err(e) => return Err(nl_err(&format!("add {gateway}/{prefix_len} to {name}"), e)),
    }
    Ok(index)
}

async fn remove_stale_addresses(
    nl: &Netlink,
    name: &str,
    index: u32,
    gateway: Ipv4Addr,
    prefix_len: u8,
) -> Result<()> {
    let mut stale: Vec<AddressMessage> = Vec::new();
    let mut addrs = nl
        .handle
        .address()
        .get()
        .set_link_index_filter(index)
        .execute();
    while let Some(msg) = addrs
        .try_next()
        .await
        .map_err(|e| nl_err(&format!("list addresses of {name}"), e))?
    {
        let v4 = msg.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(IpAddr::V4(ip)) => Some(*ip),
            _ => None,
        });
        if let Some(ip) = v4 {
            if (ip, msg.header.prefix_len) != (gateway, prefix_len) {
                info!(bridge = name, %ip, prefix_len = msg.header.prefix_len, "removing stale bridge address");
                stale.push(msg);
            }
        }
    }
    for msg in stale {
        nl.handle
            .address()
            .del(msg)
            .execute()
            .await
            .map_err(|e| nl_err(&format!("remove stale address of {name}"), e))?;
    }
    Ok(())
}
