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
    /// The address other nodes and clients reach this server at (default: a host address).
    pub advertise_address: Option<IpAddr>,
    pub write_kubeconfig: PathBuf,
    pub write_kubeconfig_mode: u32,
    pub disable_agent: bool,
    pub tls_san: Vec<String>,
    pub compaction_interval: Duration,
    /// IPv4 CIDR for Service cluster IPs (k3s' default 10.43.0.0/16).
    pub service_cidr: String,
    pub service_node_port_range: RangeInclusive<u16>,
    /// Simulated nodes (sim-0..) to run in-process; 0: none.
    pub sim_nodes: usize,
    pub build: BuildInfo,
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
