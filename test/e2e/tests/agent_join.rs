//! `rkube agent`: a second node joins a server's cluster with the server's token (k3s' flow:
//! CA fetched from /cacerts and pinned by the token's hash, node certificates issued for the
//! token's secret), registers Ready and runs a pod whose logs kubectl reads through the server.
//! A wrong secret or a wrong CA hash is refused with exit status 1 and nothing written.

mod common;

use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::{eventually, registry::Registry, rkube_bin, Cluster};

const K: &str = "1.33";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `rkube agent`; on drop it is killed and `rkube killall` removes its containers
/// and pod network.
struct AgentProc {
    child: Option<Child>,
    data_dir: PathBuf,
    bridge: String,
    log: PathBuf,
}

impl AgentProc {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("rkube agent did not stop on SIGTERM within 30s");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let out = Command::new(rkube_bin())
            .arg("killall")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--pod-bridge", &self.bridge])
            .output();
        if let Ok(out) = out {
            if !out.status.success() {
                eprintln!("rkube killall: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
    }
}

struct Node {
    name: String,
    kubelet_port: u16,
    bridge: String,
    data_dir: PathBuf,
    registries: PathBuf,
}

fn agent_cmd(server_port: u16, token: &str, node: &Node) -> Command {
    let mut cmd = Command::new(rkube_bin());
    cmd.arg("agent")
        .args(["--server", &format!("https://127.0.0.1:{server_port}")])
        .args(["--token", token])
        .arg("--data-dir")
        .arg(&node.data_dir)
        .args(["--node-name", &node.name, "--node-ip", "127.0.0.1"])
        .args(["--kubelet-port", &node.kubelet_port.to_string()])
        .args(["--pod-bridge", &node.bridge])
        .arg("--private-registry")
        .arg(&node.registries)
        .args(["--log-format", "json"])
        .stdin(Stdio::null());
    cmd
}

/// Runs an agent that must be refused: exit status 1, `want` in stderr, no data dir.
fn refused(server_port: u16, token: &str, node: &Node, want: &str) {
    let mut child = agent_cmd(server_port, token, node)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("rkube agent with a bad token kept running");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(want), "want {want:?} in: {stderr}");
    assert!(!node.data_dir.exists(), "files written after: {stderr}");
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn agent_joins_and_runs_a_pod() {
    let registry = Registry::start();
    let c = Cluster::start_with_agent(&registry, &[]);
    let token = std::fs::read_to_string(c.dir.path().join("data/server/token")).unwrap();
    let token = token.trim();
    let (hash_part, secret) = token.rsplit_once(':').unwrap();

    let dir = tempfile::tempdir().unwrap();
    let registries = dir.path().join("registries.yaml");
    std::fs::write(&registries, registry.registries_yaml()).unwrap();
    let kubelet_port = free_port();
    let node = Node {
        name: format!("agent-{kubelet_port}"),
        kubelet_port,
        bridge: format!("rka{kubelet_port}"),
        data_dir: dir.path().join("agent-data"),
        registries,
    };

    // Refusals first: nothing may be written.
    refused(
        c.port,
        &format!("{hash_part}:not-the-secret"),
        &node,
        "401 Unauthorized",
    );
    let wrong_pin = format!("K10{}::server:{secret}", "0".repeat(64));
    refused(
        c.port,
        &wrong_pin,
        &node,
        "does not match the token's CA hash",
    );

    let log = dir.path().join("agent.log");
    let spawn = |node: &Node| {
        let child = agent_cmd(c.port, token, node)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        AgentProc {
            child: Some(child),
            data_dir: node.data_dir.clone(),
            bridge: node.bridge.clone(),
            log: log.clone(),
        }
    };
    let mut agent = spawn(&node);
    let ready = |agent: &AgentProc| {
        eventually(90, "the joined node to be Ready", || {
            let s = c.jsonpath(
                &["node", &node.name],
                "{.status.conditions[?(@.type==\"Ready\")].status}",
            );
            if s == "True" {
                return Some(());
            }
            assert!(
                !agent.log().contains("\"level\":\"ERROR\""),
                "agent failed:\n{}",
                agent.log()
            );
            None
        })
    };
    ready(&agent);

    // Credentials under <data-dir>/agent, keys private.
    let creds = node.data_dir.join("agent");
    for f in [
        "client-kubelet.key",
        "serving-kubelet.key",
        "kubelet.kubeconfig",
    ] {
        assert_eq!(mode(&creds.join(f)), 0o600, "{f}");
    }
    let ca = std::fs::read_to_string(creds.join("server-ca.crt")).unwrap();
    let server_ca =
        std::fs::read_to_string(c.dir.path().join("data/server/tls/server-ca.crt")).unwrap();
    assert_eq!(ca, server_ca);
    let ip = c.jsonpath(
        &["node", &node.name],
        "{.status.addresses[?(@.type==\"InternalIP\")].address}",
    );
    assert_eq!(ip, "127.0.0.1");

    // A pod pinned to the joined node runs; its logs come through the server.
    c.apply_stdin(
        K,
        &["apply", "-f", "-"],
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: on-agent}}
spec:
  nodeName: {}
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.36
    command: ["sh", "-c", "echo hello-from-$(hostname); exec sleep 3600"]
"#,
            node.name
        ),
    );
    eventually(90, "the pod on the joined node to log", || {
        let out = c.kubectl_raw(K, &["logs", "on-agent"]);
        let s = String::from_utf8_lossy(&out.stdout).into_owned();
        s.contains("hello-from-on-agent").then_some(())
    });
    assert_eq!(
        c.jsonpath(&["pod", "on-agent"], "{.status.phase}"),
        "Running"
    );

    // A restart reuses the stored credentials byte for byte.
    let before = std::fs::read(creds.join("client-kubelet.crt")).unwrap();
    agent.stop();
    drop(agent);
    let agent = spawn(&node);
    eventually(60, "the restarted agent to reuse its credentials", || {
        agent
            .log()
            .contains("reusing the stored node credentials")
            .then_some(())
    });
    assert_eq!(
        std::fs::read(creds.join("client-kubelet.crt")).unwrap(),
        before
    );
    ready(&agent);

    c.kubectl(
        K,
        &["delete", "pod", "on-agent", "--wait=true", "--timeout=60s"],
    );
    drop(agent);
}
