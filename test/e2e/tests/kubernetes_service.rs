//! The `default/kubernetes` Service, Endpoints and EndpointSlice as kube-apiserver keeps them:
//! the advertised address on the secure port (named https), the Service's targetPort equal to
//! that port; edits and deletions undone, a new port or address after a restart taken up. And
//! a pod reaching the API server through the Service's cluster IP (the nftables proxy DNATs
//! to the advertised node address).

mod common;

use common::{eventually, node_ip::NodeIp, pods, registry::Registry, Cluster};

const K: &str = "1.33";

/// `ip:port:portName` of the Endpoints, `ip:port:portName:addressType:ready` of the slice,
/// and the Service's targetPort, when all three read as `ip` on `port`.
fn published(c: &Cluster, ip: &str, port: u16) -> bool {
    let ep = c.jsonpath(
        &["endpoints", "kubernetes"],
        "{.subsets[*].addresses[*].ip}:{.subsets[*].ports[*].port}:{.subsets[*].ports[*].name}",
    );
    let slice = c.jsonpath(
        &["endpointslices", "-l", "kubernetes.io/service-name=kubernetes"],
        "{.items[*].metadata.name}:{.items[*].endpoints[*].addresses[*]}:{.items[*].ports[*].port}:\
         {.items[*].ports[*].name}:{.items[*].addressType}:{.items[*].endpoints[*].conditions.ready}",
    );
    let target = c.jsonpath(&["svc", "kubernetes"], "{.spec.ports[*].targetPort}");
    let ok = ep == format!("{ip}:{port}:https")
        && slice == format!("kubernetes:{ip}:{port}:https:IPv4:true")
        && target == port.to_string();
    if !ok {
        eprintln!("endpoints {ep:?}, slice {slice:?}, targetPort {target:?}");
    }
    ok
}

#[test]
fn kubernetes_endpoints_follow_the_api_server() {
    // A documentation address: nothing needs to reach it, it only has to be published.
    let mut c = Cluster::start_with(&["--advertise-address", "192.0.2.10"]);
    let port = c.port;
    eventually(30, "kubernetes endpoints published", || {
        published(&c, "192.0.2.10", port).then_some(())
    });
    // Upstream's labels: the Endpoints are not mirrored, the slice names its Service.
    let labels = c.jsonpath(&["endpoints", "kubernetes"], "{.metadata.labels}");
    assert_eq!(
        labels,
        r#"{"endpointslice.kubernetes.io/skip-mirror":"true"}"#
    );
    let labels = c.jsonpath(&["endpointslice", "kubernetes"], "{.metadata.labels}");
    assert_eq!(labels, r#"{"kubernetes.io/service-name":"kubernetes"}"#);
    // Nothing rewritten when nothing changed.
    let rv = |c: &Cluster| {
        c.jsonpath(&["endpoints", "kubernetes"], "{.metadata.resourceVersion}")
            + "/"
            + &c.jsonpath(
                &["endpointslice", "kubernetes"],
                "{.metadata.resourceVersion}",
            )
    };
    let before = rv(&c);
    std::thread::sleep(std::time::Duration::from_secs(11));
    assert_eq!(rv(&c), before, "rewritten without a change");

    // Deleted or edited: put back.
    c.kubectl(K, &["delete", "endpoints,endpointslice", "kubernetes"]);
    c.kubectl(
        K,
        &[
            "patch",
            "svc",
            "kubernetes",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/ports/0/targetPort","value":1234}]"#,
        ],
    );
    eventually(30, "deleted endpoints and edited port put back", || {
        published(&c, "192.0.2.10", port).then_some(())
    });
    c.kubectl(
        K,
        &[
            "patch",
            "endpoints",
            "kubernetes",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/subsets/0/addresses/0/ip","value":"192.0.2.99"}]"#,
        ],
    );
    eventually(30, "edited endpoints put back", || {
        published(&c, "192.0.2.10", port).then_some(())
    });

    // A restart on another port and address: the new ones replace the old (the old server
    // dropped its address on its way out).
    c.stop();
    c.port = common::free_port();
    c.extra = vec!["--advertise-address".into(), "192.0.2.11".into()];
    c.launch();
    let port = c.port;
    eventually(30, "the new port and address published", || {
        published(&c, "192.0.2.11", port).then_some(())
    });
}

#[test]
fn a_pod_reaches_the_api_server_through_the_kubernetes_service() {
    let registry = Registry::start();
    let node_ip = NodeIp::create();
    let node_addr = node_ip.addr.to_string();
    // A Service range of this cluster's own: other parallel test clusters have a kubernetes
    // Service too, and their proxies would answer for a shared cluster IP.
    let svc_cidr = format!("10.251.{}.0/24", node_ip.n);
    let cluster_dns = format!("10.251.{}.10", node_ip.n);
    let c = Cluster::start_with_node_ip(
        &registry,
        node_ip,
        &[
            // Reachable at the node address (where the Endpoints point) and on loopback (the
            // kubeconfig's).
            "--bind-address",
            "0.0.0.0",
            "--advertise-address",
            &node_addr,
            "--service-cidr",
            &svc_cidr,
            "--cluster-dns",
            &cluster_dns,
        ],
    );
    eventually(30, "kubernetes endpoints on the node address", || {
        published(&c, &node_addr, c.port).then_some(())
    });
    c.apply_stdin(
        K,
        &["apply", "-f", "-"],
        r#"apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: busybox:1.36, command: ["sleep", "3600"]}
"#,
    );
    eventually(120, "the client pod Running", || {
        let phase = pods::jsonpath(&c, K, "default", &["pod", "client"], "{.status.phase}");
        (phase == "Running").then_some(())
    });
    // Through the Service's address as the pod's env gives it, a TLS 1.2 ClientHello; the
    // server's first flight carries its certificate in the clear: CN kube-apiserver (the
    // kubelet's has the node's name) and SAN kubernetes.default. busybox's own wget cannot
    // do the whole handshake: its ClientHello has no signature_algorithms, which rustls
    // requires ("handshake failure").
    let hello: String = client_hello()
        .iter()
        .map(|b| format!("\\x{b:02x}"))
        .collect();
    let script = format!(
        "echo $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT; \
         (printf '{hello}'; sleep 2) | timeout 5 nc $KUBERNETES_SERVICE_HOST $KUBERNETES_SERVICE_PORT | strings"
    );
    let out = eventually(
        60,
        "the API server's certificate through the Service",
        || {
            let out = pods::exec(&c, K, "default", "client", &["sh", "-c", &script]);
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let ok = stdout.contains("kube-apiserver") && stdout.contains("kubernetes.default");
            if !ok {
                eprintln!(
                    "from the pod: {stdout} {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            ok.then_some(stdout)
        },
    );
    let svc_ip = c.jsonpath(&["svc", "kubernetes"], "{.spec.clusterIP}");
    assert!(
        out.starts_with(&format!("{svc_ip}:443\n")),
        "the pod's KUBERNETES_SERVICE_*: {out}"
    );
}

/// A minimal TLS 1.2 ClientHello rustls answers: ECDHE-{ECDSA,RSA}-AES128-GCM-SHA256, x25519
/// and P-256, uncompressed points, signature algorithms, extended master secret.
fn client_hello() -> Vec<u8> {
    let head: &[u8] = &[
        0x16, 0x03, 0x01, 0x00, 0x53, // record: handshake, 83 bytes
        0x01, 0x00, 0x00, 0x4f, // ClientHello, 79 bytes
        0x03, 0x03, // TLS 1.2
    ];
    let random = [0x01; 32]; // any will do
    let tail: &[u8] = &[
        0x00, // no session id
        0x00, 0x04, 0xc0, 0x2b, 0xc0, 0x2f, // cipher suites
        0x01, 0x00, // null compression
        0x00, 0x22, // extensions, 34 bytes
        0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17, // supported groups
        0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, // ec point formats
        0x00, 0x0d, 0x00, 0x0a, 0x00, 0x08, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05,
        0x03, // signature algorithms
        0x00, 0x17, 0x00, 0x00, // extended master secret
    ];
    [head, &random, tail].concat()
}
