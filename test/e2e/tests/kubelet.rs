//! The embedded kubelet: pods as real containers (busybox from a loopback registry), their
//! network, volumes, env, restarts, termination and cleanup, observed through kubectl.

mod common;

use common::{eventually, registry::Registry, Cluster};

const K: &str = "1.33";

fn logs(c: &Cluster, pod: &str) -> String {
    String::from_utf8_lossy(&c.kubectl_raw(K, &["logs", pod]).stdout).into_owned()
}

#[test]
fn pods_run_as_containers() {
    let registry = Registry::start();
    let c = Cluster::start_with_agent(&registry, &[]);
    let node = c.agent.clone().unwrap().node_name;
    eventually(60, "the node to be Ready", || {
        let s = c.jsonpath(
            &["node", &node],
            "{.status.conditions[?(@.type==\"Ready\")].status}",
        );
        (s == "True").then_some(())
    });

    // A Deployment of 2 httpd pods that print their environment at start.
    c.apply_stdin(
        K,
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {greeting: hello-from-configmap}
---
apiVersion: v1
kind: Secret
metadata: {name: sec}
stringData: {password: hunter2}
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
      terminationGracePeriodSeconds: 2
      volumes:
      - {name: cfg, configMap: {name: cfg}}
      - {name: sec, secret: {secretName: sec}}
      - {name: scratch, emptyDir: {}}
      containers:
      - name: httpd
        image: busybox:1.36
        env:
        - {name: MY_POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: GREETING, valueFrom: {configMapKeyRef: {name: cfg, key: greeting}}}
        - {name: PASSWORD, valueFrom: {secretKeyRef: {name: sec, key: password}}}
        volumeMounts:
        - {name: cfg, mountPath: /etc/cfg}
        - {name: sec, mountPath: /etc/sec}
        - {name: scratch, mountPath: /scratch}
        readinessProbe:
          tcpSocket: {port: 8080}
          periodSeconds: 1
        command: ["sh", "-c"]
        args:
        - |
          echo "hostname=$(hostname) pod=$MY_POD"
          echo "pid1=$(cat /proc/1/comm)"
          echo "env greeting=$GREETING password=$PASSWORD"
          echo "file greeting=$(cat /etc/cfg/greeting) password=$(cat /etc/sec/password)"
          echo written > /scratch/x && echo "scratch=$(cat /scratch/x)"
          exec httpd -f -p 8080
"#,
    );
    let pods = eventually(120, "2 web pods Running and Ready", || {
        let out = c.jsonpath(&["pods", "-l", "app=web"],
            "{range .items[*]}{.metadata.name} {.status.phase} {.status.conditions[?(@.type==\"Ready\")].status} {.status.podIP}{\"\\n\"}{end}",
        );
        let ready: Vec<(String, String)> = out
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() == 4 && f[1] == "Running" && f[2] == "True")
                    .then(|| (f[0].to_string(), f[3].to_string()))
            })
            .collect();
        (ready.len() == 2).then_some(ready)
    });
    assert_ne!(pods[0].1, pods[1].1, "each pod has its own IP");
    for (pod, ip) in &pods {
        assert!(ip.starts_with("10."), "{pod}: podIP {ip}");
        let log = eventually(30, "the pod's start output", || {
            let l = logs(&c, pod);
            l.contains("scratch=").then_some(l)
        });
        assert!(log.contains(&format!("hostname={pod} pod={pod}")), "{log}");
        // Its own PID namespace: the shell is PID 1.
        assert!(log.contains("pid1=sh"), "{log}");
        assert!(
            log.contains("env greeting=hello-from-configmap password=hunter2"),
            "{log}"
        );
        assert!(
            log.contains("file greeting=hello-from-configmap password=hunter2"),
            "{log}"
        );
        assert!(log.contains("scratch=written"), "{log}");
    }
    let status = c.jsonpath(&["pod", &pods[0].0], "{.status.containerStatuses[0].containerID} {.status.containerStatuses[0].imageID} {.status.qosClass}");
    assert!(status.starts_with("libcontainer://"), "{status}");
    assert!(status.contains("busybox@sha256:"), "{status}");
    assert!(status.ends_with("BestEffort"), "{status}");

    // A crashing container: CrashLoopBackOff with a growing restartCount.
    c.kubectl(
        K,
        &[
            "run",
            "crash",
            "--image=busybox:1.36",
            "--",
            "sh",
            "-c",
            "echo crashing; exit 3",
        ],
    );
    eventually(90, "crash in CrashLoopBackOff with restarts", || {
        let s = c.jsonpath(&["pod", "crash"], "{.status.containerStatuses[0].state.waiting.reason} {.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].lastState.terminated.exitCode}");
        let f: Vec<&str> = s.split_whitespace().collect();
        (f.len() == 3
            && f[0] == "CrashLoopBackOff"
            && f[1].parse::<i32>().unwrap_or(0) >= 1
            && f[2] == "3")
            .then_some(())
    });
    let msg = c.jsonpath(
        &["pod", "crash"],
        "{.status.containerStatuses[0].state.waiting.message}",
    );
    assert!(
        msg.starts_with("back-off 10s restarting failed container=crash pod=crash_default("),
        "{msg}"
    );

    // A bad image: ErrImagePull, then ImagePullBackOff.
    c.kubectl(K, &["run", "badimage", "--image=busybox:does-not-exist"]);
    eventually(60, "badimage waiting on its image", || {
        let r = c.jsonpath(
            &["pod", "badimage"],
            "{.status.containerStatuses[0].state.waiting.reason}",
        );
        (r == "ImagePullBackOff").then_some(())
    });
    let events = c.kubectl(
        K,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=badimage",
        ],
    );
    assert!(
        events.contains("Failed to pull image \"busybox:does-not-exist\""),
        "{events}"
    );

    // OOMKilled under a memory limit.
    c.apply_stdin(
        K,
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: Pod
metadata: {name: oom}
spec:
  restartPolicy: Never
  containers:
  - name: eat
    image: busybox:1.36
    resources: {limits: {memory: 16Mi}}
    command: ["sh", "-c", "dd if=/dev/zero bs=1M count=64 | tr '\\0' x | sort > /dev/null"]
"#,
    );
    eventually(90, "oom to be OOMKilled", || {
        let r = c.jsonpath(
            &["pod", "oom"],
            "{.status.phase} {.status.containerStatuses[0].state.terminated.reason}",
        );
        (r == "Failed OOMKilled").then_some(())
    });

    // kubectl delete: the SIGTERM trap runs, the pod goes, and so do its cgroups, mounts, veth.
    let out_dir = c.dir.path().join("trap-out");
    c.apply_stdin(K, &["apply", "-f", "-"], &format!(r#"
apiVersion: v1
kind: Pod
metadata: {{name: trap}}
spec:
  terminationGracePeriodSeconds: 30
  volumes: [{{name: out, hostPath: {{path: {}, type: DirectoryOrCreate}}}}]
  containers:
  - name: c
    image: busybox:1.36
    volumeMounts: [{{name: out, mountPath: /out}}]
    command: ["sh", "-c", "trap 'echo got-SIGTERM > /out/term; exit 0' TERM; echo up; while true; do sleep 0.1; done"]
"#, out_dir.display()));
    let uid = eventually(60, "trap Running", || {
        let r = c.jsonpath(&["pod", "trap"], "{.status.phase} {.metadata.uid}");
        r.strip_prefix("Running ").map(str::to_string)
    });
    let pod_dir_prefix = format!("default_trap_{uid}");
    let mounts_before = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(
        mounts_before.contains(&uid),
        "the pod's mounts exist while it runs"
    );
    c.kubectl(K, &["delete", "pod", "trap", "--timeout=60s"]);
    assert_eq!(
        std::fs::read_to_string(out_dir.join("term"))
            .unwrap()
            .trim(),
        "got-SIGTERM"
    );
    common::assert_no_host_state_for_pod(&uid);
    let agent_pods = c.dir.path().join("data/agent/pods");
    let left: Vec<_> = std::fs::read_dir(&agent_pods)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy() == pod_dir_prefix)
        .collect();
    assert!(left.is_empty(), "the pod's directory is left");

    // Everything goes: no veth left on the pod bridge.
    c.delete_all_pods();
    let bridge = c.agent.clone().unwrap().bridge;
    let links = std::process::Command::new("ip")
        .args(["-br", "link", "show", "master", &bridge])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&links.stdout).trim().is_empty(),
        "veths left on {bridge}: {}\n{}",
        String::from_utf8_lossy(&links.stdout),
        c.log()
            .lines()
            .filter(|l| l.contains("WARN")
                || l.contains("detached")
                || l.contains("attached")
                || l.contains("stopping pod"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
