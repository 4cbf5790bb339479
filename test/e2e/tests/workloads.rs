//! Self-healing through kubectl against simulated nodes (`--sim-nodes`): Deployments scale,
//! roll out and roll back, deleted pods come back, cascading deletes, unschedulable pods.

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use common::{eventually, kubectl_path, Cluster, KUBECTL_VERSIONS};

fn pod_count(c: &Cluster, ns: &str, selector: &str) -> usize {
    let out = c.kubectl(
        "1.33",
        &["get", "pods", "-n", ns, "-l", selector, "-o", "name"],
    );
    out.lines().filter(|l| !l.is_empty()).count()
}

/// Waits for deploy/NAME's rollout (`kubectl rollout status`, at most 120 s).
fn rollout_status(c: &Cluster, v: &str, ns: &str, name: &str) {
    c.kubectl(
        v,
        &[
            "rollout",
            "status",
            &format!("deploy/{name}"),
            "-n",
            ns,
            "--timeout=120s",
        ],
    );
}

/// A jsonpath of deploy/NAME.
fn deploy_jsonpath(c: &Cluster, v: &str, ns: &str, name: &str, path: &str) -> String {
    c.kubectl(
        v,
        &[
            "get",
            &format!("deploy/{name}"),
            "-n",
            ns,
            "-o",
            &format!("jsonpath={path}"),
        ],
    )
}

fn deployment(name: &str, replicas: u32, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  replicas: {replicas}\n  \
         selector: {{matchLabels: {{app: {name}}}}}\n  strategy: {{rollingUpdate: {{maxUnavailable: 0, maxSurge: 1}}}}\n  \
         template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      terminationGracePeriodSeconds: 1\n      \
         containers: [{{name: c, image: \"{image}\"}}]\n"
    )
}

#[test]
fn deployments_scale_roll_out_undo_and_heal() {
    let c = Cluster::start_with(&["--sim-nodes", "2"]);
    for v in KUBECTL_VERSIONS {
        let ns = format!("wl-{}", v.replace('.', "-"));
        c.kubectl(v, &["create", "namespace", &ns]);
        c.apply_stdin(
            v,
            &["apply", "-n", &ns, "-f", "-"],
            &deployment("web", 3, "busybox:1.36"),
        );
        rollout_status(&c, v, &ns, "web");
        assert_eq!(pod_count(&c, &ns, "app=web"), 3);

        c.kubectl(v, &["scale", "deploy/web", "-n", &ns, "--replicas=10"]);
        rollout_status(&c, v, &ns, "web");
        let ready = deploy_jsonpath(&c, v, &ns, "web", "{.status.readyReplicas}");
        assert_eq!(ready, "10");
        c.kubectl(v, &["scale", "deploy/web", "-n", &ns, "--replicas=1"]);
        eventually(120, "scale down to 1", || {
            (pod_count(&c, &ns, "app=web") == 1).then_some(())
        });

        // Self-healing: a pod deleted by hand is replaced.
        let pod = c.kubectl(
            v,
            &[
                "get",
                "pods",
                "-n",
                &ns,
                "-l",
                "app=web",
                "-o",
                "jsonpath={.items[0].metadata.name}",
            ],
        );
        c.kubectl(v, &["delete", "pod", &pod, "-n", &ns]);
        eventually(120, "a replacement pod", || {
            let names = c.kubectl(
                v,
                &["get", "pods", "-n", &ns, "-l", "app=web", "-o", "name"],
            );
            (names.lines().count() == 1 && !names.contains(&pod)).then_some(())
        });

        // Rollout to a new template, history, and undo back to revision 1's template.
        c.kubectl(
            v,
            &["set", "image", "deploy/web", "-n", &ns, "c=busybox:1.37"],
        );
        rollout_status(&c, v, &ns, "web");
        let rs = c.kubectl(v, &["get", "rs", "-n", &ns, "-l", "app=web", "-o", "name"]);
        assert_eq!(rs.lines().count(), 2, "{rs}");
        let history = c.kubectl(v, &["rollout", "history", "deploy/web", "-n", &ns]);
        assert!(history.lines().any(|l| l.starts_with("2 ")), "{history}");
        c.kubectl(v, &["rollout", "undo", "deploy/web", "-n", &ns]);
        rollout_status(&c, v, &ns, "web");
        let image = deploy_jsonpath(
            &c,
            v,
            &ns,
            "web",
            "{.spec.template.spec.containers[0].image}",
        );
        assert_eq!(image, "busybox:1.36");
        let revision = deploy_jsonpath(
            &c,
            v,
            &ns,
            "web",
            "{.metadata.annotations.deployment\\.kubernetes\\.io/revision}",
        );
        assert_eq!(revision, "3");
    }
}

#[test]
fn cascading_deletes_in_every_mode() {
    let c = Cluster::start_with(&["--sim-nodes", "1"]);
    let v = "1.33";
    for (name, cascade) in [
        ("bg", "background"),
        ("fg", "foreground"),
        ("orph", "orphan"),
    ] {
        c.apply_stdin(
            v,
            &["apply", "-f", "-"],
            &deployment(name, 2, "busybox:1.36"),
        );
        rollout_status(&c, v, "default", name);
        c.kubectl(
            v,
            &[
                "delete",
                &format!("deploy/{name}"),
                &format!("--cascade={cascade}"),
                "--timeout=120s",
            ],
        );
        let selector = format!("app={name}");
        if cascade == "orphan" {
            // The ReplicaSet and its pods stay, no longer owned.
            eventually(60, "orphaned ReplicaSet without owner", || {
                let owners = c.kubectl(
                    v,
                    &[
                        "get",
                        "rs",
                        "-l",
                        &selector,
                        "-o",
                        "jsonpath={.items[*].metadata.ownerReferences}",
                    ],
                );
                let count = c
                    .kubectl(v, &["get", "rs", "-l", &selector, "-o", "name"])
                    .lines()
                    .count();
                (count == 1 && owners.trim().is_empty()).then_some(())
            });
            assert_eq!(pod_count(&c, "default", &selector), 2);
        } else {
            eventually(120, "dependents gone", || {
                let rs = c.kubectl(v, &["get", "rs", "-l", &selector, "-o", "name"]);
                (rs.trim().is_empty() && pod_count(&c, "default", &selector) == 0).then_some(())
            });
        }
    }
}

#[test]
fn a_pod_that_fits_nowhere_says_why_then_schedules_on_a_new_node() {
    let c = Cluster::start_with(&["--sim-nodes", "2"]);
    let v = "1.33";
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: huge}\nspec:\n  containers:\n  - name: c\n    image: busybox\n    \
               resources: {requests: {cpu: \"100\"}}\n";
    c.apply_stdin(v, &["create", "-f", "-"], pod);
    let message = eventually(60, "an Unschedulable condition", || {
        let m = c.kubectl(
            v,
            &[
                "get",
                "pod",
                "huge",
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].message}",
            ],
        );
        (!m.is_empty()).then_some(m)
    });
    assert!(
        message.starts_with("0/2 nodes are available: 2 Insufficient cpu."),
        "{message}"
    );
    let events = c.kubectl(
        v,
        &[
            "get",
            "events",
            "--field-selector",
            "reason=FailedScheduling",
            "-o",
            "name",
        ],
    );
    assert!(!events.trim().is_empty());
    // A bigger node joins (simulated nodes from outside the server): the pod lands there.
    let _sim = common::KillOnDrop(
        std::process::Command::new(common::rkube_bin())
            .args([
                "sim",
                "--nodes",
                "1",
                "--cpu",
                "128",
                "--name-prefix",
                "big-",
                "--pod-cidr",
                "10.60.0.0/16",
            ])
            .arg("--kubeconfig")
            .arg(&c.kubeconfig)
            .args(["--log-format", "json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let node = eventually(60, "the pod scheduled on the new node", || {
        let n = c.kubectl(
            v,
            &["get", "pod", "huge", "-o", "jsonpath={.spec.nodeName}"],
        );
        (!n.is_empty()).then_some(n)
    });
    assert_eq!(node, "big-0");
}

#[test]
fn rolling_update_with_max_unavailable_zero_keeps_every_replica_ready() {
    let c = Cluster::start_with(&["--sim-nodes", "2"]);
    let v = "1.33";
    c.apply_stdin(
        v,
        &["apply", "-f", "-"],
        &deployment("steady", 3, "busybox:1.36"),
    );
    rollout_status(&c, v, "default", "steady");
    // Sample readyReplicas through a watch for the whole rollout.
    let mut watch = common::KillOnDrop(
        Command::new(kubectl_path(v))
            .env("KUBECONFIG", &c.kubeconfig)
            .args([
                "get",
                "deploy/steady",
                "-w",
                "-o",
                "jsonpath={.status.readyReplicas}/{.status.updatedReplicas}{\"\\n\"}",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (tx, rx) = mpsc::channel();
    let out = watch.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    assert_eq!(rx.recv_timeout(Duration::from_secs(30)).unwrap(), "3/3");
    c.kubectl(v, &["set", "env", "deploy/steady", "MSG=v2"]);
    rollout_status(&c, v, "default", "steady");
    let mut samples = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(3)) {
        samples.push(line);
    }
    drop(watch);
    assert!(samples.len() >= 2, "the watch saw the rollout: {samples:?}");
    for s in &samples {
        let ready: u32 = s.split('/').next().unwrap().parse().unwrap_or(0);
        assert!(
            ready >= 3,
            "readyReplicas dropped below 3 during the rollout: {samples:?}"
        );
    }
}

#[test]
fn recreate_and_paused_rollouts() {
    let c = Cluster::start_with(&["--sim-nodes", "2"]);
    let v = "1.33";
    // Recreate: the new ReplicaSet only starts once the old one has no pods left.
    let recreate = deployment("rec", 2, "busybox:1.36").replace(
        "strategy: {rollingUpdate: {maxUnavailable: 0, maxSurge: 1}}",
        "strategy: {type: Recreate}",
    );
    c.apply_stdin(v, &["apply", "-f", "-"], &recreate);
    rollout_status(&c, v, "default", "rec");
    c.kubectl(v, &["set", "image", "deploy/rec", "c=busybox:1.37"]);
    rollout_status(&c, v, "default", "rec");
    let images = c.kubectl(
        v,
        &[
            "get",
            "pods",
            "-l",
            "app=rec",
            "-o",
            "jsonpath={.items[*].spec.containers[0].image}",
        ],
    );
    assert_eq!(
        images.split_whitespace().collect::<Vec<_>>(),
        vec!["busybox:1.37", "busybox:1.37"],
        "{images}"
    );

    // Paused: template changes wait, scaling does not; resume rolls out.
    c.apply_stdin(
        v,
        &["apply", "-f", "-"],
        &deployment("pz", 2, "busybox:1.36"),
    );
    rollout_status(&c, v, "default", "pz");
    c.kubectl(v, &["rollout", "pause", "deploy/pz"]);
    c.kubectl(v, &["set", "image", "deploy/pz", "c=busybox:1.37"]);
    c.kubectl(v, &["scale", "deploy/pz", "--replicas=3"]);
    eventually(60, "paused deployment scaled to 3", || {
        (pod_count(&c, "default", "app=pz") == 3).then_some(())
    });
    let rs = c.kubectl(v, &["get", "rs", "-l", "app=pz", "-o", "name"]);
    assert_eq!(
        rs.lines().count(),
        1,
        "no new ReplicaSet while paused: {rs}"
    );
    let reason = c.kubectl(
        v,
        &[
            "get",
            "deploy/pz",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Progressing\")].reason}",
        ],
    );
    assert_eq!(reason, "DeploymentPaused");
    c.kubectl(v, &["rollout", "resume", "deploy/pz"]);
    rollout_status(&c, v, "default", "pz");
    // Old pods may still be terminating right after the rollout: wait for them to go.
    eventually(60, "only new pods", || {
        let images = c.kubectl(
            v,
            &[
                "get",
                "pods",
                "-l",
                "app=pz",
                "-o",
                "jsonpath={.items[*].spec.containers[0].image}",
            ],
        );
        let images: Vec<&str> = images.split_whitespace().collect();
        (images.len() == 3 && images.iter().all(|i| *i == "busybox:1.37")).then_some(())
    });
}
