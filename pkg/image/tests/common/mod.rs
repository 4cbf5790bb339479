//! A real docker-registry on a free loopback port for the image tests (what hack/registry.sh
//! does, in Rust so each test owns and cleans up its registry), with the test image pushed.
#![allow(dead_code)]

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub struct TestRegistry {
    pub addr: String,
    pub dir: tempfile::TempDir,
    child: Child,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl TestRegistry {
    /// Starts a registry and pushes busybox:1.36 into it (`library/busybox`).
    pub fn start() -> Self {
        let mut failures = Vec::new();
        // A port can be taken between choosing and binding it: then try another.
        for _ in 0..3 {
            match Self::try_start() {
                Ok(reg) => {
                    reg.push("1.36", None);
                    return reg;
                }
                Err(e) => failures.push(e),
            }
        }
        panic!("registry did not start: {failures:?}");
    }

    fn try_start() -> Result<Self, String> {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("/usr/bin/docker-registry")
            .arg("serve")
            .arg(&config)
            .env_remove("REGISTRY_HTTP_ADDR")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("docker-registry (apt: docker-registry) must be installed");
        let mut reg = TestRegistry { addr, dir, child };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if http_status(&reg.addr, "/v2/") == Some(200) {
                return Ok(reg);
            }
            if let Ok(Some(status)) = reg.child.try_wait() {
                return Err(format!("registry exited ({status}): {}", reg.log()));
            }
            if Instant::now() > deadline {
                return Err(format!("registry did not answer in 20s: {}", reg.log()));
            }
            // Paces the poll; the condition above is what is waited for.
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Pushes the test image as library/busybox:TAG; writes the OCI archive when asked.
    pub fn push(&self, tag: &str, archive: Option<&Path>) {
        let mut cmd = Command::new(repo_root().join("hack/test-image.sh"));
        cmd.arg(&self.addr).arg(tag);
        if let Some(a) = archive {
            cmd.arg(a);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "hack/test-image.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// registries.yaml mirroring docker.io to this registry.
    pub fn registries_yaml(&self) -> String {
        format!(
            "mirrors:\n  docker.io:\n    endpoint:\n      - \"http://{}\"\n",
            self.addr
        )
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Successful GETs of `path` in the registry's access log.
    pub fn gets(&self, path: &str) -> usize {
        let needle = format!("\"GET {path} HTTP/1.1\" 200");
        self.log().lines().filter(|l| l.contains(&needle)).count()
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status code of a plain HTTP GET, or None when nothing answers.
pub fn http_status(addr: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split_whitespace().nth(1)?.parse().ok()
}
