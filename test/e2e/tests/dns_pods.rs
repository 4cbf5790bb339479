//! Pod DNS end to end, with real packets: a node with a non-loopback node IP of its own (the
//! kube-dns Endpoints point there), a client pod that reaches a 3-replica httpd Deployment
//! through `http://web.<ns>.svc.cluster.local`, the search path (`http://web`) and the
//! ClusterIP, where every backend answers and a pod failing its readiness probe never does;
//! unknown cluster names fail at once with NXDOMAIN; AAAA for a Service is an empty NOERROR;
//! dnsPolicy ClusterFirst, Default and None+dnsConfig get the resolv.conf upstream writes.

mod common;

use std::{net::SocketAddr, process::Output, time::Instant};

use common::{
    dnsq::{ask_udp, free_dns_port},
    eventually,
    node_ip::NodeIp,
    pods,
    registry::Registry,
    Cluster,
};
use rkube_dns::proto::{
    op::ResponseCode,
    rr::{RData, RecordType},
};

const K: &str = "1.33";
const NS: &str = "dnspods";

/// Applied together with `pods::web_deployment(NS, 3)`: the 3 backends of Service web.
const MANIFEST: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: dnspods}
---
apiVersion: v1
kind: Pod
metadata: {name: unready, namespace: dnspods, labels: {app: web}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: busybox:1.36
    ports: [{name: web, containerPort: 8080}]
    # It serves like the others but never passes readiness: it must get no traffic.
    readinessProbe:
      exec: {command: ["false"]}
      periodSeconds: 1
    command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: dnspods}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: web}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: dnspods}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: dnspods, labels: {app: db}}
spec:
  hostname: db-0
  subdomain: db
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: busybox:1.36
    readinessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
    command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: dnspods}
spec:
  terminationGracePeriodSeconds: 1
  dnsPolicy: ClusterFirst
  containers:
  - {name: c, image: busybox:1.36, command: ["sleep", "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: dns-default, namespace: dnspods}
spec:
  terminationGracePeriodSeconds: 1
  dnsPolicy: Default
  containers:
  - {name: c, image: busybox:1.36, command: ["sleep", "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: dns-none, namespace: dnspods}
spec:
  terminationGracePeriodSeconds: 1
  dnsPolicy: None
  dnsConfig:
    nameservers: [192.0.2.53]
    searches: [a.example, b.example]
    options: [{name: ndots, value: "2"}, {name: edns0}]
  containers:
  - {name: c, image: busybox:1.36, command: ["sleep", "3600"]}
"#;

fn jsonpath(c: &Cluster, what: &[&str], path: &str) -> String {
    pods::jsonpath(c, K, NS, what, path)
}

fn exec(c: &Cluster, pod: &str, cmd: &[&str]) -> Output {
    pods::exec(c, K, NS, pod, cmd)
}

fn exec_ok(c: &Cluster, pod: &str, cmd: &[&str]) -> String {
    let out = exec(c, pod, cmd);
    assert!(
        out.status.success(),
        "exec {pod} {cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `n` GETs of `url` from the client pod: a backend's hostname or `FAILED: <error>`.
fn requests_from_client(c: &Cluster, url: &str, n: usize) -> Vec<String> {
    pods::wget_from_pod(c, K, NS, "client", url, n)
}

#[test]
fn pods_resolve_and_reach_services_by_name() {
    let registry = Registry::start();
    let node_ip = NodeIp::create();
    let node_addr = node_ip.addr;
    // A Service range of this cluster's own: ClusterIPs (the DNS one included) are reached
    // from the host too, and must not be another parallel test cluster's.
    let svc_cidr = format!("10.251.{}.0/24", node_ip.n);
    let cluster_dns = format!("10.251.{}.10", node_ip.n);
    let dns_port = free_dns_port(node_addr);
    let c = Cluster::start_with_node_ip(
        &registry,
        node_ip,
        &[
            "--service-cidr",
            &svc_cidr,
            "--cluster-dns",
            &cluster_dns,
            "--cluster-dns-port",
            &dns_port.to_string(),
        ],
    );

    // kube-dns points at the node IP (loopback would be rejected there).
    let eps = eventually(30, "kube-dns Endpoints", || {
        let out = c.kubectl_raw(
            K,
            &[
                "get",
                "endpoints",
                "kube-dns",
                "-n",
                "kube-system",
                "-o",
                "jsonpath={.subsets[0].addresses[0].ip} {.subsets[0].ports[0].port}",
            ],
        );
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    });
    assert_eq!(eps, format!("{node_addr} {dns_port}"));

    c.apply_stdin(
        K,
        &["apply", "-f", "-"],
        &format!("{MANIFEST}---\n{}", pods::web_deployment(NS, 3)),
    );
    let backends = eventually(180, "3 web pods Ready", || {
        let ready = pods::ready_pods(&c, K, NS, "app=web,owner=deploy");
        (ready.len() == 3).then_some(ready)
    });
    for pod in ["client", "dns-default", "dns-none", "unready"] {
        eventually(120, &format!("{pod} Running"), || {
            (jsonpath(&c, &["pod", pod], "{.status.phase}") == "Running").then_some(())
        });
    }
    // The unready pod is an endpoint of web, only not a ready one.
    eventually(30, "the unready pod in web's slice, not ready", || {
        let out = jsonpath(
            &c,
            &["endpointslices", "-l", "kubernetes.io/service-name=web"],
            "{range .items[*].endpoints[*]}{.targetRef.name}={.conditions.ready}{\"\\n\"}{end}",
        );
        out.lines().any(|l| l == "unready=false").then_some(())
    });
    assert_eq!(
        jsonpath(
            &c,
            &["pod", "unready"],
            "{.status.conditions[?(@.type==\"Ready\")].status}"
        ),
        "False"
    );

    // ClusterFirst: the cluster DNS, the namespace's search path, ndots:5.
    let resolv = exec_ok(&c, "client", &["cat", "/etc/resolv.conf"]);
    let lines: Vec<&str> = resolv.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "search {NS}.svc.cluster.local svc.cluster.local cluster.local"
        )),
        "{resolv}"
    );
    assert!(
        lines.contains(&format!("nameserver {cluster_dns}").as_str()),
        "{resolv}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("nameserver")).count(),
        1,
        "{resolv}"
    );
    assert!(lines.contains(&"options ndots:5"), "{resolv}");

    // By FQDN, by the search path (short and namespace-qualified) and by ClusterIP: every
    // ready backend answers, the unready pod never does.
    let cluster_ip = jsonpath(&c, &["svc", "web"], "{.spec.clusterIP}");
    for url in [
        format!("http://web.{NS}.svc.cluster.local"),
        "http://web".to_string(),
        format!("http://web.{NS}"),
        format!("http://{cluster_ip}"),
    ] {
        let started = Instant::now();
        let answers = pods::until_every_backend(&c, K, (NS, "client"), &url, 30, &backends, 90);
        assert_eq!(answers.len(), 30, "{url}: {answers:?}");
        assert!(!answers.iter().any(|a| a == "unready"), "{url}");
        eprintln!(
            "{url}: 30 requests, all backends, in {:?} (incl. retries)",
            started.elapsed()
        );
    }

    // Headless: the Service name is the ready pod's IP, and the pod with hostname+subdomain
    // has a name of its own (here through the search path).
    eventually(60, "db-0 Ready", || {
        (jsonpath(
            &c,
            &["pod", "db-0"],
            "{.status.conditions[?(@.type==\"Ready\")].status}",
        ) == "True")
            .then_some(())
    });
    for url in [
        format!("http://db.{NS}.svc.cluster.local:8080"),
        "http://db-0.db:8080".to_string(),
    ] {
        eventually(30, &format!("db-0 through {url}"), || {
            (requests_from_client(&c, &url, 3) == ["db-0"; 3]).then_some(())
        });
    }

    // Unknown names in the cluster domain: NXDOMAIN at once, not a timeout.
    let out = exec(
        &c,
        "client",
        &[
            "timeout",
            "10",
            "nslookup",
            &format!("nope.{NS}.svc.cluster.local"),
        ],
    );
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("NXDOMAIN"), "{text}");
    let started = Instant::now();
    let out = exec(
        &c,
        "client",
        &[
            "timeout",
            "10",
            "wget",
            "-q",
            "-O-",
            &format!("http://nope.{NS}.svc.cluster.local"),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_ne!(out.status.code(), Some(124), "wget of an unknown name hung");
    assert!(err.contains("bad address"), "{err}");
    eprintln!(
        "wget of an unknown cluster name failed in {:?} (kubectl exec included)",
        started.elapsed()
    );
    // A known one by nslookup: the ClusterIP.
    let text = exec_ok(
        &c,
        "client",
        &["nslookup", &format!("web.{NS}.svc.cluster.local")],
    );
    assert!(text.contains(&format!("Address: {cluster_ip}")), "{text}");

    // From the host through the DNS ClusterIP (DNAT to the node IP's DNS port): A answers,
    // AAAA is an empty NOERROR with the zone's SOA (IPv4-only cluster, as CoreDNS), and an
    // unknown name's AAAA is NXDOMAIN.
    let dns_svc: SocketAddr = format!("{cluster_dns}:53").parse().unwrap();
    let fqdn = format!("web.{NS}.svc.cluster.local.");
    let a = ask_udp(dns_svc, &fqdn, RecordType::A).expect("an answer through the DNS ClusterIP");
    assert!(
        matches!(&a.answers[..], [r] if matches!(&r.data, RData::A(ip) if ip.0.to_string() == cluster_ip)),
        "{a:?}"
    );
    let aaaa = ask_udp(dns_svc, &fqdn, RecordType::AAAA).expect("an AAAA answer");
    assert_eq!(
        aaaa.metadata.response_code,
        ResponseCode::NoError,
        "{aaaa:?}"
    );
    assert!(aaaa.answers.is_empty(), "{aaaa:?}");
    assert!(
        aaaa.authorities
            .iter()
            .any(|r| matches!(r.data, RData::SOA(_))),
        "{aaaa:?}"
    );
    let missing = ask_udp(
        dns_svc,
        &format!("nope.{NS}.svc.cluster.local."),
        RecordType::AAAA,
    )
    .expect("an answer");
    assert_eq!(missing.metadata.response_code, ResponseCode::NXDomain);

    // Queries/s of the server (debug build), straight to its address: 4 clients, 500 each.
    let server = SocketAddr::new(node_addr, dns_port);
    let started = Instant::now();
    let answered: usize = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let fqdn = &fqdn;
                s.spawn(move || {
                    (0..500)
                        .filter(|_| {
                            ask_udp(server, fqdn, RecordType::A)
                                .is_some_and(|m| m.answers.len() == 1)
                        })
                        .count()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    let took = started.elapsed();
    eprintln!(
        "DNS: {answered}/2000 answered in {took:?}: {:.0} queries/s",
        answered as f64 / took.as_secs_f64()
    );
    assert_eq!(answered, 2000);

    // dnsPolicy Default: the host's resolvers (loopback ones dropped), no cluster search path.
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut host_servers: Vec<String> = host
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver"))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.starts_with("127.") && s != "::1")
        .take(3)
        .collect();
    if host_servers.is_empty() {
        host_servers.push("8.8.8.8".into());
    }
    let resolv = exec_ok(&c, "dns-default", &["cat", "/etc/resolv.conf"]);
    let servers: Vec<String> = resolv
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver "))
        .map(str::to_string)
        .collect();
    assert_eq!(servers, host_servers, "{resolv}");
    assert!(!resolv.contains("cluster.local"), "{resolv}");
    assert!(!resolv.contains("ndots:5"), "{resolv}");

    // dnsPolicy None: exactly dnsConfig.
    let resolv = exec_ok(&c, "dns-none", &["cat", "/etc/resolv.conf"]);
    assert_eq!(
        resolv,
        "search a.example b.example\nnameserver 192.0.2.53\noptions ndots:2 edns0\n"
    );

    // Scale to 0: the name still resolves, and with only the unready pod left the connection
    // is refused at once (no ready endpoint), not sent to it nor left to time out.
    c.kubectl(K, &["scale", "-n", NS, "deployment", "web", "--replicas=0"]);
    let refused = eventually(60, "connection refused with no ready endpoint", || {
        let out = exec(
            &c,
            "client",
            &["timeout", "10", "wget", "-q", "-O-", "http://web"],
        );
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        err.contains("refused").then_some(err)
    });
    assert!(!refused.contains("timed out"), "{refused}");
    // Scale back: a new backend serves, still never the unready pod.
    c.kubectl(K, &["scale", "-n", NS, "deployment", "web", "--replicas=1"]);
    let answers = eventually(120, "served again after scaling back", || {
        let a = requests_from_client(&c, "http://web", 5);
        a.iter().all(|h| !h.starts_with("FAILED")).then_some(a)
    });
    assert!(
        answers
            .iter()
            .all(|h| h.starts_with("web-") && !backends.contains(h)),
        "{answers:?}"
    );
}

/// The node IP helper: a second one in this process collides with the first's address and
/// moves on; both are gone after drop.
#[test]
fn test_node_ips_are_unique_and_removed() {
    let on_lo = || {
        let out = std::process::Command::new("ip")
            .args(["-4", "-o", "addr", "show", "dev", "lo"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let a = NodeIp::create();
    let b = NodeIp::create();
    assert_ne!(a.addr, b.addr);
    let (a_cidr, b_cidr) = (format!(" {}/32 ", a.addr), format!(" {}/32 ", b.addr));
    let listed = on_lo();
    assert!(
        listed.contains(&a_cidr) && listed.contains(&b_cidr),
        "{listed}"
    );
    drop((a, b));
    let listed = on_lo();
    assert!(
        !listed.contains(&a_cidr) && !listed.contains(&b_cidr),
        "{listed}"
    );
}
