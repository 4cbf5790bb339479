//! kubectl logs / exec / port-forward through the API server to a kubelet, with real kubectl
//! (1.27: SPDY; 1.33: WebSocket, and the SPDY-in-WebSocket tunnel for port-forward).
//!
//! The kubelet here is the real kubelet API server (rkube_kubelet::server::KubeletServer) run by
//! the test with a fixed pod table and the real runtime, behind a real `rkube server` (agent
//! disabled): a Node object points the API server at it (InternalIP 127.0.0.1, its port), and
//! its one pod is a hostNetwork sandbox, so port-forward reaches a busybox httpd on this host.
//! Containers proper (exec into a running process, kubectl cp) need the in-process agent.

mod common;

use std::{
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{mpsc, Arc},
    time::{Duration, Instant},
};

use common::{eventually, free_port, kubectl_path, Cluster, KillOnDrop, KUBECTL_VERSIONS};
use rkube_kubelet::server::{ContainerRef, KubeletServer, Lookup, PodLookup, StreamingConfig};

const NODE: &str = "stream-node";

/// The kubelet's view: pod `web` (container `c`) in `default`, running, logging to `log`.
struct Pods {
    log: PathBuf,
}

impl PodLookup for Pods {
    fn lookup(&self, namespace: &str, pod: &str, container: Option<&str>) -> Lookup {
        if (namespace, pod) != ("default", "web") {
            return Lookup::PodNotFound;
        }
        if container.is_some_and(|c| c != "c") {
            return Lookup::ContainerNotFound {
                valid: vec!["c".into()],
            };
        }
        Lookup::Found(ContainerRef {
            container_id: Some("web-c-0".into()),
            sandbox: Some(rkube_runtime::Sandbox {
                id: "uid-web".into(),
                netns: None,
                ipc_ns: "/proc/self/ns/ipc".into(),
                uts_ns: None,
                hosts_file: "/etc/hosts".into(),
                resolv_conf: "/etc/resolv.conf".into(),
            }),
            log_path: Some(self.log.clone()),
            previous_log_path: None,
            running: true,
        })
    }
}

/// A kubelet API on 127.0.0.1 with a serving certificate from the cluster's CA.
struct Kubelet {
    port: u16,
    log: PathBuf,
    _rt: tokio::runtime::Runtime,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn start_kubelet(c: &Cluster) -> Kubelet {
    // Issue from a copy of the TLS directory: the CA is reused, the server's files stay as they are.
    let tls = c.dir.path().join("kubelet-tls");
    std::fs::create_dir_all(&tls).unwrap();
    let server_tls = c.dir.path().join("data/server/tls");
    for f in [rkube_pki::CA_CERT_FILE, rkube_pki::CA_KEY_FILE] {
        std::fs::copy(server_tls.join(f), tls.join(f)).unwrap();
    }
    let sans = rkube_pki::ServingSans {
        hostname: NODE.into(),
        ips: vec!["127.0.0.1".parse().unwrap()],
        dns: vec![],
        extra: vec![],
    };
    let pki = rkube_pki::ClusterPki::load_or_create(&tls, &sans).unwrap();
    let (cert, key) = pki
        .issue_serving_cert(NODE, &[rkube_pki::San::parse("127.0.0.1").unwrap()])
        .unwrap();
    let log = c.dir.path().join("web-c.log");
    write_log(&log, &["hello", "world"]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let runtime = rkube_runtime::Runtime::new(rkube_runtime::RuntimeConfig {
        root: c.dir.path().join("containers"),
        helper_exe: common::rkube_bin(),
        cgroup_parent: "/rkube-e2e-streaming".into(),
    })
    .unwrap();
    let cfg = StreamingConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        serving_cert_pem: cert,
        serving_key_pem: key,
        client_ca_pem: pki.ca_cert_pem().to_string(),
        idle_timeout: Duration::from_secs(3600),
    };
    let pods = Arc::new(Pods { log: log.clone() });
    let server = rt
        .block_on(KubeletServer::bind(cfg, runtime, pods))
        .unwrap();
    let port = server.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    rt.spawn(server.serve(async {
        let _ = stopped.await;
    }));
    Kubelet {
        port,
        log,
        _rt: rt,
        _stop: stop,
    }
}

/// Appends CRI-format lines (stdout, full).
fn write_log(path: &Path, lines: &[&str]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for l in lines {
        writeln!(f, "2024-01-01T00:00:00.000000000Z stdout F {l}").unwrap();
    }
}

/// The Node pointing at `port`, and pod `web` bound to it with a running container `c`.
fn register(c: &Cluster, kubelet_port: u16) {
    let v = "1.33";
    c.apply_stdin(
        v,
        &["apply", "-f", "-"],
        &format!(r#"{{"apiVersion":"v1","kind":"Node","metadata":{{"name":"{NODE}"}}}}"#),
    );
    let status = format!(
        r#"{{"status":{{"addresses":[{{"type":"InternalIP","address":"127.0.0.1"}}],
            "daemonEndpoints":{{"kubeletEndpoint":{{"Port":{kubelet_port}}}}}}}}}"#
    );
    c.kubectl(
        v,
        &[
            "patch",
            "node",
            NODE,
            "--subresource=status",
            "--type=merge",
            "-p",
            &status,
        ],
    );
    c.apply_stdin(
        v,
        &["apply", "-f", "-"],
        &format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"web","namespace":"default"}},
            "spec":{{"nodeName":"{NODE}","containers":[{{"name":"c","image":"busybox:1.36"}}]}}}}"#
        ),
    );
    let running = r#"{"status":{"phase":"Running","containerStatuses":[{"name":"c","ready":true,
        "restartCount":0,"image":"busybox:1.36","imageID":"","started":true,
        "state":{"running":{"startedAt":"2024-01-01T00:00:00Z"}}}]}}"#;
    c.kubectl(
        v,
        &[
            "patch",
            "pod",
            "web",
            "--subresource=status",
            "--type=merge",
            "-p",
            running,
        ],
    );
}

#[test]
fn logs_exec_and_port_forward_through_the_api_server() {
    let c = Cluster::start();
    let k = start_kubelet(&c);
    register(&c, k.port);

    for v in KUBECTL_VERSIONS {
        assert_eq!(c.kubectl(v, &["logs", "web"]), "hello\nworld\n", "{v}");
        assert_eq!(
            c.kubectl(v, &["logs", "web", "--tail=1", "--timestamps"]),
            "2024-01-01T00:00:00Z world\n",
            "{v}"
        );
        let err = c.kubectl_err(v, &["logs", "web", "-c", "nope"]);
        assert!(
            err.contains("container nope is not valid for pod web"),
            "{v}: {err}"
        );
    }

    // logs -f: lines written later arrive while the request is open.
    for v in KUBECTL_VERSIONS {
        let (_follow, rx) = follow_logs(&c, v, "web");
        let next = || rx.recv_timeout(Duration::from_secs(20)).unwrap();
        assert_eq!(next(), "hello");
        assert_eq!(next(), "world");
        let marker = format!("followed-{v}");
        write_log(&k.log, &[&marker]);
        // Lines of earlier iterations are in the file too; the new one must come.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            assert!(Instant::now() < deadline, "{v}: {marker} never arrived");
            if next() == marker {
                break;
            }
        }
    }

    // exec reaches the kubelet and the runtime; there is no container "web-c-0" behind this
    // kubelet, so the runtime's error comes back and kubectl fails with it.
    for v in KUBECTL_VERSIONS {
        let out = c.kubectl_raw(v, &["exec", "web", "--", "true"]);
        assert!(!out.status.success(), "{v}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("web-c-0"), "{v}: {err}");
    }

    // attach reaches the runtime the same way: its error (no container "web-c-0") reaches kubectl.
    for v in KUBECTL_VERSIONS {
        let err = c.kubectl_err(v, &["attach", "web"]);
        assert!(err.contains("web-c-0"), "{v}: {err}");
    }

    // port-forward to a busybox httpd on this host (the pod's network is the host's): 20
    // requests in parallel, each answered.
    let www = c.dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "served by busybox\n").unwrap();
    let httpd_port = free_port();
    let _httpd = KillOnDrop(
        Command::new("busybox")
            .args([
                "httpd",
                "-f",
                "-p",
                &format!("127.0.0.1:{httpd_port}"),
                "-h",
            ])
            .arg(&www)
            .spawn()
            .unwrap(),
    );
    eventually(10, "busybox httpd", || {
        std::net::TcpStream::connect(("127.0.0.1", httpd_port)).ok()
    });
    for v in KUBECTL_VERSIONS {
        let (mut pf, local) = port_forward(&c, v, "pod/web", httpd_port);
        let mut failures = Vec::new();
        for out in parallel_gets(local, 20) {
            if out.stdout != b"served by busybox\n" {
                failures.push(String::from_utf8_lossy(&out.stderr).into_owned());
            }
        }
        if !failures.is_empty() {
            let _ = pf.0.kill();
            let mut pf_err = String::new();
            let _ = std::io::Read::read_to_string(&mut pf.0.stderr.take().unwrap(), &mut pf_err);
            panic!(
                "{v}: {} of 20 requests failed: {failures:?}\nkubectl port-forward: {pf_err}\n{}",
                failures.len(),
                common::tail(&c.log(), 2000)
            );
        }
    }

    // kubectl 1.33 used WebSockets (GET upgrades: exec v5, the port-forward tunnel), 1.27 SPDY
    // (POST upgrades); both were switched (101) by the kubelet and spliced.
    let log = c.log();
    for (method, sub) in [
        ("GET", "exec"),
        ("POST", "exec"),
        ("GET", "portforward"),
        ("POST", "portforward"),
    ] {
        let path = format!("/api/v1/namespaces/default/pods/web/{sub}");
        assert!(
            log.lines().any(|l| l.contains("\"code\":101")
                && l.contains(&format!("\"method\":\"{method}\",\"path\":\"{path}\""))),
            "no switched {method} {path}"
        );
    }
}

#[test]
fn connect_errors_in_upstream_words() {
    let c = Cluster::start_with(&["--sim-nodes", "1"]);
    let v = "1.33";
    // Discovery lists the connect subresources as upstream; api-resources is unchanged.
    let core = c.kubectl(v, &["get", "--raw", "/api/v1"]);
    for sub in [
        "pods/attach",
        "pods/exec",
        "pods/log",
        "pods/portforward",
        "nodes/proxy",
    ] {
        assert!(core.contains(&format!("\"name\":\"{sub}\"")), "{sub}");
    }
    let resources = c.kubectl(v, &["api-resources", "--api-group=", "-o", "name"]);
    assert!(resources.lines().any(|l| l == "pods"));
    assert!(!resources.contains('/'), "{resources}");

    c.apply_stdin(
        v,
        &["apply", "-f", "-"],
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"two","namespace":"default"},
        "spec":{"nodeSelector":{"nowhere":"true"},"containers":[{"name":"a","image":"busybox:1.36"},{"name":"b","image":"busybox:1.36"}]}}"#,
    );
    let out = c.kubectl_raw(
        v,
        &["get", "--raw", "/api/v1/namespaces/default/pods/two/log"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a container name must be specified for pod two, choose one of: [a b]"),
        "{err}"
    );
    // Not scheduled: logs are empty, exec and port-forward are refused.
    assert_eq!(c.kubectl(v, &["logs", "two", "-c", "a"]), "");
    for version in KUBECTL_VERSIONS {
        let err = c.kubectl_err(version, &["exec", "two", "-c", "a", "--", "true"]);
        assert!(
            err.contains("pod two does not have a host assigned"),
            "{version}: {err}"
        );
    }

    // A node whose kubelet does not answer: a prompt error, not a hang.
    let dead = free_port();
    c.apply_stdin(
        v,
        &["apply", "-f", "-"],
        r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"dead"}}"#,
    );
    let status = format!(
        r#"{{"status":{{"addresses":[{{"type":"InternalIP","address":"127.0.0.1"}}],"daemonEndpoints":{{"kubeletEndpoint":{{"Port":{dead}}}}}}}}}"#
    );
    c.kubectl(
        v,
        &[
            "patch",
            "node",
            "dead",
            "--subresource=status",
            "--type=merge",
            "-p",
            &status,
        ],
    );
    c.apply_stdin(
        v,
        &["apply", "-f", "-"],
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"orphan","namespace":"default"},
        "spec":{"nodeName":"dead","containers":[{"name":"c","image":"busybox:1.36"}]}}"#,
    );
    c.kubectl(
        v,
        &["patch", "pod", "orphan", "--subresource=status", "--type=merge", "-p",
          r#"{"status":{"phase":"Running","containerStatuses":[{"name":"c","ready":true,"restartCount":0,"image":"busybox:1.36","imageID":"","state":{"running":{"startedAt":"2024-01-01T00:00:00Z"}}}]}}"#],
    );
    let started = Instant::now();
    let err = c.kubectl_err(v, &["logs", "orphan"]);
    assert!(err.contains("connect: connection refused"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let err = c.kubectl_err(v, &["get", "--raw", "/api/v1/nodes/dead/proxy/healthz"]);
    assert!(err.contains("error dialing backend"), "{err}");

    // A simulated node has no kubelet (its InternalIP leads nowhere): a bounded error too.
    c.apply_stdin(
        v,
        &["apply", "-f", "-"],
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"simmed","namespace":"default"},
        "spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}}"#,
    );
    eventually(60, "the simulated pod to run", || {
        let out = c.kubectl_raw(
            v,
            &["get", "pod", "simmed", "-o", "jsonpath={.status.phase}"],
        );
        (out.stdout == b"Running").then_some(())
    });
    let started = Instant::now();
    let err = c.kubectl_err(v, &["logs", "simmed"]);
    // (Whatever answers at that address on this machine, if anything, is not this cluster's.)
    assert!(
        err.contains("Get \"https://10.41.0.1:10250/containerLogs/default/simmed/c"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

/// Lines of `kubectl logs -f` as they arrive (the child is killed on drop).
fn follow_logs(c: &Cluster, v: &str, pod: &str) -> (KillOnDrop, mpsc::Receiver<String>) {
    let mut child = KillOnDrop(
        Command::new(kubectl_path(v))
            .env("KUBECONFIG", &c.kubeconfig)
            .args(["logs", "-f", pod])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (tx, rx) = mpsc::channel();
    let stdout = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (child, rx)
}

/// `n` GETs of /index.html through `127.0.0.1:local` at once (curl), their outputs.
fn parallel_gets(local: u16, n: usize) -> Vec<std::process::Output> {
    let curls: Vec<_> = (0..n)
        .map(|_| {
            Command::new("curl")
                .args(["-sS", "--max-time", "20"])
                .arg(format!("http://127.0.0.1:{local}/index.html"))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    curls
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

/// Starts `kubectl port-forward` to `target` and returns it with the local port it chose.
fn port_forward(c: &Cluster, v: &str, target: &str, port: u16) -> (KillOnDrop, u16) {
    let mut pf = KillOnDrop(
        Command::new(kubectl_path(v))
            .env("KUBECONFIG", &c.kubeconfig)
            .args(["port-forward", target, &format!(":{port}")])
            .stdout(Stdio::piped())
            // Read when requests fail; it holds little else.
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdout = BufReader::new(pf.0.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    // Keep reading: a closed pipe would kill kubectl at its next line.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    // "Forwarding from 127.0.0.1:41234 -> 8080"
    let local = first
        .split_whitespace()
        .nth(2)
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{v}: unexpected port-forward output {first:?}"));
    (pf, local)
}

fn md5(path: &Path) -> String {
    let out = Command::new("md5sum").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// The same through the in-process kubelet with a real busybox container.
#[test]
fn kubectl_streams_to_real_containers() {
    let registry = common::registry::Registry::start();
    let c = Cluster::start_with_agent(&registry, &[]);
    c.apply_stdin(
        "1.33",
        &["apply", "-f", "-"],
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"app","namespace":"default"},
        "spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"app","image":"busybox:1.36",
        "command":["sh","-c","mkdir -p /www && echo served-from-pod > /www/index.html && httpd -p 8080 -h /www && i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"]}]}}"#,
    );
    eventually(120, "pod app Running", || {
        let out = c.kubectl_raw(
            "1.33",
            &["get", "pod", "app", "-o", "jsonpath={.status.phase}"],
        );
        (out.stdout == b"Running").then_some(())
    });

    let payload = c.dir.path().join("payload.bin");
    let bytes: Vec<u8> = (0..1_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(&payload, &bytes).unwrap();
    let want_md5 = md5(&payload);

    // nodes/proxy reaches the node's kubelet API.
    let node = c.agent.clone().unwrap().node_name;
    assert_eq!(
        c.kubectl(
            "1.33",
            &[
                "get",
                "--raw",
                &format!("/api/v1/nodes/{node}/proxy/healthz")
            ]
        ),
        "ok"
    );

    for v in KUBECTL_VERSIONS {
        // logs -f: ticks keep arriving while the request is open.
        let (_follow, lines) = follow_logs(&c, v, "app");
        let tick = |rx: &mpsc::Receiver<String>| -> u64 {
            let l = rx.recv_timeout(Duration::from_secs(20)).unwrap();
            l.strip_prefix("tick ")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{v}: unexpected log line {l:?}"))
        };
        let first = tick(&lines);
        let mut last = first;
        while last < first + 5 {
            last = tick(&lines);
        }

        // exec -i: stdin reaches the process and its end is seen (v5 close / SPDY FIN).
        let out = c.kubectl_stdin(
            v,
            &["exec", "-i", "app", "--", "sh", "-c", "cat; echo done"],
            "hello stdin\n",
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "hello stdin\ndone\n",
            "{v}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{v}");

        // The command's exit code becomes kubectl's.
        let out = c.kubectl_raw(
            v,
            &[
                "exec",
                "app",
                "--",
                "sh",
                "-c",
                "echo out; echo err >&2; exit 3",
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(3),
            "{v}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, b"out\n", "{v}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("err"), "{v}");

        // kubectl cp both ways (tar over exec stdin/stdout), checksums equal.
        let remote = format!("app:/tmp/payload-{v}");
        let p = payload.display().to_string();
        c.kubectl(v, &["cp", &p, &remote]);
        let in_pod = c.kubectl(
            v,
            &["exec", "app", "--", "md5sum", &format!("/tmp/payload-{v}")],
        );
        assert_eq!(
            in_pod.split_whitespace().next(),
            Some(want_md5.as_str()),
            "{v}"
        );
        let back = c.dir.path().join(format!("back-{v}.bin"));
        c.kubectl(v, &["cp", &remote, &back.display().to_string()]);
        assert_eq!(md5(&back), want_md5, "{v}");

        // port-forward to the pod's httpd: 20 requests in parallel.
        let (_pf, local) = port_forward(&c, v, "pod/app", 8080);
        for out in parallel_gets(local, 20) {
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "served-from-pod\n",
                "{v}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
