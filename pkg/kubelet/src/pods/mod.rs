//! Pod workers: one watch for the pods bound to this node (field selector spec.nodeName), one
//! task per pod; orphans of an earlier run are cleaned up once the first list is in, and the
//! containers of listed pods that still run are re-adopted (adopt.rs).

mod adopt;
mod backoff;
mod cleanup;
mod dns;
mod events;
mod kill;
pub mod state;
mod table;
pub mod worker;

use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
    pin::pin,
    sync::Arc,
};

use base64::Engine;
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use kube::{
    api::Api,
    runtime::{watcher, WatchStreamExt},
    Client,
};
use rkube_image::{ImageService, RegistryAuth};
use rkube_network::PodNetwork;
use rkube_runtime::Runtime;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

pub use events::Recorder;
pub use table::PodTable;

use crate::{env, KubeletConfig};

/// What every pod worker shares.
pub struct Ctx {
    pub cfg: KubeletConfig,
    pub client: Client,
    pub runtime: Runtime,
    pub images: ImageService,
    pub network: watch::Receiver<Option<PodNetwork>>,
    pub events: Recorder,
    pub table: PodTable,
    pub host_resolv: String,
    pub host_ip: String,
}

impl Ctx {
    pub fn pods_dir(&self) -> PathBuf {
        self.cfg.agent_dir.join("pods")
    }

    /// `<agent>/pods/<ns>_<pod>_<uid>`: logs (`<container>/<restart>.log`) and `.volumes`.
    pub fn pod_dir(&self, ns: &str, name: &str, uid: &str) -> PathBuf {
        self.pods_dir().join(format!("{ns}_{name}_{uid}"))
    }

    pub async fn network(&self) -> Result<PodNetwork, String> {
        self.network
            .borrow()
            .clone()
            .ok_or_else(|| "the pod network is not ready (no podCIDR yet)".into())
    }

    pub async fn release_network(&self, uid: &str) {
        let net = self.network.borrow().clone();
        if let Some(n) = net {
            if let Err(e) = n.detach(uid).await {
                warn!(uid, error = %e, "detaching the pod network failed");
            }
        }
    }

    /// The ConfigMaps and Secrets a container's env refers to.
    pub async fn env_sources(&self, pod: &Pod, c: &Container) -> env::Sources {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let (cms, secrets) = env::referenced(c);
        let mut src = env::Sources::default();
        let cm_api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &ns);
        for name in cms {
            let v = cm_api.get_opt(&name).await.ok().flatten();
            src.config_maps.insert(name, v);
        }
        let s_api: Api<Secret> = Api::namespaced(self.client.clone(), &ns);
        for name in secrets {
            let v = s_api.get_opt(&name).await.ok().flatten();
            src.secrets.insert(name, v);
        }
        src
    }

    /// Registry credentials from the pod's imagePullSecrets (kubernetes.io/dockerconfigjson).
    pub async fn pull_secrets(&self, pod: &Pod) -> Vec<RegistryAuth> {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &ns);
        let mut out = Vec::new();
        let names = pod
            .spec
            .as_ref()
            .and_then(|s| s.image_pull_secrets.clone())
            .unwrap_or_default();
        for r in names {
            let Ok(Some(s)) = api.get_opt(&r.name).await else {
                continue;
            };
            let data = s.data.unwrap_or_default();
            let Some(raw) = data
                .get(".dockerconfigjson")
                .or_else(|| data.get(".dockercfg"))
            else {
                continue;
            };
            out.extend(docker_auths(&raw.0));
        }
        out
    }
}

/// `{"auths": {"host": {"username", "password"} | {"auth": base64(user:pass)}}}` (or the old
/// .dockercfg shape without "auths").
pub fn docker_auths(raw: &[u8]) -> Vec<RegistryAuth> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(raw) else {
        return Vec::new();
    };
    let auths = v.get("auths").unwrap_or(&v);
    let Some(map) = auths.as_object() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (server, e) in map {
        let (mut user, mut pass) = (
            e["username"].as_str().unwrap_or_default().to_string(),
            e["password"].as_str().unwrap_or_default().to_string(),
        );
        if let Some(auth) = e["auth"].as_str() {
            if let Ok(dec) = base64::engine::general_purpose::STANDARD.decode(auth) {
                if let Some((u, p)) = String::from_utf8_lossy(&dec).split_once(':') {
                    user = u.to_string();
                    pass = p.to_string();
                }
            }
        }
        out.push(RegistryAuth {
            server: server.clone(),
            username: user,
            password: pass,
        });
    }
    out
}

enum Control {
    Finished(String),
}

struct Handle {
    tx: watch::Sender<Option<Arc<Pod>>>,
}

/// Watches this node's pods and runs a worker per pod, forever.
pub async fn run(ctx: Arc<Ctx>) {
    let api: Api<Pod> = Api::all(ctx.client.clone());
    let cfg = watcher::Config::default().fields(&format!("spec.nodeName={}", ctx.cfg.node_name));
    let mut events = pin!(watcher(api, cfg).default_backoff());
    let mut workers: HashMap<String, Handle> = HashMap::new();
    let (ctl_tx, mut ctl_rx) = mpsc::unbounded_channel::<Control>();
    let mut relist: Option<HashSet<String>> = None;
    let mut cleaned = false;
    loop {
        tokio::select! {
            ev = events.next() => {
                let Some(ev) = ev else { return };
                let ev = match ev {
                    Ok(ev) => ev,
                    Err(e) => {
                        debug!(error = %e, "pod watch failed; retrying");
                        continue;
                    }
                };
                match ev {
                    watcher::Event::Init => relist = Some(HashSet::new()),
                    watcher::Event::InitApply(p) => {
                        if let (Some(seen), Some(uid)) = (&mut relist, &p.metadata.uid) {
                            seen.insert(uid.clone());
                        }
                        // Start after orphans are cleaned (first list) or at once (relists).
                        if cleaned {
                            dispatch(&ctx, &mut workers, &ctl_tx, p);
                        } else if let Some(uid) = p.metadata.uid.clone() {
                            pending_insert(&mut workers, uid, p);
                        }
                    }
                    watcher::Event::InitDone => {
                        let seen = relist.take().unwrap_or_default();
                        if !cleaned {
                            cleanup::orphans(&ctx, &seen).await;
                            cleaned = true;
                            // Start the pods listed before the cleanup.
                            let listed: Vec<(String, Arc<Pod>)> = workers
                                .iter()
                                .filter_map(|(u, h)| h.tx.borrow().clone().map(|p| (u.clone(), p)))
                                .collect();
                            workers.clear();
                            for (_, p) in listed {
                                dispatch(&ctx, &mut workers, &ctl_tx, (*p).clone());
                            }
                        }
                        for (uid, h) in workers.iter() {
                            if !seen.contains(uid) {
                                h.tx.send_replace(None);
                            }
                        }
                    }
                    watcher::Event::Apply(p) => {
                        if cleaned {
                            dispatch(&ctx, &mut workers, &ctl_tx, p);
                        }
                    }
                    watcher::Event::Delete(p) => {
                        if let Some(h) = p.metadata.uid.as_ref().and_then(|u| workers.get(u)) {
                            h.tx.send_replace(None);
                        }
                    }
                }
            }
            Some(Control::Finished(uid)) = ctl_rx.recv() => {
                workers.remove(&uid);
            }
        }
    }
}

/// Before the first cleanup, listed pods wait in `workers` without a task.
fn pending_insert(workers: &mut HashMap<String, Handle>, uid: String, p: Pod) {
    let (tx, _rx) = watch::channel(Some(Arc::new(p)));
    workers.insert(uid, Handle { tx });
}

fn dispatch(
    ctx: &Arc<Ctx>,
    workers: &mut HashMap<String, Handle>,
    ctl: &mpsc::UnboundedSender<Control>,
    pod: Pod,
) {
    let Some(uid) = pod.metadata.uid.clone() else {
        return;
    };
    let pod = Arc::new(pod);
    if let Some(h) = workers.get(&uid) {
        h.tx.send_replace(Some(pod));
        return;
    }
    let (tx, rx) = watch::channel(Some(pod.clone()));
    info!(pod = %format!("{}/{}", pod.metadata.namespace.as_deref().unwrap_or_default(),
                         pod.metadata.name.as_deref().unwrap_or_default()), "starting pod worker");
    let w = worker::Worker::new(ctx.clone(), &pod, rx);
    let ctl = ctl.clone();
    tokio::spawn(async move {
        w.run().await;
        let _ = ctl.send(Control::Finished(uid));
    });
    workers.insert(pod.metadata.uid.clone().unwrap_or_default(), Handle { tx });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_auths() {
        let a = docker_auths(br#"{"auths": {"r.example": {"auth": "dXNlcjpwYXNz"}, "q": {"username": "a", "password": "b"}}}"#);
        assert_eq!(a.len(), 2);
        assert_eq!(
            a.iter().find(|x| x.server == "r.example").unwrap().username,
            "user"
        );
        assert_eq!(a.iter().find(|x| x.server == "q").unwrap().password, "b");
    }
}
