//! Service updates allocate and release node ports, driven by kubectl: `kubectl patch` to
//! NodePort gets a node port from the range, and back to ClusterIP it is free again for a
//! new Service to ask for.

mod common;

use common::Cluster;

const K: &str = "1.33";

#[test]
fn patching_the_type_allocates_and_releases_a_node_port() {
    let c = Cluster::start();
    c.kubectl(
        K,
        &["create", "service", "clusterip", "web", "--tcp=80:8080"],
    );
    c.kubectl(
        K,
        &[
            "patch",
            "svc",
            "web",
            "-p",
            r#"{"spec":{"type":"NodePort"}}"#,
        ],
    );
    let np: u16 = c
        .jsonpath(&["svc", "web"], "{.spec.ports[0].nodePort}")
        .trim()
        .parse()
        .expect("a nodePort after the patch");
    assert!((30000..=32767).contains(&np), "{np}");

    // A second Service may not take it meanwhile.
    let ask = format!("--node-port={np}");
    let err = c.kubectl_err(
        K,
        &[
            "create",
            "service",
            "nodeport",
            "other",
            "--tcp=80:8080",
            &ask,
        ],
    );
    assert!(err.contains("provided port is already allocated"), "{err}");

    c.kubectl(
        K,
        &[
            "patch",
            "svc",
            "web",
            "-p",
            r#"{"spec":{"type":"ClusterIP"}}"#,
        ],
    );
    assert_eq!(
        c.jsonpath(&["svc", "web"], "{.spec.type} {.spec.ports[0].nodePort}")
            .trim(),
        "ClusterIP"
    );
    c.kubectl(
        K,
        &[
            "create",
            "service",
            "nodeport",
            "other",
            "--tcp=80:8080",
            &ask,
        ],
    );
    assert_eq!(
        c.jsonpath(&["svc", "other"], "{.spec.ports[0].nodePort}")
            .trim(),
        np.to_string()
    );
}
