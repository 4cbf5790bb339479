//! rkube-dns: the cluster DNS server (hickory-server on UDP and TCP). Names in the cluster
//! domain are answered from reflectors of Services, EndpointSlices and Pods as CoreDNS's
//! kubernetes plugin answers them; PTR for ClusterIPs, endpoints and pod IPs; everything else is
//! relayed to the host's resolvers.

mod bootstrap;
mod cache;
mod forward;
mod handler;
mod pod;
mod records;

use std::{future::Future, net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use hickory_server::Server;
use kube::Client;
use thiserror::Error;
use tokio::net::{TcpListener, UdpSocket};
use tracing::{info, warn};

pub use bootstrap::{
    apply as apply_kube_dns, NAME as SERVICE_NAME, NAMESPACE as SERVICE_NAMESPACE,
};
pub use cache::Cache;
pub use forward::{parse_nameservers, Forwarder};
pub use handler::Handler;
pub use records::{ClusterView, Zone};

#[derive(Debug, Error)]
pub enum Error {
    #[error("binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("serving DNS: {0}")]
    Serve(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where and what the DNS server serves.
#[derive(Debug, Clone)]
pub struct Config {
    /// UDP and TCP address (the node IP, port 53 by default).
    pub listen: SocketAddr,
    /// `cluster.local`.
    pub cluster_domain: String,
    /// Upstreams for names outside the cluster; None: the host's `/etc/resolv.conf`.
    pub upstreams: Option<Vec<SocketAddr>>,
    /// The kube-dns Service IP to publish (`--cluster-dns`); None: publish nothing.
    pub cluster_dns: Option<std::net::IpAddr>,
}

impl Config {
    pub fn resolv_conf() -> PathBuf {
        PathBuf::from("/etc/resolv.conf")
    }
}

/// A bound DNS server: sockets are open (so callers learn the real port) before serving.
pub struct Dns {
    udp: UdpSocket,
    tcp: TcpListener,
    cfg: Config,
}

impl Dns {
    pub async fn bind(cfg: Config) -> Result<Self> {
        let udp = UdpSocket::bind(cfg.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: cfg.listen,
                source,
            })?;
        // Port 0: TCP takes the port UDP got.
        let tcp_addr = udp.local_addr().map_err(|source| Error::Bind {
            addr: cfg.listen,
            source,
        })?;
        let tcp = TcpListener::bind(tcp_addr)
            .await
            .map_err(|source| Error::Bind {
                addr: tcp_addr,
                source,
            })?;
        Ok(Dns { udp, tcp, cfg })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.udp.local_addr().unwrap_or(self.cfg.listen)
    }

    /// Serves until `stop` resolves: publishes kube-dns (when configured), fills the cache,
    /// then answers.
    pub async fn serve(self, client: Client, stop: impl Future<Output = ()>) -> Result<()> {
        let listen = self.local_addr();
        let forwarder = match &self.cfg.upstreams {
            Some(u) => Forwarder::new(u.clone()),
            None => Forwarder::from_resolv_conf(&Config::resolv_conf(), Some(listen)),
        };
        let (cache, watch) = Cache::start(&client);
        let watching = tokio::spawn(watch);
        if let Some(ip) = self.cfg.cluster_dns {
            let client = client.clone();
            tokio::spawn(async move {
                // The API server may still be starting its controllers: retry a while.
                for attempt in 0..30u32 {
                    match bootstrap::apply(&client, ip, listen).await {
                        Ok(()) => {
                            info!(service = %ip, endpoint = %listen, "kube-dns published");
                            return;
                        }
                        // Invalid (e.g. a loopback node IP): retrying cannot help.
                        Err(kube::Error::Api(e)) if e.code == 422 => {
                            warn!(error = %e, "kube-dns endpoints not published");
                            return;
                        }
                        Err(e) => {
                            warn!(error = %e, attempt, "publishing kube-dns failed; retrying")
                        }
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            });
        }
        tokio::select! {
            _ = cache.ready() => {}
            _ = tokio::time::sleep(Duration::from_secs(30)) => {
                warn!("DNS cache not synced after 30s; serving anyway");
            }
        }
        let handler = Handler {
            zone: Zone::new(&self.cfg.cluster_domain),
            view: Arc::new(cache),
            forwarder: forwarder.clone(),
        };
        let mut server = Server::new(handler);
        server.register_socket(self.udp);
        server.register_listener(self.tcp, Duration::from_secs(5), 32);
        info!(%listen, domain = %self.cfg.cluster_domain, upstreams = ?forwarder.upstreams(), "cluster DNS serving");
        stop.await;
        let r = server.shutdown_gracefully().await;
        watching.abort();
        r.map_err(|e| Error::Serve(e.to_string()))
    }
}

/// hickory's message types, for clients and tests.
pub use hickory_server::proto;
