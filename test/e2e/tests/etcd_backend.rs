//! The API server over a real etcd (RKUBE_TEST_ETCD, started by hack/test.sh): the same
//! kubectl flows as on the embedded store, and objects surviving a restart. One test in this
//! binary, so only one server (with its controllers) uses that etcd at a time.

mod common;

use common::{Cluster, KUBECTL_VERSIONS};

#[test]
fn kubectl_over_etcd_and_restart() {
    let Ok(endpoint) = std::env::var("RKUBE_TEST_ETCD") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "RKUBE_TEST_ETCD must be set under CI (hack/test.sh sets it)"
        );
        eprintln!("skipped: RKUBE_TEST_ETCD is not set");
        return;
    };
    let mut c = Cluster::start_with(&["--datastore-endpoint", &endpoint]);
    let run = std::process::id();
    for v in KUBECTL_VERSIONS {
        let ns = format!("etcd-{run}-{}", v.replace('.', "-"));
        c.kubectl(v, &["create", "namespace", &ns]);
        let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, labels: {app: a}}\ndata: {k: v}\n\
                        ---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 0\n  \
                        selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    \
                        spec: {containers: [{name: c, image: busybox:1.36}]}\n";
        c.apply_stdin(v, &["apply", "-n", &ns, "-f", "-"], manifest);
        assert_eq!(
            c.kubectl(
                v,
                &["get", "cm", "cfg", "-n", &ns, "-o", "jsonpath={.data.k}"]
            ),
            "v"
        );
        assert_eq!(
            c.kubectl(v, &["get", "cm", "-n", &ns, "-l", "app=a", "-o", "name"])
                .trim(),
            "configmap/cfg"
        );
        c.kubectl(v, &["label", "cm", "cfg", "-n", &ns, "x=y"]);
        c.kubectl(v, &["scale", "deploy/web", "-n", &ns, "--replicas=0"]);
        let table = c.kubectl(v, &["get", "deploy", "-n", &ns]);
        assert!(table.contains("web"), "{table}");
    }
    let ns = format!("etcd-{run}-1-33");
    // Lists over etcd come from the watch cache: each still sees the write just made, whole
    // (--chunk-size=0) or in pages (the first from the cache, the rest from etcd at the
    // revision it pins).
    for i in 0..5 {
        c.kubectl(
            "1.33",
            &[
                "create",
                "cm",
                &format!("fresh-{i}"),
                "-n",
                &ns,
                "--from-literal=k=v",
            ],
        );
        for chunk in ["--chunk-size=0", "--chunk-size=1"] {
            let names = c.kubectl("1.33", &["get", "cm", "-n", &ns, "-o", "name", chunk]);
            let names: Vec<&str> = names.lines().filter(|l| l.contains("fresh-")).collect();
            let want: Vec<String> = (0..=i).map(|j| format!("configmap/fresh-{j}")).collect();
            assert_eq!(names, want, "{chunk}");
        }
    }
    // A resourceVersion etcd has not reached: upstream's 504 after its wait.
    let err = c.kubectl_err(
        "1.33",
        &[
            "get",
            "--raw",
            &format!("/api/v1/namespaces/{ns}/configmaps?resourceVersion=999999999"),
        ],
    );
    assert!(
        err.contains("Too large resource version: 999999999"),
        "{err}"
    );
    let rv = c.kubectl(
        "1.33",
        &[
            "get",
            "cm",
            "cfg",
            "-n",
            &ns,
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ],
    );
    c.stop();
    c.launch();
    assert_eq!(
        c.kubectl(
            "1.33",
            &[
                "get",
                "cm",
                "cfg",
                "-n",
                &ns,
                "-o",
                "jsonpath={.metadata.resourceVersion}"
            ]
        ),
        rv
    );
    for v in KUBECTL_VERSIONS {
        let ns = format!("etcd-{run}-{}", v.replace('.', "-"));
        let out = c.kubectl(v, &["delete", "namespace", &ns, "--timeout=60s"]);
        assert!(out.contains("deleted"), "{out}");
    }
}
