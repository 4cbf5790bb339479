//! `rkube server` flags and `--config FILE`: k3s' names, so k3s users feel at home. The YAML
//! file uses the same keys as the flags (without dashes in front); a flag given on the command
//! line wins over the file.

use std::{
    net::IpAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use rkube_server::{AgentConfig, ServerConfig};
use rkube_store::etcd::EtcdConfig;
use serde::Deserialize;

use crate::{image_gc_args::ImageGcArgs, logging::LogFormat};

const DEFAULT_DATA_DIR: &str = "/var/lib/rkube";
const DEFAULT_KUBECONFIG: &str = "/etc/rkube/rkube.yaml";
const DEFAULT_PORT: u16 = 6443;

#[derive(Debug, Default, clap::Args, Deserialize)]
// Not `deny_unknown_fields`: serde does not support it with `flatten`; load_file checks keys.
#[serde(rename_all = "kebab-case")]
pub struct ServerArgs {
    /// YAML file with the same keys as these flags (e.g. `data-dir: /srv/rkube`).
    #[arg(long, value_name = "FILE", env = "RKUBE_CONFIG_FILE")]
    #[serde(skip)]
    config: Option<PathBuf>,

    /// Folder for the embedded datastore, certificates and state.
    #[arg(long, short = 'd', value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// etcd endpoints, comma-separated (http:// or https://); default: the embedded store.
    #[arg(long, value_name = "URLS")]
    datastore_endpoint: Option<String>,

    /// CA bundle to verify etcd's serving certificate.
    #[arg(long, value_name = "FILE")]
    datastore_cafile: Option<PathBuf>,

    /// Client certificate for etcd.
    #[arg(long, value_name = "FILE")]
    datastore_certfile: Option<PathBuf>,

    /// Client key for etcd.
    #[arg(long, value_name = "FILE")]
    datastore_keyfile: Option<PathBuf>,

    /// Address the API server listens on.
    #[arg(long, value_name = "IP")]
    bind_address: Option<String>,

    /// HTTPS port of the API server.
    #[arg(long, value_name = "PORT")]
    https_listen_port: Option<u16>,

    /// The IP this server advertises to clients, agents and the kubernetes Service
    /// (default: --bind-address unless 0.0.0.0 or loopback, else a host address).
    #[arg(long, value_name = "IP")]
    advertise_address: Option<String>,

    /// IPv4 network for Service cluster IPs.
    #[arg(long, value_name = "CIDR")]
    service_cidr: Option<String>,

    /// Port range for NodePort Services.
    #[arg(long, value_name = "RANGE")]
    service_node_port_range: Option<String>,

    /// Where to write the admin kubeconfig.
    #[arg(long, short = 'o', value_name = "FILE")]
    write_kubeconfig: Option<PathBuf>,

    /// File mode of the kubeconfig, in octal (e.g. 0644).
    #[arg(long, value_name = "MODE")]
    write_kubeconfig_mode: Option<OctalMode>,

    /// Run only the control plane; no agent on this machine.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    disable_agent: Option<bool>,

    /// Extra names or IPs for the API server's certificate (repeatable).
    #[arg(long, value_name = "NAME")]
    #[serde(default, deserialize_with = "one_or_many")]
    tls_san: Vec<String>,

    /// How much watch history the datastore keeps before compacting (e.g. 5m, 90s).
    #[arg(long, value_name = "DURATION")]
    compaction_interval: Option<String>,

    /// How long an Event is kept after its last write (e.g. 1h, 30m), as kube-apiserver's flag.
    #[arg(long, value_name = "DURATION")]
    event_ttl: Option<String>,

    /// Log format; default: text on a terminal, json otherwise.
    #[arg(long, value_enum, value_name = "FORMAT")]
    log_format: Option<LogFormat>,

    /// Run this many simulated nodes (sim-0, sim-1, ...) in-process: they register, take
    /// pods and report them Running, but run no containers (for tests and benchmarks).
    #[arg(long, value_name = "N")]
    sim_nodes: Option<usize>,

    /// How long a node may stay silent before it is marked Unknown and its pods evicted
    /// (kube-controller-manager's flag; shorter for tests, but longer than the 10 s lease renewal).
    #[arg(long, hide = true, value_name = "DURATION")]
    node_monitor_grace_period: Option<String>,

    /// Nodes per second per zone whose NoExecute taint (evicting their pods) may be set
    /// (kube-controller-manager's flag; default 0.1).
    #[arg(long, hide = true, value_name = "RATE")]
    node_eviction_rate: Option<f64>,

    /// The same in a partially disrupted zone larger than --large-cluster-size-threshold
    /// (default 0.01).
    #[arg(long, hide = true, value_name = "RATE")]
    secondary_node_eviction_rate: Option<f64>,

    /// A zone with more nodes than this is large: in partial disruption it keeps tainting at
    /// the secondary rate, a smaller one stops (default 50).
    #[arg(long, hide = true, value_name = "N")]
    large_cluster_size_threshold: Option<usize>,

    /// The fraction of a zone's nodes (at least 3) not ready that makes it partially disrupted
    /// (default 0.55; in (0, 1]).
    #[arg(long, hide = true, value_name = "FRACTION")]
    unhealthy_zone_threshold: Option<f64>,

    /// This machine's node name (default: the hostname, lowercased).
    #[arg(long, value_name = "NAME")]
    node_name: Option<String>,

    /// The node's InternalIP, where the kubelet API listens (default: the advertise address).
    #[arg(long, value_name = "IP")]
    node_ip: Option<String>,

    /// k3s registries.yaml: registry mirrors and credentials for image pulls.
    #[arg(long, value_name = "FILE")]
    private_registry: Option<PathBuf>,

    /// IPv4 network for pod IPs; each node takes a /24 of it.
    #[arg(long, value_name = "CIDR")]
    cluster_cidr: Option<String>,

    /// The cluster DNS service IP written into pods' resolv.conf.
    #[arg(long, value_name = "IP")]
    cluster_dns: Option<String>,

    /// UDP/TCP port of the cluster DNS server on the node IP (the kube-dns endpoints carry it).
    #[arg(long, hide = true, value_name = "PORT")]
    cluster_dns_port: Option<u16>,

    /// The cluster's DNS domain.
    #[arg(long, value_name = "DOMAIN")]
    cluster_domain: Option<String>,

    /// Port of the kubelet API (logs, exec, port-forward).
    #[arg(long, value_name = "PORT")]
    kubelet_port: Option<u16>,

    /// Name of the pod bridge.
    #[arg(long, value_name = "NAME")]
    pod_bridge: Option<String>,

    #[command(flatten)]
    #[serde(flatten)]
    image_gc: ImageGcArgs,
}

/// One wrong setting: the key and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{key}: {msg}")]
    Key { key: &'static str, msg: String },
    #[error("config file {path}: {msg}")]
    File { path: String, msg: String },
}

fn bad(key: &'static str, msg: impl Into<String>) -> ConfigError {
    ConfigError::Key {
        key,
        msg: msg.into(),
    }
}

impl ServerArgs {
    /// Merges the config file under the flags and validates everything.
    pub fn resolve(self) -> Result<(ServerConfig, LogFormat), ConfigError> {
        let file = match &self.config {
            Some(path) => Self::load_file(path)?,
            None => ServerArgs::default(),
        };
        let a = self.merge(file);

        let agent = resolve_agent(&a)?;
        let data_dir = a.data_dir.unwrap_or_else(|| DEFAULT_DATA_DIR.into());
        if data_dir.as_os_str().is_empty() {
            return Err(bad("data-dir", "must not be empty"));
        }
        let datastore = resolve_datastore(
            a.datastore_endpoint.as_deref(),
            a.datastore_cafile,
            a.datastore_certfile,
            a.datastore_keyfile,
        )?;
        let bind_address = match a.bind_address.as_deref() {
            None => IpAddr::from([0, 0, 0, 0]),
            Some(s) => s
                .parse()
                .map_err(|_| bad("bind-address", format!("{s:?} is not an IP address")))?,
        };
        let https_listen_port = a.https_listen_port.unwrap_or(DEFAULT_PORT);
        if https_listen_port == 0 {
            return Err(bad("https-listen-port", "must be between 1 and 65535"));
        }
        let compaction_interval = match a.compaction_interval.as_deref() {
            None => rkube_store::DEFAULT_COMPACTION_INTERVAL,
            Some(s) => parse_duration(s).map_err(|m| bad("compaction-interval", m))?,
        };
        if compaction_interval < Duration::from_secs(1) {
            return Err(bad("compaction-interval", "must be at least 1s"));
        }
        let event_ttl = match a.event_ttl.as_deref() {
            None => Duration::from_secs(3600),
            Some(s) => parse_duration(s).map_err(|m| bad("event-ttl", m))?,
        };
        if event_ttl < Duration::from_secs(1) {
            return Err(bad("event-ttl", "must be at least 1s"));
        }
        for san in &a.tls_san {
            if san.is_empty() || san.contains(char::is_whitespace) {
                return Err(bad(
                    "tls-san",
                    format!("{san:?} is not a host name or IP address"),
                ));
            }
        }
        let advertise_address = match a.advertise_address.as_deref() {
            None => None,
            Some(s) => Some(
                s.parse()
                    .map_err(|_| bad("advertise-address", format!("{s:?} is not an IP address")))?,
            ),
        };
        let service_cidr = a.service_cidr.unwrap_or_else(|| "10.43.0.0/16".into());
        validate_cidr(&service_cidr).map_err(|m| bad("service-cidr", m))?;
        let service_node_port_range = match a.service_node_port_range.as_deref() {
            None => 30000..=32767,
            Some(s) => parse_port_range(s).map_err(|m| bad("service-node-port-range", m))?,
        };
        let sim_nodes = a.sim_nodes.unwrap_or(0);
        if sim_nodes > 0 {
            let sim = rkube_sim::SimConfig {
                nodes: sim_nodes,
                ..rkube_sim::SimConfig::default()
            };
            sim.plan().map_err(|e| bad("sim-nodes", e.to_string()))?;
        }
        let node_monitor_grace_period = match a.node_monitor_grace_period.as_deref() {
            None => Duration::from_secs(40),
            Some(s) => parse_duration(s).map_err(|m| bad("node-monitor-grace-period", m))?,
        };
        if node_monitor_grace_period < Duration::from_secs(1) {
            return Err(bad("node-monitor-grace-period", "must be at least 1s"));
        }
        let rate = |key: &'static str, v: Option<f64>, default: f64| match v {
            Some(r) if !(r.is_finite() && r >= 0.0) => Err(bad(
                key,
                format!("{r} is not a rate >= 0 (nodes per second)"),
            )),
            r => Ok(r.unwrap_or(default)),
        };
        let node_eviction_rate = rate("node-eviction-rate", a.node_eviction_rate, 0.1)?;
        let secondary_node_eviction_rate = rate(
            "secondary-node-eviction-rate",
            a.secondary_node_eviction_rate,
            0.01,
        )?;
        let unhealthy_zone_threshold = a.unhealthy_zone_threshold.unwrap_or(0.55);
        if !(unhealthy_zone_threshold > 0.0 && unhealthy_zone_threshold <= 1.0) {
            return Err(bad(
                "unhealthy-zone-threshold",
                format!("{unhealthy_zone_threshold} is not in (0, 1]"),
            ));
        }
        let cfg = ServerConfig {
            agent,
            data_dir,
            datastore,
            bind_address,
            https_listen_port,
            advertise_address,
            service_cidr,
            service_node_port_range,
            sim_nodes,
            node_monitor_grace_period,
            node_eviction_rate,
            secondary_node_eviction_rate,
            large_cluster_size_threshold: a.large_cluster_size_threshold.unwrap_or(50),
            unhealthy_zone_threshold,
            build: rkube_server::BuildInfo {
                git_commit: env!("RKUBE_GIT_COMMIT").into(),
                rustc_version: env!("RKUBE_RUSTC_VERSION").into(),
            },
            write_kubeconfig: a
                .write_kubeconfig
                .unwrap_or_else(|| DEFAULT_KUBECONFIG.into()),
            write_kubeconfig_mode: a.write_kubeconfig_mode.map_or(0o600, |m| m.0),
            disable_agent: a.disable_agent.unwrap_or(false),
            tls_san: a.tls_san,
            compaction_interval,
            event_ttl,
        };
        Ok((cfg, a.log_format.unwrap_or_else(LogFormat::detect)))
    }

    fn load_file(path: &Path) -> Result<ServerArgs, ConfigError> {
        let err = |msg: String| ConfigError::File {
            path: path.display().to_string(),
            msg,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        if text.trim().is_empty() {
            return Ok(ServerArgs::default());
        }
        let value: serde_yaml::Value =
            serde_yaml::from_str(&text).map_err(|e| err(e.to_string()))?;
        if let Some(map) = value.as_mapping() {
            let known = known_file_keys();
            for key in map.keys() {
                let key = key.as_str().unwrap_or_default();
                if !known.iter().any(|k| k == key) {
                    return Err(err(format!("unknown field `{key}`")));
                }
            }
        }
        serde_yaml::from_str(&text).map_err(|e| err(e.to_string()))
    }

    /// Flags win; lists add up.
    fn merge(self, file: ServerArgs) -> ServerArgs {
        let mut tls_san = file.tls_san;
        tls_san.extend(self.tls_san);
        tls_san.dedup();
        ServerArgs {
            config: self.config,
            data_dir: self.data_dir.or(file.data_dir),
            datastore_endpoint: self.datastore_endpoint.or(file.datastore_endpoint),
            datastore_cafile: self.datastore_cafile.or(file.datastore_cafile),
            datastore_certfile: self.datastore_certfile.or(file.datastore_certfile),
            datastore_keyfile: self.datastore_keyfile.or(file.datastore_keyfile),
            bind_address: self.bind_address.or(file.bind_address),
            https_listen_port: self.https_listen_port.or(file.https_listen_port),
            advertise_address: self.advertise_address.or(file.advertise_address),
            service_cidr: self.service_cidr.or(file.service_cidr),
            service_node_port_range: self
                .service_node_port_range
                .or(file.service_node_port_range),
            write_kubeconfig: self.write_kubeconfig.or(file.write_kubeconfig),
            write_kubeconfig_mode: self.write_kubeconfig_mode.or(file.write_kubeconfig_mode),
            disable_agent: self.disable_agent.or(file.disable_agent),
            tls_san,
            compaction_interval: self.compaction_interval.or(file.compaction_interval),
            event_ttl: self.event_ttl.or(file.event_ttl),
            log_format: self.log_format.or(file.log_format),
            sim_nodes: self.sim_nodes.or(file.sim_nodes),
            node_monitor_grace_period: self
                .node_monitor_grace_period
                .or(file.node_monitor_grace_period),
            node_eviction_rate: self.node_eviction_rate.or(file.node_eviction_rate),
            secondary_node_eviction_rate: self
                .secondary_node_eviction_rate
                .or(file.secondary_node_eviction_rate),
            large_cluster_size_threshold: self
                .large_cluster_size_threshold
                .or(file.large_cluster_size_threshold),
            unhealthy_zone_threshold: self
                .unhealthy_zone_threshold
                .or(file.unhealthy_zone_threshold),
            node_name: self.node_name.or(file.node_name),
            node_ip: self.node_ip.or(file.node_ip),
            private_registry: self.private_registry.or(file.private_registry),
            cluster_cidr: self.cluster_cidr.or(file.cluster_cidr),
            cluster_dns: self.cluster_dns.or(file.cluster_dns),
            cluster_dns_port: self.cluster_dns_port.or(file.cluster_dns_port),
            cluster_domain: self.cluster_domain.or(file.cluster_domain),
            kubelet_port: self.kubelet_port.or(file.kubelet_port),
            pod_bridge: self.pod_bridge.or(file.pod_bridge),
            image_gc: self.image_gc.merge(file.image_gc),
        }
    }
}

/// The config file's keys: the flags' long names, but `config` itself.
fn known_file_keys() -> Vec<String> {
    use clap::Args;
    ServerArgs::augment_args(clap::Command::new("rkube"))
        .get_arguments()
        .filter_map(|a| a.get_long())
        .filter(|l| *l != "config")
        .map(str::to_string)
        .collect()
}

fn resolve_agent(a: &ServerArgs) -> Result<AgentConfig, ConfigError> {
    let node_name =
        crate::agent_args::node_name(a.node_name.clone()).map_err(|m| bad("node-name", m))?;
    let node_ip = match a.node_ip.as_deref() {
        None => None,
        Some(s) => Some(
            s.parse()
                .map_err(|_| bad("node-ip", format!("{s:?} is not an IP address")))?,
        ),
    };
    let registries = match &a.private_registry {
        None => rkube_server::RegistriesConfig::default(),
        Some(p) => rkube_server::RegistriesConfig::from_file(p)
            .map_err(|e| bad("private-registry", format!("{}: {e}", p.display())))?,
    };
    let cluster_cidr = a
        .cluster_cidr
        .clone()
        .unwrap_or_else(|| "10.42.0.0/16".into());
    validate_cidr(&cluster_cidr).map_err(|m| bad("cluster-cidr", m))?;
    if cluster_cidr
        .split_once('/')
        .and_then(|(_, l)| l.parse::<u8>().ok())
        .is_some_and(|l| l > 24)
    {
        return Err(bad(
            "cluster-cidr",
            format!("{cluster_cidr:?}: must hold at least one /24"),
        ));
    }
    let cluster_dns = match a.cluster_dns.as_deref() {
        None => IpAddr::from([10, 43, 0, 10]),
        Some(s) => s
            .parse()
            .map_err(|_| bad("cluster-dns", format!("{s:?} is not an IP address")))?,
    };
    let cluster_domain = a
        .cluster_domain
        .clone()
        .unwrap_or_else(|| "cluster.local".into());
    if cluster_domain.is_empty() || cluster_domain.contains(char::is_whitespace) {
        return Err(bad(
            "cluster-domain",
            format!("{cluster_domain:?} is not a DNS domain"),
        ));
    }
    let cluster_dns_port = a.cluster_dns_port.unwrap_or(53);
    if cluster_dns_port == 0 {
        return Err(bad("cluster-dns-port", "must be between 1 and 65535"));
    }
    let kubelet_port = a.kubelet_port.unwrap_or(10250);
    if kubelet_port == 0 {
        return Err(bad("kubelet-port", "must be between 1 and 65535"));
    }
    let pod_bridge = a.pod_bridge.clone().unwrap_or_else(|| "rkube0".into());
    // Linux interface names: at most 15 bytes, no '/' or whitespace.
    if pod_bridge.is_empty()
        || pod_bridge.len() > 15
        || pod_bridge.contains(|c: char| c == '/' || c.is_whitespace())
    {
        return Err(bad(
            "pod-bridge",
            format!("{pod_bridge:?} is not a valid interface name (1-15 characters)"),
        ));
    }
    let image_gc = a
        .image_gc
        .policy(parse_duration)
        .map_err(|(key, msg)| bad(key, msg))?;
    Ok(AgentConfig {
        node_name,
        node_ip,
        registries,
        cluster_cidr,
        cluster_dns,
        cluster_dns_port,
        cluster_domain,
        kubelet_port,
        pod_bridge,
        image_gc,
    })
}

fn resolve_datastore(
    endpoint: Option<&str>,
    ca_file: Option<PathBuf>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
) -> Result<Option<EtcdConfig>, ConfigError> {
    let Some(endpoint) = endpoint else {
        for (key, v) in [
            ("datastore-cafile", &ca_file),
            ("datastore-certfile", &cert_file),
            ("datastore-keyfile", &key_file),
        ] {
            if v.is_some() {
                return Err(bad(key, "needs --datastore-endpoint"));
            }
        }
        return Ok(None);
    };
    let mut endpoints = Vec::new();
    for e in endpoint.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let rest = e
            .strip_prefix("http://")
            .or_else(|| e.strip_prefix("https://"))
            .ok_or_else(|| {
                bad(
                    "datastore-endpoint",
                    format!("{e:?}: only http:// and https:// etcd endpoints are supported"),
                )
            })?;
        let hostport = rest.trim_end_matches('/');
        let valid = hostport
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        if !valid {
            return Err(bad(
                "datastore-endpoint",
                format!("{e:?}: expected scheme://host:port"),
            ));
        }
        endpoints.push(e.to_string());
    }
    if endpoints.is_empty() {
        return Err(bad("datastore-endpoint", "no endpoint given"));
    }
    if cert_file.is_some() != key_file.is_some() {
        let key = if cert_file.is_some() {
            "datastore-keyfile"
        } else {
            "datastore-certfile"
        };
        return Err(bad(
            key,
            "datastore-certfile and datastore-keyfile go together",
        ));
    }
    for (key, v) in [
        ("datastore-cafile", &ca_file),
        ("datastore-certfile", &cert_file),
        ("datastore-keyfile", &key_file),
    ] {
        if let Some(p) = v {
            if !p.is_file() {
                return Err(bad(key, format!("{} is not a readable file", p.display())));
            }
        }
    }
    Ok(Some(EtcdConfig {
        endpoints,
        ca_file,
        cert_file,
        key_file,
    }))
}

/// An IPv4 CIDR with a prefix from /8 to /30 (room for at least two Services).
fn validate_cidr(s: &str) -> Result<(), String> {
    let (ip, len) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?} is not a CIDR like 10.43.0.0/16"))?;
    ip.parse::<std::net::Ipv4Addr>()
        .map_err(|_| format!("{s:?}: only IPv4 is supported"))?;
    match len.parse::<u8>() {
        Ok(l) if (8..=30).contains(&l) => Ok(()),
        _ => Err(format!("{s:?}: the prefix length must be between 8 and 30")),
    }
}

/// `30000-32767`.
fn parse_port_range(s: &str) -> Result<std::ops::RangeInclusive<u16>, String> {
    let bad = || format!("{s:?} is not a port range like 30000-32767");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let (a, b): (u16, u16) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if a == 0 || a > b {
        return Err(bad());
    }
    Ok(a..=b)
}

/// `5m`, `90s`, `1h30m`, `500ms`; a bare number is seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("{s:?} is not a duration (like 5m or 90s): {e}"))
}

/// A file mode written in octal, on the command line or in YAML (where `0644` may arrive as
/// the number 644, since YAML 1.2 has no leading-zero octal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OctalMode(u32);

impl std::str::FromStr for OctalMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let digits = s.trim_start_matches("0o");
        match u32::from_str_radix(digits, 8) {
            Ok(m) if m <= 0o777 => Ok(OctalMode(m)),
            _ => Err(format!("{s:?} is not an octal file mode like 0600")),
        }
    }
}

impl<'de> Deserialize<'de> for OctalMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Str(String),
        }
        let s = match Raw::deserialize(d)? {
            Raw::Int(n) => n.to_string(),
            Raw::Str(s) => s,
        };
        s.parse().map_err(serde::de::Error::custom)
    }
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::One(s) => vec![s],
        Raw::Many(v) => v,
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: ServerArgs,
    }

    fn resolve(args: &[&str]) -> Result<ServerConfig, String> {
        let t = T::try_parse_from(std::iter::once("rkube").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        t.a.resolve().map(|(c, _)| c).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_follow_k3s() {
        let c = resolve(&[]).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/rkube"));
        assert_eq!(c.https_listen_port, 6443);
        assert_eq!(c.write_kubeconfig_mode, 0o600);
        assert!(c.datastore.is_none());
        assert_eq!(c.compaction_interval, Duration::from_secs(300));
        assert_eq!(c.event_ttl, Duration::from_secs(3600));
        assert_eq!(c.agent.cluster_cidr, "10.42.0.0/16");
        assert_eq!(c.agent.cluster_dns.to_string(), "10.43.0.10");
        assert_eq!(c.agent.cluster_domain, "cluster.local");
        assert_eq!(c.agent.kubelet_port, 10250);
        assert_eq!(c.agent.image_gc, rkube_image::GcPolicy::default());
        assert_eq!(c.agent.pod_bridge, "rkube0");
        assert_eq!(c.node_eviction_rate, 0.1);
        assert_eq!(c.secondary_node_eviction_rate, 0.01);
        assert_eq!(c.large_cluster_size_threshold, 50);
        assert_eq!(c.unhealthy_zone_threshold, 0.55);
        assert!(!c.agent.node_name.is_empty());
        assert_eq!(c.agent.node_name, c.agent.node_name.to_lowercase());
    }

    #[test]
    fn bad_values_name_their_key() {
        for (args, key) in [
            (&["--bind-address", "nope"][..], "bind-address"),
            (&["--datastore-endpoint", "tcp://x:1"], "datastore-endpoint"),
            (&["--datastore-endpoint", "http://x"], "datastore-endpoint"),
            (&["--datastore-cafile", "/x"], "datastore-cafile"),
            (&["--write-kubeconfig-mode", "999"], "write-kubeconfig-mode"),
            (&["--compaction-interval", "soon"], "compaction-interval"),
            (&["--https-listen-port", "0"], "https-listen-port"),
            (&["--service-cidr", "10.0.0.0/33"], "service-cidr"),
            (
                &["--service-node-port-range", "5-1"],
                "service-node-port-range",
            ),
            (&["--advertise-address", "x"], "advertise-address"),
            (&["--node-name", "Big_Name"], "node-name"),
            (&["--node-ip", "x"], "node-ip"),
            (
                &["--private-registry", "/nonexistent.yaml"],
                "/nonexistent.yaml",
            ),
            (&["--cluster-cidr", "10.0.0.0/28"], "cluster-cidr"),
            (&["--cluster-dns", "x"], "cluster-dns"),
            (&["--kubelet-port", "0"], "kubelet-port"),
            (&["--pod-bridge", "a-very-long-bridge-name"], "pod-bridge"),
            (
                &["--image-gc-high-threshold", "101"],
                "image-gc-high-threshold",
            ),
            (
                &["--image-gc-low-threshold", "90"],
                "image-gc-low-threshold",
            ),
            (&["--image-gc-min-age", "soon"], "image-gc-min-age"),
            (&["--image-gc-period", "0s"], "image-gc-period"),
            (&["--node-eviction-rate=-1"], "node-eviction-rate"),
            (&["--node-eviction-rate", "NaN"], "node-eviction-rate"),
            (&["--node-eviction-rate", "fast"], "node-eviction-rate"),
            (
                &["--secondary-node-eviction-rate=-0.5"],
                "secondary-node-eviction-rate",
            ),
            (
                &["--unhealthy-zone-threshold", "0"],
                "unhealthy-zone-threshold",
            ),
            (
                &["--unhealthy-zone-threshold", "1.5"],
                "unhealthy-zone-threshold",
            ),
            (
                &["--large-cluster-size-threshold=-1"],
                "large-cluster-size-threshold",
            ),
        ] {
            let e = resolve(args).unwrap_err();
            assert!(e.contains(key), "{args:?}: {e}");
        }
    }

    #[test]
    fn node_eviction_flags_and_file_keys() {
        let c = resolve(&[
            "--node-eviction-rate",
            "0",
            "--secondary-node-eviction-rate",
            "0.5",
            "--large-cluster-size-threshold",
            "3",
            "--unhealthy-zone-threshold",
            "1",
        ])
        .unwrap();
        assert_eq!(c.node_eviction_rate, 0.0);
        assert_eq!(c.secondary_node_eviction_rate, 0.5);
        assert_eq!(c.large_cluster_size_threshold, 3);
        assert_eq!(c.unhealthy_zone_threshold, 1.0);

        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.yaml");
        std::fs::write(
            &f,
            "node-eviction-rate: 2\nunhealthy-zone-threshold: 0.3\nlarge-cluster-size-threshold: 7\n",
        )
        .unwrap();
        let c = resolve(&[
            "--config",
            f.to_str().unwrap(),
            "--node-eviction-rate",
            "0.25",
        ])
        .unwrap();
        assert_eq!(c.node_eviction_rate, 0.25);
        assert_eq!(c.unhealthy_zone_threshold, 0.3);
        assert_eq!(c.large_cluster_size_threshold, 7);
        assert_eq!(c.secondary_node_eviction_rate, 0.01);

        std::fs::write(&f, "unhealthy-zone-threshold: 2\n").unwrap();
        let e = resolve(&["--config", f.to_str().unwrap()]).unwrap_err();
        assert!(e.contains("unhealthy-zone-threshold"), "{e}");
    }

    #[test]
    fn config_file_under_flags() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.yaml");
        std::fs::write(
            &f,
            "data-dir: /srv/x\nhttps-listen-port: 7443\nwrite-kubeconfig-mode: 0644\ntls-san: a.example\n\
             datastore-endpoint: http://127.0.0.1:2379,https://10.0.0.1:2379\n",
        )
        .unwrap();
        let c = resolve(&[
            "--config",
            f.to_str().unwrap(),
            "--https-listen-port",
            "8443",
            "--tls-san",
            "b",
        ])
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/srv/x"));
        assert_eq!(c.https_listen_port, 8443);
        assert_eq!(c.write_kubeconfig_mode, 0o644);
        assert_eq!(c.tls_san, vec!["a.example".to_string(), "b".to_string()]);
        assert_eq!(c.datastore.unwrap().endpoints.len(), 2);

        // The flattened image GC keys are config keys too, under the flags.
        std::fs::write(
            &f,
            "image-gc-high-threshold: 90\nimage-gc-low-threshold: 70\nimage-gc-period: 1m\n",
        )
        .unwrap();
        let c = resolve(&[
            "--config",
            f.to_str().unwrap(),
            "--image-gc-high-threshold",
            "95",
        ])
        .unwrap();
        assert_eq!(c.agent.image_gc.high_threshold_percent, 95);
        assert_eq!(c.agent.image_gc.low_threshold_percent, 70);
        assert_eq!(c.agent.image_gc.period, Duration::from_secs(60));

        std::fs::write(&f, "data-dir: /x\nno-such-key: 1\n").unwrap();
        let e = resolve(&["--config", f.to_str().unwrap()]).unwrap_err();
        assert!(e.contains("no-such-key"), "{e}");
        std::fs::write(&f, "https-listen-port: many\n").unwrap();
        let e = resolve(&["--config", f.to_str().unwrap()]).unwrap_err();
        assert!(e.contains("https-listen-port"), "{e}");
    }
}
