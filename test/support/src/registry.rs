//! A real OCI registry (Debian's docker-registry) for tests, on a free loopback port with its
//! storage in a temp dir, holding the test image `library/busybox:1.36` (hack/test-image.sh).
//! Point a node or an image service at it with `registries_yaml()` (a k3s registries.yaml
//! mirroring docker.io), so `busybox:1.36` resolves to it. The registry is killed on drop.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Mutex,
    time::{Duration, Instant},
};

pub struct Registry {
    addr: String,
    dir: tempfile::TempDir,
    child: Child,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The test image as an OCI archive, built once per test process (hack/test-image.sh pushes it
/// to the first registry and writes this file; later registries get a copy of it).
static ARCHIVE: Mutex<Option<PathBuf>> = Mutex::new(None);

impl Registry {
    /// Starts a registry and pushes busybox:1.36 into it (`library/busybox`).
    pub fn start() -> Self {
        let mut failures = Vec::new();
        // A port can be taken between choosing and binding it: then try another.
        for _ in 0..3 {
            match Self::try_start() {
                Ok(reg) => {
                    reg.push_test_image();
                    return reg;
                }
                Err(e) => failures.push(e),
            }
        }
        panic!("registry did not start: {failures:?}");
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// A k3s registries.yaml mirroring docker.io to this registry over plain HTTP.
    pub fn registries_yaml(&self) -> String {
        format!(
            "mirrors:\n  docker.io:\n    endpoint:\n      - \"http://{}\"\n",
            self.addr
        )
    }

    /// The test image as an OCI archive (named docker.io/library/busybox:1.36), for import tests.
    pub fn archive(&self) -> PathBuf {
        archive_lock().clone().expect("set by start()")
    }

    /// The registry's log (access log included).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Successful GETs of `path` in the registry's access log.
    pub fn gets(&self, path: &str) -> usize {
        let needle = format!("\"GET {path} HTTP/1.1\" 200");
        self.log().lines().filter(|l| l.contains(&needle)).count()
    }

    /// Builds and pushes the test image as library/busybox:TAG (hack/test-image.sh); also
    /// writes it as an OCI archive at `archive` when given.
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

    fn push_test_image(&self) {
        let mut cached = archive_lock();
        if let Some(archive) = cached.clone() {
            drop(cached);
            let out = Command::new("skopeo")
                .args(["copy", "--quiet", "--dest-tls-verify=false"])
                .arg(format!("oci-archive:{}", archive.display()))
                .arg(format!("docker://{}/library/busybox:1.36", self.addr))
                .output()
                .expect("skopeo (apt: skopeo) must be installed");
            assert!(
                out.status.success(),
                "skopeo copy failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        // One fixed file under target/, replaced by rename: a bounded cache, no temp dir leak.
        let dir = cache_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let tmp = dir.join(format!("busybox-1.36-oci.tar.{}", std::process::id()));
        self.push("1.36", Some(&tmp));
        let archive = dir.join("busybox-1.36-oci.tar");
        std::fs::rename(&tmp, &archive).unwrap();
        *cached = Some(archive);
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
        let child = spawn_docker_registry(&config, &dir.path().join("registry.log"));
        let mut reg = Registry { addr, dir, child };
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
}

/// `<target>/tmp` (what cargo gives integration tests as CARGO_TARGET_TMPDIR), found from the
/// test binary at `<target>/<profile>/deps/NAME`; the system temp dir elsewhere.
fn cache_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.join("tmp")))
        .unwrap_or_else(std::env::temp_dir)
}

fn archive_lock() -> std::sync::MutexGuard<'static, Option<PathBuf>> {
    // A test that panicked while building leaves None behind: the next one builds again.
    ARCHIVE.lock().unwrap_or_else(|e| e.into_inner())
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts Debian's `docker-registry serve CONFIG` with its output in `log` (the environment's
/// REGISTRY_HTTP_ADDR removed so the config's address wins).
pub fn spawn_docker_registry(config: &Path, log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    Command::new("/usr/bin/docker-registry")
        .arg("serve")
        .arg(config)
        .env_remove("REGISTRY_HTTP_ADDR")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("docker-registry (apt: docker-registry) must be installed")
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
    String::from_utf8_lossy(&buf[..n])
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
