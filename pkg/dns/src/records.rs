//! The cluster zone, as CoreDNS's kubernetes plugin answers it: a pure function from a query
//! name and type to records, over whatever holds the Services, EndpointSlices and Pods.

use std::{net::Ipv4Addr, sync::Arc};

use hickory_server::proto::{
    op::ResponseCode,
    rr::{
        rdata::{A, CNAME, PTR, SOA, SRV},
        Name, RData, Record, RecordType,
    },
};
use k8s_openapi::api::{
    core::v1::{Pod, Service},
    discovery::v1::EndpointSlice,
};

/// CoreDNS's default TTL for cluster records.
pub const TTL: u32 = 5;

/// What the answers are computed from (the reflector cache, or plain vectors in tests).
pub trait ClusterView {
    fn service(&self, ns: &str, name: &str) -> Option<Arc<Service>>;
    fn services(&self) -> Vec<Arc<Service>>;
    /// The EndpointSlices labelled `kubernetes.io/service-name=<svc>` in `ns`.
    fn slices(&self, ns: &str, svc: &str) -> Vec<Arc<EndpointSlice>>;
    fn all_slices(&self) -> Vec<Arc<EndpointSlice>>;
    fn pods(&self) -> Vec<Arc<Pod>>;
}

/// An authoritative answer from the cluster zone.
#[derive(Debug, Default, PartialEq)]
pub struct Answer {
    pub code: ResponseCode,
    pub answers: Vec<Record>,
    /// The zone's SOA, on NXDOMAIN and empty answers.
    pub soa: Vec<Record>,
}

/// The cluster zone (`cluster.local`) and its reverse lookups.
#[derive(Debug, Clone)]
pub struct Zone {
    domain: String,
    origin: Name,
}

/// One address behind a Service name: its IP and the name it is published under.
struct Backend {
    ip: Ipv4Addr,
    /// `<hostname>` or the dashed IP: the first label of its per-endpoint name.
    label: String,
    ports: Vec<(String, String, u16)>,
}

impl Zone {
    pub fn new(domain: &str) -> Self {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let origin = Name::from_ascii(format!("{domain}.")).unwrap_or_else(|_| Name::root());
        Zone { domain, origin }
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Whether `name` (lowercase, no trailing dot) is in the cluster zone.
    pub fn contains(&self, name: &str) -> bool {
        name == self.domain || name.ends_with(&format!(".{}", self.domain))
    }

    /// Answers a query for a name inside the zone.
    pub fn resolve(&self, view: &dyn ClusterView, qname: &str, qtype: RecordType) -> Answer {
        let name = qname.trim_end_matches('.').to_ascii_lowercase();
        let rel = name
            .strip_suffix(&self.domain)
            .unwrap_or_default()
            .trim_end_matches('.');
        let labels: Vec<&str> = if rel.is_empty() {
            vec![]
        } else {
            rel.split('.').collect()
        };
        let found = match labels.as_slice() {
            [] => {
                if qtype == RecordType::SOA {
                    return Answer {
                        answers: vec![self.soa()],
                        ..Answer::default()
                    };
                }
                Some(vec![])
            }
            ["svc"] | ["pod"] => Some(vec![]),
            [ns, "svc"] | [ns, "pod"] => view
                .services()
                .iter()
                .any(|s| s.metadata.namespace.as_deref() == Some(ns))
                .then(Vec::new),
            [svc, ns, "svc"] => self.service_records(view, &name, ns, svc, qtype),
            [ep, svc, ns, "svc"] => self.endpoint_records(view, &name, ns, svc, ep, qtype),
            [port, proto, svc, ns, "svc"] => {
                match (port.strip_prefix('_'), proto.strip_prefix('_')) {
                    (Some(port), Some(proto)) => {
                        self.srv_records(view, &name, ns, svc, Some((port, proto)), qtype)
                    }
                    _ => None,
                }
            }
            [ip, ns, "pod"] => self.pod_records(view, &name, ns, ip, qtype),
            _ => None,
        };
        self.finish(found)
    }

    /// PTR for a ClusterIP, an endpoint or a pod IP; `None` when the IP is not the cluster's.
    pub fn reverse(&self, view: &dyn ClusterView, ip: Ipv4Addr, qname: &Name) -> Option<Answer> {
        let target = self.reverse_target(view, ip)?;
        let ptr = Record::from_rdata(qname.clone(), TTL, RData::PTR(PTR(target)));
        Some(Answer {
            answers: vec![ptr],
            ..Answer::default()
        })
    }

    fn reverse_target(&self, view: &dyn ClusterView, ip: Ipv4Addr) -> Option<Name> {
        let text = ip.to_string();
        for svc in view.services() {
            let ips = cluster_ips(&svc);
            if ips.contains(&ip) {
                let (ns, name) = ns_name(&svc.metadata);
                return self.name(&format!("{name}.{ns}.svc"));
            }
        }
        for slice in view.all_slices() {
            let Some(svc) = slice
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL))
            else {
                continue;
            };
            let ns = slice.metadata.namespace.as_deref().unwrap_or_default();
            // Only headless Services publish per-endpoint names: the PTR must resolve back.
            if !view.service(ns, svc).is_some_and(|s| is_headless(&s)) {
                continue;
            }
            for ep in &slice.endpoints {
                if ep.addresses.contains(&text) {
                    let label = ep.hostname.clone().unwrap_or_else(|| dashed(ip));
                    return self.name(&format!("{label}.{svc}.{ns}.svc"));
                }
            }
        }
        for pod in view.pods() {
            if pod_ips(&pod).contains(&ip) {
                let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
                return self.name(&format!("{}.{ns}.pod", dashed(ip)));
            }
        }
        None
    }

    fn finish(&self, found: Option<Vec<Record>>) -> Answer {
        match found {
            None => Answer {
                code: ResponseCode::NXDomain,
                soa: vec![self.soa()],
                ..Answer::default()
            },
            Some(answers) if answers.is_empty() => Answer {
                soa: vec![self.soa()],
                ..Answer::default()
            },
            Some(answers) => Answer {
                answers,
                ..Answer::default()
            },
        }
    }

    /// `<svc>.<ns>.svc`: the ClusterIP, a headless Service's ready endpoints, an ExternalName's
    /// CNAME, or (SRV) every named port.
    fn service_records(
        &self,
        view: &dyn ClusterView,
        qname: &str,
        ns: &str,
        svc_name: &str,
        qtype: RecordType,
    ) -> Option<Vec<Record>> {
        let svc = view.service(ns, svc_name)?;
        let spec = svc.spec.as_ref()?;
        let owner = self.name(qname)?;
        if spec.type_.as_deref() == Some("ExternalName") {
            let target = Name::from_ascii(format!(
                "{}.",
                spec.external_name.as_deref()?.trim_end_matches('.')
            ))
            .ok()?;
            return Some(vec![Record::from_rdata(
                owner,
                TTL,
                RData::CNAME(CNAME(target)),
            )]);
        }
        match qtype {
            RecordType::A | RecordType::ANY => {
                let ips = if is_headless(&svc) {
                    backends(view, &svc).into_iter().map(|b| b.ip).collect()
                } else {
                    cluster_ips(&svc)
                };
                Some(
                    ips.into_iter()
                        .map(|ip| Record::from_rdata(owner.clone(), TTL, RData::A(A(ip))))
                        .collect(),
                )
            }
            RecordType::SRV => self.srv_records(view, qname, ns, svc_name, None, qtype),
            _ => Some(vec![]),
        }
    }

    /// `<hostname>.<svc>.<ns>.svc` (or the dashed IP): one endpoint of a headless Service.
    fn endpoint_records(
        &self,
        view: &dyn ClusterView,
        qname: &str,
        ns: &str,
        svc_name: &str,
        label: &str,
        qtype: RecordType,
    ) -> Option<Vec<Record>> {
        let svc = view.service(ns, svc_name)?;
        if !is_headless(&svc) {
            return None;
        }
        let owner = self.name(qname)?;
        let ips: Vec<Ipv4Addr> = backends(view, &svc)
            .into_iter()
            .filter(|b| b.label == label)
            .map(|b| b.ip)
            .collect();
        if ips.is_empty() {
            return None;
        }
        Some(match qtype {
            RecordType::A | RecordType::ANY => ips
                .into_iter()
                .map(|ip| Record::from_rdata(owner.clone(), TTL, RData::A(A(ip))))
                .collect(),
            _ => vec![],
        })
    }

    /// `_<port>._<proto>.<svc>.<ns>.svc` SRV (or every named port when `port` is None): the
    /// Service name and port for a ClusterIP, one record per ready endpoint when headless.
    fn srv_records(
        &self,
        view: &dyn ClusterView,
        qname: &str,
        ns: &str,
        svc_name: &str,
        port: Option<(&str, &str)>,
        qtype: RecordType,
    ) -> Option<Vec<Record>> {
        let svc = view.service(ns, svc_name)?;
        let spec = svc.spec.as_ref()?;
        let owner = self.name(qname)?;
        let wanted = |name: &str, proto: &str| {
            !name.is_empty()
                && port.is_none_or(|(p, pr)| p == name.to_ascii_lowercase() && pr == proto)
        };
        let mut out = Vec::new();
        if is_headless(&svc) {
            for b in backends(view, &svc) {
                let target = self.name(&format!("{}.{svc_name}.{ns}.svc", b.label))?;
                for (name, proto, p) in &b.ports {
                    if wanted(name, proto) {
                        out.push(srv(&owner, *p, &target));
                    }
                }
            }
        } else {
            let target = self.name(&format!("{svc_name}.{ns}.svc"))?;
            for p in spec.ports.iter().flatten() {
                let proto = p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase();
                if wanted(p.name.as_deref().unwrap_or_default(), &proto) {
                    out.push(srv(&owner, u16::try_from(p.port).ok()?, &target));
                }
            }
        }
        if port.is_some() && out.is_empty() {
            return None;
        }
        if qtype != RecordType::SRV && qtype != RecordType::ANY {
            return Some(vec![]);
        }
        Some(out)
    }

    /// `a-b-c-d.<ns>.pod`: the IP, when a pod of that namespace has it ("pods verified").
    fn pod_records(
        &self,
        view: &dyn ClusterView,
        qname: &str,
        ns: &str,
        label: &str,
        qtype: RecordType,
    ) -> Option<Vec<Record>> {
        let ip: Ipv4Addr = label.replace('-', ".").parse().ok()?;
        let exists = view.pods().iter().any(|p| {
            p.metadata.namespace.as_deref() == Some(ns)
                && p.metadata.deletion_timestamp.is_none()
                && pod_ips(p).contains(&ip)
        });
        if !exists {
            return None;
        }
        Some(match qtype {
            RecordType::A | RecordType::ANY => {
                vec![Record::from_rdata(self.name(qname)?, TTL, RData::A(A(ip)))]
            }
            _ => vec![],
        })
    }

    /// An absolute name under the zone: `rel` is relative to it, or already ends with it.
    fn name(&self, rel: &str) -> Option<Name> {
        let full = if self.contains(rel) {
            format!("{rel}.")
        } else {
            format!("{rel}.{}.", self.domain)
        };
        Name::from_ascii(full).ok()
    }

    /// CoreDNS's SOA for the zone.
    pub fn soa(&self) -> Record {
        let ns = self.name("ns.dns").unwrap_or_else(|| self.origin.clone());
        let mbox = self
            .name("hostmaster")
            .unwrap_or_else(|| self.origin.clone());
        let serial = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs() as u32);
        Record::from_rdata(
            self.origin.clone(),
            TTL,
            RData::SOA(SOA::new(ns, mbox, serial, 7200, 1800, 86400, TTL)),
        )
    }
}

pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

fn srv(owner: &Name, port: u16, target: &Name) -> Record {
    // CoreDNS: priority 0, equal weights.
    Record::from_rdata(
        owner.clone(),
        TTL,
        RData::SRV(SRV::new(0, 100, port, target.clone())),
    )
}

fn ns_name(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> (&str, &str) {
    (
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
    )
}

fn is_headless(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .is_some_and(|ip| ip == "None")
}

fn cluster_ips(svc: &Service) -> Vec<Ipv4Addr> {
    let Some(spec) = svc.spec.as_ref() else {
        return vec![];
    };
    let mut ips: Vec<Ipv4Addr> = spec
        .cluster_ips
        .iter()
        .flatten()
        .chain(spec.cluster_ip.iter())
        .filter_map(|s| s.parse().ok())
        .collect();
    ips.dedup();
    ips.sort();
    ips.dedup();
    ips
}

fn pod_ips(pod: &Pod) -> Vec<Ipv4Addr> {
    let Some(status) = pod.status.as_ref() else {
        return vec![];
    };
    status
        .pod_ips
        .iter()
        .flatten()
        .map(|p| p.ip.as_str())
        .chain(status.pod_ip.as_deref())
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// `10-42-0-5` for 10.42.0.5.
pub fn dashed(ip: Ipv4Addr) -> String {
    ip.to_string().replace('.', "-")
}

/// The IPv4 endpoints published for a headless Service: ready ones, or all of them with
/// publishNotReadyAddresses; deduplicated across slices.
fn backends(view: &dyn ClusterView, svc: &Service) -> Vec<Backend> {
    let (ns, name) = ns_name(&svc.metadata);
    let all = svc
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let mut out: Vec<Backend> = Vec::new();
    for slice in view.slices(ns, name) {
        if slice.address_type != "IPv4" {
            continue;
        }
        let ports: Vec<(String, String, u16)> = slice
            .ports
            .iter()
            .flatten()
            .filter_map(|p| {
                Some((
                    p.name.clone().unwrap_or_default().to_ascii_lowercase(),
                    p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase(),
                    u16::try_from(p.port?).ok()?,
                ))
            })
            .collect();
        for ep in &slice.endpoints {
            // A nil ready condition means unknown, which consumers treat as ready.
            let ready = ep.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            if !ready && !all {
                continue;
            }
            for addr in &ep.addresses {
                let Ok(ip) = addr.parse::<Ipv4Addr>() else {
                    continue;
                };
                if out.iter().any(|b| b.ip == ip) {
                    continue;
                }
                out.push(Backend {
                    ip,
                    label: ep
                        .hostname
                        .as_deref()
                        .map_or_else(|| dashed(ip), str::to_ascii_lowercase),
                    ports: ports.clone(),
                });
            }
        }
    }
    out.sort_by_key(|b| b.ip);
    out
}

/// `d.c.b.a.in-addr.arpa` -> a.b.c.d.
pub fn parse_reverse(name: &str) -> Option<Ipv4Addr> {
    let rest = name
        .trim_end_matches('.')
        .to_ascii_lowercase()
        .strip_suffix(".in-addr.arpa")?
        .to_string();
    let mut octets: Vec<u8> = rest
        .split('.')
        .map(|o| o.parse().ok())
        .collect::<Option<_>>()?;
    if octets.len() != 4 {
        return None;
    }
    octets.reverse();
    Some(Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3]))
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
