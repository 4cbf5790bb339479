//! Pod lifecycle in the embedded kubelet, with real busybox containers: postStart and preStop
//! hooks (preStop before SIGTERM, also on a liveness restart; a failing postStart), startupProbe gating readiness, service
//! environment variables, termination messages, configMap updates seen by a running pod and
//! activeDeadlineSeconds.

mod common;

use common::{eventually, registry::Registry, Cluster};

const K: &str = "1.33";

fn exec(c: &Cluster, pod: &str, cmd: &[&str]) -> Option<String> {
    let mut args = vec!["exec", pod, "--"];
    args.extend_from_slice(cmd);
    let out = c.kubectl_raw(K, &args);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn running(c: &Cluster, pod: &str) {
    eventually(90, &format!("{pod} Running"), || {
        (c.jsonpath(&["pod", pod], "{.status.phase}") == "Running").then_some(())
    });
}

#[test]
fn pod_lifecycle() {
    let registry = Registry::start();
    let c = Cluster::start_with_agent(&registry, &[]);
    let host = tempfile::tempdir().unwrap();
    let host_dir = host.path().display().to_string();

    c.apply_stdin(
        K,
        &["apply", "-f", "-"],
        &format!(
            r#"
apiVersion: v1
kind: Service
metadata: {{name: my-db}}
spec:
  ports: [{{name: sql, port: 5432}}, {{name: stats, port: 9187, protocol: UDP}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: live}}
data: {{key: v1}}
---
apiVersion: v1
kind: Pod
metadata: {{name: hooks}}
spec:
  terminationGracePeriodSeconds: 20
  volumes:
  - {{name: host, hostPath: {{path: "{host_dir}"}}}}
  - {{name: live, configMap: {{name: live}}}}
  containers:
  - name: c
    image: busybox:1.36
    volumeMounts:
    - {{name: host, mountPath: /host}}
    - {{name: live, mountPath: /etc/live}}
    - {{name: live, mountPath: /etc/pinned, subPath: key}}
    lifecycle:
      postStart:
        exec: {{command: ["sh", "-c", "echo post-start > /tmp/post-start"]}}
      preStop:
        exec: {{command: ["sh", "-c", "echo pre-stop >> /host/order; sleep 1"]}}
    command: ["sh", "-c"]
    args:
    - |
      trap 'echo sigterm >> /host/order; exit 0' TERM
      env > /host/env
      while true; do sleep 0.2; done
---
apiVersion: v1
kind: Pod
metadata: {{name: nolinks}}
spec:
  enableServiceLinks: false
  restartPolicy: Never
  containers:
  - {{name: c, image: busybox:1.36, command: ["sh", "-c", "env; echo -n bye > /dev/termination-log"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: fallback}}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox:1.36
    terminationMessagePolicy: FallbackToLogsOnError
    command: ["sh", "-c", "echo first; echo oops; exit 3"]
---
apiVersion: v1
kind: Pod
metadata: {{name: slow-start}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.36
    command: ["sh", "-c", "while true; do sleep 0.2; done"]
    startupProbe:
      exec: {{command: ["test", "-f", "/tmp/started"]}}
      periodSeconds: 1
      failureThreshold: 600
    readinessProbe:
      exec: {{command: ["true"]}}
      periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {{name: deadline}}
spec:
  activeDeadlineSeconds: 4
  terminationGracePeriodSeconds: 1
  containers:
  - {{name: c, image: busybox:1.36, command: ["sleep", "3600"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: liveness}}
spec:
  terminationGracePeriodSeconds: 10
  volumes: [{{name: scratch, emptyDir: {{}}}}]
  containers:
  - name: c
    image: busybox:1.36
    volumeMounts: [{{name: scratch, mountPath: /scratch}}]
    command: ["sh", "-c"]
    args:
    - |
      trap 'echo sigterm >> /scratch/order; exit 0' TERM
      touch /tmp/healthy
      while true; do sleep 0.2; done
    livenessProbe:
      exec: {{command: ["test", "-f", "/tmp/healthy"]}}
      initialDelaySeconds: 1
      periodSeconds: 1
      failureThreshold: 1
    lifecycle:
      preStop:
        exec: {{command: ["sh", "-c", "echo pre-stop >> /scratch/order"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: bad-hook}}
spec:
  terminationGracePeriodSeconds: 1
  restartPolicy: Never
  containers:
  - name: c
    image: busybox:1.36
    command: ["sleep", "3600"]
    lifecycle:
      postStart:
        exec: {{command: ["sh", "-c", "exit 7"]}}
"#
        ),
    );

    // postStart ran in the container before it counted as started.
    running(&c, "hooks");
    let post = eventually(30, "the postStart file", || {
        exec(&c, "hooks", &["cat", "/tmp/post-start"])
    });
    assert_eq!(post.trim(), "post-start");

    // Service variables: the namespace's Services and the API server's.
    let env = eventually(30, "the env dump", || {
        std::fs::read_to_string(host.path().join("env"))
            .ok()
            .filter(|s| s.contains("PATH="))
    });
    let svc_ip = c.jsonpath(&["svc", "my-db"], "{.spec.clusterIP}");
    let api_ip = c.jsonpath(&["svc", "kubernetes", "-n", "default"], "{.spec.clusterIP}");
    for want in [
        format!("MY_DB_SERVICE_HOST={svc_ip}"),
        "MY_DB_SERVICE_PORT=5432".into(),
        "MY_DB_SERVICE_PORT_STATS=9187".into(),
        format!("MY_DB_PORT=tcp://{svc_ip}:5432"),
        format!("MY_DB_PORT_9187_UDP=udp://{svc_ip}:9187"),
        "MY_DB_PORT_5432_TCP_PROTO=tcp".into(),
        format!("KUBERNETES_SERVICE_HOST={api_ip}"),
        "KUBERNETES_SERVICE_PORT=443".into(),
        format!("KUBERNETES_PORT_443_TCP_ADDR={api_ip}"),
    ] {
        assert!(env.lines().any(|l| l == want), "{want} not in\n{env}");
    }

    // enableServiceLinks: false: only the API server's; and a termination message.
    let msg = eventually(90, "nolinks terminated", || {
        let m = c.jsonpath(
            &["pod", "nolinks"],
            "{.status.phase} {.status.containerStatuses[0].state.terminated.message}",
        );
        m.starts_with("Succeeded").then_some(m)
    });
    assert_eq!(msg, "Succeeded bye");
    let out = String::from_utf8_lossy(&c.kubectl_raw(K, &["logs", "nolinks"]).stdout).into_owned();
    assert!(
        out.contains(&format!("KUBERNETES_SERVICE_HOST={api_ip}")),
        "{out}"
    );
    assert!(!out.contains("MY_DB_"), "{out}");

    // FallbackToLogsOnError: the log's tail.
    let msg = eventually(90, "fallback failed", || {
        let m = c.jsonpath(
            &["pod", "fallback"],
            "{.status.phase}|{.status.containerStatuses[0].state.terminated.message}",
        );
        m.starts_with("Failed").then_some(m)
    });
    assert_eq!(msg, "Failed|first\noops\n");

    // startupProbe: running but neither started nor ready until it passes.
    running(&c, "slow-start");
    // For 3 s (3 readiness periods, were it probing) it stays so.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while std::time::Instant::now() < until {
        let s = c.jsonpath(&["pod", "slow-start"],
            "{.status.containerStatuses[0].started} {.status.containerStatuses[0].ready} {.status.conditions[?(@.type==\"Ready\")].status}",
        );
        assert_eq!(s, "false false False");
    }
    exec(&c, "slow-start", &["touch", "/tmp/started"]).expect("touch");
    eventually(30, "slow-start Ready", || {
        let s = c.jsonpath(&["pod", "slow-start"],
            "{.status.containerStatuses[0].started} {.status.conditions[?(@.type==\"Ready\")].status}",
        );
        (s == "true True").then_some(())
    });

    // activeDeadlineSeconds: Failed with DeadlineExceeded, the container killed.
    let s = eventually(60, "deadline Failed", || {
        let s = c.jsonpath(&["pod", "deadline"],
            "{.status.phase} {.status.reason} {.status.containerStatuses[0].state.terminated.exitCode}",
        );
        s.starts_with("Failed").then_some(s)
    });
    assert_eq!(s, "Failed DeadlineExceeded 137");

    // A failing postStart: FailedPostStartHook, the container stopped.
    eventually(60, "the FailedPostStartHook event", || {
        let ev = c.kubectl(
            K,
            &[
                "get",
                "events",
                "--field-selector",
                "involvedObject.name=bad-hook",
            ],
        );
        ev.contains("FailedPostStartHook").then_some(())
    });
    eventually(60, "bad-hook Failed", || {
        (c.jsonpath(&["pod", "bad-hook"], "{.status.phase}") == "Failed").then_some(())
    });

    // A liveness failure restarts the container the way a delete stops it: preStop first,
    // then SIGTERM (the trap exits 0), not a bare SIGKILL.
    running(&c, "liveness");
    eventually(30, "the liveness pod's first instance up", || {
        exec(&c, "liveness", &["rm", "/tmp/healthy"])
    });
    let last = eventually(60, "the liveness restart", || {
        let s = c.jsonpath(&["pod", "liveness"],
            "{.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].lastState.terminated.exitCode}",
        );
        s.starts_with("1 ").then_some(s)
    });
    assert_eq!(last, "1 0", "killed without SIGTERM");
    let order = eventually(30, "the marker in the emptyDir", || {
        exec(&c, "liveness", &["cat", "/scratch/order"])
    });
    assert_eq!(order, "pre-stop\nsigterm\n");

    // A configMap update reaches the running pod (not its subPath mount).
    assert_eq!(exec(&c, "hooks", &["cat", "/etc/live/key"]).unwrap(), "v1");
    c.kubectl(
        K,
        &[
            "patch",
            "configmap",
            "live",
            "-p",
            r#"{"data":{"key":"v2"}}"#,
        ],
    );
    let started = std::time::Instant::now();
    eventually(60, "the configMap update in the pod", || {
        (exec(&c, "hooks", &["cat", "/etc/live/key"]).as_deref() == Some("v2")).then_some(())
    });
    eprintln!("configMap update seen after {:?}", started.elapsed());
    assert_eq!(exec(&c, "hooks", &["cat", "/etc/pinned"]).unwrap(), "v1");

    // preStop runs before SIGTERM.
    c.kubectl(K, &["delete", "pod", "hooks", "--wait=false"]);
    let order = eventually(60, "preStop and SIGTERM recorded", || {
        std::fs::read_to_string(host.path().join("order"))
            .ok()
            .filter(|s| s.contains("sigterm"))
    });
    assert_eq!(order, "pre-stop\nsigterm\n");
    c.delete_all_pods();
}

fn time(s: &str) -> k8s_openapi::jiff::Timestamp {
    s.parse()
        .unwrap_or_else(|e| panic!("{s:?} is not a timestamp: {e}"))
}

/// Upstream keeps crash-loop backoff in memory; rkube restores it from the pod status, so an
/// agent restart does not restart a crash-looping container before its delay is over.
#[test]
fn crash_loop_backoff_survives_an_agent_restart() {
    let registry = Registry::start();
    let mut c = Cluster::start_with_agent(&registry, &[]);
    c.apply_stdin(
        K,
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: busybox:1.36, command: ["sh", "-c", "sleep 1; exit 1"]}
"#,
    );
    // Crashes at once, after 10 s, then waits 20 s after its third crash.
    let finished = eventually(120, "the third crash in CrashLoopBackOff", || {
        let s = c.jsonpath(&["pod", "crasher"],
            "{.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].state.waiting.reason} {.status.containerStatuses[0].lastState.terminated.finishedAt}",
        );
        let f: Vec<&str> = s.split_whitespace().collect();
        (f.len() == 3 && f[0] == "2" && f[1] == "CrashLoopBackOff").then(|| f[2].to_string())
    });
    c.stop();
    c.launch();
    // The restart comes when the 20 s are over, not when the agent is back.
    // The fourth instance's start: state.running, or lastState once it crashed too.
    let started = eventually(90, "the restart after the backoff", || {
        let s = c.jsonpath(&["pod", "crasher"],
            "{.status.containerStatuses[0].restartCount}|{.status.containerStatuses[0].state.running.startedAt}|{.status.containerStatuses[0].lastState.terminated.startedAt}",
        );
        let f: Vec<&str> = s.split('|').collect();
        if f.len() != 3 || f[0] != "3" {
            return None;
        }
        Some(if f[1].is_empty() { f[2] } else { f[1] }.to_string())
    });
    let gap = time(&started).duration_since(time(&finished));
    assert!(
        gap.as_secs() >= 19,
        "restarted {gap:?} after the crash (finished {finished}, restarted {started})"
    );
    c.delete_all_pods();
}
