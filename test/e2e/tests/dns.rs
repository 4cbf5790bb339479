//! Cluster DNS against a real `rkube server` (simulated node: pods get IPs, EndpointSlices
//! fill): the server's own DNS on `--cluster-dns-port` and the kube-dns objects it publishes,
//! and rkube_dns run by the test with a fake upstream resolver on loopback for forwarding.
//! Queries go over UDP and TCP with hickory's message codec.

mod common;

use std::{
    net::{Ipv4Addr, SocketAddr, UdpSocket},
    time::Duration,
};

use common::{
    dnsq::{a_records, ask_tcp, ask_udp, free_dns_port},
    eventually, Cluster,
};
use kube::{
    config::{KubeConfigOptions, Kubeconfig},
    Client, Config,
};
use rkube_dns::proto::{
    op::{Message, MessageType, OpCode, ResponseCode},
    rr::{rdata::A, RData, Record, RecordType},
};

const MANIFEST: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: dnstest}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: dnstest}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: busybox:1.36, ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: dnstest}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: dnstest}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: pg, port: 5432}]
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: dnstest, labels: {app: db}}
spec:
  hostname: db-0
  subdomain: db
  containers: [{name: c, image: busybox:1.36}]
"#;

/// This host's first non-loopback IPv4: the node IP (endpoints may not be loopback).
fn host_ip() -> std::net::IpAddr {
    rkube_pki::host_addresses()
        .into_iter()
        .find(|a| a.is_ipv4() && !a.is_loopback())
        .expect("a non-loopback IPv4 address")
}

/// A resolver standing in for the host's: every name is 192.0.2.53, but `missing.example.`
/// is NXDOMAIN. UDP only; counts nothing, just answers until the test ends.
fn fake_upstream() -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut r = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
            r.metadata.recursion_available = true;
            r.metadata.recursion_desired = q.metadata.recursion_desired;
            for query in &q.queries {
                r.add_query(query.clone());
                if query.name().to_ascii() == "missing.example." {
                    r.metadata.response_code = ResponseCode::NXDomain;
                } else if query.query_type() == RecordType::A {
                    r.add_answer(Record::from_rdata(
                        query.name().clone(),
                        60,
                        RData::A(A(Ipv4Addr::new(192, 0, 2, 53))),
                    ));
                }
            }
            let _ = sock.send_to(&r.to_vec().unwrap(), from);
        }
    });
    addr
}

#[test]
fn cluster_dns_answers_services_pods_and_forwards() {
    let node_ip = host_ip();
    let port = free_dns_port(node_ip);
    let c = Cluster::start_with(&[
        "--sim-nodes",
        "1",
        "--node-ip",
        &node_ip.to_string(),
        "--cluster-dns-port",
        &port.to_string(),
    ]);
    c.apply_stdin("1.33", &["apply", "-f", "-"], MANIFEST);

    // kube-dns: the Service on --cluster-dns, its endpoints at this server's DNS address
    // (published by the server right after it starts serving).
    let get = |args: &[&str]| {
        let out = c.kubectl_raw("1.33", args);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (svc, slice, eps) = eventually(30, "kube-dns Service, EndpointSlice and Endpoints", || {
        let svc = get(&[
            "get",
            "svc",
            "kube-dns",
            "-n",
            "kube-system",
            "-o",
            "jsonpath={.spec.clusterIP} {.spec.ports[*].name}",
        ])?;
        let slice = get(&[
            "get", "endpointslice", "kube-dns", "-n", "kube-system", "-o",
            "jsonpath={.endpoints[0].addresses[0]} {.ports[*].port} {.metadata.labels.kubernetes\\.io/service-name}",
        ])?;
        let eps = get(&[
            "get",
            "endpoints",
            "kube-dns",
            "-n",
            "kube-system",
            "-o",
            "jsonpath={.subsets[0].addresses[0].ip}",
        ])?;
        Some((svc, slice, eps))
    });
    assert_eq!(svc, "10.43.0.10 dns dns-tcp metrics");
    assert_eq!(slice, format!("{node_ip} {port} {port} kube-dns"));
    assert_eq!(eps, node_ip.to_string());

    let web_ip = c.kubectl(
        "1.33",
        &[
            "get",
            "svc",
            "web",
            "-n",
            "dnstest",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ],
    );
    let pod_ips = eventually(
        60,
        "2 web pods with IPs and db-0 Ready in the slices",
        || {
            let ips = c.kubectl(
                "1.33",
                &[
                    "get",
                    "pods",
                    "-n",
                    "dnstest",
                    "-l",
                    "app=web",
                    "-o",
                    "jsonpath={.items[*].status.podIP}",
                ],
            );
            let ips: Vec<String> = ips.split_whitespace().map(String::from).collect();
            let db = c.kubectl(
                "1.33",
                &[
                    "get",
                    "endpointslices",
                    "-n",
                    "dnstest",
                    "-l",
                    "kubernetes.io/service-name=db",
                    "-o",
                    "jsonpath={.items[*].endpoints[*].hostname}",
                ],
            );
            (ips.len() == 2 && db.contains("db-0")).then_some(ips)
        },
    );
    let db_ip = c.kubectl(
        "1.33",
        &[
            "get",
            "pod",
            "db-0",
            "-n",
            "dnstest",
            "-o",
            "jsonpath={.status.podIP}",
        ],
    );

    // The server's own DNS, over UDP and TCP (its cache may lag the API by a watch event).
    let server = SocketAddr::new(node_ip, port);
    let web = eventually(30, "web's A record from the server's DNS", || {
        let m = ask_udp(server, "web.dnstest.svc.cluster.local.", RecordType::A)?;
        (m.metadata.response_code == ResponseCode::NoError && !m.answers.is_empty()).then_some(m)
    });
    assert_eq!(a_records(&web), std::slice::from_ref(&web_ip));
    assert!(web.metadata.authoritative);
    let tcp = ask_tcp(server, "web.dnstest.svc.cluster.local.", RecordType::A);
    assert_eq!(a_records(&tcp), std::slice::from_ref(&web_ip), "over TCP");

    // The same checks against rkube_dns run here, forwarding to the fake upstream.
    let upstream = fake_upstream();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let local = rt.block_on(async {
        let kc = Kubeconfig::read_from(&c.kubeconfig).unwrap();
        let cfg = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
            .await
            .unwrap();
        let client = Client::try_from(cfg).unwrap();
        let dns = rkube_dns::Dns::bind(rkube_dns::Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            cluster_domain: "cluster.local".into(),
            upstreams: Some(vec![upstream]),
            cluster_dns: None,
        })
        .await
        .unwrap();
        let local = dns.local_addr();
        tokio::spawn(dns.serve(client, async {
            let _ = stop_rx.await;
        }));
        local
    });
    let ask = |name: &str, t: RecordType| ask_udp(local, name, t).expect("a DNS answer over UDP");
    eventually(30, "the test's DNS cache synced", || {
        (a_records(&ask("web.dnstest.svc.cluster.local.", RecordType::A)) == [web_ip.clone()])
            .then_some(())
    });

    // Headless: the ready endpoints; the pod with hostname+subdomain by its own name.
    eventually(30, "db's endpoint", || {
        (a_records(&ask("db.dnstest.svc.cluster.local.", RecordType::A)) == [db_ip.clone()])
            .then_some(())
    });
    let m = ask("db-0.db.dnstest.svc.cluster.local.", RecordType::A);
    assert_eq!(a_records(&m), std::slice::from_ref(&db_ip));

    // SRV for a named port: ClusterIP -> the service name and port; headless -> per endpoint.
    let m = ask("_http._tcp.web.dnstest.svc.cluster.local.", RecordType::SRV);
    let srv: Vec<String> = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(s) => Some(format!("{} {}", s.port, s.target.to_ascii())),
            _ => None,
        })
        .collect();
    assert_eq!(srv, ["80 web.dnstest.svc.cluster.local."]);
    let m = ask("_pg._tcp.db.dnstest.svc.cluster.local.", RecordType::SRV);
    assert!(
        matches!(&m.answers[..], [r] if matches!(&r.data, RData::SRV(s) if s.port == 5432 && s.target.to_ascii() == "db-0.db.dnstest.svc.cluster.local.")),
        "{m:?}"
    );

    // Pod A records, for pods that exist.
    let dashed = pod_ips[0].replace('.', "-");
    let m = ask(
        &format!("{dashed}.dnstest.pod.cluster.local."),
        RecordType::A,
    );
    assert_eq!(a_records(&m), [pod_ips[0].clone()]);
    let m = ask(
        &format!("{dashed}.default.pod.cluster.local."),
        RecordType::A,
    );
    assert_eq!(
        m.metadata.response_code,
        ResponseCode::NXDomain,
        "wrong namespace"
    );

    // PTR: ClusterIP -> service, pod IP -> pod name, headless endpoint -> its hostname.
    let ptr = |ip: &str| {
        let o: Vec<&str> = ip.split('.').rev().collect();
        let m = ask(&format!("{}.in-addr.arpa.", o.join(".")), RecordType::PTR);
        m.answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::PTR(p) => Some(p.0.to_ascii()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(ptr(&web_ip), ["web.dnstest.svc.cluster.local."]);
    assert_eq!(
        ptr(&pod_ips[1]),
        [format!(
            "{}.dnstest.pod.cluster.local.",
            pod_ips[1].replace('.', "-")
        )]
    );
    assert_eq!(ptr(&db_ip), ["db-0.db.dnstest.svc.cluster.local."]);

    // NXDOMAIN with the zone's SOA for unknown names in the cluster domain.
    for name in [
        "nope.dnstest.svc.cluster.local.",
        "web.nons.svc.cluster.local.",
        "a.b.cluster.local.",
    ] {
        let m = ask(name, RecordType::A);
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "{name}");
        assert!(m.metadata.authoritative, "{name}");
        assert!(
            m.authorities
                .iter()
                .any(|r| matches!(r.data, RData::SOA(_)) && r.name.to_ascii() == "cluster.local."),
            "{name}: SOA in the authority section: {m:?}"
        );
    }

    // Everything else goes upstream, answer and NXDOMAIN alike.
    let m = ask("www.example.org.", RecordType::A);
    assert_eq!(a_records(&m), ["192.0.2.53"]);
    assert!(!m.metadata.authoritative);
    let m = ask("missing.example.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);

    let _ = stop_tx.send(());
    rt.shutdown_timeout(Duration::from_secs(5));
}
