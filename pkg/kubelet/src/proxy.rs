//! The node's Service proxy (kube-proxy, nftables mode): watches Services and EndpointSlices
//! (kube-runtime reflectors) and, shortly after every change, brings rkube's proxy table up to
//! date with one atomic transaction touching only the Services that changed (rkube_network's
//! `Proxier`; the first sync, and the one after a failure, replace the table). The table is
//! removed on stop.

use std::{sync::Arc, time::Duration};

use futures_util::{stream, StreamExt};
use k8s_openapi::api::{core::v1::Service, discovery::v1::EndpointSlice};
use kube::{
    runtime::{reflector, watcher, WatchStreamExt},
    Api, Client,
};
use rkube_network::proxy::{self, Proxier, ProxyConfig};
use tokio::sync::{Mutex, Notify};
use tracing::{info, warn};

/// Changes arriving together (a rollout touches a Service's slices many times) are applied
/// once: this long after the first of them, well within upstream's 1 s minSyncPeriod.
const DEBOUNCE: Duration = Duration::from_millis(20);
/// A failed apply is retried after this long.
const RETRY: Duration = Duration::from_secs(1);

/// Handle to the running proxy: `start` it once the pod network is up, `stop` it on shutdown.
pub struct Proxy {
    cfg: Arc<ProxyConfig>,
    /// Held while applying; `true` once stopped, so no apply races the final removal.
    stopped: Arc<Mutex<bool>>,
    task: tokio::task::JoinHandle<()>,
}

/// Aborts the watch task when the proxy loop ends (or is aborted).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Proxy {
    pub fn start(cfg: ProxyConfig, client: Client) -> Self {
        let cfg = Arc::new(cfg);
        let stopped: Arc<Mutex<bool>> = Arc::default();
        let task = tokio::spawn(run(cfg.clone(), stopped.clone(), client));
        Self { cfg, stopped, task }
    }

    /// Stops applying and removes the proxy table.
    pub async fn stop(&self) {
        let mut stopped = self.stopped.lock().await;
        *stopped = true;
        self.task.abort();
        match proxy::delete(&self.cfg.bridge).await {
            Ok(()) => info!("service proxy rules removed"),
            Err(e) => warn!(error = %e, "removing the proxy rules failed"),
        }
    }
}

/// Watches and applies until stopped or aborted.
async fn run(cfg: Arc<ProxyConfig>, stopped: Arc<Mutex<bool>>, client: Client) {
    let (services, svc_writer) = reflector::store::<Service>();
    let (slices, slice_writer) = reflector::store::<EndpointSlice>();
    let svc_events = reflector::reflector(
        svc_writer,
        watcher(
            Api::<Service>::all(client.clone()),
            watcher::Config::default(),
        ),
    )
    .default_backoff()
    .map(|_| ());
    let slice_events = reflector::reflector(
        slice_writer,
        watcher(
            Api::<EndpointSlice>::all(client),
            watcher::Config::default(),
        ),
    )
    .default_backoff()
    .map(|_| ());
    let changed = Arc::new(Notify::new());
    let notify = changed.clone();
    let _watch = AbortOnDrop(tokio::spawn(
        stream::select(svc_events, slice_events).for_each(move |()| {
            notify.notify_one();
            std::future::ready(())
        }),
    ));
    if services.wait_until_ready().await.is_err() || slices.wait_until_ready().await.is_err() {
        return;
    }
    info!(table = %proxy::table_name(&cfg.bridge), "service proxy started");
    let mut proxier = Proxier::new((*cfg).clone());
    loop {
        tokio::time::sleep(DEBOUNCE).await;
        let guard = stopped.lock().await;
        if *guard {
            return;
        }
        // Read the stores after the debounce: every change notified so far is included.
        let (svcs, eps) = (services.state(), slices.state());
        let started = tokio::time::Instant::now();
        match proxier.sync(&svcs, &eps).await {
            Ok(stats) => {
                tracing::debug!(
                    service_ports = stats.service_ports,
                    changed = stats.changed,
                    full = stats.full,
                    commands = stats.commands,
                    took_ms = started.elapsed().as_millis() as u64,
                    "proxy rules synced"
                );
                drop(guard);
                changed.notified().await;
            }
            Err(e) => {
                // The Proxier forgot what the kernel has: the retry replaces the table.
                warn!(error = %e, "syncing the proxy rules failed; retrying");
                drop(guard);
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}
