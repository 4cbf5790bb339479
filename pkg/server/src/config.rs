//! `rkube server`'s resolved configuration: validated once, before anything opens or binds.

use std::{net::IpAddr, ops::RangeInclusive, path::PathBuf, time::Duration};

use rkube_store::etcd::EtcdConfig;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    /// `None`: the embedded store under `data_dir`.
    pub datastore: Option<EtcdConfig>,
    pub bind_address: IpAddr,
    pub https_listen_port: u16,
    /// The address other nodes and clients reach this server at (default: see `advertise_ip`).
    pub advertise_address: Option<IpAddr>,
    pub write_kubeconfig: PathBuf,
    pub write_kubeconfig_mode: u32,
    pub disable_agent: bool,
    pub tls_san: Vec<String>,
    pub compaction_interval: Duration,
    /// How long an Event lives after its last write (kube-apiserver's `--event-ttl`, 1 h).
    pub event_ttl: Duration,
    /// IPv4 CIDR for Service cluster IPs (k3s' default 10.43.0.0/16).
    pub service_cidr: String,
    pub service_node_port_range: RangeInclusive<u16>,
    /// Simulated nodes (sim-0..) to run in-process; 0: none.
    pub sim_nodes: usize,
    /// How long a node may stay silent before it is marked Unknown (kube-controller-manager's
    /// `--node-monitor-grace-period`, 40 s).
    pub node_monitor_grace_period: Duration,
    /// NoExecute tainting of failed nodes, as kube-controller-manager: nodes per second per
    /// zone (`--node-eviction-rate`, 0.1), the rate in a partially disrupted large zone
    /// (`--secondary-node-eviction-rate`, 0.01), what makes a zone large (more nodes than
    /// `--large-cluster-size-threshold`, 50) and partially disrupted (that fraction not ready,
    /// `--unhealthy-zone-threshold`, 0.55).
    pub node_eviction_rate: f64,
    pub secondary_node_eviction_rate: f64,
    pub large_cluster_size_threshold: usize,
    pub unhealthy_zone_threshold: f64,
    /// The embedded agent (unless `disable_agent`).
    pub agent: AgentConfig,
    pub build: BuildInfo,
}

/// The in-process agent's settings (`--node-name`, `--node-ip`, `--private-registry`, ...).
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Lowercased hostname by default.
    pub node_name: String,
    /// `None`: the advertise address.
    pub node_ip: Option<IpAddr>,
    pub registries: rkube_image::RegistriesConfig,
    /// The whole cluster's pod network (10.42.0.0/16); this node takes a /24 of it.
    pub cluster_cidr: String,
    pub cluster_dns: IpAddr,
    /// UDP/TCP port of the cluster DNS server on the node IP (53; others for tests).
    pub cluster_dns_port: u16,
    pub cluster_domain: String,
    pub kubelet_port: u16,
    pub pod_bridge: String,
    pub image_gc: rkube_image::GcPolicy,
}

/// How this binary was built, for /version.
#[derive(Debug, Clone, Default)]
pub struct BuildInfo {
    pub git_commit: String,
    pub rustc_version: String,
}

impl ServerConfig {
    /// Where the embedded store keeps its file.
    pub fn store_dir(&self) -> PathBuf {
        self.data_dir.join("server").join("db")
    }

    pub fn tls_dir(&self) -> PathBuf {
        self.data_dir.join("server").join("tls")
    }

    /// `<data-dir>/agent`: images, containers, pods, network state.
    pub fn agent_dir(&self) -> PathBuf {
        self.data_dir.join("agent")
    }

    /// The address clients, agents and the `kubernetes` Endpoints get: `--advertise-address`,
    /// else the bind address unless it is 0.0.0.0 or loopback, else a host address (upstream's
    /// defaulting), else 127.0.0.1.
    pub fn advertise_ip(&self) -> IpAddr {
        advertise_ip(self.advertise_address, self.bind_address, || {
            rkube_pki::host_addresses()
                .into_iter()
                .find(|a| a.is_ipv4())
        })
    }

    pub fn token_file(&self) -> PathBuf {
        self.data_dir.join("server").join("token")
    }

    pub fn backend(&self) -> rkube_store::Backend {
        match &self.datastore {
            Some(etcd) => rkube_store::Backend::Etcd(etcd.clone()),
            None => rkube_store::Backend::Embedded {
                dir: self.store_dir(),
            },
        }
    }
}

fn advertise_ip(
    advertise: Option<IpAddr>,
    bind: IpAddr,
    host: impl FnOnce() -> Option<IpAddr>,
) -> IpAddr {
    advertise
        .or_else(|| (!bind.is_unspecified() && !bind.is_loopback()).then_some(bind))
        .or_else(host)
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertise_ip_prefers_the_flag_then_a_specific_bind_address_then_the_host() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let host = || Some(ip("192.0.2.7"));
        assert_eq!(
            advertise_ip(Some(ip("10.0.0.1")), ip("10.0.0.2"), host),
            ip("10.0.0.1")
        );
        assert_eq!(advertise_ip(None, ip("10.0.0.2"), host), ip("10.0.0.2"));
        assert_eq!(advertise_ip(None, ip("0.0.0.0"), host), ip("192.0.2.7"));
        assert_eq!(advertise_ip(None, ip("127.0.0.1"), host), ip("192.0.2.7"));
        assert_eq!(advertise_ip(None, ip("0.0.0.0"), || None), ip("127.0.0.1"));
    }
}
