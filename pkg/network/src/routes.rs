//! Routes to the other nodes' pod CIDRs (`<podCIDR> via <nodeIP>`), so pods on different nodes
//! reach each other by pod IP without encapsulation when the nodes share a link. Every route rkube
//! adds carries its own route protocol number ([`ROUTE_PROTOCOL`]), so listing and cleanup never
//! touch routes someone else added; each is also recorded under the agent's state directory, so
//! `rkube killall` removes only this agent's routes (several agents can share a host in tests).

use std::{
    net::Ipv4Addr,
    path::{Path, PathBuf},
};

use futures_util::TryStreamExt;
use rtnetlink::{
    packet_route::route::{RouteAttribute, RouteFlags, RouteMessage, RouteProtocol, RouteType},
    RouteMessageBuilder,
};
use tracing::{debug, info};

use crate::{
    cidr::Ipv4Cidr,
    netlink::{errno, nl_err, Netlink},
    Error, Result,
};

/// rkube's route protocol number (`ip route show proto 82`): unused by iproute2's
/// rt_protos list and by the common CNIs (Calico uses 80).
pub const ROUTE_PROTOCOL: u8 = 82;

const ESRCH: i32 = 3;
/// `RT_TABLE_MAIN`.
const RT_TABLE_MAIN: u8 = 254;
const ENETUNREACH: i32 = 101;
const EHOSTUNREACH: i32 = 113;

/// A route to another node's pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PodRoute {
    pub pod_cidr: Ipv4Cidr,
    pub via: Ipv4Addr,
}

/// How this host reaches a node address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// On a connected network (same L2): a route via it works.
    Direct,
    /// Only through a router: pod traffic goes encapsulated ([`crate::vxlan`]).
    ViaGateway(Ipv4Addr),
    /// One of this host's own addresses.
    Local,
    /// No route at all.
    Unreachable,
}

/// The routes of one agent, recorded in `<state_dir>/routes/` (one file per pod CIDR holding the
/// gateway), so a restarted agent or `rkube killall` knows which routes are its own.
#[derive(Debug, Clone)]
pub struct PodRoutes {
    dir: PathBuf,
}

impl PodRoutes {
    /// `state_dir` is the network state directory (`<data-dir>/agent/network`).
    /// Nothing is created until a route is set (`rkube killall` must not leave directories).
    pub fn open(state_dir: &Path) -> Result<Self> {
        Ok(Self {
            dir: state_dir.join("routes"),
        })
    }

    /// The routes recorded as installed by this agent.
    pub fn recorded(&self) -> Vec<PodRoute> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out: Vec<PodRoute> = entries
            .flatten()
            .filter_map(|e| {
                let cidr = e.file_name().to_string_lossy().replace('_', "/");
                let via = std::fs::read_to_string(e.path()).ok()?;
                Some(PodRoute {
                    pod_cidr: cidr.parse().ok()?,
                    via: via.trim().parse().ok()?,
                })
            })
            .collect();
        out.sort_by_key(|r| (r.pod_cidr.network(), r.pod_cidr.prefix_len()));
        out
    }

    fn file(&self, cidr: &Ipv4Cidr) -> PathBuf {
        self.dir.join(cidr.to_string().replace('/', "_"))
    }

    /// Installs (or replaces) `route` and records it; idempotent.
    pub async fn set(&self, route: PodRoute) -> Result<()> {
        // Record first: a crash between the two leaves a record killall can act on, never an
        // unrecorded route.
        ensure_not_foreign(&route.pod_cidr).await?;
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| Error::Other(format!("create {}: {e}", self.dir.display())))?;
        let file = self.file(&route.pod_cidr);
        std::fs::write(&file, route.via.to_string())
            .map_err(|e| Error::Other(format!("write {}: {e}", file.display())))?;
        replace_unchecked(&route, None).await
    }

    /// Like [`Self::set`], for a route `via` an address on the link `device` (`onlink`: the
    /// gateway needs no connected route; VXLAN's remote VTEPs are /32s elsewhere).
    pub async fn set_via_device(&self, route: PodRoute, device: &str) -> Result<()> {
        ensure_not_foreign(&route.pod_cidr).await?;
        let index = Netlink::connect()?
            .link_index(device)
            .await?
            .ok_or_else(|| Error::Other(format!("link {device} is missing")))?;
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| Error::Other(format!("create {}: {e}", self.dir.display())))?;
        let file = self.file(&route.pod_cidr);
        std::fs::write(&file, route.via.to_string())
            .map_err(|e| Error::Other(format!("write {}: {e}", file.display())))?;
        replace_unchecked(&route, Some(index)).await
    }

    /// Removes the route to `cidr` (only if it is rkube's) and its record; idempotent.
    pub async fn remove(&self, cidr: &Ipv4Cidr) -> Result<()> {
        delete(cidr).await?;
        match std::fs::remove_file(self.file(cidr)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::Other(format!("remove route record {cidr}: {e}"))),
        }
    }

    /// Removes every recorded route (`rkube killall`); returns how many records there were.
    pub async fn remove_all(&self) -> Result<usize> {
        let recorded = self.recorded();
        for r in &recorded {
            self.remove(&r.pod_cidr).await?;
        }
        // Records that did not parse are dropped too: they cannot name a route.
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(recorded.len())
    }
}

/// `ip route replace <pod_cidr> via <via> proto 82`, unless a route to the same prefix that
/// rkube did not add is there (a replace would silently take it over).
pub async fn replace(route: &PodRoute) -> Result<()> {
    ensure_not_foreign(&route.pod_cidr).await?;
    replace_unchecked(route, None).await
}

async fn replace_unchecked(route: &PodRoute, onlink_dev: Option<u32>) -> Result<()> {
    let nl = Netlink::connect()?;
    let mut builder = RouteMessageBuilder::<Ipv4Addr>::new()
        .destination_prefix(route.pod_cidr.network(), route.pod_cidr.prefix_len())
        .gateway(route.via)
        .protocol(RouteProtocol::Other(ROUTE_PROTOCOL));
    if let Some(index) = onlink_dev {
        builder = builder.output_interface(index);
    }
    let mut msg = builder.build();
    if onlink_dev.is_some() {
        msg.header.flags |= RouteFlags::Onlink;
    }
    nl.handle
        .route()
        .add(msg)
        .replace()
        .execute()
        .await
        .map_err(|e| nl_err(&format!("route {} via {}", route.pod_cidr, route.via), e))?;
    info!(pod_cidr = %route.pod_cidr, via = %route.via, "pod route in place");
    Ok(())
}

/// Deletes the route to `cidr` if rkube added it (the kernel matches the protocol, so a route of
/// the same prefix added by someone else stays). Returns whether one was removed.
pub async fn delete(cidr: &Ipv4Cidr) -> Result<bool> {
    let nl = Netlink::connect()?;
    let msg = RouteMessageBuilder::<Ipv4Addr>::new()
        .destination_prefix(cidr.network(), cidr.prefix_len())
        .protocol(RouteProtocol::Other(ROUTE_PROTOCOL))
        .build();
    match nl.handle.route().del(msg).execute().await {
        Ok(()) => {
            info!(pod_cidr = %cidr, "pod route removed");
            Ok(true)
        }
        Err(e) if errno(&e) == Some(ESRCH) => Ok(false),
        Err(e) => Err(nl_err(&format!("delete route {cidr}"), e)),
    }
}

/// Every route with rkube's protocol in the main table of this network namespace.
pub async fn list() -> Result<Vec<PodRoute>> {
    let mut out = Vec::new();
    for msg in main_table().await? {
        if msg.header.protocol != RouteProtocol::Other(ROUTE_PROTOCOL) {
            continue;
        }
        let (Some(dst), Some(via)) = (destination(&msg), gateway(&msg)) else {
            continue;
        };
        if let Some(pod_cidr) = Ipv4Cidr::new(dst, msg.header.destination_prefix_length) {
            out.push(PodRoute { pod_cidr, via });
        }
    }
    Ok(out)
}

/// The IPv4 routes of the main table.
async fn main_table() -> Result<Vec<RouteMessage>> {
    let nl = Netlink::connect()?;
    let mut routes = nl
        .handle
        .route()
        .get(RouteMessageBuilder::<Ipv4Addr>::new().build())
        .execute();
    let mut out = Vec::new();
    while let Some(msg) = routes
        .try_next()
        .await
        .map_err(|e| nl_err("list routes", e))?
    {
        if msg.header.table == RT_TABLE_MAIN {
            out.push(msg);
        }
    }
    Ok(out)
}

/// Fails when the main table routes `cidr` itself and the route is not rkube's.
async fn ensure_not_foreign(cidr: &Ipv4Cidr) -> Result<()> {
    let foreign = main_table().await?.into_iter().find(|m| {
        m.header.protocol != RouteProtocol::Other(ROUTE_PROTOCOL)
            && m.header.destination_prefix_length == cidr.prefix_len()
            && destination(m) == Some(cidr.network())
    });
    match foreign {
        Some(m) => Err(Error::Other(format!(
            "a route to {cidr} that rkube did not add is in place (proto {}): left alone",
            m.header.protocol
        ))),
        None => Ok(()),
    }
}

/// How `ip` is reached from here (`ip route get <ip>`).
pub async fn reach(ip: Ipv4Addr) -> Result<Reach> {
    Ok(reach_all(&[ip]).await?.remove(0))
}

/// [`reach`] for many addresses over one netlink connection (a node list can be long).
pub async fn reach_all(ips: &[Ipv4Addr]) -> Result<Vec<Reach>> {
    let nl = Netlink::connect()?;
    let mut out = Vec::with_capacity(ips.len());
    for &ip in ips {
        out.push(reach_with(&nl, ip).await?);
    }
    Ok(out)
}

async fn reach_with(nl: &Netlink, ip: Ipv4Addr) -> Result<Reach> {
    let msg = RouteMessageBuilder::<Ipv4Addr>::new()
        .destination_prefix(ip, 32)
        .build();
    let answer = nl.handle.route().get(msg).execute().try_next().await;
    let msg = match answer {
        Ok(Some(m)) => m,
        Ok(None) => return Ok(Reach::Unreachable),
        Err(e) if matches!(errno(&e), Some(ENETUNREACH | EHOSTUNREACH)) => {
            return Ok(Reach::Unreachable)
        }
        Err(e) => return Err(nl_err(&format!("route get {ip}"), e)),
    };
    let r = match (msg.header.kind, gateway(&msg)) {
        (RouteType::Local, _) => Reach::Local,
        (RouteType::Unicast, Some(gw)) => Reach::ViaGateway(gw),
        (RouteType::Unicast, None) => Reach::Direct,
        (other, _) => {
            debug!(%ip, kind = ?other, "no usable route");
            Reach::Unreachable
        }
    };
    Ok(r)
}

fn destination(msg: &RouteMessage) -> Option<Ipv4Addr> {
    msg.attributes.iter().find_map(|a| match a {
        RouteAttribute::Destination(rtnetlink::packet_route::route::RouteAddress::Inet(ip)) => {
            Some(*ip)
        }
        _ => None,
    })
}

fn gateway(msg: &RouteMessage) -> Option<Ipv4Addr> {
    msg.attributes.iter().find_map(|a| match a {
        RouteAttribute::Gateway(rtnetlink::packet_route::route::RouteAddress::Inet(ip)) => {
            Some(*ip)
        }
        _ => None,
    })
}

/// Enables IPv4 forwarding (pods' traffic to and from other nodes is routed by this host).
pub fn enable_ip_forward() -> Result<()> {
    crate::sysctl::enable_ip_forward()
}

/// Watches this namespace's IPv4 routing table (`ip monitor route`) and calls `on_change` for
/// every change not made by rkube itself (proto 82), so a node that becomes reachable directly,
/// or stops being, is switched between a direct route and VXLAN within moments rather than at
/// the next resync. Stops when dropped.
pub struct RouteChanges {
    conn: tokio::task::JoinHandle<()>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for RouteChanges {
    fn drop(&mut self) {
        self.conn.abort();
        self.reader.abort();
    }
}

/// Starts watching (see [`RouteChanges`]); must run in the namespace to watch.
pub fn watch_changes(on_change: impl Fn() + Send + 'static) -> Result<RouteChanges> {
    use futures_util::StreamExt;
    use rtnetlink::{
        packet_core::NetlinkPayload, packet_route::RouteNetlinkMessage, MulticastGroup,
    };
    let (conn, _handle, mut messages) =
        rtnetlink::new_multicast_connection(&[MulticastGroup::Ipv4Route])
            .map_err(|e| Error::Other(format!("netlink route monitor: {e}")))?;
    let conn = tokio::spawn(conn);
    let reader = tokio::spawn(async move {
        while let Some((msg, _)) = messages.next().await {
            let ours = match &msg.payload {
                NetlinkPayload::InnerMessage(
                    RouteNetlinkMessage::NewRoute(r) | RouteNetlinkMessage::DelRoute(r),
                ) => r.header.protocol == RouteProtocol::Other(ROUTE_PROTOCOL),
                _ => false,
            };
            if !ours {
                on_change();
            }
        }
    });
    Ok(RouteChanges { conn, reader })
}
