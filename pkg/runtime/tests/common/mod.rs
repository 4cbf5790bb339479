//! A real runtime over a busybox rootfs in a temp dir, cleaned up even when a test fails.
#![allow(dead_code)]

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use rkube_runtime::{
    ContainerSpec, LogOptions, Resources, Runtime, RuntimeConfig, Sandbox, SandboxSpec, Security,
};

pub struct Fixture {
    pub rt: Runtime,
    pub dir: tempfile::TempDir,
    pub layer: PathBuf,
    pub cgroup_parent: String,
    cfg: RuntimeConfig,
    pub sandboxes: Vec<String>,
}

/// A rootfs layer: /bin/busybox, its applets as symlinks, /etc/passwd and /etc/group.
fn busybox_layer(dir: &Path) -> PathBuf {
    let layer = dir.join("layer");
    for d in ["bin", "etc", "tmp", "proc", "sys", "dev", "root"] {
        std::fs::create_dir_all(layer.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", layer.join("bin/busybox")).unwrap();
    let list = std::process::Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .unwrap();
    for applet in String::from_utf8(list.stdout).unwrap().lines() {
        if applet != "busybox" {
            std::os::unix::fs::symlink("busybox", layer.join("bin").join(applet)).unwrap();
        }
    }
    std::fs::write(
        layer.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(layer.join("etc/group"), "root:x:0:\nnobody:x:65534:\n").unwrap();
    layer
}

impl Fixture {
    pub fn new(name: &str) -> Self {
        let dir = tempfile::Builder::new().prefix("rkrt").tempdir().unwrap();
        let layer = busybox_layer(dir.path());
        let cgroup_parent = format!("/rkube-test-{}-{name}", std::process::id());
        let cfg = RuntimeConfig {
            root: dir.path().join("root"),
            helper_exe: PathBuf::from(env!("CARGO_BIN_EXE_rkube-runtime-helper")),
            cgroup_parent: cgroup_parent.clone(),
        };
        let rt = Runtime::new(cfg.clone()).unwrap();
        Self {
            cfg,
            rt,
            dir,
            layer,
            cgroup_parent,
            sandboxes: Vec::new(),
        }
    }

    pub async fn sandbox(&mut self, id: &str, hostname: &str) -> Sandbox {
        self.sandboxes.push(id.to_string());
        self.rt
            .create_sandbox(&SandboxSpec {
                id: id.into(),
                hostname: hostname.into(),
                host_network: false,
                hosts_file: "127.0.0.1 localhost\n::1 localhost\n".into(),
                resolv_conf: "nameserver 10.0.0.10\n".into(),
            })
            .await
            .unwrap()
    }

    pub fn spec(&self, id: &str, sandbox: &Sandbox, args: &[&str]) -> ContainerSpec {
        ContainerSpec {
            id: id.into(),
            sandbox: sandbox.clone(),
            layers: vec![self.layer.clone()],
            args: args.iter().map(|s| s.to_string()).collect(),
            env: vec!["PATH=/bin".into(), "HOME=/root".into()],
            cwd: "/".into(),
            uid: 0,
            gid: 0,
            additional_gids: vec![],
            mounts: vec![],
            resources: Resources::default(),
            security: Security::default(),
            log_path: self.dir.path().join("logs").join(format!("{id}.log")),
            log_max_size: 10 << 20,
            log_max_files: 3,
            tty: false,
            stdin: false,
            stdin_once: false,
        }
    }

    pub fn log(&self, id: &str) -> String {
        std::fs::read_to_string(self.dir.path().join("logs").join(format!("{id}.log")))
            .unwrap_or_default()
    }

    pub async fn logs(&self, id: &str) -> String {
        self.logs_with(
            id,
            LogOptions {
                stdout: true,
                stderr: true,
                ..Default::default()
            },
        )
        .await
    }

    pub async fn logs_with(&self, id: &str, opts: LogOptions) -> String {
        use futures_util::StreamExt;
        let path = self.dir.path().join("logs").join(format!("{id}.log"));
        let mut out = Vec::new();
        let mut s = Box::pin(rkube_runtime::read_logs(&path, opts));
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c.unwrap());
        }
        String::from_utf8(out).unwrap()
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
}

/// Mount points under `dir` in this process' mount table.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = dir.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|mp| mp.starts_with(&prefix))
        .map(str::to_string)
        .collect()
}

/// cgroup directories named `path` in any hierarchy.
pub fn cgroup_dirs(path: &str) -> Vec<PathBuf> {
    let rel = path.trim_start_matches('/');
    let mut out = Vec::new();
    for e in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let p = e.path().join(rel);
        if e.file_type().unwrap().is_dir() && p.is_dir() {
            out.push(p);
        }
    }
    out
}

/// Polls `f` until it returns Some, failing after `secs`.
pub async fn eventually<T>(secs: u64, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "condition not met within {secs}s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Drop for Fixture {
    /// Kills and removes every container and sandbox, then the cgroup parent — from a thread
    /// with its own tokio runtime (Drop may run inside the test's) and a fresh Runtime that
    /// re-adopts what is left, as a restarted agent would.
    fn drop(&mut self) {
        let root = self.root();
        let sandboxes = std::mem::take(&mut self.sandboxes);
        let parent = self.cgroup_parent.clone();
        let cfg = self.cfg.clone();
        std::thread::spawn(move || {
            let rt = Runtime::new(cfg).unwrap();
            let tokio = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            tokio.block_on(async {
                if let Ok(list) = rt.list().await {
                    for c in list {
                        let _ = rt.kill(&c.id, 9).await;
                        if let Err(e) = rt.remove_container(&c.id).await {
                            eprintln!("cleanup {}: {e}", c.id);
                        }
                    }
                }
                for s in sandboxes {
                    let _ = rt.remove_sandbox(&s).await;
                }
            });
            for d in cgroup_dirs(&parent) {
                let _ = std::fs::remove_dir(d);
            }
            // Anything still mounted would make the temp dir removal fail.
            for mp in mounts_under(&root) {
                let _ = nix::mount::umount2(mp.as_str(), nix::mount::MntFlags::MNT_DETACH);
            }
        })
        .join()
        .unwrap();
    }
}
