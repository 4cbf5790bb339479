use std::sync::Arc;

use hickory_server::proto::{
    op::ResponseCode,
    rr::{Name, RData, RecordType},
};
use k8s_openapi::api::{
    core::v1::{Pod, Service},
    discovery::v1::EndpointSlice,
};
use serde_json::json;

use super::*;

#[derive(Default)]
struct Fake {
    services: Vec<Arc<Service>>,
    slices: Vec<Arc<EndpointSlice>>,
    pods: Vec<Arc<Pod>>,
}

impl ClusterView for Fake {
    fn service(&self, ns: &str, name: &str) -> Option<Arc<Service>> {
        self.services
            .iter()
            .find(|s| {
                s.metadata.namespace.as_deref() == Some(ns)
                    && s.metadata.name.as_deref() == Some(name)
            })
            .cloned()
    }
    fn services(&self) -> Vec<Arc<Service>> {
        self.services.clone()
    }
    fn slices(&self, ns: &str, svc: &str) -> Vec<Arc<EndpointSlice>> {
        self.slices
            .iter()
            .filter(|s| {
                s.metadata.namespace.as_deref() == Some(ns)
                    && s.metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(SERVICE_NAME_LABEL))
                        == Some(&svc.to_string())
            })
            .cloned()
            .collect()
    }
    fn all_slices(&self) -> Vec<Arc<EndpointSlice>> {
        self.slices.clone()
    }
    fn pods(&self) -> Vec<Arc<Pod>> {
        self.pods.clone()
    }
}

fn fake() -> Fake {
    let svc = |v: serde_json::Value| Arc::new(serde_json::from_value::<Service>(v).unwrap());
    Fake {
        services: vec![
            svc(json!({"metadata": {"name": "web", "namespace": "app"},
                "spec": {"clusterIP": "10.43.0.20", "clusterIPs": ["10.43.0.20"],
                         "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}})),
            svc(json!({"metadata": {"name": "db", "namespace": "app"},
                "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]}})),
            svc(json!({"metadata": {"name": "ext", "namespace": "app"},
                "spec": {"type": "ExternalName", "externalName": "example.org"}})),
        ],
        slices: vec![Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": "db-x", "namespace": "app",
                             "labels": {"kubernetes.io/service-name": "db"}},
                "addressType": "IPv4",
                "endpoints": [
                    {"addresses": ["10.42.0.7"], "hostname": "db-0", "conditions": {"ready": true}},
                    {"addresses": ["10.42.0.8"], "conditions": {"ready": true}},
                    {"addresses": ["10.42.0.9"], "conditions": {"ready": false}},
                ],
                "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
            }))
            .unwrap(),
        )],
        pods: vec![Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": "p", "namespace": "app"},
                "status": {"podIP": "10.42.0.5", "podIPs": [{"ip": "10.42.0.5"}]},
            }))
            .unwrap(),
        )],
    }
}

fn a_records(ans: &Answer) -> Vec<String> {
    ans.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn cluster_ip_service() {
    let z = Zone::new("cluster.local");
    let ans = z.resolve(&fake(), "web.app.svc.cluster.local.", RecordType::A);
    assert_eq!(ans.code, ResponseCode::NoError);
    assert_eq!(a_records(&ans), ["10.43.0.20"]);
    assert_eq!(ans.answers[0].name.to_ascii(), "web.app.svc.cluster.local.");
    // No AAAA: an empty answer with the SOA, not NXDOMAIN.
    let ans = z.resolve(&fake(), "web.app.svc.cluster.local", RecordType::AAAA);
    assert_eq!(
        (ans.code, ans.answers.len(), ans.soa.len()),
        (ResponseCode::NoError, 0, 1)
    );
}

#[test]
fn headless_service_and_its_endpoints() {
    let z = Zone::new("cluster.local");
    let ans = z.resolve(&fake(), "db.app.svc.cluster.local", RecordType::A);
    assert_eq!(
        a_records(&ans),
        ["10.42.0.7", "10.42.0.8"],
        "ready endpoints only"
    );
    let ans = z.resolve(&fake(), "db-0.db.app.svc.cluster.local", RecordType::A);
    assert_eq!(a_records(&ans), ["10.42.0.7"]);
    let ans = z.resolve(&fake(), "10-42-0-8.db.app.svc.cluster.local", RecordType::A);
    assert_eq!(a_records(&ans), ["10.42.0.8"]);
    let ans = z.resolve(&fake(), "10-42-0-9.db.app.svc.cluster.local", RecordType::A);
    assert_eq!(ans.code, ResponseCode::NXDomain, "not ready");
}

#[test]
fn srv_for_named_ports() {
    let z = Zone::new("cluster.local");
    let ans = z.resolve(
        &fake(),
        "_http._tcp.web.app.svc.cluster.local",
        RecordType::SRV,
    );
    let srv: Vec<(u16, String)> = ans
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(s) => Some((s.port, s.target.to_ascii())),
            _ => None,
        })
        .collect();
    assert_eq!(srv, [(80, "web.app.svc.cluster.local.".to_string())]);
    let ans = z.resolve(
        &fake(),
        "_pg._tcp.db.app.svc.cluster.local",
        RecordType::SRV,
    );
    let mut targets: Vec<String> = ans
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(s) => Some(format!("{} {}", s.port, s.target.to_ascii())),
            _ => None,
        })
        .collect();
    targets.sort();
    assert_eq!(
        targets,
        [
            "5432 10-42-0-8.db.app.svc.cluster.local.",
            "5432 db-0.db.app.svc.cluster.local."
        ]
    );
    let ans = z.resolve(
        &fake(),
        "_nope._tcp.web.app.svc.cluster.local",
        RecordType::SRV,
    );
    assert_eq!(ans.code, ResponseCode::NXDomain);
    let ans = z.resolve(
        &fake(),
        "_http._udp.web.app.svc.cluster.local",
        RecordType::SRV,
    );
    assert_eq!(ans.code, ResponseCode::NXDomain, "protocol must match");
}

#[test]
fn pods_external_names_and_unknowns() {
    let z = Zone::new("cluster.local");
    let ans = z.resolve(&fake(), "10-42-0-5.app.pod.cluster.local", RecordType::A);
    assert_eq!(a_records(&ans), ["10.42.0.5"]);
    let ans = z.resolve(&fake(), "10-42-0-6.app.pod.cluster.local", RecordType::A);
    assert_eq!(ans.code, ResponseCode::NXDomain, "no such pod");
    let ans = z.resolve(&fake(), "ext.app.svc.cluster.local", RecordType::A);
    assert!(matches!(&ans.answers[0].data, RData::CNAME(c) if c.0.to_ascii() == "example.org."));
    for name in [
        "nope.app.svc.cluster.local",
        "web.other.svc.cluster.local",
        "x.y.cluster.local",
    ] {
        let ans = z.resolve(&fake(), name, RecordType::A);
        assert_eq!(ans.code, ResponseCode::NXDomain, "{name}");
        assert!(matches!(ans.soa[0].data, RData::SOA(_)), "{name}: SOA");
    }
    assert_eq!(
        z.resolve(&fake(), "app.svc.cluster.local", RecordType::A)
            .code,
        ResponseCode::NoError
    );
    assert!(
        !z.contains("cluster.localx")
            && !z.contains("example.org")
            && z.contains("a.cluster.local")
    );
}

#[test]
fn reverse_lookups() {
    let z = Zone::new("cluster.local");
    let ptr = |ip: &str| {
        let name = Name::from_ascii("x.in-addr.arpa.").unwrap();
        z.reverse(&fake(), ip.parse().unwrap(), &name)
            .map(|a| match &a.answers[0].data {
                RData::PTR(p) => p.0.to_ascii(),
                _ => panic!("not a PTR"),
            })
    };
    assert_eq!(
        ptr("10.43.0.20").as_deref(),
        Some("web.app.svc.cluster.local.")
    );
    assert_eq!(
        ptr("10.42.0.7").as_deref(),
        Some("db-0.db.app.svc.cluster.local.")
    );
    assert_eq!(
        ptr("10.42.0.5").as_deref(),
        Some("10-42-0-5.app.pod.cluster.local.")
    );
    assert_eq!(ptr("192.0.2.1"), None);
    assert_eq!(
        parse_reverse("20.0.43.10.in-addr.arpa."),
        Some("10.43.0.20".parse().unwrap())
    );
    assert_eq!(parse_reverse("0.43.10.in-addr.arpa."), None);
}

/// The cluster is IPv4-only: AAAA for any name that exists (ClusterIP, headless, endpoint,
/// pod, namespace) is NOERROR with no data and the SOA, as CoreDNS answers, so resolvers
/// asking A and AAAA together do not treat the name as missing; unknown names stay NXDOMAIN.
#[test]
fn aaaa_is_empty_noerror_for_existing_names() {
    let z = Zone::new("cluster.local");
    for name in [
        "web.app.svc.cluster.local",
        "db.app.svc.cluster.local",
        "db-0.db.app.svc.cluster.local",
        "10-42-0-5.app.pod.cluster.local",
        "app.svc.cluster.local",
        "cluster.local",
    ] {
        let ans = z.resolve(&fake(), name, RecordType::AAAA);
        assert_eq!(
            (ans.code, ans.answers.len(), ans.soa.len()),
            (ResponseCode::NoError, 0, 1),
            "{name}"
        );
    }
    for name in [
        "nope.app.svc.cluster.local",
        "10-42-0-9.db.app.svc.cluster.local",
    ] {
        let ans = z.resolve(&fake(), name, RecordType::AAAA);
        assert_eq!(ans.code, ResponseCode::NXDomain, "{name}");
    }
}
