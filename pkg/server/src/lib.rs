//! rkube-server: composes the store, API server, controllers and agent into `rkube server`.

mod agent;
mod config;
mod dns;
mod event_ttl;
mod kubernetes_objects;
mod kubernetes_reconciler;
mod master_leases;

use std::{future::Future, net::SocketAddr};

use rkube_apiserver::{ApiServer, VersionInfo};
use rkube_pki::{kubeconfig, token, ClusterPki, ServingSans};
use rkube_store::Compactor;
use thiserror::Error;
use tracing::{info, info_span, Instrument};

pub use config::{AgentConfig, BuildInfo, ServerConfig};
pub use rkube_image::RegistriesConfig;

/// The Kubernetes version whose API rkube serves.
pub const KUBERNETES_VERSION: &str = "v1.33.0";

#[derive(Debug, Error)]
pub enum Error {
    #[error("datastore: {0}")]
    Store(#[from] rkube_store::Error),
    #[error("certificates: {0}")]
    Pki(#[from] rkube_pki::Error),
    #[error("API server: {0}")]
    ApiServer(#[from] rkube_apiserver::Error),
    #[error("controllers: {0}")]
    Controllers(#[from] rkube_controllers::Error),
    #[error("agent: {0}")]
    Agent(#[from] rkube_kubelet::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Runs the server until `shutdown` resolves, then closes the store cleanly.
pub async fn run(cfg: ServerConfig, shutdown: impl Future<Output = ()>) -> Result<()> {
    let span = info_span!("server", data_dir = %cfg.data_dir.display());
    async move {
        let service_ip = first_service_ip(&cfg.service_cidr);
        let sans = ServingSans::detect(cfg.tls_san.clone(), service_ip);
        let pki = std::sync::Arc::new(ClusterPki::load_or_create(&cfg.tls_dir(), &sans)?);
        let join_token = token::parse(&token::ensure(&cfg.token_file(), pki.ca_cert_pem())?)?;

        let store = rkube_store::open(&cfg.backend()).await?;
        let revisions = store.revisions().await?;
        info!(
            backend = store.backend(),
            revision = revisions.current,
            "datastore ready"
        );
        let compactor = Compactor::start(store.clone(), cfg.compaction_interval);

        let advertise_ip = cfg.advertise_ip();
        let port = cfg.https_listen_port;
        let api_cfg = rkube_apiserver::Config {
            bind: SocketAddr::new(cfg.bind_address, port),
            advertise: SocketAddr::new(advertise_ip, port).to_string(),
            ca_pem: pki.ca_cert_pem().to_string(),
            serving_chain_pem: pki.serving_cert_chain_pem().to_string(),
            serving_key_pem: pki.serving_key_pem().to_string(),
            version: VersionInfo {
                git_version: format!("{KUBERNETES_VERSION}+rkube"),
                git_commit: cfg.build.git_commit.clone(),
                compiler_version: cfg.build.rustc_version.clone(),
            },
            service_cidr: cfg.service_cidr.clone(),
            node_port_range: cfg.service_node_port_range.clone(),
            kubelet_client: Some(rkube_apiserver::KubeletClientCert {
                cert_pem: pki.kubelet_client_cert_pem().to_string(),
                key_pem: pki.kubelet_client_key_pem().to_string(),
            }),
            join: Some(rkube_apiserver::JoinConfig {
                secret: join_token.password.clone(),
                pki: pki.clone(),
                cluster_cidr: cfg.agent.cluster_cidr.clone(),
                cluster_dns: cfg.agent.cluster_dns,
                cluster_domain: cfg.agent.cluster_domain.clone(),
            }),
            service_accounts: Some(service_accounts(&pki, &cfg.agent.cluster_domain)),
        };
        let server = ApiServer::bind(api_cfg, store.clone()).await?;
        let local = server.local_addr().map_err(rkube_apiserver::Error::Serve)?;

        // k3s writes 127.0.0.1: the kubeconfig is for this machine's admin.
        let url = format!("https://127.0.0.1:{}", local.port());
        let kc = kubeconfig::render(
            &url,
            pki.ca_cert_pem(),
            pki.admin_cert_pem(),
            pki.admin_key_pem(),
            "default",
            "default",
        );
        kubeconfig::write(&cfg.write_kubeconfig, &kc, cfg.write_kubeconfig_mode)?;
        info!(
            kubeconfig = %cfg.write_kubeconfig.display(),
            "cluster ready: export KUBECONFIG={}; kubectl get namespaces",
            cfg.write_kubeconfig.display()
        );

        // One shutdown signal, several listeners.
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        // The in-process components are clients of this server like any other, but reach it
        // without a socket (rkube_apiserver::Loopback): no TLS connection per watch, no
        // encryption or HTTP framing per request.
        let client = |user: &str, groups: &[&str], component: &str| {
            let agent = rkube_controllers::user_agent(component);
            kube::Client::new(server.loopback(user, groups, &agent), "default")
        };
        let controllers_client = client(
            "system:kube-controller-manager",
            &[],
            "kube-controller-manager",
        );
        let scheduler_client = client("system:kube-scheduler", &[], "kube-scheduler");
        let ipam_client = controllers_client.clone();
        let dns_client = client("system:rkube-dns", &[], "rkube-dns");
        let sim_client = (cfg.sim_nodes > 0)
            .then(|| client("system:node:rkube-sim", &["system:nodes"], "rkube-sim"));
        let node_user = format!("system:node:{}", cfg.agent.node_name);
        let agent_client =
            (!cfg.disable_agent).then(|| client(&node_user, &["system:nodes"], "kubelet"));
        let apiserver_client = client("system:apiserver", &["system:masters"], "kube-apiserver");
        let serving = tokio::spawn(server.serve(stopped(stop_rx.clone())));
        let endpoints = tokio::spawn(
            kubernetes_reconciler::Reconciler {
                client: apiserver_client,
                leases: master_leases::MasterLeases::new(store.clone()),
                ip: advertise_ip,
                port: local.port(),
                service_ip,
            }
            .run(stopped(stop_rx.clone())),
        );
        let events = tokio::spawn(event_ttl::run(
            store.clone(),
            cfg.event_ttl,
            stopped(stop_rx.clone()),
        ));
        let mut ctx = rkube_controllers::Context::new(controllers_client, pki.ca_cert_pem());
        ctx.node_monitor_grace_period = cfg.node_monitor_grace_period;
        ctx.node_eviction_rate = cfg.node_eviction_rate;
        ctx.secondary_node_eviction_rate = cfg.secondary_node_eviction_rate;
        ctx.large_cluster_size_threshold = cfg.large_cluster_size_threshold;
        ctx.unhealthy_zone_threshold = cfg.unhealthy_zone_threshold;
        // Servers sharing an etcd take turns: controllers and scheduler run only while leading.
        use rkube_controllers::leader;
        let informers = ctx.informers.clone();
        let (elect, identity) = (cfg.datastore.is_some(), leader::identity());
        let controllers = tokio::spawn(leader::run_elected(
            elect,
            ctx.client.clone(),
            leader::CONTROLLER_MANAGER_LEASE,
            identity.clone(),
            move |stop| rkube_controllers::run(ctx.clone(), stop),
            stopped(stop_rx.clone()),
        ));
        // The scheduler writes as kube-scheduler but reads the controllers' shared pod and
        // node informers: one watch and one decoded copy of each pod for both.
        let scheduler = tokio::spawn(leader::run_elected(
            elect,
            scheduler_client.clone(),
            leader::SCHEDULER_LEASE,
            identity,
            move |stop| {
                let (client, informers) = (scheduler_client.clone(), informers.clone());
                async move { rkube_scheduler::run_shared(client, &informers, stop).await }
            },
            stopped(stop_rx.clone()),
        ));
        let mut sim = None;
        if let Some(client) = sim_client {
            let sim_cfg = rkube_sim::SimConfig {
                nodes: cfg.sim_nodes,
                ..rkube_sim::SimConfig::default()
            };
            let stop = stopped(stop_rx.clone());
            sim = Some(tokio::spawn(async move {
                if let Err(e) = rkube_sim::run(client, sim_cfg, stop).await {
                    tracing::error!(error = %e, "simulated nodes failed");
                }
            }));
        }

        let node_ip = cfg.agent.node_ip.unwrap_or(advertise_ip);
        let dns = dns::start(&cfg, dns_client, node_ip, stop_rx.clone()).await?;

        agent::start_node_ipam(&cfg, ipam_client, stop_rx.clone());
        let agent = match agent_client {
            Some(client) => Some(agent::start(
                &cfg,
                &pki,
                client,
                &url,
                advertise_ip,
                stop_rx.clone(),
            )?),
            None => None,
        };

        shutdown.await;
        info!("shutting down");
        let _ = stop_tx.send(true);
        let _ = endpoints.await;
        let _ = events.await;
        let _ = controllers.await;
        let _ = scheduler.await;
        if let Some(agent) = agent {
            let _ = agent.await;
        }
        if let Some(dns) = dns {
            let _ = dns.await;
        }
        if let Some(sim) = sim {
            let _ = sim.await;
        }
        match serving.await {
            Ok(r) => r?,
            Err(e) => tracing::warn!(error = %e, "API server task failed"),
        }
        drop(compactor);
        store.close().await?;
        info!("datastore closed");
        Ok(())
    }
    .instrument(span)
    .await
}

fn first_service_ip(cidr: &str) -> std::net::IpAddr {
    cidr.split_once('/')
        .and_then(|(ip, _)| ip.parse::<std::net::Ipv4Addr>().ok())
        .map(|ip| std::net::Ipv4Addr::from(u32::from(ip) + 1).into())
        .unwrap_or(rkube_pki::DEFAULT_SERVICE_IP)
}

/// k3s's issuer and audiences (its own name second): tokens name the API server as pods
/// reach it, `https://kubernetes.default.svc.<cluster domain>`.
fn service_accounts(
    pki: &ClusterPki,
    cluster_domain: &str,
) -> rkube_apiserver::ServiceAccountConfig {
    let issuer = format!("https://kubernetes.default.svc.{cluster_domain}");
    rkube_apiserver::ServiceAccountConfig {
        key_pem: pki.service_account_key_pem().to_string(),
        audiences: vec![issuer.clone(), "rkube".into()],
        issuer,
        admission: true,
    }
}
