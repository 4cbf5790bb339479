//! Watches, namespace lifecycle and restarts, through real kubectl.

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use common::{eventually, kubectl_path, Cluster, KUBECTL_VERSIONS};

#[test]
fn get_watch_sees_added_and_deleted() {
    let c = Cluster::start();
    for v in KUBECTL_VERSIONS {
        let ns = format!("watch-{}", v.replace('.', "-"));
        c.kubectl(v, &["create", "namespace", &ns]);
        let mut child = Command::new(kubectl_path(v))
            .env("KUBECONFIG", &c.kubeconfig)
            .args([
                "get",
                "configmaps",
                "-n",
                &ns,
                "--watch-only",
                "-o",
                "name",
                "--request-timeout",
                "60s",
            ])
            .arg("-w")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        // The watch is established once a change made after it starts shows up.
        let mut seen = Vec::new();
        eventually(30, "the watch to see a change", || {
            let name = format!("w{}", seen.len());
            let m = format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\n");
            c.apply_stdin(v, &["create", "-n", &ns, "-f", "-"], &m);
            match rx.recv_timeout(Duration::from_secs(2)) {
                Ok(line) => {
                    seen.push(line);
                    Some(())
                }
                Err(_) => {
                    seen.push(String::new());
                    None
                }
            }
        });
        let mut lines = seen
            .into_iter()
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>();
        // The first object the watch reported as added is deleted; the watch must report that too.
        let first = lines[0].clone();
        let name = first.trim_start_matches("configmap/").to_string();
        c.kubectl(v, &["delete", "configmap", &name, "-n", &ns]);
        let times_seen = |lines: &[String]| lines.iter().filter(|l| **l == first).count();
        while times_seen(&lines) < 2 {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(l) => lines.push(l),
                Err(_) => break,
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        // `-o name` prints the object for ADDED and again for DELETED.
        assert_eq!(times_seen(&lines), 2, "kubectl {v} saw {lines:?}");
    }
}

#[test]
fn namespace_deletion_removes_everything_in_it() {
    let c = Cluster::start();
    let v = "1.33";
    c.kubectl(v, &["create", "namespace", "doomed"]);
    // Every namespace gets its default ServiceAccount and the root CA ConfigMap.
    eventually(30, "default serviceaccount", || {
        c.kubectl_raw(v, &["get", "sa", "default", "-n", "doomed"])
            .status
            .success()
            .then_some(())
    });
    eventually(30, "kube-root-ca.crt", || {
        c.kubectl_raw(v, &["get", "cm", "kube-root-ca.crt", "-n", "doomed"])
            .status
            .success()
            .then_some(())
    });
    let mut manifest = String::new();
    for i in 0..50 {
        manifest.push_str(&format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\ndata: {{i: \"{i}\"}}\n"));
        manifest.push_str(&format!(
            "---\napiVersion: v1\nkind: Secret\nmetadata: {{name: s{i}}}\n"
        ));
    }
    c.apply_stdin(v, &["create", "-n", "doomed", "-f", "-"], &manifest);
    let out = c.kubectl(v, &["delete", "namespace", "doomed", "--timeout=60s"]);
    assert!(out.contains("namespace \"doomed\" deleted"), "{out}");
    let err = c.kubectl_err(v, &["get", "namespace", "doomed"]);
    assert!(err.contains("NotFound"), "{err}");
    // Creating in a namespace that is gone is refused.
    let out = c.kubectl_stdin(
        v,
        &["create", "-n", "doomed", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: late}\n",
    );
    assert!(!out.status.success());
    for v in KUBECTL_VERSIONS {
        let got = c.kubectl(v, &["get", "ns", "-o", "name"]);
        assert!(!got.contains("namespace/doomed"), "{got}");
    }
}

/// While a namespace is being deleted (held here by a finalizer on an object in it), creates
/// in it are refused with upstream's 403, right after creates that went in: the API server
/// remembers open namespaces but commits a create only while its namespace is unchanged.
#[test]
fn creates_in_a_terminating_namespace_are_forbidden() {
    let c = Cluster::start();
    let v = "1.33";
    c.kubectl(v, &["create", "namespace", "closing"]);
    let held =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, finalizers: [example.com/hold]}\n";
    c.apply_stdin(v, &["create", "-n", "closing", "-f", "-"], held);
    c.kubectl(v, &["create", "configmap", "before", "-n", "closing"]);
    let out = c.kubectl(v, &["delete", "namespace", "closing", "--wait=false"]);
    assert!(out.contains("deleted"), "{out}");
    let out = c.kubectl_raw(v, &["create", "configmap", "after", "-n", "closing"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "created in a terminating namespace");
    assert!(
        err.contains(
            "configmaps \"after\" is forbidden: unable to create new content in namespace closing because it is being terminated"
        ),
        "{err}"
    );
    // Released, the namespace goes, and creates in it are 404s.
    c.kubectl(
        v,
        &[
            "patch",
            "configmap",
            "held",
            "-n",
            "closing",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ],
    );
    eventually(60, "namespace closing gone", || {
        let out = c.kubectl_raw(v, &["get", "namespace", "closing"]);
        (!out.status.success()).then_some(())
    });
    let out = c.kubectl_raw(v, &["create", "configmap", "later", "-n", "closing"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("namespaces \"closing\" not found"), "{err}");
}

#[test]
fn restart_keeps_objects_resource_versions_and_watch_history() {
    let mut c = Cluster::start();
    let v = "1.33";
    c.apply_stdin(
        v,
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep}\ndata: {a: b}\n",
    );
    let rv = c.kubectl(
        v,
        &[
            "get",
            "cm",
            "keep",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ],
    );
    let uid = c.kubectl(v, &["get", "cm", "keep", "-o", "jsonpath={.metadata.uid}"]);
    c.stop();
    c.launch();
    assert_eq!(
        c.kubectl(
            v,
            &[
                "get",
                "cm",
                "keep",
                "-o",
                "jsonpath={.metadata.resourceVersion}"
            ]
        ),
        rv
    );
    assert_eq!(
        c.kubectl(v, &["get", "cm", "keep", "-o", "jsonpath={.metadata.uid}"]),
        uid
    );
    // A watch resumed from the last seen resourceVersion sees what changed after, and only that.
    c.apply_stdin(
        v,
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: after}\n",
    );
    let path = format!(
        "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=2"
    );
    let out = c.kubectl(v, &["get", "--raw", &path]);
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = events
        .iter()
        .filter_map(|e| e["object"]["metadata"]["name"].as_str())
        .collect();
    assert!(names.contains(&"after"), "{out}");
    assert!(!names.contains(&"keep"), "{out}");
    assert!(
        events
            .iter()
            .all(|e| e["type"] == "ADDED" || e["type"] == "MODIFIED"),
        "{out}"
    );
}
