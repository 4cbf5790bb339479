//! The embedded agent: a kubelet in this process, with its own node identity
//! (`system:node:<name>` in `system:nodes`) and serving certificate; and the node IPAM
//! controller that gives every node (this one and joined agents') a /24 of the cluster CIDR.

use std::net::IpAddr;

use rkube_kubelet::agent::{AgentSettings, ClusterSettings, NodeIdentity};
use rkube_pki::{ClusterPki, San};
use tracing::error;

use crate::{Result, ServerConfig};

/// The first /24 of the cluster CIDR (what the node IPAM controller hands the first node).
#[cfg(test)]
fn first_subnet(cluster_cidr: &str) -> Option<String> {
    let (ip, len) = cluster_cidr.split_once('/')?;
    let ip: std::net::Ipv4Addr = ip.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    if len > 24 {
        return Some(cluster_cidr.to_string());
    }
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    Some(format!(
        "{}/24",
        std::net::Ipv4Addr::from(u32::from(ip) & mask)
    ))
}

/// Starts the node IPAM controller, which gives every node (the embedded agent's and joined
/// agents') a /24 of the cluster CIDR; it runs until `stop` resolves, with or without an agent here.
pub fn start_node_ipam(
    cfg: &ServerConfig,
    client: kube::Client,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let cidr = cfg.agent.cluster_cidr.clone();
    let mut stop = stop;
    tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = rkube_controllers::nodeipam::run(client, cidr, 24, stopped).await {
            error!(error = %e, "the node IPAM controller failed");
        }
    });
}

/// Starts the kubelet over `client` (the server's in-process transport, acting as the node);
/// it runs until `stop` resolves.
pub fn start(
    cfg: &ServerConfig,
    pki: &ClusterPki,
    client: kube::Client,
    api_url: &str,
    advertise_ip: IpAddr,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>> {
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let a = &cfg.agent;
    let node_ip = a.node_ip.unwrap_or(advertise_ip);
    let (client_cert_pem, client_key_pem) = pki.issue_client_cert(
        &format!("system:node:{}", a.node_name),
        &["system:nodes"],
        365,
    )?;
    let (serving_cert_pem, serving_key_pem) = pki.issue_serving_cert(
        &a.node_name,
        &[San::Ip(node_ip), San::Dns(a.node_name.clone())],
    )?;
    let identity = NodeIdentity {
        server_url: api_url.to_string(),
        ca_pem: pki.ca_cert_pem().to_string(),
        client_cert_pem,
        client_key_pem,
        serving_cert_pem,
        serving_key_pem,
    };
    let settings = AgentSettings {
        node_name: a.node_name.clone(),
        node_ip,
        agent_dir: cfg.agent_dir(),
        kubelet_port: a.kubelet_port,
        pod_bridge: a.pod_bridge.clone(),
        registries: a.registries.clone(),
        cluster: ClusterSettings {
            cluster_cidr: a.cluster_cidr.clone(),
            cluster_dns: a.cluster_dns,
            cluster_domain: a.cluster_domain.clone(),
        },
        control_plane: true,
        image_gc: a.image_gc,
    };
    Ok(rkube_kubelet::agent::start_with(
        settings,
        identity,
        client,
        stopped(stop),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_subnets() {
        assert_eq!(
            first_subnet("10.42.0.0/16").as_deref(),
            Some("10.42.0.0/24")
        );
        assert_eq!(
            first_subnet("10.99.7.9/16").as_deref(),
            Some("10.99.0.0/24")
        );
        assert_eq!(first_subnet("10.1.2.0/28").as_deref(), Some("10.1.2.0/28"));
        assert_eq!(first_subnet("x"), None);
    }
}
