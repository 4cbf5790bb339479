//! readinessGates in the embedded kubelet, with a real busybox container: the pod is Ready
//! only while the gate's condition (written by someone else through pods/status) is True,
//! and the kubelet's own status writes keep that condition.

mod common;

use common::{eventually, registry::Registry, Cluster};

const K: &str = "1.33";
const GATE: &str = "example.com/load-balancer";

fn jsonpath(c: &Cluster, path: &str) -> String {
    let jp = format!("jsonpath={path}");
    let out = c.kubectl_raw(K, &["get", "pod", "gated", "-o", &jp]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn condition(c: &Cluster, type_: &str) -> String {
    jsonpath(
        c,
        &format!("{{.status.conditions[?(@.type==\"{type_}\")].status}}"),
    )
}

/// Index of the gate's condition in status.conditions, for a JSON patch.
fn gate_index(c: &Cluster) -> usize {
    jsonpath(c, "{.status.conditions[*].type}")
        .split_whitespace()
        .position(|t| t == GATE)
        .expect("the gate's condition is present")
}

fn patch_status(c: &Cluster, patch: &str) {
    c.kubectl(
        K,
        &[
            "patch",
            "pod",
            "gated",
            "--subresource=status",
            "--type=json",
            "-p",
            patch,
        ],
    );
}

#[test]
fn readiness_gate_decides_ready() {
    let registry = Registry::start();
    let c = Cluster::start_with_agent(&registry, &[]);
    c.apply_stdin(
        K,
        &["apply", "-f", "-"],
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: gated}}
spec:
  terminationGracePeriodSeconds: 1
  readinessGates: [{{conditionType: "{GATE}"}}]
  containers:
  - name: c
    image: busybox:1.36
    command: ["sleep", "3600"]
    readinessProbe:
      exec: {{command: ["true"]}}
      periodSeconds: 1
"#
        ),
    );

    // Containers ready, gate missing: ContainersReady True, Ready False with upstream's reason.
    eventually(90, "ContainersReady", || {
        (condition(&c, "ContainersReady") == "True").then_some(())
    });
    assert_eq!(condition(&c, "Ready"), "False");
    assert_eq!(
        jsonpath(&c, "{.status.conditions[?(@.type==\"Ready\")].reason}"),
        "ReadinessGatesNotReady"
    );
    let msg = jsonpath(&c, "{.status.conditions[?(@.type==\"Ready\")].message}");
    assert!(msg.contains("does not exist"), "{msg}");
    // kubectl's READINESS GATES column: 0/1.
    let wide = c.kubectl(K, &["get", "pod", "gated", "-o", "wide", "--no-headers"]);
    assert!(wide.contains("0/1"), "{wide}");

    // Someone else sets the gate's condition True: Ready.
    let cond = format!(
        r#"{{"type":"{GATE}","status":"True","lastTransitionTime":"2026-01-01T00:00:00Z"}}"#
    );
    patch_status(
        &c,
        &format!(r#"[{{"op":"add","path":"/status/conditions/-","value":{cond}}}]"#),
    );
    let started = std::time::Instant::now();
    eventually(30, "Ready after the gate passed", || {
        (condition(&c, "Ready") == "True").then_some(())
    });
    eprintln!(
        "Ready {:?} after the gate's condition turned True",
        started.elapsed()
    );
    // The kubelet's writes kept the gate's condition, and cleared Ready's reason (the status
    // patch merges conditions by type).
    assert_eq!(condition(&c, GATE), "True");
    assert_eq!(
        jsonpath(
            &c,
            "{.status.conditions[?(@.type==\"Ready\")].reason}{.status.conditions[?(@.type==\"Ready\")].message}"
        ),
        ""
    );

    // The condition goes False: not Ready again (ContainersReady stays True).
    let i = gate_index(&c);
    patch_status(
        &c,
        &format!(r#"[{{"op":"replace","path":"/status/conditions/{i}/status","value":"False"}}]"#),
    );
    eventually(30, "not Ready after the gate failed", || {
        (condition(&c, "Ready") == "False").then_some(())
    });
    assert_eq!(condition(&c, "ContainersReady"), "True");
    let msg = jsonpath(&c, "{.status.conditions[?(@.type==\"Ready\")].message}");
    assert!(msg.contains("is not \"True\", but False"), "{msg}");

    // True again, then removed: not Ready.
    patch_status(
        &c,
        &format!(r#"[{{"op":"replace","path":"/status/conditions/{i}/status","value":"True"}}]"#),
    );
    eventually(30, "Ready again", || {
        (condition(&c, "Ready") == "True").then_some(())
    });
    let i = gate_index(&c);
    patch_status(
        &c,
        &format!(r#"[{{"op":"remove","path":"/status/conditions/{i}"}}]"#),
    );
    eventually(30, "not Ready after the gate's condition went", || {
        (condition(&c, "Ready") == "False").then_some(())
    });
    assert_eq!(condition(&c, GATE), "");
    c.delete_all_pods();
}
