//! How kubectl writes (issue 4), with every supported kubectl: client-side and server-side apply,
//! diff, edit, the three patch types, label/annotate, set, scale, create, run, replace, delete -f,
//! wait, explain, describe, custom columns, server dry-run and strict field validation.

mod common;

use common::{eventually, Cluster};

const CM_V1: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: app, labels: {app: web}}
data: {a: one, b: two}
"#;

const CM_V2: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: app, labels: {app: web}}
data: {a: one, c: three}
"#;

const DEPLOY: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: busybox:1.36, command: [sleep, "3600"]}]
"#;

/// Runs `f` once per kubectl version, each in a namespace of its own on one cluster.
fn per_version(c: &Cluster, f: impl Fn(&Cluster, &str, &str)) {
    for v in common::all_kubectl_versions() {
        let ns = format!("w-{}", v.replace('.', "-"));
        c.kubectl(v, &["create", "namespace", &ns]);
        f(c, v, &ns);
    }
}

fn jp(c: &Cluster, v: &str, ns: &str, obj: &str, path: &str) -> String {
    c.kubectl(
        v,
        &["-n", ns, "get", obj, "-o", &format!("jsonpath={path}")],
    )
}

#[test]
fn apply_client_side_diff_and_edit() {
    let c = Cluster::start();
    per_version(&c, |c, v, ns| {
        c.apply_stdin(v, &["-n", ns, "apply", "-f", "-"], CM_V1);
        let last = jp(
            c,
            v,
            ns,
            "cm/app",
            "{.metadata.annotations.kubectl\\.kubernetes\\.io/last-applied-configuration}",
        );
        assert!(last.contains("\"two\""), "{v}: last-applied: {last}");

        // diff: exit 1 with the change shown; nothing is written.
        let out = c.kubectl_stdin(v, &["-n", ns, "diff", "-f", "-"], CM_V2);
        assert_eq!(out.status.code(), Some(1), "{v}: diff: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("+  c: three"), "{v}: diff output: {text}");
        assert!(text.contains("-  b: two"), "{v}: diff output: {text}");
        assert_eq!(jp(c, v, ns, "cm/app", "{.data.b}"), "two");

        // Removing a field from the manifest removes it from the object.
        c.apply_stdin(v, &["-n", ns, "apply", "-f", "-"], CM_V2);
        assert_eq!(
            jp(c, v, ns, "cm/app", "{.data}"),
            r#"{"a":"one","c":"three"}"#
        );
        let out = c.kubectl_stdin(v, &["-n", ns, "diff", "-f", "-"], CM_V2);
        assert_eq!(out.status.code(), Some(0), "{v}: diff of applied: {out:?}");

        // edit through an EDITOR script.
        let out = std::process::Command::new(common::kubectl_path(v))
            .env("KUBECONFIG", &c.kubeconfig)
            .env("EDITOR", "sed -i s/three/edited/")
            .args(["-n", ns, "edit", "cm/app"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{v}: edit: {out:?}");
        assert_eq!(jp(c, v, ns, "cm/app", "{.data.c}"), "edited");

        // A typo is rejected by kubectl's default strict validation, as upstream words it.
        let bad = CM_V1.replace("\ndata:", "\ndataa:");
        let out = c.kubectl_stdin(v, &["-n", ns, "apply", "-f", "-"], &bad);
        assert!(!out.status.success(), "{v}: typo accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("unknown field \"dataa\""), "{v}: {err}");
    });
}

#[test]
fn server_side_apply_conflicts_and_force() {
    let c = Cluster::start();
    per_version(&c, |c, v, ns| {
        c.apply_stdin(
            v,
            &[
                "-n",
                ns,
                "apply",
                "--server-side",
                "--field-manager=alice",
                "-f",
                "-",
            ],
            CM_V1,
        );
        let changed = CM_V1.replace("one", "uno");
        let out = c.kubectl_stdin(
            v,
            &[
                "-n",
                ns,
                "apply",
                "--server-side",
                "--field-manager=bob",
                "-f",
                "-",
            ],
            &changed,
        );
        assert!(!out.status.success(), "{v}: conflict not reported");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("conflict"), "{v}: {err}");
        assert!(err.contains("alice"), "{v}: {err}");
        c.apply_stdin(
            v,
            &[
                "-n",
                ns,
                "apply",
                "--server-side",
                "--field-manager=bob",
                "--force-conflicts",
                "-f",
                "-",
            ],
            &changed,
        );
        assert_eq!(jp(c, v, ns, "cm/app", "{.data.a}"), "uno");
        let managers = jp(c, v, ns, "cm/app", "{.metadata.managedFields[*].manager}");
        assert!(managers.contains("bob"), "{v}: {managers}");
    });
}

#[test]
fn patch_label_annotate_set_scale() {
    let c = Cluster::start();
    per_version(&c, |c, v, ns| {
        c.apply_stdin(v, &["-n", ns, "apply", "-f", "-"], DEPLOY);
        c.apply_stdin(v, &["-n", ns, "apply", "-f", "-"], CM_V1);

        c.kubectl(
            v,
            &[
                "-n",
                ns,
                "patch",
                "cm/app",
                "--type=merge",
                "-p",
                r#"{"data":{"m":"merge"}}"#,
            ],
        );
        c.kubectl(
            v,
            &[
                "-n",
                ns,
                "patch",
                "cm/app",
                "--type=json",
                "-p",
                r#"[{"op":"remove","path":"/data/b"}]"#,
            ],
        );
        c.kubectl(
            v,
            &[
                "-n",
                ns,
                "patch",
                "deploy/web",
                "--type=strategic",
                "-p",
                r#"{"spec":{"template":{"spec":{"containers":[{"name":"c","env":[{"name":"X","value":"1"}]}]}}}}"#,
            ],
        );
        assert_eq!(
            jp(c, v, ns, "cm/app", "{.data}"),
            r#"{"a":"one","m":"merge"}"#
        );
        assert_eq!(
            jp(
                c,
                v,
                ns,
                "deploy/web",
                "{.spec.template.spec.containers[0].image}"
            ),
            "busybox:1.36",
            "{v}: strategic merge must keep the container's other fields"
        );

        c.kubectl(v, &["-n", ns, "label", "cm/app", "tier=front"]);
        let err = c.kubectl_err(v, &["-n", ns, "label", "cm/app", "tier=back"]);
        assert!(err.contains("already has a value"), "{v}: {err}");
        c.kubectl(
            v,
            &["-n", ns, "label", "cm/app", "tier=back", "--overwrite"],
        );
        c.kubectl(v, &["-n", ns, "annotate", "cm/app", "note=hi"]);
        assert_eq!(
            jp(
                c,
                v,
                ns,
                "cm/app",
                "{.metadata.labels.tier}/{.metadata.annotations.note}"
            ),
            "back/hi"
        );
        c.kubectl(v, &["-n", ns, "label", "cm/app", "tier-"]);
        c.kubectl(v, &["-n", ns, "annotate", "cm/app", "note-"]);
        assert_eq!(
            jp(
                c,
                v,
                ns,
                "cm/app",
                "{.metadata.labels.tier}{.metadata.annotations.note}"
            ),
            ""
        );

        c.kubectl(
            v,
            &["-n", ns, "set", "image", "deploy/web", "c=busybox:1.37"],
        );
        c.kubectl(v, &["-n", ns, "set", "env", "deploy/web", "MODE=prod"]);
        c.kubectl(
            v,
            &[
                "-n",
                ns,
                "set",
                "resources",
                "deploy/web",
                "--limits=cpu=200m,memory=64Mi",
                "--requests=cpu=100m",
            ],
        );
        let spec = jp(
            c,
            v,
            ns,
            "deploy/web",
            "{.spec.template.spec.containers[0]}",
        );
        let spec: serde_json::Value = serde_json::from_str(&spec).unwrap();
        assert_eq!(spec["image"], "busybox:1.37", "{v}: {spec}");
        assert!(
            spec["env"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["name"] == "MODE" && e["value"] == "prod"),
            "{v}: {spec}"
        );
        assert_eq!(spec["resources"]["limits"]["memory"], "64Mi", "{v}: {spec}");
        assert_eq!(spec["resources"]["requests"]["cpu"], "100m", "{v}: {spec}");

        c.kubectl(v, &["-n", ns, "scale", "deploy/web", "--replicas=3"]);
        assert_eq!(jp(c, v, ns, "deploy/web", "{.spec.replicas}"), "3");
        let err = c.kubectl_err(
            v,
            &[
                "-n",
                ns,
                "scale",
                "deploy/web",
                "--replicas=4",
                "--current-replicas=1",
            ],
        );
        assert!(err.contains("Expected replicas to be 1"), "{v}: {err}");
    });
}

#[test]
fn create_run_replace_delete_and_dry_run() {
    let c = Cluster::start();
    per_version(&c, |c, v, ns| {
        c.kubectl(
            v,
            &[
                "-n",
                ns,
                "create",
                "deployment",
                "d1",
                "--image=busybox:1.36",
                "--replicas=2",
            ],
        );
        c.kubectl(
            v,
            &[
                "-n",
                ns,
                "create",
                "service",
                "clusterip",
                "s1",
                "--tcp=80:8080",
            ],
        );
        c.kubectl(
            v,
            &["-n", ns, "create", "configmap", "c1", "--from-literal=k=v"],
        );
        c.kubectl(
            v,
            &[
                "-n",
                ns,
                "create",
                "secret",
                "generic",
                "x1",
                "--from-literal=p=s3cret",
            ],
        );
        c.kubectl(
            v,
            &[
                "-n",
                ns,
                "run",
                "p1",
                "--image=busybox:1.36",
                "--restart=Never",
                "--",
                "sleep",
                "5",
            ],
        );
        assert_eq!(jp(c, v, ns, "deploy/d1", "{.spec.replicas}"), "2");
        assert!(!jp(c, v, ns, "svc/s1", "{.spec.clusterIP}").is_empty());
        assert_eq!(
            jp(c, v, ns, "svc/s1", "{.spec.ports[0].targetPort}"),
            "8080"
        );
        assert_eq!(jp(c, v, ns, "cm/c1", "{.data.k}"), "v");
        assert_eq!(jp(c, v, ns, "secret/x1", "{.data.p}"), "czNjcmV0");
        assert_eq!(
            jp(c, v, ns, "pod/p1", "{.spec.containers[0].args}"),
            r#"["sleep","5"]"#
        );
        assert_eq!(jp(c, v, ns, "pod/p1", "{.spec.restartPolicy}"), "Never");

        // Server dry-run: validated and answered, never stored.
        let out = c.kubectl(
            v,
            &[
                "-n",
                ns,
                "create",
                "configmap",
                "dry",
                "--from-literal=a=b",
                "--dry-run=server",
                "-o",
                "name",
            ],
        );
        assert_eq!(out.trim(), "configmap/dry");
        let err = c.kubectl_err(v, &["-n", ns, "get", "cm/dry"]);
        assert!(
            err.contains("NotFound") || err.contains("not found"),
            "{v}: {err}"
        );
        // A dry-run Service shows the cluster IP and node port it would be given (as
        // upstream's dry-run allocators), and holds neither.
        let out = c.kubectl(
            v,
            &[
                "-n",
                ns,
                "create",
                "service",
                "nodeport",
                "dry",
                "--tcp=80",
                "--dry-run=server",
                "-o",
                "jsonpath={.spec.clusterIP} {.spec.ports[0].nodePort}",
            ],
        );
        let (ip, port) = out.trim().split_once(' ').unwrap_or_default();
        assert!(
            ip.starts_with("10.") && ip.parse::<std::net::Ipv4Addr>().is_ok(),
            "{v}: {out}"
        );
        assert!(
            (30000..=32767).contains(&port.parse::<u16>().unwrap_or(0)),
            "{v}: {out}"
        );
        let err = c.kubectl_err(v, &["-n", ns, "get", "svc/dry"]);
        assert!(
            err.contains("NotFound") || err.contains("not found"),
            "{v}: {err}"
        );

        // replace: the object read back, changed, put.
        let yaml = c.kubectl(v, &["-n", ns, "get", "cm/c1", "-o", "yaml"]);
        let changed = yaml.replace("k: v", "k: replaced");
        c.apply_stdin(v, &["-n", ns, "replace", "-f", "-"], &changed);
        assert_eq!(jp(c, v, ns, "cm/c1", "{.data.k}"), "replaced");
        // A stale resourceVersion conflicts.
        let out = c.kubectl_stdin(v, &["-n", ns, "replace", "-f", "-"], &yaml);
        assert!(!out.status.success(), "{v}: stale replace accepted");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("the object has been modified"),
            "{out:?}"
        );

        let cols = c.kubectl(
            v,
            &[
                "-n",
                ns,
                "get",
                "cm",
                "c1",
                "-o",
                "custom-columns=NAME:.metadata.name,K:.data.k",
            ],
        );
        let lines: Vec<Vec<&str>> = cols
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            lines,
            vec![vec!["NAME", "K"], vec!["c1", "replaced"]],
            "{v}"
        );

        c.apply_stdin(v, &["-n", ns, "apply", "-f", "-"], CM_V1);
        c.apply_stdin(v, &["-n", ns, "delete", "-f", "-"], CM_V1);
        let err = c.kubectl_err(v, &["-n", ns, "get", "cm/app"]);
        assert!(err.contains("not found"), "{v}: {err}");
    });
}

#[test]
fn wait_explain_and_describe() {
    let c = Cluster::start_with(&["--sim-nodes", "1"]);
    per_version(&c, |c, v, ns| {
        c.apply_stdin(v, &["-n", ns, "apply", "-f", "-"], DEPLOY);
        c.kubectl(
            v,
            &[
                "-n",
                ns,
                "wait",
                "--for=condition=Available",
                "deploy/web",
                "--timeout=60s",
            ],
        );
        c.kubectl(
            v,
            &[
                "-n",
                ns,
                "wait",
                "--for=jsonpath={.status.readyReplicas}=1",
                "deploy/web",
                "--timeout=60s",
            ],
        );
        c.kubectl(
            v,
            &[
                "-n",
                ns,
                "create",
                "configmap",
                "gone",
                "--from-literal=a=b",
            ],
        );
        let waiter = std::process::Command::new(common::kubectl_path(v))
            .env("KUBECONFIG", &c.kubeconfig)
            .args(["-n", ns, "wait", "--for=delete", "cm/gone", "--timeout=60s"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        c.kubectl(v, &["-n", ns, "delete", "cm/gone"]);
        let out = waiter.wait_with_output().unwrap();
        assert!(out.status.success(), "{v}: wait --for=delete: {out:?}");

        let text = c.kubectl(v, &["explain", "pod.spec.containers.livenessProbe"]);
        assert!(
            text.contains("Periodic probe of container liveness"),
            "{v}: {text}"
        );
        let text = c.kubectl(v, &["explain", "deployment.spec.strategy"]);
        assert!(text.contains("RollingUpdate"), "{v}: {text}");

        // describe works for every served type; a single pod shows its Events.
        let pod = eventually(30, "a pod", || {
            let name = c.kubectl(v, &["-n", ns, "get", "pods", "-o", "name"]);
            name.lines().next().map(str::to_string)
        });
        let text = c.kubectl(v, &["-n", ns, "describe", &pod]);
        assert!(
            text.contains("Events:") && text.contains("Scheduled"),
            "{v}: {text}"
        );
        let text = c.kubectl(v, &["-n", ns, "describe", "deploy/web"]);
        assert!(text.contains("ScalingReplicaSet"), "{v}: {text}");
        for kind in [
            "replicasets",
            "services",
            "endpoints",
            "configmaps",
            "secrets",
            "serviceaccounts",
            "events",
            "leases",
            "endpointslices",
        ] {
            c.kubectl(v, &["-n", ns, "describe", kind]);
        }
        c.kubectl(v, &["describe", "nodes"]);
        c.kubectl(v, &["describe", "namespace", ns]);
    });
}

/// A Deployment whose one container `name` runs `image`, as manager-specific configuration.
fn deploy_with(container: &str, image: &str) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: two}}
spec:
  selector: {{matchLabels: {{app: two}}}}
  template:
    metadata: {{labels: {{app: two}}}}
    spec:
      containers: [{{name: {container}, image: "{image}", command: [sleep, "3600"]}}]
"#
    )
}

#[test]
fn server_side_apply_owns_containers_by_name_and_other_writes_record_updates() {
    let c = Cluster::start();
    per_version(&c, |c, v, ns| {
        let ssa = |manager: &str, manifest: &str| {
            let m = format!("--field-manager={manager}");
            c.apply_stdin(
                v,
                &["-n", ns, "apply", "--server-side", &m, "-f", "-"],
                manifest,
            );
        };
        let names = || {
            jp(
                c,
                v,
                ns,
                "deploy/two",
                "{.spec.template.spec.containers[*].name}",
            )
        };
        ssa("a", &deploy_with("c1", "busybox:1.36"));
        ssa("b", &deploy_with("c2", "busybox:1.36"));
        assert_eq!(names(), "c1 c2", "{v}");
        // Each re-applies its own container only; the other's survives.
        ssa("a", &deploy_with("c1", "busybox:1.37"));
        ssa("b", &deploy_with("c2", "busybox:1.37"));
        assert_eq!(names(), "c1 c2", "{v}");
        assert_eq!(
            jp(
                c,
                v,
                ns,
                "deploy/two",
                "{.spec.template.spec.containers[*].image}"
            ),
            "busybox:1.37 busybox:1.37"
        );
        let yaml = c.kubectl(
            v,
            &[
                "-n",
                ns,
                "get",
                "deploy/two",
                "-o",
                "yaml",
                "--show-managed-fields",
            ],
        );
        assert!(yaml.contains(r#"k:{"name":"c1"}"#), "{v}: {yaml}");
        assert!(yaml.contains(r#"k:{"name":"c2"}"#), "{v}: {yaml}");

        // label and scale are Update entries (scale's on the scale subresource).
        c.kubectl(v, &["-n", ns, "label", "deploy/two", "tier=web"]);
        c.kubectl(v, &["-n", ns, "scale", "deploy/two", "--replicas=3"]);
        let entries = jp(
            c,
            v,
            ns,
            "deploy/two",
            "{range .metadata.managedFields[*]}{.manager}/{.operation}/{.subresource};{end}",
        );
        assert!(entries.contains("a/Apply/;"), "{v}: {entries}");
        assert!(entries.contains("b/Apply/;"), "{v}: {entries}");
        assert!(entries.contains("kubectl-label/Update/;"), "{v}: {entries}");
        assert!(entries.contains("/Update/scale;"), "{v}: {entries}");
        let label = jp(
            c,
            v,
            ns,
            "deploy/two",
            "{.metadata.managedFields[?(@.manager==\"kubectl-label\")].fieldsV1}",
        );
        assert!(label.contains("f:tier"), "{v}: {label}");

        // b stops applying c2: nobody else owns it, so it goes.
        let b_without_c2 = deploy_with("c1", "busybox:1.37").replace(
            "containers: [{name: c1, image: \"busybox:1.37\", command: [sleep, \"3600\"]}]",
            "containers: []",
        );
        assert!(b_without_c2.contains("containers: []"));
        // Keep b's other fields (selector, labels) so only the container goes.
        ssa("b", &b_without_c2);
        assert_eq!(names(), "c1", "{v}");
    });
}
