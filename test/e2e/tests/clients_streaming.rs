//! Streaming with real clients against `rkube server` and its kubelet running busybox
//! containers: kubectl attach (1.27 SPDY, 1.33 WebSocket) to a stdin container, kubectl exec -it
//! with a real terminal (under `script`), an exec'd process killed when its client goes away,
//! and the Python client's `stream()` exec (stdout, stderr, exit code) and `portforward()`.

mod common;

use std::{
    io::{Read, Write},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use common::{eventually, kubectl_path, registry::Registry, tail, Cluster, KillOnDrop};

const K: &str = "1.33";

const POD: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: box}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: plain
    image: busybox:1.36
    stdin: true
    command: ["sh", "-c", "while read l; do echo got-$l; echo err-$l >&2; done"]
  - name: term
    image: busybox:1.36
    stdin: true
    tty: true
    command: ["sh"]
  - name: web
    image: busybox:1.36
    command: ["sh", "-c", "mkdir -p /www && echo served-by-box > /www/index.html && exec httpd -f -p 8080 -h /www"]
    readinessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
"#;

/// Reads `r` on a thread; the receiver gets every chunk.
fn reader(mut r: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    rx
}

/// Collects from `rx` until `want` appears (panics after `secs`).
fn wait_for(rx: &mpsc::Receiver<Vec<u8>>, got: &mut Vec<u8>, want: &str, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !String::from_utf8_lossy(got).contains(want) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(c) => got.extend_from_slice(&c),
            Err(_) => panic!(
                "no {want:?} within {secs}s; got {:?}",
                String::from_utf8_lossy(got)
            ),
        }
    }
}

fn kubectl(c: &Cluster, version: &str) -> Command {
    let mut cmd = Command::new(kubectl_path(version));
    cmd.env("KUBECONFIG", &c.kubeconfig)
        .env_remove("KUBERNETES_SERVICE_HOST");
    cmd
}

#[test]
fn attach_tty_exec_and_python_streams() {
    let registry = Registry::start();
    let c = Cluster::start_with_agent(&registry, &[]);
    c.apply_stdin(K, &["apply", "-f", "-"], POD);
    eventually(120, "pod box to be Ready", || {
        let out = c.kubectl_raw(
            K,
            &[
                "get",
                "pod",
                "box",
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
            ],
        );
        (String::from_utf8_lossy(&out.stdout) == "True").then_some(())
    });

    // kubectl attach -i: stdin reaches the container, stdout and stderr come back; detaching
    // (killing kubectl) leaves the container running for the next client.
    for v in common::KUBECTL_VERSIONS {
        let mut child = kubectl(&c, v)
            .args(["attach", "-i", "box", "-c", "plain"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (out, err) = (
            reader(child.stdout.take().unwrap()),
            reader(child.stderr.take().unwrap()),
        );
        let mut stdin = child.stdin.take().unwrap();
        let child = KillOnDrop(child);
        let (mut o, mut e) = (Vec::new(), Vec::new());
        // Lines sent before the attach is established are not lost (the FIFO keeps them), so
        // write, then wait.
        stdin.write_all(format!("hello-{v}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
        wait_for(&out, &mut o, &format!("got-hello-{v}"), 30);
        wait_for(&err, &mut e, &format!("err-hello-{v}"), 30);
        drop(child);
    }
    let logs = String::from_utf8_lossy(&c.kubectl_raw(K, &["logs", "box", "-c", "plain"]).stdout)
        .into_owned();
    assert!(
        logs.contains("got-hello-1.27") && logs.contains("got-hello-1.33"),
        "{logs}"
    );

    // kubectl attach -it to the tty container, inside a terminal.
    for v in common::KUBECTL_VERSIONS {
        let cmd = format!("{} attach -it box -c term", kubectl_path(v).display());
        let mut child = Command::new("script")
            .args(["-q", "-e", "-c", &cmd, "/dev/null"])
            .env("KUBECONFIG", &c.kubeconfig)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = reader(child.stdout.take().unwrap());
        let mut stdin = child.stdin.take().unwrap();
        let _child = KillOnDrop(child);
        let mut o = Vec::new();
        // Repeat until the attach is up (keystrokes before it reach the shell anyway).
        stdin
            .write_all(format!("echo tty-$((6*7))-{v}; [ -t 0 ] && echo is-a-tty\r").as_bytes())
            .unwrap();
        stdin.flush().unwrap();
        wait_for(&out, &mut o, &format!("tty-42-{v}"), 30);
        wait_for(&out, &mut o, "is-a-tty", 30);
    }

    // kubectl exec -it with a terminal: the output is what the shell printed, no stray bytes.
    for v in common::KUBECTL_VERSIONS {
        let cmd = format!(
            "{} exec -it box -c plain -- sh -c 'stty size; echo exec-tty-ok; [ -t 1 ] && echo is-a-tty'",
            kubectl_path(v).display()
        );
        let out = Command::new("script")
            .args(["-q", "-e", "-c", &cmd, "/dev/null"])
            .env("KUBECONFIG", &c.kubeconfig)
            .stdin(Stdio::piped())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{v}: {text:?} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("exec-tty-ok") && text.contains("is-a-tty"),
            "{v}: {text:?}"
        );
        assert!(
            !out.stdout.contains(&0),
            "{v}: NUL byte in TTY exec output: {text:?}"
        );
    }

    // A client that goes away ends its exec'd process.
    let ps = || {
        String::from_utf8_lossy(
            &c.kubectl_raw(K, &["exec", "box", "-c", "plain", "--", "ps"])
                .stdout,
        )
        .into_owned()
    };
    for v in common::KUBECTL_VERSIONS {
        let child = kubectl(&c, v)
            .args(["exec", "box", "-c", "plain", "--", "sleep", "1000"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let child = KillOnDrop(child);
        eventually(30, "sleep 1000 to run", || {
            ps().contains("sleep 1000").then_some(())
        });
        drop(child);
        eventually(30, "sleep 1000 to be killed", || {
            (!ps().contains("sleep 1000")).then_some(())
        });
    }

    python_streams(&c);
}

const PY: &str = r#"
import sys
from kubernetes import client, config
from kubernetes.stream import stream, portforward

config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()

resp = stream(v1.connect_get_namespaced_pod_exec, "box", "default", container="plain",
              command=["sh", "-c", "echo to-out; echo to-err >&2; exit 3"],
              stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
out, err = "", ""
while resp.is_open():
    resp.update(timeout=5)
    out += resp.read_stdout() if resp.peek_stdout() else ""
    err += resp.read_stderr() if resp.peek_stderr() else ""
assert out == "to-out\n", repr(out)
assert err == "to-err\n", repr(err)
assert resp.returncode == 3, resp.returncode
print("exec-ok", flush=True)

# stream() with preloaded content returns stdout.
text = stream(v1.connect_get_namespaced_pod_exec, "box", "default", container="plain",
              command=["echo", "preloaded"], stderr=True, stdin=False, stdout=True, tty=False)
assert text == "preloaded\n", repr(text)

pf = portforward(v1.connect_get_namespaced_pod_portforward, "box", "default", ports="8080")
sock = pf.socket(8080)
sock.setblocking(True)
sock.sendall(b"GET /index.html HTTP/1.0\r\nHost: box\r\n\r\n")
data = b""
while True:
    chunk = sock.recv(4096)
    if not chunk:
        break
    data += chunk
sock.close()
assert b"200 OK" in data and b"served-by-box" in data, data
assert pf.error(8080) is None, pf.error(8080)
print("portforward-ok", flush=True)
print("PYTHON-STREAMS-OK", flush=True)
"#;

fn python_streams(c: &Cluster) {
    let importable = Command::new("python3")
        .args(["-c", "import kubernetes.stream"])
        .status()
        .is_ok_and(|s| s.success());
    if !importable {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI: the kubernetes Python client is required"
        );
        eprintln!("SKIPPED the Python client part: `import kubernetes` fails");
        return;
    }
    let script = c.dir.path().join("streams.py");
    std::fs::write(&script, PY).unwrap();
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(&c.kubeconfig)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (out, err) = (
        reader(child.stdout.take().unwrap()),
        reader(child.stderr.take().unwrap()),
    );
    let _child = KillOnDrop(child);
    let mut o = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !String::from_utf8_lossy(&o).contains("PYTHON-STREAMS-OK") {
        match out.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(chunk) => o.extend_from_slice(&chunk),
            Err(_) => {
                let e: Vec<u8> = err.try_iter().flatten().collect();
                panic!(
                    "the Python streams script failed:\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- server log ---\n{}",
                    String::from_utf8_lossy(&o),
                    String::from_utf8_lossy(&e),
                    tail(&c.log(), 3000)
                );
            }
        }
    }
}
