//! The node bridge: created or adopted, up, with the pod range's first address (the pods'
//! default gateway) and the configured MTU.

use std::net::{IpAddr, Ipv4Addr};

use rtnetlink::LinkBridge;
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
