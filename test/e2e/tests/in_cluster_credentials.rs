//! What in-cluster clients rely on: a pod gets, through ServiceAccount admission and the
//! kubelet's projected volume, its account's token, the cluster CA and its namespace under
//! /var/run/secrets/kubernetes.io/serviceaccount, and that token is accepted by the API
//! server as the pod's ServiceAccount, bound to the pod.

mod common;

use common::{eventually, pods, registry::Registry, Cluster};

const K: &str = "1.33";
const DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

#[test]
fn pods_get_a_working_service_account_token() {
    let registry = Registry::start();
    let c = Cluster::start_with_agent(&registry, &[]);
    c.kubectl(K, &["create", "namespace", "incluster"]);
    c.kubectl(
        K,
        &[
            "-n",
            "incluster",
            "run",
            "client",
            "--image",
            "busybox:1.36",
            "--restart",
            "Never",
            "--",
            "sleep",
            "3600",
        ],
    );
    eventually(120, "the pod running", || {
        (pods::jsonpath(&c, K, "incluster", &["pod", "client"], "{.status.phase}") == "Running")
            .then_some(())
    });
    let spec_volume = pods::jsonpath(
        &c,
        K,
        "incluster",
        &["pod", "client"],
        "{.spec.volumes[0].name}",
    );
    assert!(spec_volume.starts_with("kube-api-access-"), "{spec_volume}");
    assert_eq!(
        pods::jsonpath(
            &c,
            K,
            "incluster",
            &["pod", "client"],
            "{.spec.serviceAccountName}"
        ),
        "default"
    );

    let read = |file: &str| {
        let out = pods::exec(
            &c,
            K,
            "incluster",
            "client",
            &["cat", &format!("{DIR}/{file}")],
        );
        assert!(
            out.status.success(),
            "cat {file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(read("namespace"), "incluster");
    let ca = c.kubectl(
        K,
        &[
            "-n",
            "incluster",
            "get",
            "configmap",
            "kube-root-ca.crt",
            "-o",
            "jsonpath={.data.ca\\.crt}",
        ],
    );
    assert!(ca.contains("BEGIN CERTIFICATE"));
    assert_eq!(read("ca.crt"), ca);
    let token = read("token");
    // The kubelet rewrites projected volumes every 10 s; the token is kept (renewed at 80% of
    // its life, as upstream's token manager does), not asked for again each time.
    let watched = std::time::Instant::now();
    while watched.elapsed() < std::time::Duration::from_secs(12) {
        assert_eq!(
            read("token"),
            token,
            "the token changed within its lifetime"
        );
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    // Read-only for the container, as upstream mounts it.
    let out = pods::exec(
        &c,
        K,
        "incluster",
        "client",
        &["sh", "-c", &format!("echo x > {DIR}/token")],
    );
    assert!(!out.status.success(), "the token volume is writable");

    // The token authenticates as the pod's account, bound to this pod.
    // As an in-cluster client does: the pod's ca.crt checks the server, its token is the
    // credential. (The path from a pod to the API server through the `kubernetes` Service is
    // kubernetes_service.rs's; busybox cannot finish a TLS handshake with rustls.)
    let ca_file = c.dir.path().join("pod-ca.crt");
    std::fs::write(&ca_file, read("ca.crt")).unwrap();
    let kc = common::token::kubeconfig(&c, "pod", &token, Some(&ca_file));
    let user = &common::token::whoami(&kc, K);
    assert_eq!(user["username"], "system:serviceaccount:incluster:default");
    assert_eq!(
        user["extra"]["authentication.kubernetes.io/pod-name"],
        serde_json::json!(["client"])
    );
    let node = c.agent.as_ref().unwrap().node_name.clone();
    assert_eq!(
        user["extra"]["authentication.kubernetes.io/node-name"],
        serde_json::json!([node])
    );
}
