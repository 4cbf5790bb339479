//! The embedded agent: a kubelet in this process, with its own node identity
//! (`system:node:<name>` in `system:nodes`) and serving certificate; and the node IPAM
//! controller that gives its node (and later agents' nodes) a /24 of the cluster CIDR.

use std::{net::IpAddr, time::Duration};

use rkube_pki::{kubeconfig, ClusterPki, San};
use tracing::{error, info};

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

/// Starts the node IPAM controller and the kubelet; they run until `stop` resolves.
pub async fn start(
    cfg: &ServerConfig,
    pki: &ClusterPki,
    api_url: &str,
    advertise_ip: IpAddr,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>> {
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let a = &cfg.agent;
    let (cert, key) = pki.issue_client_cert("system:kube-controller-manager", &[], 365)?;
    let kc = kubeconfig::render(
        api_url,
        pki.ca_cert_pem(),
        &cert,
        &key,
        "default",
        "nodeipam",
    );
    let ipam_client = rkube_controllers::Context::connect(&kc, pki.ca_cert_pem())
        .await?
        .client;
    let (cidr, ipam_stop) = (a.cluster_cidr.clone(), stopped(stop.clone()));
    tokio::spawn(async move {
        if let Err(e) = rkube_controllers::nodeipam::run(ipam_client, cidr, 24, ipam_stop).await {
            error!(error = %e, "the node IPAM controller failed");
        }
    });
    let node_ip = a.node_ip.unwrap_or(advertise_ip);
    let (cert, key) = pki.issue_client_cert(
        &format!("system:node:{}", a.node_name),
        &["system:nodes"],
        365,
    )?;
    let kc = kubeconfig::render(
        api_url,
        pki.ca_cert_pem(),
        &cert,
        &key,
        "default",
        "kubelet",
    );
    let client = rkube_controllers::Context::connect(&kc, pki.ca_cert_pem())
        .await?
        .client;
    let (serving_cert, serving_key) = pki.issue_serving_cert(
        &a.node_name,
        &[San::Ip(node_ip), San::Dns(a.node_name.clone())],
    )?;
    let kcfg = rkube_kubelet::KubeletConfig {
        node_name: a.node_name.clone(),
        agent_dir: cfg.agent_dir(),
        node_ip,
        port: a.kubelet_port,
        serving_cert_pem: format!("{serving_cert}\n{}", pki.ca_cert_pem()),
        serving_key_pem: serving_key,
        client_ca_pem: pki.ca_cert_pem().to_string(),
        // The node IPAM controller assigns spec.podCIDR.
        pod_cidr: None,
        cluster_cidr: a.cluster_cidr.clone(),
        pod_bridge: a.pod_bridge.clone(),
        cluster_dns: a.cluster_dns,
        cluster_domain: a.cluster_domain.clone(),
        registries: a.registries.clone(),
        control_plane: true,
        helper_exe: std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into()),
        lease_interval: Duration::from_secs(10),
        streaming_idle_timeout: Duration::from_secs(4 * 3600),
    };
    info!(node = %a.node_name, ip = %node_ip, port = a.kubelet_port, "starting the agent");
    Ok(tokio::spawn(async move {
        if let Err(e) = rkube_kubelet::run(kcfg, client, stopped(stop)).await {
            error!(error = %e, "the agent failed");
        }
    }))
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
