//! Pod routes between nodes: watches Nodes (a kube-runtime reflector) and keeps one route
//! `<podCIDR> via <InternalIP>` per other node whose address is on a directly connected network
//! (same L2), so pods reach pods on other nodes by their own IPs (the masquerade rule leaves
//! cluster-CIDR-to-cluster-CIDR traffic alone). Routes follow node changes and deletions. Nodes
//! reachable only through a router would need encapsulation (VXLAN), which is not built: they
//! get a warning, once per address. Routes stay when the agent stops (its pods keep running);
//! `rkube killall` removes them.

use std::{
    collections::{BTreeMap, HashSet},
    net::{IpAddr, Ipv4Addr},
    sync::Arc,
    time::Duration,
};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::{
    runtime::{reflector, watcher, WatchStreamExt},
    Api, Client,
};
use rkube_network::{
    routes::{self, PodRoute, PodRoutes, Reach},
    Ipv4Cidr,
};
use tokio::sync::Notify;
use tracing::{debug, info, warn};

/// Node updates (status every few seconds) arrive in bursts: apply once after them.
const DEBOUNCE: Duration = Duration::from_millis(50);
/// Also re-check this often: a route can vanish with its link, a node's address can become
/// reachable later.
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
    Some(RouteController(tokio::spawn(run(
        client, self_name, cluster, table,
    ))))
}

async fn run(client: Client, self_name: String, cluster: Option<Ipv4Cidr>, table: PodRoutes) {
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
    if nodes.wait_until_ready().await.is_err() {
        return;
    }
    info!("pod route controller started");
    let mut warned: HashSet<(String, Ipv4Addr)> = HashSet::new();
    loop {
        tokio::time::sleep(DEBOUNCE).await;
        let state: Vec<Node> = nodes.state().iter().map(|n| (**n).clone()).collect();
        let candidates = candidates(&state, &self_name, cluster.as_ref());
        if let Err(e) = sync(&table, &candidates, &mut warned).await {
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
        let Some(pod_cidr) = n
            .spec
            .as_ref()
            .and_then(|s| s.pod_cidr.as_deref())
            .and_then(|c| c.parse::<Ipv4Cidr>().ok())
        else {
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
        by_cidr
            .entry(pod_cidr.to_string())
            .or_default()
            .push(Candidate {
                node: name,
                route: PodRoute { pod_cidr, via },
            });
    }
    by_cidr
        .into_values()
        .filter_map(|mut v| (v.len() == 1).then(|| v.remove(0)))
        .collect()
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

/// Installs the routes of reachable candidates that the kernel lacks, removes recorded routes no
/// longer wanted.
async fn sync(
    table: &PodRoutes,
    candidates: &[Candidate],
    warned: &mut HashSet<(String, Ipv4Addr)>,
) -> rkube_network::Result<()> {
    let ips: Vec<Ipv4Addr> = candidates.iter().map(|c| c.route.via).collect();
    let reach = routes::reach_all(&ips).await?;
    let mut wanted = Vec::new();
    let mut unroutable = Vec::new();
    for (c, r) in candidates.iter().zip(reach) {
        match r {
            Reach::Direct => wanted.push(c.route),
            // Several nodes on one address (tests): the pods of that address are local.
            Reach::Local => {}
            other => {
                if warned.insert((c.node.clone(), c.route.via)) {
                    unroutable.push(format!("{} ({}, {other:?})", c.node, c.route.via));
                }
            }
        }
    }
    if !unroutable.is_empty() {
        // One line however many nodes (simulated nodes can be thousands).
        warn!(
            count = unroutable.len(),
            nodes = %unroutable.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
            "no pod routes to these nodes: their addresses are not on a directly connected network (VXLAN is not supported yet); their pods are unreachable from this node's pods"
        );
    }
    let present: HashSet<PodRoute> = routes::list().await?.into_iter().collect();
    // One route failing (another route to the same prefix, say) must not hold up the others.
    let mut failed = None;
    for r in &wanted {
        if !present.contains(r) {
            if let Err(e) = table.set(*r).await {
                warn!(pod_cidr = %r.pod_cidr, via = %r.via, error = %e, "installing a pod route failed");
                failed = Some(e);
            }
        }
    }
    for r in table.recorded() {
        if !wanted.iter().any(|w| w.pod_cidr == r.pod_cidr) {
            if let Err(e) = table.remove(&r.pod_cidr).await {
                warn!(pod_cidr = %r.pod_cidr, error = %e, "removing a pod route failed");
                failed = Some(e);
            }
        }
    }
    // Nodes that left or became routable warn again if they become unroutable later.
    warned.retain(|(node, ip)| {
        candidates
            .iter()
            .any(|c| &c.node == node && c.route.via == *ip && !wanted.contains(&c.route))
    });
    failed.map_or(Ok(()), Err)
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
            }]
        );
        // Without a valid cluster CIDR nothing is filtered by range.
        assert_eq!(candidates(&nodes, "me", None).len(), 2);
    }
}
