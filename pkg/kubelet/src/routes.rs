//! Pod routes between nodes: watches Nodes (a kube-runtime reflector) and keeps one route per
//! other node's podCIDR, so pods reach pods on other nodes by their own IPs (the masquerade rule
//! leaves cluster-CIDR-to-cluster-CIDR traffic alone). Like flannel's VXLAN backend with
//! DirectRouting: a node whose InternalIP is on a directly connected network (same L2) gets
//! `<podCIDR> via <InternalIP>`; a node reached only through a router gets VXLAN
//! (`<podCIDR> via <its VTEP> dev rkvx… onlink` plus neighbour and FDB entries, see
//! [`rkube_network::vxlan`]). This node's VXLAN device is made the first time a node needs it,
//! and its MAC and address are published as Node annotations for the other nodes. A node that
//! moves between the two is switched over. Routes follow node changes and deletions; they stay
//! when the agent stops (its pods keep running); `rkube killall` removes them and the device.

use std::{
    collections::{BTreeMap, HashSet},
    net::{IpAddr, Ipv4Addr},
    path::PathBuf,
    sync::Arc,
    time::Duration,
};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::{
    api::{Patch, PatchParams},
    runtime::{reflector, watcher, WatchStreamExt},
    Api, Client,
};
use rkube_network::{
    routes::{self, PodRoute, PodRoutes, Reach},
    vxlan::{self, Peer, Vtep},
    Ipv4Cidr,
};
use tokio::sync::Notify;
use tracing::{debug, info, warn};

/// Node updates (status every few seconds) arrive in bursts: apply once after them.
const DEBOUNCE: Duration = Duration::from_millis(50);
/// Also re-check this often (besides node and route changes): a route can vanish with its
/// link, a node's address can become reachable later.
const RESYNC: Duration = Duration::from_secs(10);

/// Aborts the controller when dropped (the kubelet's work ends).
pub(crate) struct RouteController(tokio::task::JoinHandle<()>);

impl Drop for RouteController {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the controller for node `self_name`; `state_dir` holds the route records.
pub(crate) fn start(
    client: Client,
    self_name: String,
    cluster_cidr: &str,
    state_dir: &std::path::Path,
) -> Option<RouteController> {
    let cluster: Option<Ipv4Cidr> = cluster_cidr.parse().ok();
    let table = match PodRoutes::open(state_dir) {
        Ok(t) => t,
        Err(e) => {
            warn!(error = %e, "no pod routes to other nodes: the route records are unusable");
            return None;
        }
    };
    if let Err(e) = routes::enable_ip_forward() {
        warn!(error = %e, "enabling IPv4 forwarding failed");
    }
    let state = SyncState {
        table,
        state_dir: state_dir.to_path_buf(),
        api: Api::all(client.clone()),
        self_name,
        vtep: None,
        warned: HashSet::new(),
    };
    Some(RouteController(tokio::spawn(run(client, cluster, state))))
}

/// What the controller keeps between syncs.
struct SyncState {
    table: PodRoutes,
    state_dir: PathBuf,
    api: Api<Node>,
    self_name: String,
    /// This node's VXLAN endpoint, once a node needed it (and its annotations are published).
    vtep: Option<Vtep>,
    /// Nodes already warned about (node, address), so each is reported once.
    warned: HashSet<(String, Ipv4Addr)>,
}

async fn run(client: Client, cluster: Option<Ipv4Cidr>, mut state: SyncState) {
    let (nodes, writer) = reflector::store::<Node>();
    let changed = Arc::new(Notify::new());
    let notify = changed.clone();
    let watch = reflector::reflector(
        writer,
        watcher(Api::<Node>::all(client), watcher::Config::default()),
    )
    .default_backoff()
    .for_each(move |_| {
        notify.notify_one();
        std::future::ready(())
    });
    let _watch = RouteController(tokio::spawn(watch));
    // Reachability follows the host's routes: re-check when they change.
    let notify = changed.clone();
    let _routes = match routes::watch_changes(move || notify.notify_one()) {
        Ok(w) => Some(w),
        Err(e) => {
            warn!(error = %e, "not watching route changes; re-checking every {RESYNC:?}");
            None
        }
    };
    if nodes.wait_until_ready().await.is_err() {
        return;
    }
    info!("pod route controller started");
    loop {
        tokio::time::sleep(DEBOUNCE).await;
        let all: Vec<Node> = nodes.state().iter().map(|n| (**n).clone()).collect();
        let candidates = candidates(&all, &state.self_name, cluster.as_ref());
        let me = all
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some(state.self_name.as_str()));
        if let Err(e) = sync(&mut state, me, &candidates).await {
            warn!(error = %e, "syncing pod routes failed; retrying");
        }
        let _ = tokio::time::timeout(RESYNC, changed.notified()).await;
    }
}

/// One other node's pod CIDR and address, before checking that the address is reachable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub node: String,
    pub route: PodRoute,
    /// The node's published VTEP MAC, if any.
    pub vxlan_mac: Option<[u8; 6]>,
    /// Where its VXLAN packets go: the published public IP, else the InternalIP.
    pub public_ip: Ipv4Addr,
}

/// The other nodes with an IPv4 spec.podCIDR and an IPv4 InternalIP. A pod CIDR outside the
/// cluster CIDR is skipped (pods there are masqueraded anyway, and a route could shadow other
/// networks); so is one claimed by two nodes (a conflict for the node IPAM to resolve).
pub(crate) fn candidates(
    nodes: &[Node],
    self_name: &str,
    cluster: Option<&Ipv4Cidr>,
) -> Vec<Candidate> {
    let mut by_cidr: BTreeMap<String, Vec<Candidate>> = BTreeMap::new();
    for n in nodes {
        let name = n.metadata.name.clone().unwrap_or_default();
        if name == self_name {
            continue;
        }
        let Some(pod_cidr) = pod_cidr(n) else {
            continue;
        };
        if let Some(cluster) = cluster {
            let inside = cluster.contains(pod_cidr.network())
                && pod_cidr.prefix_len() >= cluster.prefix_len();
            if !inside {
                debug!(node = %name, %pod_cidr, "pod CIDR outside the cluster CIDR: no route");
                continue;
            }
        }
        let Some(via) = internal_ipv4(n) else {
            continue;
        };
        let annotation = |key: &str| {
            n.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(key))
                .cloned()
        };
        let vxlan_mac = annotation(vxlan::MAC_ANNOTATION).and_then(|m| vxlan::parse_mac(&m));
        let public_ip = annotation(vxlan::PUBLIC_IP_ANNOTATION)
            .and_then(|ip| ip.parse().ok())
            .unwrap_or(via);
        by_cidr
            .entry(pod_cidr.to_string())
            .or_default()
            .push(Candidate {
                node: name,
                route: PodRoute { pod_cidr, via },
                vxlan_mac,
                public_ip,
            });
    }
    by_cidr
        .into_values()
        .filter_map(|mut v| (v.len() == 1).then(|| v.remove(0)))
        .collect()
}

fn pod_cidr(n: &Node) -> Option<Ipv4Cidr> {
    n.spec
        .as_ref()
        .and_then(|s| s.pod_cidr.as_deref())
        .and_then(|c| c.parse::<Ipv4Cidr>().ok())
}

fn internal_ipv4(n: &Node) -> Option<Ipv4Addr> {
    n.status
        .as_ref()?
        .addresses
        .as_ref()?
        .iter()
        .filter(|a| a.type_ == "InternalIP")
        .find_map(|a| match a.address.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) => Some(ip),
            _ => None,
        })
}

/// How one other node's pods are reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Direct(PodRoute),
    Vxlan(Peer),
}

impl Way {
    fn pod_cidr(&self) -> Ipv4Cidr {
        match self {
            Way::Direct(r) => r.pod_cidr,
            Way::Vxlan(p) => p.pod_cidr,
        }
    }
}

/// Installs the routes (direct or VXLAN) that the kernel lacks, removes recorded routes and
/// VXLAN peers no longer wanted.
async fn sync(
    st: &mut SyncState,
    me: Option<&Node>,
    candidates: &[Candidate],
) -> rkube_network::Result<()> {
    let ips: Vec<Ipv4Addr> = candidates.iter().map(|c| c.route.via).collect();
    let reach = routes::reach_all(&ips).await?;
    let mut wanted: Vec<Way> = Vec::new();
    let mut unroutable = Vec::new();
    let mut needs_vxlan = Vec::new();
    for (c, r) in candidates.iter().zip(reach) {
        match r {
            Reach::Direct => wanted.push(Way::Direct(c.route)),
            // Several nodes on one address (tests): the pods of that address are local.
            Reach::Local => {}
            Reach::ViaGateway(_) => needs_vxlan.push(c),
            Reach::Unreachable => {
                if st.warned.insert((c.node.clone(), c.route.via)) {
                    unroutable.push(format!("{} ({}, unreachable)", c.node, c.route.via));
                }
            }
        }
    }
    if !needs_vxlan.is_empty() {
        match ensure_vtep(st, me).await {
            Ok(()) => {
                for c in needs_vxlan {
                    match c.vxlan_mac {
                        Some(mac) => wanted.push(Way::Vxlan(Peer {
                            pod_cidr: c.route.pod_cidr,
                            mac,
                            public_ip: c.public_ip,
                        })),
                        None => {
                            if st.warned.insert((c.node.clone(), c.route.via)) {
                                unroutable.push(format!(
                                    "{} ({}, behind a router, no {} annotation yet)",
                                    c.node,
                                    c.route.via,
                                    vxlan::MAC_ANNOTATION
                                ));
                            }
                        }
                    }
                }
            }
            Err(e) => warn!(error = %e, "no VXLAN to nodes behind a router"),
        }
    }
    if !unroutable.is_empty() {
        // One line however many nodes (simulated nodes can be thousands).
        warn!(
            count = unroutable.len(),
            nodes = %unroutable.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
            "no pod routes to these nodes yet; their pods are unreachable from this node's pods"
        );
    }
    let present: HashSet<PodRoute> = routes::list().await?.into_iter().collect();
    // One route failing (another route to the same prefix, say) must not hold up the others.
    let mut failed = None;
    // Entries of peers gone or changed first (also those left from before a restart): they
    // must not linger under a new route.
    if let Some(vtep) = &st.vtep {
        let keep: Vec<Peer> = wanted
            .iter()
            .filter_map(|w| match w {
                Way::Vxlan(p) => Some(*p),
                Way::Direct(_) => None,
            })
            .collect();
        if let Err(e) = vxlan::prune(vtep, &keep).await {
            warn!(error = %e, "removing stale VXLAN entries failed");
            failed = Some(e);
        }
    }
    for w in &wanted {
        let result = match (w, &st.vtep) {
            (Way::Direct(r), _) if present.contains(r) => Ok(()),
            (Way::Direct(r), _) => st.table.set(*r).await,
            (Way::Vxlan(p), Some(vtep)) => set_peer(&st.table, vtep, p, &present).await,
            (Way::Vxlan(_), None) => Ok(()),
        };
        if let Err(e) = result {
            warn!(pod_cidr = %w.pod_cidr(), way = ?w, error = %e, "installing a pod route failed");
            failed = Some(e);
        }
    }
    for r in st.table.recorded() {
        if !wanted.iter().any(|w| w.pod_cidr() == r.pod_cidr) {
            if let Err(e) = st.table.remove(&r.pod_cidr).await {
                warn!(pod_cidr = %r.pod_cidr, error = %e, "removing a pod route failed");
                failed = Some(e);
            }
        }
    }
    // Nodes that left or became routable warn again if they become unroutable later.
    st.warned.retain(|(node, ip)| {
        candidates.iter().any(|c| {
            &c.node == node
                && c.route.via == *ip
                && !wanted.iter().any(|w| w.pod_cidr() == c.route.pod_cidr)
        })
    });
    failed.map_or(Ok(()), Err)
}

/// The neighbour and FDB entries (every sync: cheap, and they may have been flushed) and the
/// route when the kernel lacks it.
async fn set_peer(
    table: &PodRoutes,
    vtep: &Vtep,
    peer: &Peer,
    present: &HashSet<PodRoute>,
) -> rkube_network::Result<()> {
    vxlan::set_peer(vtep, peer).await?;
    let route = PodRoute {
        pod_cidr: peer.pod_cidr,
        via: peer.vtep_ip(),
    };
    if present.contains(&route) {
        return Ok(());
    }
    table.set_via_device(route, &vtep.device).await
}

/// Makes this node's VXLAN device (idempotent) and publishes its MAC and address on the Node.
async fn ensure_vtep(st: &mut SyncState, me: Option<&Node>) -> rkube_network::Result<()> {
    let me = me.ok_or_else(|| rkube_network::Error::Other("this node is not listed".into()))?;
    let (Some(cidr), Some(local)) = (pod_cidr(me), internal_ipv4(me)) else {
        return Err(rkube_network::Error::Other(
            "this node has no IPv4 podCIDR or InternalIP yet".into(),
        ));
    };
    let device = vxlan::device_name(&st.self_name);
    let mtu = vxlan::mtu_for(local).await?;
    let vtep = vxlan::ensure(&st.state_dir, &device, local, &cidr, mtu).await?;
    let mac = vxlan::format_mac(&vtep.mac);
    let local = local.to_string();
    let published = |key: &str| {
        me.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .map(String::as_str)
    };
    if published(vxlan::MAC_ANNOTATION) != Some(&mac)
        || published(vxlan::PUBLIC_IP_ANNOTATION) != Some(&local)
    {
        let patch = serde_json::json!({"metadata": {"annotations": {
            vxlan::MAC_ANNOTATION: mac,
            vxlan::PUBLIC_IP_ANNOTATION: local,
        }}});
        st.api
            .patch(
                &st.self_name,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .map_err(|e| rkube_network::Error::Other(format!("annotating the node: {e}")))?;
        info!(device = %vtep.device, %mac, public_ip = %local, vtep = %vtep.ip, "VXLAN endpoint published");
    }
    st.vtep = Some(vtep);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeAddress, NodeSpec, NodeStatus};

    fn node(name: &str, cidr: Option<&str>, ip: Option<&str>) -> Node {
        Node {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            spec: Some(NodeSpec {
                pod_cidr: cidr.map(Into::into),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                addresses: ip.map(|ip| {
                    vec![
                        NodeAddress {
                            type_: "Hostname".into(),
                            address: name.into(),
                        },
                        NodeAddress {
                            type_: "InternalIP".into(),
                            address: ip.into(),
                        },
                    ]
                }),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn candidates_are_the_other_nodes_with_a_cidr_and_an_address() {
        let cluster: Ipv4Cidr = "10.42.0.0/16".parse().unwrap();
        let nodes = [
            node("me", Some("10.42.0.0/24"), Some("192.168.1.1")),
            node("b", Some("10.42.1.0/24"), Some("192.168.1.2")),
            node("no-cidr", None, Some("192.168.1.3")),
            node("no-ip", Some("10.42.3.0/24"), None),
            node("v6", Some("10.42.4.0/24"), Some("fd00::4")),
            node("outside", Some("10.99.0.0/24"), Some("192.168.1.5")),
            node("dup1", Some("10.42.6.0/24"), Some("192.168.1.6")),
            node("dup2", Some("10.42.6.0/24"), Some("192.168.1.7")),
        ];
        let got = candidates(&nodes, "me", Some(&cluster));
        assert_eq!(
            got,
            vec![Candidate {
                node: "b".into(),
                route: PodRoute {
                    pod_cidr: "10.42.1.0/24".parse().unwrap(),
                    via: "192.168.1.2".parse().unwrap(),
                },
                vxlan_mac: None,
                public_ip: "192.168.1.2".parse().unwrap(),
            }]
        );
        // Without a valid cluster CIDR nothing is filtered by range.
        assert_eq!(candidates(&nodes, "me", None).len(), 2);
    }
}
