//! The node lifecycle controller with its NoExecute taint manager (upstream's
//! node-lifecycle-controller and taint-eviction-controller), one periodic pass over informer
//! caches of Nodes, node Leases and bound Pods:
//! - a node silent (no Lease renewal, no Ready heartbeat) for the grace period (40 s) gets its
//!   conditions set Unknown ("Kubelet stopped posting node status.");
//! - nodes carry the taints their conditions imply (`unreachable` for Ready Unknown,
//!   `not-ready` for Ready False, NoSchedule and NoExecute), removed when they recover; new
//!   NoExecute taints are paced per zone by the eviction rate limit and stop altogether when
//!   no node in any zone is ready ([`disruption`]);
//! - pods on unreachable nodes are marked not Ready (so Endpoints drop them);
//! - pods on nodes with NoExecute taints they do not tolerate are deleted at once, those that
//!   tolerate them for tolerationSeconds are deleted once that has passed since timeAdded.
//!
//! The pass is a function of what the caches and the taints' timeAdded say (and of the rate
//! limiters' tokens), so a controller taking over after a leader change carries on where the
//! last one stopped.

mod disruption;
mod eviction;
mod health;
mod pods;
mod taints;
#[cfg(test)]
mod tests;

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use futures_util::StreamExt;
use k8s_openapi::{
    api::{
        coordination::v1::Lease,
        core::v1::{Node, NodeCondition, Pod, Taint},
    },
    apimachinery::pkg::apis::meta::v1::Time,
    jiff::Timestamp,
};
use kube::{
    api::{Api, DeleteParams, Patch, PatchParams, PostParams},
    runtime::reflector::{ObjectRef, Store},
    ResourceExt,
};
use serde_json::json;
use tokio::{sync::Notify, time::Instant};
use tracing::{debug, info, warn};

use self::{
    health::Tracker,
    pods::{BoundPod, PodCache},
};
use crate::{
    informers::{Change, Informer},
    replicaset::events::{Recorder, NORMAL, WARNING},
    Context,
};

/// Upstream's `--node-monitor-grace-period` default.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(40);
/// Upstream's `--node-eviction-rate` and `--secondary-node-eviction-rate` defaults.
pub const DEFAULT_NODE_EVICTION_RATE: f64 = disruption::NODE_EVICTION_RATE;
pub const DEFAULT_SECONDARY_NODE_EVICTION_RATE: f64 = disruption::SECONDARY_NODE_EVICTION_RATE;
/// Upstream's `--large-cluster-size-threshold` and `--unhealthy-zone-threshold` defaults.
pub const DEFAULT_LARGE_CLUSTER_SIZE_THRESHOLD: usize = disruption::LARGE_CLUSTER_SIZE_THRESHOLD;
pub const DEFAULT_UNHEALTHY_ZONE_THRESHOLD: f64 = disruption::UNHEALTHY_ZONE_THRESHOLD;
const LEASE_NAMESPACE: &str = "kube-node-lease";
const COMPONENT: &str = "node-controller";
const EVICTION_COMPONENT: &str = "taint-eviction-controller";
/// A pod just deleted is not deleted again while the cache catches up.
const EVICTED_MEMORY: Duration = Duration::from_secs(30);
/// How many API writes one pass has in flight.
const CONCURRENCY: usize = 16;

/// How often nodes are checked: upstream's 5 s node monitor period for the default grace
/// period, and proportionally more often for the short ones tests use.
fn monitor_period(grace: Duration) -> Duration {
    (grace / 8).clamp(Duration::from_millis(200), Duration::from_secs(5))
}

pub async fn run(ctx: Context) {
    let grace = ctx.node_monitor_grace_period;
    let client = ctx.client.clone();
    let node_informer = ctx.informers.get::<Node>();
    let nodes = node_informer.store();
    let mut node_changes = node_informer.subscribe();
    // Only this controller reads node Leases: a watch of its own.
    let leases = Informer::spawn(Api::<Lease>::namespaced(client.clone(), LEASE_NAMESPACE));
    let pods = PodCache::default();
    let (synced_tx, mut synced) = tokio::sync::watch::channel(false);
    let wake = Arc::new(Notify::new());
    let on_node = wake.clone();
    // A node change (a new taint, a recovered condition) is acted on at once; heartbeats and
    // pods are looked at on the next tick.
    let watches = [
        tokio::spawn(async move {
            while let Some(c) = node_changes.recv().await {
                if matches!(c, Change::Added(_) | Change::Updated { .. }) {
                    on_node.notify_one();
                }
            }
        }),
        tokio::spawn(
            pods.clone()
                .run(ctx.informers.get::<Pod>().subscribe(), synced_tx),
        ),
    ];
    let _abort = AbortOnDrop(watches.iter().map(|h| h.abort_handle()).collect());
    let leases = leases.store();
    if nodes.wait_until_ready().await.is_err()
        || leases.wait_until_ready().await.is_err()
        || synced.wait_for(|s| *s).await.is_err()
    {
        return;
    }
    info!(grace_period = ?grace, "node lifecycle controller started");
    let mut c = Controller {
        client: client.clone(),
        nodes,
        leases,
        pods,
        grace,
        tracker: Tracker::default(),
        limiter: disruption::Limiter::new(ctx.node_eviction_rate, ctx.secondary_node_eviction_rate)
            .with_thresholds(
                ctx.large_cluster_size_threshold,
                ctx.unhealthy_zone_threshold,
            ),
        evicted: HashMap::new(),
        events: Recorder::new(client.clone(), COMPONENT),
        evictions: Recorder::new(client, EVICTION_COMPONENT),
    };
    let period = monitor_period(grace);
    let gap = min_pass_gap(period);
    loop {
        let started = Instant::now();
        let next_eviction = c.pass().await;
        let mut sleep = period;
        if let Some(at) = next_eviction {
            let until = at.duration_since(Timestamp::now());
            let until = Duration::try_from(until).unwrap_or(Duration::ZERO);
            sleep = sleep.min(until + Duration::from_millis(10));
        }
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = wake.notified() => {
                // Every node's status report wakes us (17/s at 1000 nodes reporting each
                // minute), and a pass looks at every node: a burst makes one pass, not one each.
                tokio::time::sleep_until(started + gap).await;
            }
        }
    }
}

/// The shortest time between passes woken by node changes.
fn min_pass_gap(period: Duration) -> Duration {
    (period / 5).clamp(Duration::from_millis(40), Duration::from_secs(1))
}

/// The informers stop with the controller (it is aborted on shutdown or lost leadership).
struct AbortOnDrop(Vec<tokio::task::AbortHandle>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for h in &self.0 {
            h.abort();
        }
    }
}

struct Controller {
    client: kube::Client,
    nodes: Store<Node>,
    leases: Store<Lease>,
    pods: PodCache,
    grace: Duration,
    tracker: Tracker,
    /// Paces NoExecute tainting per zone and stops it in a full disruption.
    limiter: disruption::Limiter,
    /// Pods this controller deleted recently (uid -> when).
    evicted: HashMap<String, Instant>,
    events: Recorder,
    evictions: Recorder,
}

/// What one pass found out about a node for its pods.
struct Tainted {
    unreachable: bool,
    no_execute: Vec<Taint>,
}

impl Controller {
    /// One monitoring pass; returns the next time a pod becomes due for eviction or a node
    /// waiting for the eviction rate limiter can be tainted.
    async fn pass(&mut self) -> Option<Timestamp> {
        let now = Instant::now();
        let nodes = self.nodes.state();
        let names: HashSet<String> = nodes.iter().map(|n| n.name_any()).collect();
        self.tracker.retain(|n| names.contains(n));
        let mut affected: HashMap<String, Tainted> = HashMap::new();
        // Conditions first: the zones' disruption states, which pace the taints, count them.
        let mut current = Vec::with_capacity(nodes.len());
        for node in nodes {
            let name = node.name_any();
            let lease_renew = self
                .leases
                .get(&ObjectRef::new(&name).within(LEASE_NAMESPACE))
                .and_then(|l| l.spec.as_ref()?.renew_time.as_ref().map(|t| t.0));
            let heartbeat = health::Heartbeat::of(&node, lease_renew);
            let silent = self.tracker.silent(&name, heartbeat, now, self.grace);
            let mut node = node;
            if silent {
                if let Some(conditions) = health::mark_unknown(&node, Timestamp::now()) {
                    match self.set_conditions(&node, conditions).await {
                        Ok(updated) => node = Arc::new(updated),
                        Err(e) => {
                            debug!(node = %name, error = %e, "marking the node Unknown failed");
                            continue;
                        }
                    }
                }
            }
            current.push(node);
        }
        self.limiter
            .observe(current.iter().map(|n| n.as_ref()), now);
        // Oldest first, as upstream's queue: the node that has waited longest is tainted next.
        current.sort_by_key(|n| n.metadata.creation_timestamp.as_ref().map(|t| t.0));
        let mut deferred = false;
        for mut node in current {
            let name = node.name_any();
            let mode = if taints::needs_no_execute(&node) {
                self.limiter.admit(&node, now)
            } else {
                self.limiter.free()
            };
            if mode == disruption::NoExecute::Defer {
                deferred = true;
                debug!(node = %name, "NoExecute taint waits for the zone's eviction rate limit");
            }
            if let Some(taints) = taints::reconcile_with(&node, Timestamp::now(), mode) {
                match self.set_taints(&node, taints).await {
                    Ok(updated) => node = Arc::new(updated),
                    Err(e) => debug!(node = %name, error = %e, "updating the node's taints failed"),
                }
            }
            let no_execute: Vec<Taint> = node
                .spec
                .as_ref()
                .and_then(|s| s.taints.as_ref())
                .into_iter()
                .flatten()
                .filter(|t| t.effect == "NoExecute")
                .cloned()
                .collect();
            let unreachable = health::ready(&node) == "Unknown";
            if unreachable || !no_execute.is_empty() {
                affected.insert(
                    name,
                    Tainted {
                        unreachable,
                        no_execute,
                    },
                );
            }
        }
        // A node waiting for a token is looked at again when there is one.
        let token_due = deferred
            .then(|| self.limiter.next_token())
            .flatten()
            .map(|at| {
                let wait = at.saturating_duration_since(now);
                Timestamp::now().checked_add(wait).unwrap_or(Timestamp::MAX)
            });
        self.evicted
            .retain(|_, at| now.saturating_duration_since(*at) < EVICTED_MEMORY);
        let next_eviction = if affected.is_empty() {
            None
        } else {
            self.handle_pods(&affected).await
        };
        match (next_eviction, token_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    async fn set_conditions(
        &self,
        node: &Node,
        conditions: Vec<NodeCondition>,
    ) -> kube::Result<Node> {
        let mut updated = node.clone();
        updated
            .status
            .get_or_insert_with(Default::default)
            .conditions = Some(conditions);
        let api: Api<Node> = Api::all(self.client.clone());
        // A replace carries the resourceVersion: a heartbeat that raced in wins.
        let written = api
            .replace_status(&node.name_any(), &PostParams::default(), &updated)
            .await?;
        warn!(node = %node.name_any(), "node stopped posting status: conditions set to Unknown");
        self.events.event(
            node,
            NORMAL,
            "NodeNotReady",
            format!("Node {} status is now: NodeNotReady", node.name_any()),
        );
        Ok(written)
    }

    async fn set_taints(&self, node: &Node, taints: Vec<Taint>) -> kube::Result<Node> {
        let mut updated = node.clone();
        let spec = updated.spec.get_or_insert_with(Default::default);
        let keys = |t: &Option<Vec<Taint>>| {
            t.iter()
                .flatten()
                .map(|t| format!("{}:{}", t.key, t.effect))
                .collect::<Vec<_>>()
        };
        let before = keys(&spec.taints);
        spec.taints = (!taints.is_empty()).then_some(taints);
        let after = keys(&spec.taints);
        let api: Api<Node> = Api::all(self.client.clone());
        let written = api
            .replace(&node.name_any(), &PostParams::default(), &updated)
            .await?;
        info!(node = %node.name_any(), ?before, ?after, "node taints updated");
        Ok(written)
    }

    /// Marks pods on unreachable nodes not Ready and evicts those whose time has come.
    async fn handle_pods(&mut self, affected: &HashMap<String, Tainted>) -> Option<Timestamp> {
        let now = Timestamp::now();
        let mut not_ready = Vec::new();
        let mut evict = Vec::new();
        let mut next: Option<Timestamp> = None;
        for pod in self.pods.on(|node| affected.contains_key(node)) {
            let t = &affected[&pod.node];
            if t.unreachable && pod.ready {
                not_ready.push(pod.clone());
            }
            if pod.deleting || self.evicted.contains_key(&pod.uid) {
                continue;
            }
            match eviction::deadline(&pod.tolerations, &t.no_execute, now) {
                Some(at) if at <= now => evict.push(pod),
                Some(at) => next = Some(next.map_or(at, |n: Timestamp| n.min(at))),
                None => {}
            }
        }
        let pods_ready = futures_util::stream::iter(not_ready)
            .for_each_concurrent(CONCURRENCY, |pod| self.mark_not_ready(pod));
        pods_ready.await;
        let started = Instant::now();
        for p in &evict {
            self.evicted.insert(p.uid.clone(), started);
        }
        futures_util::stream::iter(evict)
            .for_each_concurrent(CONCURRENCY, |pod| self.evict(pod))
            .await;
        next
    }

    /// Upstream's MarkPodsNotReady: the kubelet cannot say so any more.
    async fn mark_not_ready(&self, pod: Arc<BoundPod>) {
        let (name, ns) = (&pod.name, &pod.namespace);
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let patch = json!({"status": {"conditions": [
            {"type": "Ready", "status": "False", "lastTransitionTime": Time(Timestamp::now())}
        ]}});
        match api
            .patch_status(name, &PatchParams::default(), &Patch::Strategic(&patch))
            .await
        {
            Ok(_) => {
                debug!(namespace = %ns, pod = %name, "pod marked not ready: its node is unreachable");
                self.events.event(
                    &pod.as_pod(),
                    WARNING,
                    "NodeNotReady",
                    "Node is not ready".into(),
                );
            }
            Err(e) => {
                debug!(namespace = %ns, pod = %name, error = %e, "marking the pod not ready failed")
            }
        }
    }

    /// The taint manager's eviction: a DisruptionTarget condition, then a plain delete (the
    /// pod's grace period applies; on an unreachable node it stays Terminating, as upstream).
    async fn evict(&self, pod: Arc<BoundPod>) {
        let (name, ns) = (&pod.name, &pod.namespace);
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let patch = json!({"status": {"conditions": [{
            "type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
            "message": "Taint manager: deleting due to NoExecute taint",
            "lastTransitionTime": Time(Timestamp::now()),
        }]}});
        if let Err(e) = api
            .patch_status(name, &PatchParams::default(), &Patch::Strategic(&patch))
            .await
        {
            debug!(namespace = %ns, pod = %name, error = %e, "DisruptionTarget condition not set");
        }
        let dp = DeleteParams {
            // Not a pod that took the name since.
            preconditions: Some(kube::api::Preconditions {
                uid: Some(pod.uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(name, &dp).await {
            Ok(_) => {
                info!(namespace = %ns, pod = %name, node = %pod.node, "pod evicted by the taint manager");
                self.evictions.event(
                    &pod.as_pod(),
                    NORMAL,
                    "TaintManagerEviction",
                    format!("Marking for deletion Pod {ns}/{name}"),
                );
            }
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
            Err(e) => warn!(namespace = %ns, pod = %name, error = %e, "evicting the pod failed"),
        }
    }
}
