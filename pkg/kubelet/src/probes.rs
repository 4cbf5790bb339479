//! Startup, readiness and liveness probes: exec (runtime.exec), httpGet, tcpSocket and grpc
//! (runtime.dial into the pod's network namespace). Each probed container gets a task that reports results
//! to its pod worker, which applies the thresholds.

use std::time::Duration;

use k8s_openapi::{
    api::core::v1::{Container, Probe},
    apimachinery::pkg::util::intstr::IntOrString,
};
use rkube_runtime::{ExecSpec, Runtime, Sandbox};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::mpsc,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Startup,
    Readiness,
    Liveness,
}

#[derive(Debug)]
pub struct ProbeResult {
    pub container: String,
    pub instance: String,
    pub kind: Kind,
    pub ok: bool,
    pub message: String,
}

/// Runs `probe` every periodSeconds after initialDelaySeconds until the receiver is gone.
pub fn spawn(
    runtime: Runtime,
    sandbox: Sandbox,
    container: Container,
    instance: String,
    kind: Kind,
    probe: Probe,
    tx: mpsc::UnboundedSender<super::pods::worker::Msg>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let delay = probe.initial_delay_seconds.unwrap_or(0).max(0) as u64;
        let period = probe.period_seconds.unwrap_or(10).max(1) as u64;
        let timeout = probe.timeout_seconds.unwrap_or(1).max(1) as u64;
        tokio::time::sleep(Duration::from_secs(delay)).await;
        let mut tick = tokio::time::interval(Duration::from_secs(period));
        loop {
            tick.tick().await;
            let r = tokio::time::timeout(
                Duration::from_secs(timeout),
                run_once(&runtime, &sandbox, &container, &instance, &probe),
            )
            .await
            .unwrap_or_else(|_| Err(format!("timeout: probe did not finish in {timeout}s")));
            let (ok, message) = match r {
                Ok(()) => (true, String::new()),
                Err(m) => (false, m),
            };
            let res = ProbeResult {
                container: container.name.clone(),
                instance: instance.clone(),
                kind,
                ok,
                message,
            };
            if tx.send(super::pods::worker::Msg::Probe(res)).is_err() {
                return;
            }
            // A startup probe is done once it succeeded (its successThreshold is always 1).
            if kind == Kind::Startup && ok {
                return;
            }
        }
    })
}

pub async fn run_once(
    runtime: &Runtime,
    sandbox: &Sandbox,
    c: &Container,
    instance: &str,
    probe: &Probe,
) -> Result<(), String> {
    if let Some(e) = &probe.exec {
        let mut p = runtime
            .exec(
                instance,
                ExecSpec {
                    args: e.command.clone().unwrap_or_default(),
                    env: vec![],
                    tty: false,
                    stdin: false,
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        if let Some(mut s) = p.stdout.take() {
            let _ = s.read_to_end(&mut out).await;
        }
        if let Some(mut s) = p.stderr.take() {
            let _ = s.read_to_end(&mut out).await;
        }
        let exit = p
            .exit
            .await
            .map_err(|_| "exec ended without a status".to_string())?;
        return if exit.exit_code == 0 {
            Ok(())
        } else {
            Err(format!(
                "command {:?} exited with {}: {}",
                e.command.clone().unwrap_or_default(),
                exit.exit_code,
                String::from_utf8_lossy(&out).trim()
            ))
        };
    }
    if let Some(h) = &probe.http_get {
        let port = port(c, &h.port)?;
        let mut conn = runtime.dial(sandbox, port).await.map_err(|e| {
            format!(
                "Get \"http://localhost:{port}{}\": {e}",
                h.path.as_deref().unwrap_or("/")
            )
        })?;
        let path = h
            .path
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into());
        let mut req = format!(
            "GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\nUser-Agent: kube-probe/1.33\r\nAccept: */*\r\nConnection: close\r\n"
        );
        for hd in h.http_headers.iter().flatten() {
            req.push_str(&format!("{}: {}\r\n", hd.name, hd.value));
        }
        req.push_str("\r\n");
        conn.write_all(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 1024];
        let mut got = 0;
        while got < 12 {
            let n = conn
                .read(&mut buf[got..])
                .await
                .map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            got += n;
        }
        let head = String::from_utf8_lossy(&buf[..got]);
        let code: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| {
                format!(
                    "malformed HTTP response {:?}",
                    head.lines().next().unwrap_or_default()
                )
            })?;
        return if (200..400).contains(&code) {
            Ok(())
        } else {
            Err(format!("HTTP probe failed with statuscode: {code}"))
        };
    }
    if let Some(g) = &probe.grpc {
        let port = u16::try_from(g.port).map_err(|_| format!("invalid port {}", g.port))?;
        let conn = runtime
            .dial(sandbox, port)
            .await
            .map_err(|e| format!("failed to connect service \":{port}\" within 1s: {e}"))?;
        return crate::grpc_probe::check(
            conn,
            &format!("localhost:{port}"),
            g.service.as_deref().unwrap_or_default(),
        )
        .await;
    }
    if let Some(t) = &probe.tcp_socket {
        let port = port(c, &t.port)?;
        runtime
            .dial(sandbox, port)
            .await
            .map_err(|e| format!("dial tcp :{port}: {e}"))?;
        return Ok(());
    }
    Ok(())
}

/// A probe's port by number or by the container's port name.
pub fn port(c: &Container, p: &IntOrString) -> Result<u16, String> {
    match p {
        IntOrString::Int(n) => u16::try_from(*n).map_err(|_| format!("invalid port {n}")),
        IntOrString::String(name) => c
            .ports
            .iter()
            .flatten()
            .find(|cp| cp.name.as_deref() == Some(name))
            .and_then(|cp| u16::try_from(cp.container_port).ok())
            .or_else(|| name.parse().ok())
            .ok_or_else(|| format!("couldn't find port {name:?} in the container's ports")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_ports() {
        let c: Container = serde_json::from_value(serde_json::json!({
            "name": "c", "ports": [{"name": "http", "containerPort": 8080}]}))
        .unwrap();
        assert_eq!(port(&c, &IntOrString::String("http".into())), Ok(8080));
        assert_eq!(port(&c, &IntOrString::Int(80)), Ok(80));
        assert!(port(&c, &IntOrString::String("x".into())).is_err());
    }
}
