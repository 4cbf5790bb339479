//! Restart safety: a restarted `rkube server` re-adopts the containers its agent left running
//! (same container ID, PID, restartCount, startedAt, pod IP; logs continue; exec works), and
//! restarts the ones that died while it was down (killed by hand, or a simulated reboot:
//! process and sandbox mounts gone).

mod common;

use std::path::{Path, PathBuf};

use common::{eventually, registry::Registry, tail, Cluster};

const K: &str = "1.33";

/// What a pod's status says about its one container.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    name: String,
    container_id: String,
    restarts: String,
    started_at: String,
    ip: String,
}

/// The ticker pods, once all `n` are Running and Ready.
fn ready_pods(c: &Cluster, n: usize) -> Vec<Seen> {
    eventually(120, "the ticker pods Running and Ready", || {
        let out = c.jsonpath(&["pods", "-l", "app=ticker"],
            "{range .items[*]}{.metadata.name} {.status.phase} {.status.conditions[?(@.type==\"Ready\")].status} {.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].state.running.startedAt} {.status.podIP}{\"\\n\"}{end}",
        );
        let pods: Vec<Seen> = out
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() == 7 && f[1] == "Running" && f[2] == "True").then(|| Seen {
                    name: f[0].into(),
                    container_id: f[3].into(),
                    restarts: f[4].into(),
                    started_at: f[5].into(),
                    ip: f[6].into(),
                })
            })
            .collect();
        (pods.len() == n).then_some(pods)
    })
}

fn logs(c: &Cluster, pod: &str) -> String {
    String::from_utf8_lossy(&c.kubectl_raw(K, &["logs", pod]).stdout).into_owned()
}

/// The ticks in a pod's log; they must be consecutive from 0 (nothing lost, nothing twice).
fn ticks(c: &Cluster, pod: &str) -> u64 {
    let log = logs(c, pod);
    let nums: Vec<u64> = log
        .lines()
        .filter_map(|l| l.strip_prefix("tick ")?.parse().ok())
        .collect();
    for (i, n) in nums.iter().enumerate() {
        assert_eq!(*n, i as u64, "{pod}: ticks not consecutive:\n{log}");
    }
    nums.len() as u64
}

fn bundle(c: &Cluster, container_id: &str) -> PathBuf {
    let id = container_id.trim_start_matches("libcontainer://");
    c.dir
        .path()
        .join("data/agent/containers/containers")
        .join(id)
}

/// The container's init PID, from the runtime's record.
fn pid_of(c: &Cluster, container_id: &str) -> i32 {
    let rec = std::fs::read(bundle(c, container_id).join("rkube.json")).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&rec).unwrap();
    v["pid"].as_i64().unwrap() as i32
}

fn alive(pid: i32) -> bool {
    // A zombie (not yet reaped by whoever inherited it) counts as gone.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|r| !r.trim_start().starts_with('Z'))
    })
}

fn kill9(pid: i32) {
    let ok = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -9 {pid}");
    eventually(10, "the killed process gone", || {
        (!alive(pid)).then_some(())
    });
}

fn unmount_all_under(dir: &Path) {
    let prefix = dir.display().to_string();
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut points: Vec<&str> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(&prefix))
        .collect();
    // Deepest first.
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = std::process::Command::new("umount")
            .args(["-l", p])
            .status();
    }
}

fn readopted(c: &Cluster, n: usize) {
    eventually(60, "the agent to re-adopt the pods", || {
        (c.log()
            .matches("re-adopted the pod's running containers")
            .count()
            >= n)
            .then_some(())
    });
}

/// lastState: the instance that died, exit code unknown (255).
fn assert_last(c: &Cluster, pod: &str, container_id: &str) {
    let last = c.jsonpath(&["pod", pod],
        "{.status.containerStatuses[0].lastState.terminated.exitCode} {.status.containerStatuses[0].lastState.terminated.containerID}",
    );
    assert_eq!(last, format!("255 {container_id}"), "{pod}");
}

#[test]
fn agent_restart_readopts_running_containers() {
    let registry = Registry::start();
    let mut c = Cluster::start_with_agent(&registry, &[]);
    c.apply_stdin(
        K,
        &["apply", "-f", "-"],
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: ticker}
spec:
  replicas: 2
  selector: {matchLabels: {app: ticker}}
  template:
    metadata: {labels: {app: ticker}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: tick
        image: busybox:1.36
        command: ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"]
"#,
    );
    let before = ready_pods(&c, 2);
    for p in &before {
        assert_eq!(p.restarts, "0", "{p:?}");
        eventually(30, "some ticks", || (ticks(&c, &p.name) >= 3).then_some(()));
    }
    let pids: Vec<i32> = before.iter().map(|p| pid_of(&c, &p.container_id)).collect();

    // A clean stop: the containers keep running without their agent.
    c.stop();
    for pid in &pids {
        assert!(alive(*pid), "container {pid} died with the agent");
    }
    c.launch();
    readopted(&c, 2);
    let after = ready_pods(&c, 2);
    for p in &before {
        let q = after.iter().find(|q| q.name == p.name).expect("same pods");
        assert_eq!(p, q, "re-adopted as it was");
        assert_eq!(
            pid_of(&c, &q.container_id),
            pids[before.iter().position(|x| x == p).unwrap()]
        );
    }
    for (pid, p) in pids.iter().zip(&before) {
        assert!(alive(*pid), "{}: container {pid} was replaced", p.name);
        // Earlier and new lines, none lost while no agent read the output.
        let n = ticks(&c, &p.name);
        eventually(30, "new ticks after the restart", || {
            (ticks(&c, &p.name) >= n + 5).then_some(())
        });
        let out = c.kubectl(
            K,
            &["exec", &p.name, "--", "sh", "-c", "echo exec-ok $((6*7))"],
        );
        assert_eq!(out.trim(), "exec-ok 42");
    }

    // A re-adopted container's exit is still seen: killed by hand, it is restarted
    // (its exit code is unknown to a process that is not its parent: 255).
    let (killed, rebooted) = (&before[0], &before[1]);
    kill9(pids[0]);
    let once = eventually(60, "the killed container restarted", || {
        let pods = ready_pods(&c, 2);
        let q = pods.iter().find(|q| q.name == killed.name)?.clone();
        (q.restarts == "1").then_some(q)
    });
    assert_ne!(once.container_id, killed.container_id);
    assert_eq!(once.ip, killed.ip);
    assert_last(&c, &killed.name, &killed.container_id);

    // Dead while the agent is down: one killed by hand, one as after a reboot (process and
    // sandbox mounts gone). Both restart, restartCount one higher, the same pod IP.
    c.stop();
    kill9(pid_of(&c, &once.container_id));
    kill9(pids[1]);
    let rb_bundle = bundle(&c, &rebooted.container_id);
    let rec = std::fs::read(rb_bundle.join("rkube.json")).unwrap();
    let rb_uid = serde_json::from_slice::<serde_json::Value>(&rec).unwrap()["sandbox_id"]
        .as_str()
        .unwrap()
        .to_string();
    unmount_all_under(&rb_bundle);
    unmount_all_under(
        &c.dir
            .path()
            .join("data/agent/containers/sandboxes")
            .join(&rb_uid),
    );
    c.launch();
    let restarted = eventually(120, "both pods restarted", || {
        let pods = ready_pods(&c, 2);
        let r = |n: &str| {
            pods.iter()
                .find(|q| q.name == n)
                .map(|q| q.restarts.clone())
        };
        (r(&killed.name).as_deref() == Some("2") && r(&rebooted.name).as_deref() == Some("1"))
            .then_some(pods)
    });
    for (p, prev_id) in [
        (killed, &once.container_id),
        (rebooted, &rebooted.container_id),
    ] {
        let q = restarted
            .iter()
            .find(|q| q.name == p.name)
            .expect("same pods");
        assert_ne!(&q.container_id, prev_id, "{}", p.name);
        assert_eq!(q.ip, p.ip, "{}: pod IP kept", p.name);
        assert_last(&c, &p.name, prev_id);
        // The previous instance's log is still there.
        let prev = c.kubectl(K, &["logs", "--previous", &p.name]);
        assert!(prev.contains("tick 0"), "{prev}");
        eventually(30, "the new instance ticking", || {
            logs(&c, &p.name).contains("tick 3").then_some(())
        });
    }
    // Deleted, the re-adopted and restarted pods leave nothing: containers (old instances
    // too), mounts, cgroups.
    let uids: Vec<String> = restarted
        .iter()
        .map(|p| c.jsonpath(&["pod", &p.name], "{.metadata.uid}"))
        .collect();
    c.delete_all_pods();
    let containers = c.dir.path().join("data/agent/containers/containers");
    let left: Vec<_> = std::fs::read_dir(&containers)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "containers left: {left:?}");
    for uid in &uids {
        common::assert_no_host_state_for_pod(uid);
    }
    assert!(!c.log().contains("panicked"), "{}", tail(&c.log(), 3000));
}
