//! The server under test, shared by the benchmarks that start their own `rkube server`
//! (api-bench, write-bench): start, wait for readiness, read its memory and CPU from /proc,
//! wait for it to settle, stop it.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use kube::{
    config::{KubeConfigOptions, Kubeconfig},
    Client, Config,
};

/// `sysconf(_SC_CLK_TCK)`: the unit of /proc/<pid>/stat's CPU times (100 on Linux).
const CLOCK_TICKS: f64 = 100.0;
/// The server counts as settled below this CPU use (cores) ...
pub const QUIET_CORES: f64 = 0.05;
/// ... sustained this long.
pub const QUIET_FOR: Duration = Duration::from_secs(1);

/// A release `rkube server --disable-agent` in a directory of its own, on a free loopback port;
/// stopped (SIGTERM, then SIGKILL) on drop.
pub struct Server {
    pub child: Child,
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
}

impl Server {
    pub fn start(bin: &Path, dir: &Path) -> Result<Self> {
        Self::start_with(bin, dir, &[])
    }

    /// As `start`, with more `rkube server` arguments (e.g. `--datastore-endpoint URL`).
    pub fn start_with(bin: &Path, dir: &Path, extra: &[String]) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let kubeconfig = dir.join("kubeconfig.yaml");
        let log = std::fs::File::create(dir.join("server.log"))?;
        let child = Command::new(bin)
            .arg("server")
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(["--bind-address", "127.0.0.1"])
            .args(["--https-listen-port", &port.to_string()])
            .arg("--write-kubeconfig")
            .arg(&kubeconfig)
            .args(["--disable-agent", "--log-format", "json"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        Ok(Self {
            child,
            dir: dir.to_path_buf(),
            kubeconfig,
        })
    }

    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Waits until the kubeconfig is written and /readyz answers; the client and its config.
    pub async fn ready(&mut self) -> Result<(Client, Config)> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last_err = String::new();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("rkube server exited ({status}):\n{}", self.log_tail());
            }
            if self.kubeconfig.exists() {
                match connect(&self.kubeconfig).await {
                    Ok(c) => return Ok(c),
                    Err(e) => last_err = format!("{e:#}"),
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "rkube server not ready in 60s ({last_err}):\n{}",
                    self.log_tail()
                );
            }
            // Paces the poll; readiness is what is waited for.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A field of /proc/<pid>/status in KiB (VmRSS, VmHWM).
    pub fn proc_kib(&self, field: &str) -> Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {field} in /proc/{}/status", self.child.id()))
    }

    pub fn rss_mib(&self) -> Result<f64> {
        Ok(self.proc_kib("VmRSS")? / 1024.0)
    }

    /// CPU seconds (user + system) the server has used so far.
    pub fn cpu_secs(&self) -> Result<f64> {
        cpu_secs(&self.child.id().to_string())
    }

    /// Waits until the server's own work (controllers and scheduler reacting to what the
    /// bench wrote) has settled: its CPU use stays under [`QUIET_CORES`] for
    /// [`QUIET_FOR`]. Returns the wait, or `None` when it did not settle by `deadline`.
    pub async fn quiesce(&self, deadline: Duration) -> Result<Option<Duration>> {
        let start = Instant::now();
        let mut quiet_since: Option<Instant> = None;
        let (mut last_t, mut last_cpu) = (Instant::now(), self.cpu_secs()?);
        loop {
            // Paces the sampling of /proc; the CPU use read there is what is waited for.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let (t, cpu) = (Instant::now(), self.cpu_secs()?);
            let cores = (cpu - last_cpu) / (t - last_t).as_secs_f64();
            (last_t, last_cpu) = (t, cpu);
            if cores < QUIET_CORES {
                let since = *quiet_since.get_or_insert(t);
                if t - since >= QUIET_FOR {
                    return Ok(Some(start.elapsed()));
                }
            } else {
                quiet_since = None;
            }
            if start.elapsed() > deadline {
                return Ok(None);
            }
        }
    }

    /// SIGTERM, then SIGKILL if it has not stopped within 10s.
    pub fn stop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                eprintln!("rkube server ignored SIGTERM for 10s; killing it");
                let _ = self.child.kill();
                let _ = self.child.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// CPU seconds (user + system) process `pid` ("self" for this one) has used so far, from
/// /proc/<pid>/stat.
pub fn cpu_secs(pid: &str) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesized command name (which may hold spaces): utime and stime
    // are the 14th and 15th fields of the line, the 12th and 13th after it.
    let rest = stat.rsplit_once(')').context("malformed stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>()? + f[12].parse::<f64>()?;
    Ok(ticks / CLOCK_TICKS)
}

/// A client from the server's kubeconfig, once /readyz answers; long phases' requests may
/// take a while under load, hence the 120 s read timeout.
pub async fn connect(kubeconfig: &Path) -> Result<(Client, Config)> {
    let kc = Kubeconfig::read_from(kubeconfig)?;
    let mut config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?;
    config.read_timeout = Some(Duration::from_secs(120));
    let client = Client::try_from(config.clone())?;
    let req = hyper::Request::get("/readyz").body(Vec::new())?;
    client.request_text(req).await?;
    Ok((client, config))
}

/// The server binary: `given`, else the workspace's release build; an error saying how to
/// build it when it is missing.
pub fn binary(given: Option<&Path>) -> Result<PathBuf> {
    let bin = match given {
        Some(b) => b.to_path_buf(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/rkube"),
    };
    anyhow::ensure!(
        bin.exists(),
        "{} is missing: cargo build --release -p rkube",
        bin.display()
    );
    Ok(bin)
}
