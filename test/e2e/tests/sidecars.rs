//! Sidecar init containers (restartPolicy: Always) in the embedded kubelet, with real busybox
//! containers: started in order with the init containers without being waited for (the next
//! one starts once its startupProbe passed), running beside the app container, counted in
//! Ready, restarted when they exit, and stopped after the app container on deletion.

mod common;

use std::time::Instant;

use common::{eventually, registry::Registry, Cluster};

const K: &str = "1.33";

fn jsonpath(c: &Cluster, path: &str) -> String {
    let jp = format!("jsonpath={path}");
    let out = c.kubectl_raw(K, &["get", "pod", "with-sidecar", "-o", &jp]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn exec(c: &Cluster, container: &str, cmd: &[&str]) -> Option<String> {
    let mut args = vec!["exec", "with-sidecar", "-c", container, "--"];
    args.extend_from_slice(cmd);
    let out = c.kubectl_raw(K, &args);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn sidecar_runs_beside_the_app_and_stops_after_it() {
    let registry = Registry::start();
    let mut c = Cluster::start_with_agent(&registry, &[]);
    let host = tempfile::tempdir().unwrap();
    let host_dir = host.path().display().to_string();
    c.apply_stdin(
        K,
        &["apply", "-f", "-"],
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: with-sidecar}}
spec:
  terminationGracePeriodSeconds: 20
  volumes:
  - {{name: shared, emptyDir: {{}}}}
  - {{name: host, hostPath: {{path: "{host_dir}"}}}}
  initContainers:
  - name: side
    image: busybox:1.36
    restartPolicy: Always
    volumeMounts:
    - {{name: shared, mountPath: /shared}}
    - {{name: host, mountPath: /host}}
    command: ["sh", "-c"]
    args:
    - |
      trap 'echo sidecar >> /host/order; exit 0' TERM
      trap 'exit 3' USR1
      while true; do echo tick >> /shared/log; sleep 0.2; done
    startupProbe:
      exec: {{command: ["test", "-s", "/shared/log"]}}
      periodSeconds: 1
    readinessProbe:
      exec: {{command: ["true"]}}
      periodSeconds: 1
  - name: after-side
    image: busybox:1.36
    volumeMounts: [{{name: shared, mountPath: /shared}}]
    # Runs only once the sidecar has started: its file is there.
    command: ["test", "-s", "/shared/log"]
  containers:
  - name: main
    image: busybox:1.36
    volumeMounts:
    - {{name: shared, mountPath: /shared}}
    - {{name: host, mountPath: /host}}
    command: ["sh", "-c"]
    args:
    - |
      trap 'sleep 1; echo main >> /host/order; exit 0' TERM
      while true; do sleep 0.2; done
"#
        ),
    );

    let started = Instant::now();
    eventually(120, "the pod Running and Ready", || {
        let s = jsonpath(
            &c,
            "{.status.phase} {.status.conditions[?(@.type==\"Ready\")].status}",
        );
        (s == "Running True").then_some(())
    });
    eprintln!("Running and Ready in {:?}", started.elapsed());
    // The sidecar runs (started, ready) next to the app container; the regular init
    // container after it completed.
    assert_eq!(
        jsonpath(
            &c,
            "{.status.initContainerStatuses[0].name} {.status.initContainerStatuses[0].started} {.status.initContainerStatuses[0].ready}"
        ),
        "side true true"
    );
    assert!(!jsonpath(
        &c,
        "{.status.initContainerStatuses[0].state.running.startedAt}"
    )
    .is_empty());
    assert_eq!(
        jsonpath(
            &c,
            "{.status.initContainerStatuses[1].state.terminated.reason}"
        ),
        "Completed"
    );
    assert!(!jsonpath(&c, "{.status.containerStatuses[0].state.running}").is_empty());
    // The app container reads what the sidecar keeps writing.
    let n = |c: &Cluster| {
        exec(c, "main", &["sh", "-c", "wc -l < /shared/log"])
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let first = eventually(30, "the sidecar's file", || Some(n(&c)).filter(|v| *v > 0));
    eventually(30, "the sidecar's file growing", || {
        (n(&c) > first).then_some(())
    });

    // A sidecar that exits is restarted while the app runs.
    assert!(exec(&c, "side", &["kill", "-USR1", "1"]).is_some());
    eventually(90, "the sidecar restarted", || {
        let s = jsonpath(
            &c,
            "{.status.initContainerStatuses[0].restartCount} {.status.initContainerStatuses[0].lastState.terminated.exitCode} {.status.initContainerStatuses[0].started}",
        );
        (s == "1 3 true").then_some(())
    });
    eventually(30, "Ready again", || {
        let s = jsonpath(&c, "{.status.conditions[?(@.type==\"Ready\")].status}");
        (s == "True").then_some(())
    });
    assert_eq!(jsonpath(&c, "{.status.phase}"), "Running");

    // An agent restart re-adopts the sidecar (same instance, probed again), not restarting it.
    let before = jsonpath(
        &c,
        "{.status.initContainerStatuses[0].containerID} {.status.initContainerStatuses[0].restartCount}",
    );
    c.stop();
    c.launch();

    eventually(60, "Ready after the agent restart", || {
        let s = jsonpath(
            &c,
            "{.status.conditions[?(@.type==\"Ready\")].status} {.status.initContainerStatuses[0].started}",
        );
        (s == "True true").then_some(())
    });
    let after = jsonpath(
        &c,
        "{.status.initContainerStatuses[0].containerID} {.status.initContainerStatuses[0].restartCount}",
    );
    assert_eq!(before, after);
    let grown = n(&c);
    eventually(30, "the sidecar still writing", || {
        (n(&c) > grown).then_some(())
    });

    // Deletion: the app container (1 s in its TERM trap) stops before the sidecar (none).
    let deleting = Instant::now();
    c.kubectl(K, &["delete", "pod", "with-sidecar", "--wait=false"]);
    let order = eventually(60, "both containers stopped", || {
        std::fs::read_to_string(host.path().join("order"))
            .ok()
            .filter(|s| s.lines().count() >= 2)
    });
    assert_eq!(order, "main\nsidecar\n");
    eventually(60, "the pod gone", || {
        let out = c.kubectl_raw(K, &["get", "pod", "with-sidecar"]);
        (!out.status.success()).then_some(())
    });
    eprintln!("deleted in {:?}", deleting.elapsed());

    // A pod whose app container finishes (restartPolicy Never) is done although its sidecar
    // never exits by itself: the sidecar is stopped (SIGTERM) and the pod Succeeded. Created
    // only now: a container that exits while the agent is down (the restart above) has no
    // exit code to report (255, no shim keeps it), which would make this pod Failed.
    c.apply_stdin(
        K,
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: Pod
metadata: {name: job-with-sidecar}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 20
  initContainers:
  - name: side
    image: busybox:1.36
    restartPolicy: Always
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]
  containers:
  - {name: main, image: busybox:1.36, command: ["sh", "-c", "sleep 2"]}
"#,
    );
    let job = |path: &str| {
        let jp = format!("jsonpath={path}");
        let out = c.kubectl_raw(K, &["get", "pod", "job-with-sidecar", "-o", &jp]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    eventually(90, "the job pod Succeeded with its sidecar stopped", || {
        let s = job("{.status.phase} {.status.containerStatuses[0].state.terminated.reason} {.status.initContainerStatuses[0].state.terminated.reason}");
        (s == "Succeeded Completed Completed").then_some(())
    });
    assert_eq!(job("{.status.initContainerStatuses[0].restartCount}"), "0");
    c.delete_all_pods();
}
