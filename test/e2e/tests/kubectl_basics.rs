//! The API server core through real kubectl (1.27 and 1.33): discovery, CRUD of served types
//! from YAML, output formats, selectors, chunking, watch, and errors as kubectl shows them.

mod common;

use common::{Cluster, KUBECTL_VERSIONS};

const OBJECTS: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, labels: {app: web, tier: a}}
data: {key: value}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg2, labels: {app: web, tier: b}}
data: {key: other}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg3, labels: {app: db}}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: hunter2}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: busybox:1.36}]
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: lock}
spec: {holderIdentity: me, leaseDurationSeconds: 15}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: robot}
"#;

#[test]
fn discovery_and_system_namespaces() {
    let c = Cluster::start();
    for v in KUBECTL_VERSIONS {
        let ns = c.kubectl(v, &["get", "namespaces", "-o", "name"]);
        for want in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            assert!(
                ns.contains(&format!("namespace/{want}")),
                "kubectl {v}: {ns}"
            );
        }
        let res = c.kubectl(v, &["api-resources", "--no-headers"]);
        for want in [
            "pods ",
            "deployments ",
            "replicasets ",
            "leases ",
            "endpointslices ",
            "services ",
        ] {
            assert!(
                res.contains(want),
                "kubectl {v} api-resources lacks {want}: {res}"
            );
        }
        // Prometheus metrics under upstream's names.
        let metrics = c.kubectl(v, &["get", "--raw", "/metrics"]);
        assert!(
            metrics.contains(r#"apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="namespaces",scope="cluster",subresource="",verb="LIST",version="v1"}"#),
            "{metrics}"
        );
        let version = c.kubectl(v, &["version", "-o", "json"]);
        let version: serde_json::Value = serde_json::from_str(&version).unwrap();
        assert_eq!(version["serverVersion"]["gitVersion"], "v1.33.0+rkube");
        let svc = c.kubectl(
            v,
            &[
                "get",
                "service",
                "kubernetes",
                "-n",
                "default",
                "-o",
                "jsonpath={.spec.clusterIP}",
            ],
        );
        assert_eq!(svc, "10.43.0.1");
    }
}

#[test]
fn crud_outputs_and_selectors() {
    let c = Cluster::start();
    for v in KUBECTL_VERSIONS {
        let ns = format!("crud-{}", v.replace('.', "-"));
        c.kubectl(v, &["create", "namespace", &ns]);
        let out = c.apply_stdin(v, &["create", "-n", &ns, "-f", "-"], OBJECTS);
        assert!(out.contains("configmap/cfg created"), "{out}");
        assert!(out.contains("deployment.apps/web created"), "{out}");

        let cm = c.kubectl(v, &["get", "cm", "cfg", "-n", &ns, "-o", "json"]);
        let cm: serde_json::Value = serde_json::from_str(&cm).unwrap();
        assert_eq!(cm["data"]["key"], "value");
        assert!(cm["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| u.len() == 36));
        assert!(cm["metadata"]["resourceVersion"]
            .as_str()
            .is_some_and(|r| r.parse::<i64>().is_ok()));
        let yaml = c.kubectl(v, &["get", "cm", "cfg", "-n", &ns, "-o", "yaml"]);
        assert!(yaml.contains("key: value"), "{yaml}");
        assert_eq!(
            c.kubectl(
                v,
                &["get", "cm", "cfg", "-n", &ns, "-o", "jsonpath={.data.key}"]
            ),
            "value"
        );

        let web = c.kubectl(v, &["get", "cm", "-n", &ns, "-l", "app=web", "-o", "name"]);
        assert_eq!(
            web.lines().collect::<Vec<_>>(),
            vec!["configmap/cfg", "configmap/cfg2"]
        );
        let not_a = c.kubectl(
            v,
            &[
                "get",
                "cm",
                "-n",
                &ns,
                "-l",
                "app=web,tier notin (a)",
                "-o",
                "name",
            ],
        );
        assert_eq!(not_a.trim(), "configmap/cfg2");
        let by_name = c.kubectl(
            v,
            &[
                "get",
                "cm",
                "-n",
                &ns,
                "--field-selector",
                "metadata.name=cfg3",
                "-o",
                "name",
            ],
        );
        assert_eq!(by_name.trim(), "configmap/cfg3");
        let chunked = c.kubectl(v, &["get", "cm", "-n", &ns, "--chunk-size=1", "-o", "name"]);
        assert_eq!(
            chunked
                .lines()
                .filter(|l| l.starts_with("configmap/cfg"))
                .count(),
            3,
            "{chunked}"
        );
        let all = c.kubectl(v, &["get", "cm", "-A", "-o", "name"]);
        assert!(all.contains("configmap/cfg2"));

        // Defaults and allocation as upstream.
        let dep = c.kubectl(v, &["get", "deploy", "web", "-n", &ns, "-o", "json"]);
        let dep: serde_json::Value = serde_json::from_str(&dep).unwrap();
        assert_eq!(dep["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
        assert_eq!(dep["spec"]["revisionHistoryLimit"], 10);
        assert_eq!(dep["metadata"]["generation"], 1);
        let ip = c.kubectl(
            v,
            &[
                "get",
                "svc",
                "web",
                "-n",
                &ns,
                "-o",
                "jsonpath={.spec.clusterIP}",
            ],
        );
        assert!(ip.starts_with("10.43."), "{ip}");

        // Table output (kubectl's default) names the upstream columns.
        let table = c.kubectl(v, &["get", "deploy", "-n", &ns]);
        assert!(table.starts_with("NAME"), "{table}");
        assert!(table.contains("READY"), "{table}");

        let deleted = c.kubectl(v, &["delete", "cm", "cfg", "-n", &ns]);
        assert!(deleted.contains("configmap \"cfg\" deleted"), "{deleted}");
        let err = c.kubectl_err(v, &["get", "cm", "cfg", "-n", &ns]);
        assert!(
            err.contains("Error from server (NotFound): configmaps \"cfg\" not found"),
            "{err}"
        );
        c.kubectl(
            v,
            &[
                "delete",
                "-n",
                &ns,
                "deploy/web",
                "svc/web",
                "lease/lock",
                "secret/creds",
                "sa/robot",
            ],
        );
    }
}

#[test]
fn errors_as_kubectl_shows_them() {
    let c = Cluster::start();
    for v in KUBECTL_VERSIONS {
        let cm = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: dup-{}}}\n",
            v.replace('.', "-")
        );
        c.apply_stdin(v, &["create", "-f", "-"], &cm);
        let out = c.kubectl_stdin(v, &["create", "-f", "-"], &cm);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("(AlreadyExists)") && err.contains("already exists"),
            "{err}"
        );

        let bad = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n";
        let out = c.kubectl_stdin(v, &["create", "-f", "-"], bad);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(
                "The ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\""
            ),
            "{err}"
        );

        let err = c.kubectl_err(v, &["get", "cm", "-n", "no-such-ns-here", "x"]);
        assert!(err.contains("NotFound"), "{err}");

        // A replace with a stale resourceVersion is a conflict.
        let name = format!("dup-{}", v.replace('.', "-"));
        let json = c.kubectl(v, &["get", "cm", &name, "-o", "json"]);
        let mut obj: serde_json::Value = serde_json::from_str(&json).unwrap();
        c.kubectl(v, &["label", "cm", &name, "touched=yes"]);
        obj["data"] = serde_json::json!({"k": "v"});
        let out = c.kubectl_stdin(v, &["replace", "-f", "-"], &obj.to_string());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("(Conflict)") && err.contains("the object has been modified"),
            "{err}"
        );
    }
}

#[test]
fn events_read_the_same_through_both_apis() {
    let c = Cluster::start();
    let v = "1.33";
    let ev = "apiVersion: events.k8s.io/v1\nkind: Event\nmetadata: {name: e1}\neventTime: \"2026-01-02T03:04:05.000000Z\"\n\
              reportingController: example.com/ctl\nreportingInstance: ctl-1\naction: Probe\nreason: Checked\ntype: Normal\n\
              note: all good\nregarding: {kind: ConfigMap, name: cfg, namespace: default, apiVersion: v1}\n";
    c.apply_stdin(v, &["create", "-f", "-"], ev);
    let core = c.kubectl(v, &["get", "events.v1.", "e1", "-o", "json"]);
    let core: serde_json::Value = serde_json::from_str(&core).unwrap();
    assert_eq!(core["apiVersion"], "v1");
    assert_eq!(core["message"], "all good");
    assert_eq!(core["involvedObject"]["name"], "cfg");
    assert_eq!(core["reportingComponent"], "example.com/ctl");
    let by_field = c.kubectl(
        v,
        &[
            "get",
            "events.v1.",
            "--field-selector",
            "involvedObject.name=cfg",
            "-o",
            "name",
        ],
    );
    assert_eq!(by_field.trim(), "event/e1");
    let new = c.kubectl(v, &["get", "events.v1.events.k8s.io", "e1", "-o", "json"]);
    let new: serde_json::Value = serde_json::from_str(&new).unwrap();
    assert_eq!(new["apiVersion"], "events.k8s.io/v1");
    assert_eq!(new["note"], "all good");
    assert_eq!(new["regarding"]["name"], "cfg");
}
