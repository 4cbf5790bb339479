//! The cluster DNS server in this process, on the node IP (`--cluster-dns-port`, 53), published
//! as kube-system/kube-dns on `--cluster-dns`.

use std::net::{IpAddr, SocketAddr};

use tracing::error;

use crate::{Result, ServerConfig};

/// Binds and starts serving; a port already taken is logged, not fatal (the API server and
/// the rest of the cluster work without it).
pub async fn start(
    cfg: &ServerConfig,
    client: kube::Client,
    node_ip: IpAddr,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Option<tokio::task::JoinHandle<()>>> {
    let a = &cfg.agent;
    let dns_cfg = rkube_dns::Config {
        listen: SocketAddr::new(node_ip, a.cluster_dns_port),
        cluster_domain: a.cluster_domain.clone(),
        upstreams: None,
        cluster_dns: Some(a.cluster_dns),
    };
    let dns = match rkube_dns::Dns::bind(dns_cfg).await {
        Ok(d) => d,
        Err(e) => {
            error!(error = %e, "cluster DNS not started");
            return Ok(None);
        }
    };
    Ok(Some(tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = dns.serve(client, stopped).await {
            error!(error = %e, "cluster DNS failed");
        }
    })))
}
