//! `rkube sim`: simulated nodes against any cluster, through a kubeconfig.

use std::path::PathBuf;

use rkube_sim::SimConfig;

use crate::logging::LogFormat;

#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// How many nodes (named <name-prefix>0, <name-prefix>1, ...).
    #[arg(long, default_value_t = 3, value_name = "N")]
    nodes: usize,
    /// Kubeconfig of the cluster to join (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Each node's cpu capacity.
    #[arg(long, default_value = "32", value_name = "QUANTITY")]
    cpu: String,
    /// Each node's memory capacity.
    #[arg(long, default_value = "256Gi", value_name = "QUANTITY")]
    memory: String,
    /// Each node's pod capacity.
    #[arg(long, default_value_t = 110, value_name = "N")]
    pods: u32,
    /// The network node pod CIDRs are carved from.
    #[arg(long, default_value = "10.42.0.0/16", value_name = "CIDR")]
    pod_cidr: String,
    /// The network node InternalIPs come from (never used for traffic).
    #[arg(long, default_value = "10.41.0.0/16", value_name = "CIDR")]
    node_ip_base: String,
    #[arg(long, default_value = "sim-", value_name = "PREFIX")]
    name_prefix: String,
    /// Log format; default: text on a terminal, json otherwise.
    #[arg(long, value_enum, value_name = "FORMAT")]
    log_format: Option<LogFormat>,
}

impl SimArgs {
    /// Validated settings, the kubeconfig and the log format.
    pub fn resolve(self) -> Result<(SimConfig, Option<PathBuf>, LogFormat), String> {
        let cfg = SimConfig {
            nodes: self.nodes,
            cpu: self.cpu,
            memory: self.memory,
            pods: self.pods,
            pod_cidr_base: self.pod_cidr,
            node_ip_base: self.node_ip_base,
            name_prefix: self.name_prefix,
            ..SimConfig::default()
        };
        cfg.plan().map_err(|e| e.to_string())?;
        if let Some(k) = &self.kubeconfig {
            if !k.is_file() {
                return Err(format!(
                    "kubeconfig: {} is not a readable file",
                    k.display()
                ));
            }
        }
        Ok((
            cfg,
            self.kubeconfig,
            self.log_format.unwrap_or_else(LogFormat::detect),
        ))
    }
}

/// Connects and runs the nodes until `shutdown`.
pub async fn run(
    cfg: SimConfig,
    kubeconfig: Option<PathBuf>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(&path)
                .map_err(|e| format!("kubeconfig {}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| format!("kubeconfig {}: {e}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| format!("no kubeconfig: {e}"))?,
    };
    let client = kube::Client::try_from(config).map_err(|e| format!("client: {e}"))?;
    rkube_sim::run(client, cfg, shutdown)
        .await
        .map_err(|e| e.to_string())
}
