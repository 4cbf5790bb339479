//! The kubelet API on `<node-ip>:10250` (HTTPS; only client certificates from the cluster CA):
//! containerLogs, exec, attach, portForward, in the paths the API server proxies to
//! (`/containerLogs/<ns>/<pod>/<container>`, `/exec/<ns>/<pod>/<container>`,
//! `/attach/<ns>/<pod>/<container>`, `/portForward/<ns>/<pod>`), speaking WebSocket
//! (v5..v4.channel.k8s.io, portforward.k8s.io) and SPDY/3.1.

pub mod exec_request;
mod exec_status;
mod exec_ws;
mod handler;
mod idle;
mod logs;
mod portforward_ws;
mod response;
mod router;
mod spdy_exec;
mod spdy_portforward;
mod tasks;
#[cfg(test)]
mod tests;
mod tls;
mod upgrade;
mod ws_io;
mod wsstream;

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info};

pub use tls::KUBELET_CLIENT_USER;

/// What the streaming server needs to know of a container; the pod workers provide it.
#[derive(Debug, Clone)]
pub struct ContainerRef {
    /// rkube-runtime container id of the current instance (for exec/attach).
    pub container_id: Option<String>,
    pub sandbox: Option<rkube_runtime::Sandbox>,
    /// The current instance's CRI log file, and the previous instance's (for `--previous`).
    pub log_path: Option<PathBuf>,
    pub previous_log_path: Option<PathBuf>,
    pub running: bool,
}

/// A pod/container lookup answer.
#[derive(Debug, Clone)]
pub enum Lookup {
    Found(ContainerRef),
    PodNotFound,
    /// `valid` lists the pod's container names.
    ContainerNotFound {
        valid: Vec<String>,
    },
}

/// Implemented by the pod workers' state. `container: None` = the pod's only (or default) container
/// for logs, or the sandbox for port-forward.
pub trait PodLookup: Send + Sync + 'static {
    fn lookup(&self, namespace: &str, pod: &str, container: Option<&str>) -> Lookup;
}

#[derive(Debug, Clone)]
pub struct StreamingConfig {
    pub bind: SocketAddr,
    pub serving_cert_pem: String,
    pub serving_key_pem: String,
    pub client_ca_pem: String,
    pub idle_timeout: Duration,
}

/// Serves the kubelet API until `shutdown` resolves.
pub async fn serve(
    cfg: StreamingConfig,
    runtime: rkube_runtime::Runtime,
    pods: Arc<dyn PodLookup>,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> crate::Result<()> {
    KubeletServer::bind(cfg, runtime, pods)
        .await?
        .serve(shutdown)
        .await
}

/// A bound kubelet API server (the port is taken; `serve` runs it).
pub struct KubeletServer {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<handler::State>,
}

impl KubeletServer {
    pub async fn bind(
        cfg: StreamingConfig,
        runtime: rkube_runtime::Runtime,
        pods: Arc<dyn PodLookup>,
    ) -> crate::Result<Self> {
        let tls = tls::server_config(
            &cfg.serving_cert_pem,
            &cfg.serving_key_pem,
            &cfg.client_ca_pem,
        )?;
        let listener = TcpListener::bind(cfg.bind)
            .await
            .map_err(|e| crate::Error::Server(format!("binding {}: {e}", cfg.bind)))?;
        Ok(Self {
            listener,
            acceptor: TlsAcceptor::from(Arc::new(tls)),
            state: Arc::new(handler::State {
                runtime,
                pods,
                tasks: tasks::Tasks::default(),
                idle_timeout: cfg.idle_timeout,
            }),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until `shutdown` resolves, then ends every connection and stream.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> crate::Result<()> {
        let Self {
            listener,
            acceptor,
            state,
        } = self;
        info!(addr = %listener.local_addr().map_err(|e| crate::Error::Server(e.to_string()))?, "serving the kubelet API");
        tokio::pin!(shutdown);
        loop {
            let (tcp, peer_addr) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(c) => c,
                    Err(e) => { debug!(error = %e, "accept failed"); continue; }
                },
                () = &mut shutdown => break,
            };
            let _ = tcp.set_nodelay(true);
            let (acceptor, st) = (acceptor.clone(), state.clone());
            state.tasks.spawn(async move {
                let tls = match acceptor.accept(tcp).await {
                    Ok(s) => s,
                    Err(e) => {
                        debug!(%peer_addr, error = %e, "TLS handshake failed");
                        return;
                    }
                };
                let peer = tls::peer(tls.get_ref().1.peer_certificates());
                let svc = hyper::service::service_fn(move |req| {
                    handler::handle(st.clone(), peer.clone(), req)
                });
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), svc)
                    .with_upgrades()
                    .await
                {
                    debug!(%peer_addr, error = %e, "kubelet API connection ended with an error");
                }
            });
        }
        state.tasks.abort_all();
        Ok(())
    }
}
