//! Services + EndpointSlices -> the flat list of service ports the rules are made from. Pure.

use std::{
    borrow::Borrow,
    collections::{BTreeSet, HashMap, HashSet},
    net::Ipv4Addr,
};

use k8s_openapi::api::{core::v1::Service, discovery::v1::EndpointSlice};
use tracing::warn;

/// upstream's default sessionAffinityConfig.clientIP.timeoutSeconds (3 hours).
const DEFAULT_AFFINITY_SECONDS: u32 = 10800;
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// One port of one Service, with the endpoints it balances to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePort {
    /// `namespace/name:port-name` (for comments and logs).
    pub id: String,
    /// `namespace/name/protocol/port-name`: unique, stable across changes, so the nftables
    /// objects named after it can be updated in place (upstream's chain naming).
    pub key: String,
    pub cluster_ip: Option<Ipv4Addr>,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: &'static str,
    pub port: u16,
    pub node_port: Option<u16>,
    /// ClientIP affinity timeout in seconds, when sessionAffinity is ClientIP.
    pub affinity_seconds: Option<u32>,
    pub external_local: bool,
    pub internal_local: bool,
    /// Ready endpoints, sorted and deduplicated.
    pub endpoints: Vec<Endpoint>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: Ipv4Addr,
    pub port: u16,
    /// On this node (for the Local traffic policies).
    pub local: bool,
}

fn protocol(p: Option<&str>) -> Option<&'static str> {
    match p.unwrap_or("TCP") {
        "TCP" => Some("tcp"),
        "UDP" => Some("udp"),
        "SCTP" => Some("sctp"),
        _ => None,
    }
}

/// The service ports to program, sorted by key. Headless and ExternalName Services, and
/// non-IPv4 addresses, get nothing (as upstream's IPv4 proxier).
pub fn service_ports(
    services: &[impl Borrow<Service>],
    slices: &[impl Borrow<EndpointSlice>],
    node_name: &str,
) -> Vec<ServicePort> {
    // Indexed once: matching every Service against every slice is quadratic.
    let mut by_service: HashMap<(&str, &str), Vec<&EndpointSlice>> = HashMap::new();
    for s in slices.iter().map(Borrow::borrow) {
        let (Some(ns), Some(svc)) = (
            s.metadata.namespace.as_deref(),
            s.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL)),
        ) else {
            continue;
        };
        if s.address_type == "IPv4" {
            by_service.entry((ns, svc.as_str())).or_default().push(s);
        }
    }
    let mut out = Vec::new();
    for svc in services {
        let svc: &Service = svc.borrow();
        let (Some(ns), Some(name), Some(spec)) = (
            svc.metadata.namespace.as_deref(),
            svc.metadata.name.as_deref(),
            svc.spec.as_ref(),
        ) else {
            continue;
        };
        if spec.type_.as_deref() == Some("ExternalName") {
            continue;
        }
        let cluster_ip = match spec.cluster_ip.as_deref() {
            None | Some("") | Some("None") => None,
            Some(ip) => match ip.parse::<Ipv4Addr>() {
                Ok(ip) => Some(ip),
                Err(_) => continue,
            },
        };
        let Some(cluster_ip) = cluster_ip else {
            continue; // headless: DNS only
        };
        let affinity_seconds = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
            spec.session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds)
                .and_then(|t| u32::try_from(t).ok())
                .filter(|t| *t > 0)
                .unwrap_or(DEFAULT_AFFINITY_SECONDS)
        });
        let node_ports = matches!(
            spec.type_.as_deref(),
            Some("NodePort") | Some("LoadBalancer")
        );
        let own_slices = by_service
            .get(&(ns, name))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for p in spec.ports.iter().flatten() {
            let Some(proto) = protocol(p.protocol.as_deref()) else {
                continue;
            };
            let Ok(port) = u16::try_from(p.port) else {
                continue;
            };
            let port_name = p.name.clone().unwrap_or_default();
            out.push(ServicePort {
                id: format!("{ns}/{name}:{port_name}"),
                key: format!("{ns}/{name}/{proto}/{port_name}"),
                cluster_ip: Some(cluster_ip),
                protocol: proto,
                port,
                node_port: p
                    .node_port
                    .filter(|_| node_ports)
                    .and_then(|n| u16::try_from(n).ok()),
                affinity_seconds,
                external_local: spec.external_traffic_policy.as_deref() == Some("Local"),
                internal_local: spec.internal_traffic_policy.as_deref() == Some("Local"),
                endpoints: endpoints(own_slices, &port_name, proto, node_name),
            });
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    // Port names are unique per Service (API validation); keep the first if the data is not.
    out.dedup_by(|a, b| a.key == b.key);
    // A clusterIP:port or nodePort is one verdict map element: a second claimant (allocation
    // prevents it; stale or hand-made objects may not) is left out rather than failing every
    // transaction. Deterministic, so the diff stays consistent when the first one goes.
    let mut claimed = HashSet::new();
    out.retain(|sp| {
        let ip = sp.cluster_ip.map(|ip| (Some(ip), sp.protocol, sp.port));
        let np = sp.node_port.map(|np| (None, sp.protocol, np));
        let clash = [ip, np].into_iter().flatten().any(|k| claimed.contains(&k));
        if clash {
            warn!(service_port = %sp.id, "clusterIP or nodePort already taken; not programmed");
            return false;
        }
        claimed.extend([ip, np].into_iter().flatten());
        true
    });
    out
}

/// The ready endpoints for the service port named `port_name`: the slice port of the same name
/// carries the number (a named targetPort resolved per pod by the EndpointSlice controller).
fn endpoints(
    slices: &[&EndpointSlice],
    port_name: &str,
    proto: &str,
    node_name: &str,
) -> Vec<Endpoint> {
    let mut out = BTreeSet::new();
    for s in slices {
        let Some(port) = s.ports.iter().flatten().find(|p| {
            p.name.as_deref().unwrap_or("") == port_name
                && protocol(p.protocol.as_deref()) == Some(proto)
        }) else {
            continue;
        };
        let Some(port) = port.port.and_then(|p| u16::try_from(p).ok()) else {
            continue;
        };
        for e in &s.endpoints {
            // Unset means ready (the API's documented default).
            if e.conditions.as_ref().and_then(|c| c.ready) == Some(false) {
                continue;
            }
            let local = e.node_name.as_deref() == Some(node_name);
            for a in &e.addresses {
                if let Ok(ip) = a.parse::<Ipv4Addr>() {
                    out.insert(Endpoint { ip, port, local });
                }
            }
        }
    }
    out.into_iter().collect()
}
