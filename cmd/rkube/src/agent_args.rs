//! `rkube agent` flags (k3s' names; `RKUBE_URL` and `RKUBE_TOKEN` like `K3S_URL`/`K3S_TOKEN`):
//! join another machine's cluster with its token and run this node's kubelet.

use std::{net::IpAddr, path::PathBuf};

use rkube_kubelet::agent::AgentRunConfig;

use crate::{image_gc_args::ImageGcArgs, logging::LogFormat};

const DEFAULT_DATA_DIR: &str = "/var/lib/rkube";

#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// The server to join: https://HOST:PORT.
    #[arg(long, short = 's', env = "RKUBE_URL", value_name = "URL")]
    server: String,

    /// The server's join token (`<server data-dir>/server/token`).
    #[arg(
        long,
        short = 't',
        env = "RKUBE_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,

    /// A file holding the join token.
    #[arg(long, env = "RKUBE_TOKEN_FILE", value_name = "FILE")]
    token_file: Option<PathBuf>,

    /// Folder for the node's credentials, images, containers and state.
    #[arg(long, short = 'd', value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,

    /// This node's name (default: the hostname, lowercased).
    #[arg(long, value_name = "NAME")]
    node_name: Option<String>,

    /// The node's InternalIP, where the kubelet API listens (default: a host address).
    #[arg(long, value_name = "IP")]
    node_ip: Option<IpAddr>,

    /// k3s registries.yaml: registry mirrors and credentials for image pulls.
    #[arg(long, value_name = "FILE")]
    private_registry: Option<PathBuf>,

    /// Port of the kubelet API (logs, exec, port-forward).
    #[arg(long, value_name = "PORT", default_value_t = 10250)]
    kubelet_port: u16,

    /// Name of the pod bridge.
    #[arg(long, value_name = "NAME", default_value = "rkube0")]
    pod_bridge: String,

    /// Log format; default: text on a terminal, json otherwise.
    #[arg(long, value_enum, value_name = "FORMAT")]
    log_format: Option<LogFormat>,

    #[command(flatten)]
    image_gc: ImageGcArgs,
}

impl AgentArgs {
    /// Validates everything before anything connects or writes.
    pub fn resolve(self) -> Result<(AgentRunConfig, LogFormat), String> {
        if !self.server.starts_with("https://") {
            return Err(format!(
                "server: {:?} must be https://HOST:PORT",
                self.server
            ));
        }
        let token = match (self.token, &self.token_file) {
            (Some(t), None) => t,
            (None, Some(f)) => std::fs::read_to_string(f)
                .map_err(|e| format!("token-file: {}: {e}", f.display()))?,
            (Some(_), Some(_)) => return Err("token and token-file: give one".into()),
            (None, None) => return Err("token: required (--token or --token-file)".into()),
        };
        let token = token.trim().to_string();
        rkube_pki_token_check(&token)?;
        let node_name = node_name(self.node_name).map_err(|m| format!("node-name: {m}"))?;
        let registries = match &self.private_registry {
            None => rkube_image::RegistriesConfig::default(),
            Some(p) => rkube_image::RegistriesConfig::from_file(p)
                .map_err(|e| format!("private-registry: {}: {e}", p.display()))?,
        };
        if self.kubelet_port == 0 {
            return Err("kubelet-port: must be between 1 and 65535".into());
        }
        let b = &self.pod_bridge;
        if b.is_empty() || b.len() > 15 || b.contains(|c: char| c == '/' || c.is_whitespace()) {
            return Err(format!(
                "pod-bridge: {b:?} is not a valid interface name (1-15 characters)"
            ));
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err("data-dir: must not be empty".into());
        }
        let image_gc = self
            .image_gc
            .policy(|s| match s.parse::<u64>() {
                Ok(secs) => Ok(std::time::Duration::from_secs(secs)),
                Err(_) => humantime::parse_duration(s)
                    .map_err(|e| format!("{s:?} is not a duration (like 2m or 90s): {e}")),
            })
            .map_err(|(key, msg)| format!("{key}: {msg}"))?;
        let cfg = AgentRunConfig {
            server_url: self.server,
            token,
            data_dir: self.data_dir,
            node_name,
            node_ip: self.node_ip,
            kubelet_port: self.kubelet_port,
            pod_bridge: self.pod_bridge,
            registries,
            image_gc,
        };
        Ok((cfg, self.log_format.unwrap_or_else(LogFormat::detect)))
    }
}

/// The node's name: the one given, else the hostname lowercased; a lowercase DNS name (what
/// upstream accepts as a Node's name). Shared by `rkube agent` and `rkube server`.
pub fn node_name(given: Option<String>) -> Result<String, String> {
    let name = match given {
        Some(n) => n,
        None => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_lowercase())
            .unwrap_or_else(|_| "localhost".into()),
    };
    let valid = !name.is_empty()
        && name.len() <= 253
        && name
            .split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'))
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    if valid {
        Ok(name)
    } else {
        Err(format!("{name:?} is not a lowercase DNS name"))
    }
}

/// A malformed token is a usage error, caught before any connection.
fn rkube_pki_token_check(token: &str) -> Result<(), String> {
    rkube_kubelet::agent::parse_token(token)
        .map(|_| ())
        .map_err(|e| format!("token: {e}"))
}

#[cfg(test)]
mod tests {
    use super::node_name;

    #[test]
    fn node_names_are_lowercase_dns_names() {
        assert_eq!(
            node_name(Some("node-1.example".into())).unwrap(),
            "node-1.example"
        );
        let host = node_name(None).unwrap();
        assert_eq!(host, host.to_lowercase());
        for bad in ["", "Big_Name", "-a", "a..b", "a-.b"] {
            let e = node_name(Some(bad.into())).unwrap_err();
            assert!(e.contains("not a lowercase DNS name"), "{bad:?}: {e}");
        }
    }
}
