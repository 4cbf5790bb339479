//! Pods talking across nodes (issue 8): a server (control plane only), one `rkube agent` in the
//! host's network namespace on 10.251.<n>.1 and a second one inside a network namespace on the
//! other end of a veth pair (10.251.<n>.2), joined over that link. Each agent routes the other
//! node's podCIDR via the other node's address; pods ping and fetch from each other by pod IP
//! both ways, the server sees the client pod's own IP (no masquerade between pod CIDRs), and a
//! ClusterIP Service whose only backend is on the other node answers. A node reachable only
//! through a router gets no route but a warning. When a node goes, its route goes; at the end
//! no route, bridge, nftables table, link or namespace is left.

mod common;
#[path = "common/netns.rs"]
mod netns;

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::{eventually, free_port, registry::Registry, rkube_bin, tail, Cluster};
use netns::{LinkedNetns, TcpForward};

const K: &str = "1.33";

/// A running `rkube agent` (in the host's or a test namespace); on drop it is killed and
/// `rkube killall` (in the same namespace) removes its containers, pod network and routes.
struct AgentProc {
    name: String,
    bridge: String,
    data_dir: PathBuf,
    log: PathBuf,
    /// The namespace's path when the agent runs in one.
    netns: Option<PathBuf>,
    child: Option<Child>,
}

impl AgentProc {
    fn command(netns: Option<&PathBuf>) -> Command {
        match netns {
            Some(p) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net={}", p.display()))
                    .arg("--")
                    .arg(rkube_bin());
                c
            }
            None => Command::new(rkube_bin()),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn start(
        dir: &std::path::Path,
        name: &str,
        bridge: &str,
        server: &str,
        token: &str,
        node_ip: Ipv4Addr,
        netns: Option<PathBuf>,
        image_archive: &std::path::Path,
    ) -> Self {
        let data_dir = dir.join(name);
        // The registry listens on the host's loopback, which the namespace cannot reach: both
        // nodes import the test image from the air-gap folder instead.
        let images = data_dir.join("agent/images");
        std::fs::create_dir_all(&images).unwrap();
        std::fs::copy(image_archive, images.join("busybox-1.36.tar")).unwrap();
        let log = dir.join(format!("{name}.log"));
        let child = Self::command(netns.as_ref())
            .arg("agent")
            .args(["--server", server, "--token", token])
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--node-name", name, "--node-ip", &node_ip.to_string()])
            .args(["--kubelet-port", &free_port().to_string()])
            .args(["--pod-bridge", bridge, "--log-format", "json"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        AgentProc {
            name: name.into(),
            bridge: bridge.into(),
            data_dir,
            log,
            netns,
            child: Some(child),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the agent and runs `rkube killall` for it (idempotent).
    fn remove(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            let out = Self::command(self.netns.as_ref())
                .arg("killall")
                .arg("--data-dir")
                .arg(&self.data_dir)
                .args(["--pod-bridge", &self.bridge])
                .output();
            match out {
                Ok(out) if !out.status.success() => {
                    eprintln!("rkube killall: {}", String::from_utf8_lossy(&out.stderr))
                }
                Err(e) => eprintln!("rkube killall: {e}"),
                Ok(_) => {}
            }
        }
    }
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        self.remove();
    }
}

fn wait_ready(c: &Cluster, agent: &AgentProc) -> (String, Ipv4Addr) {
    eventually(
        120,
        &format!("node {} Ready with a podCIDR", agent.name),
        || {
            let ready = c.jsonpath(
                &["node", &agent.name],
                "{.status.conditions[?(@.type==\"Ready\")].status}",
            );
            let cidr = c.jsonpath(&["node", &agent.name], "{.spec.podCIDR}");
            let ip = c.jsonpath(
                &["node", &agent.name],
                "{.status.addresses[?(@.type==\"InternalIP\")].address}",
            );
            if ready == "True" && !cidr.is_empty() {
                return Some((cidr, ip.parse().unwrap()));
            }
            assert!(
                !agent.log().contains("\"level\":\"ERROR\""),
                "agent {} failed:\n{}",
                agent.name,
                tail(&agent.log(), 4000)
            );
            None
        },
    )
}

/// An httpd pod on `node` answering `/cgi-bin/ip` with the caller's address (REMOTE_ADDR).
fn web_pod(name: &str, node: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{app: {name}}}}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir -p /www/cgi-bin && printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho $REMOTE_ADDR\\n' > /www/cgi-bin/ip && chmod +x /www/cgi-bin/ip && exec httpd -f -p 8080 -h /www"]
    ports: [{{containerPort: 8080, name: http}}]
---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: http}}]
"#
    )
}

fn pod_ip(c: &Cluster, pod: &str) -> Ipv4Addr {
    eventually(120, &format!("pod {pod} running with an IP"), || {
        let phase = c.jsonpath(&["pod", pod], "{.status.phase}");
        let ip = c.jsonpath(&["pod", pod], "{.status.podIP}");
        (phase == "Running" && !ip.is_empty()).then(|| ip.parse().unwrap())
    })
}

/// `wget -q -O- url` inside `pod`, retried until it answers (routes and rules settle within a
/// second or two); the caller address it reports.
/// busybox httpd reports IPv4 callers as `[::ffff:a.b.c.d]`.
fn remote_addr(answer: &str) -> String {
    answer
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_start_matches("::ffff:")
        .to_string()
}

fn fetch(c: &Cluster, pod: &str, url: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = c.kubectl_raw(
            K,
            &["exec", pod, "--", "timeout", "5", "wget", "-q", "-O-", url],
        );
        if out.status.success() {
            return remote_addr(String::from_utf8_lossy(&out.stdout).trim());
        }
        assert!(
            Instant::now() < deadline,
            "{pod}: wget {url} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn ping(c: &Cluster, pod: &str, ip: Ipv4Addr) {
    let ip = ip.to_string();
    eventually(30, &format!("{pod} to ping {ip}"), || {
        c.kubectl_raw(K, &["exec", pod, "--", "ping", "-c", "1", "-W", "2", &ip])
            .status
            .success()
            .then_some(())
    });
}

/// rkube's routes (`proto 82`) in the host's namespace or in `ns`.
fn rkube_routes(ns: Option<&LinkedNetns>) -> String {
    match ns {
        Some(ns) => ns.ip(&["route", "show", "proto", "82"]),
        None => {
            let out = netns::ip(&["route", "show", "proto", "82"]);
            String::from_utf8(out.stdout).unwrap()
        }
    }
}

/// Pods `web-a` on `node_a` and `web-b` on `node_b` (each also a Service of its name) ping and
/// fetch each other by pod IP both ways; the server sees the client pod's own address. Prints
/// the round trip over `link` (a number for the notes, not an assertion). Returns their IPs.
fn pods_reach_each_other(
    c: &Cluster,
    node_a: &str,
    node_b: &str,
    link: &str,
) -> (Ipv4Addr, Ipv4Addr) {
    c.apply_stdin(K, &["apply", "-f", "-"], &web_pod("web-a", node_a));
    c.apply_stdin(K, &["apply", "-f", "-"], &web_pod("web-b", node_b));
    let pod_a = pod_ip(c, "web-a");
    let pod_b = pod_ip(c, "web-b");
    eprintln!("web-a {pod_a} on {node_a}, web-b {pod_b} on {node_b}");
    ping(c, "web-a", pod_b);
    ping(c, "web-b", pod_a);
    let b = pod_b.to_string();
    let rtt = c.kubectl_raw(
        K,
        &[
            "exec", "web-a", "--", "ping", "-q", "-c", "50", "-i", "0.02", &b,
        ],
    );
    eprintln!(
        "cross-node ping over {link}: {}",
        String::from_utf8_lossy(&rtt.stdout)
            .lines()
            .last()
            .unwrap_or("")
    );
    assert_eq!(
        fetch(c, "web-a", &format!("http://{pod_b}:8080/cgi-bin/ip")),
        pod_a.to_string()
    );
    assert_eq!(
        fetch(c, "web-b", &format!("http://{pod_a}:8080/cgi-bin/ip")),
        pod_b.to_string()
    );
    (pod_a, pod_b)
}

/// Through the ClusterIP of `web-b` from `web-a` and back, each Service's only backend being on
/// the other node. Like upstream kube-proxy, traffic from a pod is not masqueraded: the backend
/// sees the client pod's address.
fn cluster_ips_reach_the_other_node(c: &Cluster, pod_a: Ipv4Addr, pod_b: Ipv4Addr) {
    for (client, service, client_ip) in [("web-a", "web-b", pod_a), ("web-b", "web-a", pod_b)] {
        let cluster_ip = c.jsonpath(&["service", service], "{.spec.clusterIP}");
        assert!(!cluster_ip.is_empty(), "no clusterIP for {service}");
        let answer = fetch(c, client, &format!("http://{cluster_ip}/cgi-bin/ip"));
        assert_eq!(
            answer,
            client_ip.to_string(),
            "{client} -> {service} ({cluster_ip})"
        );
        eprintln!("{client} -> {service} via {cluster_ip}: the backend saw {answer}");
    }
}

#[test]
fn pods_on_two_nodes_reach_each_other_by_pod_ip_and_through_a_service() {
    let registry = Registry::start();
    let link = LinkedNetns::create();
    let n = link.n;
    let cluster_cidr = format!("10.{}.0.0/16", 200 + n % 40);
    let host_ip = link.host_ip.to_string();
    let c = Cluster::start_with(&["--cluster-cidr", &cluster_cidr, "--tls-san", &host_ip]);
    // The test server listens on loopback only: the namespace reaches it through this.
    let forward = TcpForward::start(
        SocketAddr::new(link.host_ip.into(), c.port),
        SocketAddr::new(Ipv4Addr::LOCALHOST.into(), c.port),
    );
    let token = std::fs::read_to_string(c.dir.path().join("data/server/token")).unwrap();
    let token = token.trim();
    let dir = tempfile::tempdir().unwrap();
    let archive = registry.archive();

    let mut a = AgentProc::start(
        dir.path(),
        &format!("mn-a-{n}"),
        &format!("rkma{n}"),
        &format!("https://127.0.0.1:{}", c.port),
        token,
        link.host_ip,
        None,
        &archive,
    );
    let mut b = AgentProc::start(
        dir.path(),
        &format!("mn-b-{n}"),
        &format!("rkmb{n}"),
        &format!("https://{host_ip}:{}", c.port),
        token,
        link.ns_ip,
        Some(link.path()),
        &archive,
    );
    let (cidr_a, ip_a) = wait_ready(&c, &a);
    let (cidr_b, ip_b) = wait_ready(&c, &b);
    assert_eq!((ip_a, ip_b), (link.host_ip, link.ns_ip));
    assert_ne!(cidr_a, cidr_b);

    // Each side routes the other's pod CIDR via the other's address.
    let both_ready = Instant::now();
    eventually(30, "the pod routes on both nodes", || {
        let host = rkube_routes(None);
        let inside = rkube_routes(Some(&link));
        (host.contains(&format!("{cidr_b} via {}", link.ns_ip))
            && inside.contains(&format!("{cidr_a} via {}", link.host_ip)))
        .then_some(())
    });
    eprintln!(
        "routes on both nodes {} ms after both nodes were seen Ready",
        both_ready.elapsed().as_millis()
    );

    // A node whose address is only reachable through a router gets no route, and a warning.
    let far_cidr = format!("10.{}.250.0/24", 200 + n % 40);
    let far = format!("mn-far-{n}");
    c.apply_stdin(
        K,
        &["create", "-f", "-"],
        &format!("apiVersion: v1\nkind: Node\nmetadata: {{name: {far}}}\nspec: {{podCIDR: {far_cidr}}}\n"),
    );
    // 198.51.100.0/24 (TEST-NET-2) is reached through a router (the default route), if at all.
    let status = format!(
        r#"{{"status":{{"addresses":[{{"type":"InternalIP","address":"198.51.100.{n}"}}]}}}}"#
    );
    c.kubectl(
        K,
        &[
            "patch",
            "node",
            &far,
            "--subresource=status",
            "--type=merge",
            "-p",
            &status,
        ],
    );
    eventually(30, "the warning about the unroutable node", || {
        let log = a.log();
        (log.contains("no pod routes to these nodes") && log.contains(&far)).then_some(())
    });
    assert!(!rkube_routes(None).contains(&far_cidr));
    c.kubectl(K, &["delete", "node", &far, "--wait=false"]);

    // By pod IP, both ways; the server sees the client pod's own address.
    let (pod_a, pod_b) = pods_reach_each_other(&c, &a.name, &b.name, "the veth link");
    let in_cidr = |ip: Ipv4Addr, cidr: &str| {
        let net: Ipv4Addr = cidr.split('/').next().unwrap().parse().unwrap();
        ip.octets()[..3] == net.octets()[..3]
    };
    assert!(in_cidr(pod_a, &cidr_a), "{pod_a} not in {cidr_a}");
    assert!(in_cidr(pod_b, &cidr_b), "{pod_b} not in {cidr_b}");

    // Through ClusterIPs whose only backend is on the other node.
    // Like upstream kube-proxy, traffic from a pod is not masqueraded: the backend sees the pod.
    cluster_ips_reach_the_other_node(&c, pod_a, pod_b);

    // A node that goes loses its route on the other node.
    b.remove();
    c.kubectl(K, &["delete", "node", &b.name, "--wait=false"]);
    eventually(30, "the route to the removed node to go", || {
        (!rkube_routes(None).contains(&cidr_b)).then_some(())
    });

    // Cleanup: nothing of either agent is left (A made a VXLAN device for the far node).
    a.remove();
    assert_eq!(
        vxlan_devices(Some(&link)),
        "",
        "VXLAN device left in the namespace"
    );
    let device = rkube_network_device(&a.name);
    assert!(
        !netns::ip(&["link", "show", &device]).status.success(),
        "VXLAN device {device} left"
    );
    let host = rkube_routes(None);
    assert!(
        !host.contains(&cidr_a) && !host.contains(&cidr_b),
        "routes left: {host}"
    );
    for bridge in [&a.bridge, &b.bridge] {
        assert!(
            !netns::ip(&["link", "show", bridge]).status.success(),
            "bridge {bridge} left"
        );
        let table = format!("rkube-{bridge}");
        let out = Command::new("nft")
            .args(["list", "table", "ip", &table])
            .output()
            .unwrap();
        assert!(!out.status.success(), "nft table {table} left");
    }
    drop(forward);
    let name = link.name.clone();
    let host_link = link.host_link.clone();
    drop(link);
    assert!(!netns::netns_exists(&name), "namespace {name} left");
    assert!(
        !netns::ip(&["link", "show", &host_link]).status.success(),
        "link {host_link} left"
    );
}

/// A number for the notes, not an assertion: MB/s of five `wget`s of `url` (20 MB) inside
/// `pod`, timed inside the pod (`/proc/uptime`, 10 ms resolution; busybox `date` has no `%N`).
fn throughput(c: &Cluster, pod: &str, url: &str) -> String {
    let script = format!(
        "a=$(cut -d' ' -f1 /proc/uptime); for i in 1 2 3 4 5; do wget -q -O /dev/null {url} || exit 1; done; echo $a $(cut -d' ' -f1 /proc/uptime)"
    );
    let out = c.kubectl_raw(K, &["exec", pod, "--", "sh", "-c", &script]);
    let text = String::from_utf8_lossy(&out.stdout);
    let t: Vec<f64> = text
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    match t[..] {
        [a, b] if b > a => format!(
            "{:.0} MB/s ({:.0} ms for 100 MB)",
            100.0 / (b - a),
            (b - a) * 1e3
        ),
        _ => format!("unmeasured: {out:?}"),
    }
}

/// The names of the VXLAN devices (`rkvx…`) in the host's namespace or in `ns`.
fn vxlan_devices(ns: Option<&LinkedNetns>) -> String {
    let args = ["-d", "link", "show", "type", "vxlan"];
    let out = match ns {
        Some(ns) => ns.ip(&args),
        None => String::from_utf8(netns::ip(&args).stdout).unwrap(),
    };
    out.lines()
        .filter_map(|l| l.split(": ").nth(1))
        .filter(|name| name.starts_with("rkvx"))
        .map(|name| name.split('@').next().unwrap_or(name).to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Flannel-style VXLAN (issue 8): two agents on different L2 segments — agent A in a namespace
/// on 10.252.<n>.2/30, agent B in one on 10.253.<m>.2/30, each with a default route via the host,
/// which routes between them — reach each other's pods through VXLAN devices (their MACs
/// published as Node annotations): by pod IP both ways (the backend sees the client pod's own
/// address), 300 kB replies, and through a ClusterIP Service whose backend is on the other node.
/// Given a shared link they switch to direct routes, and back when it goes. At the end no device,
/// route, bridge, nftables table, link or namespace is left.
#[test]
fn pods_on_nodes_behind_a_router_reach_each_other_over_vxlan() {
    let registry = Registry::start();
    let net_a = LinkedNetns::create_on(252);
    let net_b = LinkedNetns::create_on(253);
    net_a.default_route_via_host();
    net_b.default_route_via_host();
    let n = net_a.n;
    let cluster_cidr = format!("10.{}.0.0/16", 200 + n % 40);
    let (host_a, host_b) = (net_a.host_ip.to_string(), net_b.host_ip.to_string());
    let c = Cluster::start_with(&[
        "--cluster-cidr",
        &cluster_cidr,
        "--tls-san",
        &host_a,
        "--tls-san",
        &host_b,
    ]);
    let local = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), c.port);
    let forward_a = TcpForward::start(SocketAddr::new(net_a.host_ip.into(), c.port), local);
    let forward_b = TcpForward::start(SocketAddr::new(net_b.host_ip.into(), c.port), local);
    let token = std::fs::read_to_string(c.dir.path().join("data/server/token")).unwrap();
    let token = token.trim();
    let dir = tempfile::tempdir().unwrap();
    let archive = registry.archive();
    let mut a = AgentProc::start(
        dir.path(),
        &format!("vx-a-{n}"),
        &format!("rkxa{n}"),
        &format!("https://{host_a}:{}", c.port),
        token,
        net_a.ns_ip,
        Some(net_a.path()),
        &archive,
    );
    let mut b = AgentProc::start(
        dir.path(),
        &format!("vx-b-{n}"),
        &format!("rkxb{n}"),
        &format!("https://{host_b}:{}", c.port),
        token,
        net_b.ns_ip,
        Some(net_b.path()),
        &archive,
    );
    let (cidr_a, _) = wait_ready(&c, &a);
    let (cidr_b, _) = wait_ready(&c, &b);
    let both_ready = Instant::now();

    // Each node publishes its VTEP, and routes the other's pod CIDR via the other's VTEP
    // (the pod CIDR's network address) on its VXLAN device.
    let vtep = |cidr: &str| cidr.split('/').next().unwrap().to_string();
    let mac_of = |node: &str| {
        c.jsonpath(
            &["node", node],
            "{.metadata.annotations.rkube\\.io/vxlan-mac}",
        )
    };
    eventually(60, "VXLAN routes on both nodes", || {
        let in_a = rkube_routes(Some(&net_a));
        let in_b = rkube_routes(Some(&net_b));
        (in_a.contains(&format!("{cidr_b} via {} dev rkvx", vtep(&cidr_b)))
            && in_b.contains(&format!("{cidr_a} via {} dev rkvx", vtep(&cidr_a))))
        .then_some(())
    });
    eprintln!(
        "VXLAN routes on both nodes {} ms after both nodes were seen Ready",
        both_ready.elapsed().as_millis()
    );
    for (node, ns, other_ns, other_cidr) in [
        (&a.name, &net_a, &net_b, &cidr_b),
        (&b.name, &net_b, &net_a, &cidr_a),
    ] {
        let mac = mac_of(node);
        let public = c.jsonpath(
            &["node", node],
            "{.metadata.annotations.rkube\\.io/vxlan-public-ip}",
        );
        assert_eq!(
            public,
            ns.ns_ip.to_string(),
            "{node}'s public IP annotation"
        );
        let device = vxlan_devices(Some(ns));
        assert!(
            !device.is_empty() && !mac.is_empty(),
            "{node}: {device:?} {mac:?}"
        );
        let link = ns.ip(&["-d", "link", "show", &device]);
        assert!(
            link.contains(&mac) && link.contains("vxlan id 1 ") && link.contains("dstport 8472"),
            "{link}"
        );
        assert!(
            link.contains("nolearning") && link.contains("mtu 1450"),
            "{link}"
        );
        // The other node has this node's VTEP as a permanent neighbour, and its MAC in the FDB
        // pointing at this node's address.
        let other_dev = vxlan_devices(Some(other_ns));
        let neigh = other_ns.ip(&["neigh", "show", "dev", &other_dev]);
        let my_vtep = {
            let my_cidr = if other_cidr == &cidr_b {
                &cidr_a
            } else {
                &cidr_b
            };
            vtep(my_cidr)
        };
        assert!(
            neigh.contains(&format!("{my_vtep} lladdr {mac} PERMANENT")),
            "{neigh}"
        );
        let fdb = Command::new("bridge")
            .args(["-n", &other_ns.name, "fdb", "show", "dev", &other_dev])
            .output()
            .unwrap();
        let fdb = String::from_utf8_lossy(&fdb.stdout);
        assert!(fdb.contains(&format!("{mac} dst {}", ns.ns_ip)), "{fdb}");
    }

    let (pod_a, pod_b) = pods_reach_each_other(&c, &a.name, &b.name, "VXLAN");
    // Replies larger than the VXLAN MTU (1450) from a pod whose veth has 1500 make it through
    // (path-MTU discovery): 300 kB, byte for byte.
    let made = c.kubectl_raw(
        K,
        &[
            "exec",
            "web-b",
            "--",
            "sh",
            "-c",
            "head -c 300000 /dev/urandom > /www/big && md5sum /www/big",
        ],
    );
    assert!(made.status.success(), "{made:?}");
    let sum = String::from_utf8_lossy(&made.stdout)
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    let got = c.kubectl_raw(
        K,
        &[
            "exec",
            "web-a",
            "--",
            "sh",
            "-c",
            &format!("timeout 20 wget -q -O- http://{pod_b}:8080/big | md5sum"),
        ],
    );
    assert!(
        String::from_utf8_lossy(&got.stdout).starts_with(&sum),
        "300 kB across VXLAN: {got:?}"
    );
    let made = c.kubectl_raw(
        K,
        &[
            "exec",
            "web-b",
            "--",
            "sh",
            "-c",
            "head -c 20000000 /dev/zero > /www/20m",
        ],
    );
    assert!(made.status.success(), "{made:?}");
    let url_20m = format!("http://{pod_b}:8080/20m");
    eprintln!(
        "pod to pod over VXLAN: {}",
        throughput(&c, "web-a", &url_20m)
    );
    cluster_ips_reach_the_other_node(&c, pod_a, pod_b);

    // DirectRouting: once the nodes share a link, they switch to direct routes (and drop the
    // VXLAN entries); when it goes, back to VXLAN. Pods keep reaching each other throughout.
    let (end_a, end_b) = (format!("rkd{n}a"), format!("rkd{n}b"));
    let _ = netns::ip(&["link", "del", &end_a]);
    let (ip_a, ip_b) = (net_a.ns_ip.to_string(), net_b.ns_ip.to_string());
    for args in [
        &[
            "link", "add", &end_a, "type", "veth", "peer", "name", &end_b,
        ][..],
        &["link", "set", &end_a, "netns", &net_a.name][..],
        &["link", "set", &end_b, "netns", &net_b.name][..],
    ] {
        let out = netns::ip(args);
        assert!(out.status.success(), "ip {args:?}: {out:?}");
    }
    // (Both ends now live in the namespaces and go with them, whatever fails next.)
    net_a.ip(&["link", "set", &end_a, "up"]);
    net_b.ip(&["link", "set", &end_b, "up"]);
    net_a.ip(&["route", "add", &format!("{ip_b}/32"), "dev", &end_a]);
    net_b.ip(&["route", "add", &format!("{ip_a}/32"), "dev", &end_b]);
    let switched = Instant::now();
    let (dev_a, dev_b) = (vxlan_devices(Some(&net_a)), vxlan_devices(Some(&net_b)));
    eventually(30, "direct routes once the nodes share a link", || {
        let in_a = rkube_routes(Some(&net_a));
        let in_b = rkube_routes(Some(&net_b));
        let direct = in_a.contains(&format!("{cidr_b} via {ip_b} dev {end_a}"))
            && in_b.contains(&format!("{cidr_a} via {ip_a} dev {end_b}"));
        let no_entries = !net_a
            .ip(&["neigh", "show", "dev", &dev_a])
            .contains("PERMANENT")
            && !net_b
                .ip(&["neigh", "show", "dev", &dev_b])
                .contains("PERMANENT");
        (direct && no_entries).then_some(())
    });
    eprintln!(
        "switched to direct routes in {} ms",
        switched.elapsed().as_millis()
    );
    eprintln!(
        "pod to pod, direct route: {}",
        throughput(&c, "web-a", &url_20m)
    );
    ping(&c, "web-a", pod_b);
    assert_eq!(
        fetch(&c, "web-b", &format!("http://{pod_a}:8080/cgi-bin/ip")),
        pod_b.to_string()
    );
    net_a.ip(&["route", "del", &format!("{ip_b}/32"), "dev", &end_a]);
    net_b.ip(&["route", "del", &format!("{ip_a}/32"), "dev", &end_b]);
    let switched = Instant::now();
    eventually(30, "VXLAN again once the link is gone", || {
        let in_a = rkube_routes(Some(&net_a));
        let in_b = rkube_routes(Some(&net_b));
        (in_a.contains(&format!("{cidr_b} via {} dev rkvx", vtep(&cidr_b)))
            && in_b.contains(&format!("{cidr_a} via {} dev rkvx", vtep(&cidr_a))))
        .then_some(())
    });
    eprintln!(
        "switched back to VXLAN in {} ms",
        switched.elapsed().as_millis()
    );
    ping(&c, "web-b", pod_a);
    assert_eq!(
        fetch(&c, "web-a", &format!("http://{pod_b}:8080/cgi-bin/ip")),
        pod_a.to_string()
    );

    // A node that goes loses its route and VXLAN entries on the other node.
    let mac_b = mac_of(&b.name);
    b.remove();
    c.kubectl(K, &["delete", "node", &b.name, "--wait=false"]);
    eventually(
        30,
        "the VXLAN route and entries of the removed node to go",
        || {
            let dev = vxlan_devices(Some(&net_a));
            let gone = !rkube_routes(Some(&net_a)).contains(&cidr_b)
                && !net_a.ip(&["neigh", "show", "dev", &dev]).contains(&mac_b);
            gone.then_some(())
        },
    );

    a.remove();
    for ns in [&net_a, &net_b] {
        assert_eq!(
            vxlan_devices(Some(ns)),
            "",
            "VXLAN device left in {}",
            ns.name
        );
        assert_eq!(
            rkube_routes(Some(ns)).trim(),
            "",
            "routes left in {}",
            ns.name
        );
    }
    for (bridge, ns) in [(&a.bridge, &net_a), (&b.bridge, &net_b)] {
        assert!(
            !ns.ip(&["link", "show"]).contains(bridge.as_str()),
            "bridge {bridge} left"
        );
        let table = format!("rkube-{bridge}");
        let out = Command::new("ip")
            .args([
                "netns", "exec", &ns.name, "nft", "list", "table", "ip", &table,
            ])
            .output()
            .unwrap();
        assert!(!out.status.success(), "nft table {table} left");
    }
    drop((forward_a, forward_b));
    let names = [net_a.name.clone(), net_b.name.clone()];
    let links = [net_a.host_link.clone(), net_b.host_link.clone()];
    drop((net_a, net_b));
    for (name, link) in names.iter().zip(&links) {
        assert!(!netns::netns_exists(name), "namespace {name} left");
        assert!(
            !netns::ip(&["link", "show", link]).status.success(),
            "link {link} left"
        );
    }
}

/// `rkube_network::vxlan::device_name` (FNV-1a of the node name), without the dependency.
fn rkube_network_device(node: &str) -> String {
    let h = node.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    });
    format!("rkvx{h:08x}")
}
