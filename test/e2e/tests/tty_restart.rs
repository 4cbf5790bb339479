//! A TTY container (tty: true, stdin: true) across an agent restart. The pty master lives only
//! in the agent (there is no shim to hold it), so stopping the agent hangs up the terminal:
//! an interactive shell exits on SIGHUP, and the restarted agent starts it again; `kubectl
//! attach` then reaches the new shell. The agent must also stop promptly on SIGTERM with such a
//! container idle (a blocking pty read once held the process for ever).

mod common;

use std::time::{Duration, Instant};

use common::{eventually, kubectl_path, registry::Registry, Cluster};

const K: &str = "1.33";

fn jsonpath(c: &Cluster, path: &str) -> String {
    let jp = format!("jsonpath={path}");
    String::from_utf8_lossy(&c.kubectl_raw(K, &["get", "pod", "tty", "-o", &jp]).stdout)
        .into_owned()
}

/// `kubectl attach -i` typing one command; what came back.
fn attach_and_type(c: &Cluster) -> String {
    let cmd = format!(
        "(sleep 1; echo 'echo hello-$((40+2))'; sleep 3) | KUBECONFIG={} {} attach -i tty 2>&1",
        c.kubeconfig.display(),
        kubectl_path(K).display()
    );
    let out = std::process::Command::new("timeout")
        .args(["8", "bash", "-c", &cmd])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn tty_container_after_agent_restart() {
    let registry = Registry::start();
    let mut c = Cluster::start_with_agent(&registry, &[]);
    c.apply_stdin(
        K,
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: Pod
metadata: {name: tty}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: "busybox:1.36", command: ["sh"], tty: true, stdin: true}
"#,
    );
    eventually(90, "the tty pod Running", || {
        (jsonpath(&c, "{.status.phase}") == "Running").then_some(())
    });
    let out = attach_and_type(&c);
    assert!(out.contains("hello-42"), "{out}");

    let t = Instant::now();
    c.stop();
    let took = t.elapsed();
    eprintln!("agent stopped in {took:?} with an idle tty container");
    assert!(took < Duration::from_secs(10), "{took:?}");
    c.launch();

    // The hung-up shell exited and runs again; attach reaches it.
    eventually(60, "the shell restarted", || {
        let s = jsonpath(
            &c,
            "{.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].state.running.startedAt}",
        );
        (s.starts_with("1 ") && s.len() > 2).then_some(())
    });
    let out = eventually(30, "attach after the restart", || {
        Some(attach_and_type(&c)).filter(|o| o.contains("hello-42"))
    });
    assert!(out.contains("hello-42"), "{out}");
    c.delete_all_pods();
}
