//! Services with real traffic through the agent's nftables proxy: a client pod reaches a
//! 2-replica httpd Deployment through the ClusterIP (every backend answers), NodePort from a pod
//! and from the host on the bridge's address (upstream serves no localhost NodePorts), ClientIP
//! affinity sticks, scale to 0 is refused at once, and the proxy table goes with the cluster.

mod common;

use std::{
    collections::BTreeSet,
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    process::Command,
    time::Duration,
};

use common::{eventually, pods, registry::Registry, Cluster};

const K: &str = "1.33";

const NS: &str = "default";

fn jsonpath(c: &Cluster, what: &[&str], path: &str) -> String {
    pods::jsonpath(c, K, NS, what, path)
}

/// `n` requests from the client pod: a backend's hostname, or `FAILED: <error>`.
fn requests_from_pod(c: &Cluster, url: &str, n: usize) -> Vec<String> {
    pods::wget_from_pod(c, K, NS, "client", url, n)
}

/// One HTTP GET from this (host) process; the body's first line.
fn get_from_host(addr: SocketAddr) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    write!(s, "GET / HTTP/1.0\r\nHost: x\r\n\r\n")?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    Ok(resp
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .trim()
        .to_string())
}

#[test]
fn cluster_ip_and_node_port_carry_real_traffic() {
    let registry = Registry::start();
    // A service CIDR of this test's own: ClusterIPs reached from the host must not be another
    // parallel test cluster's.
    let second = 150 + std::process::id() % 50;
    let svc_cidr = format!("10.{second}.0.0/16");
    let dns = format!("10.{second}.0.10");
    let c = Cluster::start_with_agent(
        &registry,
        &["--service-cidr", &svc_cidr, "--cluster-dns", &dns],
    );
    let bridge = c.agent.clone().unwrap().bridge;
    c.apply_stdin(
        K,
        &["apply", "-f", "-"],
        &(pods::web_deployment(NS, 2)
            + r#"---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: web}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: busybox:1.36, command: ["sleep", "3600"]}
"#),
    );
    let backends = eventually(120, "2 web pods Ready", || {
        let ready = pods::ready_pods(&c, K, NS, "app=web");
        (ready.len() == 2).then_some(ready)
    });
    let client_ip = eventually(120, "the client pod Running", || {
        let s = jsonpath(&c, &["pod", "client"], "{.status.phase} {.status.podIP}");
        s.strip_prefix("Running ").map(str::to_string)
    });
    let cluster_ip = jsonpath(&c, &["svc", "web"], "{.spec.clusterIP}");
    let node_port = jsonpath(&c, &["svc", "web"], "{.spec.ports[0].nodePort}");
    // The bridge's address: the gateway of the client's /24.
    let gateway = format!("{}.1", client_ip.rsplit_once('.').unwrap().0);

    // ClusterIP from a pod: every backend answers over many requests (random balancing).
    let url = format!("http://{cluster_ip}/");
    let seen = pods::until_every_backend(&c, K, (NS, "client"), &url, 30, &backends, 60);
    assert_eq!(seen.len(), 30, "{seen:?}");

    // NodePort from a pod, to the node's bridge address.
    let np_url = format!("http://{gateway}:{node_port}/");
    let answers = requests_from_pod(&c, &np_url, 20);
    let got: BTreeSet<String> = answers.iter().cloned().collect();
    assert_eq!(got, backends, "NodePort from a pod: {answers:?}");

    // From the host: ClusterIP (output hook) and NodePort on a node address.
    let mut host_seen = BTreeSet::new();
    for _ in 0..30 {
        host_seen.insert(get_from_host(format!("{cluster_ip}:80").parse().unwrap()).unwrap());
        host_seen.insert(get_from_host(format!("{gateway}:{node_port}").parse().unwrap()).unwrap());
    }
    assert_eq!(host_seen, backends, "from the host");

    // sessionAffinity ClientIP: one backend for this client from now on.
    c.kubectl(
        K,
        &[
            "patch",
            "svc",
            "web",
            "-p",
            r#"{"spec":{"sessionAffinity":"ClientIP"}}"#,
        ],
    );
    eventually(30, "affinity to stick", || {
        let answers = requests_from_pod(&c, &url, 20);
        let got: BTreeSet<&String> = answers.iter().collect();
        (answers.len() == 20 && got.len() == 1 && backends.contains(answers[0].as_str()))
            .then_some(())
    });

    // Scale to 0: refused at once (reject), not a hang until wget's timeout.
    c.kubectl(K, &["scale", "deployment", "web", "--replicas=0"]);
    let refused = eventually(60, "connection refused with no endpoints", || {
        let out = c.kubectl_raw(
            K,
            &[
                "exec", "client", "--", "timeout", "10", "wget", "-q", "-O-", &url,
            ],
        );
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        err.contains("refused").then_some(err)
    });
    assert!(!refused.contains("timed out"), "{refused}");
    let from_host = get_from_host(format!("{cluster_ip}:80").parse().unwrap()).unwrap_err();
    assert_eq!(
        from_host.kind(),
        std::io::ErrorKind::ConnectionRefused,
        "{from_host}"
    );

    // Scale back: served again.
    c.kubectl(K, &["scale", "deployment", "web", "--replicas=1"]);
    eventually(120, "served again after scaling back", || {
        let a = requests_from_pod(&c, &url, 1);
        (a.len() == 1 && !a[0].starts_with("FAILED")).then_some(())
    });

    // The cluster's teardown removes the proxy table with the pod network.
    drop(c);
    let table = format!("rkube-proxy-{bridge}");
    let listed = Command::new("nft")
        .args(["list", "table", "ip", &table])
        .output()
        .unwrap();
    assert!(!listed.status.success(), "{table} left behind");
}
