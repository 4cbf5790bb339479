//! The scheduling loop: one task owns the cache and the queue, fed by the pod and node
//! watchers; filtering and scoring run inline, bindings run concurrently and report back.

use std::{future::Future, pin::pin, sync::Arc, time::Duration};

use futures_util::FutureExt;
use k8s_openapi::{
    api::core::v1::{Binding, Node, ObjectReference, Pod, PodCondition},
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time},
    jiff::Timestamp,
};
use kube::{
    api::{Api, Patch, PatchParams, PostParams},
    Client,
};
use rkube_controllers::informers::{Change, Informers, Object, Subscription};
use serde_json::json;
use tokio::{
    sync::{mpsc, Semaphore},
    time::Instant,
};
use tracing::{debug, info};

use crate::{
    cache::Cache,
    diagnosis::{unschedulable_message, NO_NODES_AVAILABLE},
    events::{Recorder, Request, COMPONENT},
    filter::filter,
    queue::Queue,
    score::score_with,
    types::{NodeInfo, PodInfo, Status},
};

/// Bindings in flight at once.
const BIND_CONCURRENCY: usize = 128;
/// Status patches in flight at once.
const STATUS_CONCURRENCY: usize = 16;
/// Pods scheduled between looks at the watch streams.
const BATCH: usize = 256;
/// Upstream: at least this many feasible nodes are looked for before scoring.
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
const MIN_FEASIBLE_NODES_PERCENTAGE: usize = 5;

const GATED_REASON: &str = "SchedulingGated";
const GATED_MESSAGE: &str = "Scheduling is blocked due to non-empty scheduling gates";

enum Msg {
    Pod(Change<Pod>),
    Node(Change<Node>),
    Bound {
        pod: Arc<Pod>,
        node: String,
        result: Result<(), kube::Error>,
    },
}

/// Runs the scheduler until `shutdown` resolves, with informers of its own.
pub async fn run(client: Client, shutdown: impl Future<Output = ()>) {
    run_as(client, COMPONENT, shutdown).await
}

/// Runs the default scheduler on shared informers (`rkube server`: the controllers' pod and
/// node watches and stores), writing through `client`.
pub async fn run_shared(client: Client, informers: &Informers, shutdown: impl Future<Output = ()>) {
    run_with(client, COMPONENT, informers, shutdown).await
}

/// Runs a scheduler for pods whose `schedulerName` is `name` (the default scheduler also
/// takes pods with none), with informers of its own. Benchmarks use a second name to hold
/// pods back from the server's own scheduler until they start this one.
pub async fn run_as(client: Client, name: &str, shutdown: impl Future<Output = ()>) {
    let informers = Informers::new(client.clone());
    run_with(client, name, &informers, shutdown).await
}

async fn run_with(
    client: Client,
    name: &str,
    informers: &Informers,
    shutdown: impl Future<Output = ()>,
) {
    info!(scheduler_name = name, "scheduler starting");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let watchers = [
        tokio::spawn(forward(
            informers.get::<Pod>().subscribe(),
            tx.clone(),
            Msg::Pod,
        )),
        tokio::spawn(forward(
            informers.get::<Node>().subscribe(),
            tx.clone(),
            Msg::Node,
        )),
    ];
    let mut s = Scheduler::new(client, tx, name);
    let mut shutdown = pin!(shutdown.fuse());
    loop {
        if (&mut shutdown).now_or_never().is_some() {
            break;
        }
        // Whatever the watches and binders have said so far, without waiting.
        let mut drained = 0;
        while drained < 4096 {
            match rx.try_recv() {
                Ok(m) => s.handle(m),
                Err(_) => break,
            }
            drained += 1;
        }
        let now = Instant::now();
        if s.pending_move {
            s.pending_move = false;
            s.queue.move_all(now);
        }
        let wake = s.queue.tick(now);
        if s.synced() && s.queue.has_active() {
            for _ in 0..BATCH {
                if !s.schedule_one() {
                    break;
                }
            }
            tokio::task::yield_now().await;
            continue;
        }
        let sleep = tokio::time::sleep_until(wake.unwrap_or(now + Duration::from_secs(3600)));
        tokio::select! {
            _ = &mut shutdown => break,
            m = rx.recv() => match m {
                Some(m) => s.handle(m),
                None => break,
            },
            _ = sleep => {}
        }
    }
    for w in watchers {
        w.abort();
    }
    info!("scheduler stopped");
}

async fn forward<K: Object>(
    mut changes: Subscription<K>,
    tx: mpsc::UnboundedSender<Msg>,
    wrap: fn(Change<K>) -> Msg,
) {
    while let Some(c) = changes.recv().await {
        if tx.send(wrap(c)).is_err() {
            return;
        }
    }
}

struct Scheduler {
    client: Client,
    tx: mpsc::UnboundedSender<Msg>,
    cache: Cache,
    queue: Queue,
    recorder: Recorder,
    binds: Arc<Semaphore>,
    status_writes: Arc<Semaphore>,
    /// Set when the cluster changed in a way that may let unschedulable pods fit.
    pending_move: bool,
    pods_synced: bool,
    nodes_synced: bool,
    picker: Picker,
    /// The `schedulerName` this scheduler answers to.
    name: String,
}

impl Scheduler {
    fn new(client: Client, tx: mpsc::UnboundedSender<Msg>, name: &str) -> Self {
        let seed = Timestamp::now().as_nanosecond() as u64 | 1;
        Scheduler {
            recorder: Recorder::start(client.clone()),
            client,
            tx,
            cache: Cache::default(),
            queue: Queue::default(),
            binds: Arc::new(Semaphore::new(BIND_CONCURRENCY)),
            status_writes: Arc::new(Semaphore::new(STATUS_CONCURRENCY)),
            pending_move: false,
            pods_synced: false,
            nodes_synced: false,
            picker: Picker::new(seed),
            name: name.to_string(),
        }
    }

    /// Both caches hold a complete list: deciding before that could overcommit nodes.
    fn synced(&self) -> bool {
        self.pods_synced && self.nodes_synced
    }

    fn handle(&mut self, m: Msg) {
        match m {
            Msg::Pod(c) => match c {
                // The informer reports a relist's vanished pods as deleted.
                Change::Added(p) | Change::Updated { new: p, .. } => self.on_pod(p),
                Change::Deleted(p) => {
                    let uid = p.metadata.uid.clone().unwrap_or_default();
                    self.queue.remove(&uid);
                    if self.cache.remove_pod(&uid) {
                        self.pending_move = true;
                    }
                }
                Change::Synced => {
                    info!(pending = self.queue.len(), "scheduler: pods listed");
                    self.pods_synced = true;
                }
            },
            Msg::Node(c) => match c {
                Change::Added(n) | Change::Updated { new: n, .. } => self.on_node(&n),
                Change::Deleted(n) => {
                    self.cache
                        .remove_node(n.metadata.name.as_deref().unwrap_or_default());
                }
                Change::Synced => {
                    info!(nodes = self.cache.nodes.len(), "scheduler: nodes listed");
                    self.nodes_synced = true;
                    self.pending_move = true;
                }
            },
            Msg::Bound { pod, node, result } => self.on_bound(pod, node, result),
        }
    }

    fn on_node(&mut self, n: &Node) {
        if self.cache.upsert_node(n) {
            self.pending_move = true;
        }
    }

    fn on_pod(&mut self, pod: Arc<Pod>) {
        let Some(uid) = pod.metadata.uid.clone() else {
            return;
        };
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Succeeded" | "Failed")) {
            // Terminal pods hold nothing.
            self.queue.remove(&uid);
            if self.cache.remove_pod(&uid) {
                self.pending_move = true;
            }
            return;
        }
        let spec = pod.spec.as_ref();
        let node = spec
            .and_then(|s| s.node_name.as_deref())
            .filter(|n| !n.is_empty());
        if let Some(node) = node {
            self.queue.remove(&uid);
            match self.cache.placed(&uid) {
                Some(p) if p.node == node => self.cache.confirm(&uid),
                _ => {
                    let info = Arc::new(PodInfo::from_pod(&pod));
                    self.cache.place(info, node, false);
                }
            }
            return;
        }
        if self.cache.placed(&uid).is_some() {
            // Assumed and binding (or bound, and the watch is behind).
            return;
        }
        let ours = spec
            .and_then(|s| s.scheduler_name.as_deref())
            .map_or(self.name == COMPONENT, |n| {
                n == self.name || (n.is_empty() && self.name == COMPONENT)
            });
        if !ours {
            return;
        }
        if pod.metadata.deletion_timestamp.is_some() {
            self.queue.remove(&uid);
            return;
        }
        let gated = spec
            .and_then(|s| s.scheduling_gates.as_ref())
            .is_some_and(|g| !g.is_empty());
        if gated {
            self.queue.remove(&uid);
            self.set_condition(&pod, GATED_REASON, GATED_MESSAGE);
            return;
        }
        self.queue.add_or_update(&uid, pod, Instant::now());
    }

    /// Schedules the next active pod; false when there is none.
    fn schedule_one(&mut self) -> bool {
        let Some((uid, pod, info)) = self.queue.pop() else {
            return false;
        };
        match self.picker.pick(&self.cache.nodes, &info) {
            Ok(i) => {
                let node = self.cache.nodes[i].name.clone();
                self.cache.place(info, &node, true);
                self.bind(pod, node);
            }
            Err(message) => {
                debug!(pod = %format!("{}/{}", info.namespace, info.name), %message, "unschedulable");
                self.queue.failed(&uid, Instant::now());
                self.set_condition(&pod, "Unschedulable", &message);
                self.recorder.record(Request {
                    pod,
                    type_: "Warning",
                    reason: "FailedScheduling",
                    action: "Scheduling",
                    message,
                });
            }
        }
        true
    }

    fn bind(&self, pod: Arc<Pod>, node: String) {
        let (client, tx, sem) = (self.client.clone(), self.tx.clone(), self.binds.clone());
        tokio::spawn(async move {
            let _permit = sem.acquire_owned().await;
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            let name = pod.metadata.name.clone().unwrap_or_default();
            let binding = Binding {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(ns.clone()),
                    uid: pod.metadata.uid.clone(),
                    ..ObjectMeta::default()
                },
                target: ObjectReference {
                    api_version: Some("v1".into()),
                    kind: Some("Node".into()),
                    name: Some(node.clone()),
                    ..ObjectReference::default()
                },
            };
            let api: Api<Pod> = Api::namespaced(client, &ns);
            let result = api
                .create_subresource::<_, serde_json::Value>(
                    "binding",
                    &name,
                    &PostParams::default(),
                    &binding,
                )
                .await
                .map(|_| ());
            let _ = tx.send(Msg::Bound { pod, node, result });
        });
    }

    fn on_bound(&mut self, pod: Arc<Pod>, node: String, result: Result<(), kube::Error>) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let key = format!(
            "{}/{}",
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default()
        );
        match result {
            Ok(()) => {
                self.queue.done(&uid);
                debug!(pod = %key, %node, "bound");
                // rkube's binding does not set PodScheduled; a pod we once reported
                // unschedulable would otherwise keep saying so until its kubelet reports.
                if scheduled_condition(&pod).is_some_and(|c| c.status != "True") {
                    self.patch_condition(&pod, "True", None, None);
                }
                self.recorder.record(Request {
                    message: format!("Successfully assigned {key} to {node}"),
                    pod,
                    type_: "Normal",
                    reason: "Scheduled",
                    action: "Binding",
                });
            }
            Err(e) => {
                if self.cache.placed(&uid).is_some_and(|p| p.assumed) {
                    self.cache.remove_pod(&uid);
                    self.pending_move = true;
                }
                let code = match &e {
                    kube::Error::Api(s) => s.code,
                    _ => 0,
                };
                if code == 404 {
                    self.queue.remove(&uid);
                    return;
                }
                debug!(pod = %key, %node, error = %e, "binding failed");
                self.queue.retry(&uid, Instant::now());
                if code != 409 {
                    self.recorder.record(Request {
                        pod,
                        type_: "Warning",
                        reason: "FailedScheduling",
                        action: "Scheduling",
                        message: match &e {
                            kube::Error::Api(s) => s.message.clone(),
                            e => e.to_string(),
                        },
                    });
                }
            }
        }
    }

    /// PodScheduled=False with `reason`/`message`, unless the pod already says exactly that.
    fn set_condition(&self, pod: &Arc<Pod>, reason: &str, message: &str) {
        if let Some(c) = scheduled_condition(pod) {
            if c.status == "False"
                && c.reason.as_deref() == Some(reason)
                && c.message.as_deref() == Some(message)
            {
                return;
            }
        }
        self.patch_condition(pod, "False", Some(reason), Some(message));
    }

    /// PodScheduled on pods/status. Unbound: a merge patch carrying the whole conditions list
    /// with PodScheduled replaced (its lastTransitionTime kept when the status does not
    /// change). Bound: PodScheduled=True alone, merged by type.
    fn patch_condition(
        &self,
        pod: &Arc<Pod>,
        status: &str,
        reason: Option<&str>,
        message: Option<&str>,
    ) {
        let now = Time(Timestamp::now());
        let mut conditions: Vec<PodCondition> = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        let transition = conditions
            .iter()
            .find(|c| c.type_ == "PodScheduled" && c.status == status)
            .and_then(|c| c.last_transition_time.clone())
            .unwrap_or(now);
        conditions.retain(|c| c.type_ != "PodScheduled");
        conditions.push(PodCondition {
            type_: "PodScheduled".into(),
            status: status.into(),
            reason: reason.map(Into::into),
            message: message.map(Into::into),
            last_transition_time: Some(transition),
            ..PodCondition::default()
        });
        // Once bound, the node's kubelet writes conditions too: a strategic merge patch
        // (merging conditions by type) leaves its conditions alone.
        let bound = status == "True";
        let patch = if bound {
            json!({"status": {"conditions": [{
                "type": "PodScheduled", "status": "True", "lastProbeTime": null,
                "lastTransitionTime": Time(Timestamp::now()), "reason": null, "message": null,
            }]}})
        } else {
            json!({"status": {"conditions": conditions}})
        };
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let (client, sem) = (self.client.clone(), self.status_writes.clone());
        tokio::spawn(async move {
            let _permit = sem.acquire_owned().await;
            let api: Api<Pod> = Api::namespaced(client, &ns);
            match api
                .patch_status(
                    &name,
                    &PatchParams::default(),
                    &if bound {
                        Patch::Strategic(&patch)
                    } else {
                        Patch::Merge(&patch)
                    },
                )
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => {
                    debug!(pod = %format!("{ns}/{name}"), error = %e, "updating PodScheduled failed")
                }
            }
        });
    }
}

/// Chooses a node for one pod at a time, reusing its buffers between pods.
pub struct Picker {
    next_start: usize,
    feasible: Vec<usize>,
    scores: Vec<i64>,
    rng: u64,
}

impl Picker {
    pub fn new(seed: u64) -> Self {
        Picker {
            next_start: 0,
            feasible: Vec::new(),
            scores: Vec::new(),
            rng: seed | 1,
        }
    }

    /// Filters (stopping once enough nodes fit, from a rotating start, as upstream), then
    /// scores; the best node's index, or the unschedulable message.
    pub fn pick(&mut self, nodes: &[NodeInfo], info: &PodInfo) -> Result<usize, String> {
        let n = nodes.len();
        if n == 0 {
            return Err(NO_NODES_AVAILABLE.to_string());
        }
        let want = num_feasible_nodes_to_find(n);
        self.feasible.clear();
        let mut processed = 0;
        for k in 0..n {
            let i = (self.next_start + k) % n;
            processed += 1;
            if filter(info, &nodes[i]).is_ok() {
                self.feasible.push(i);
                if self.feasible.len() >= want {
                    break;
                }
            }
        }
        self.next_start = (self.next_start + processed) % n;
        if self.feasible.is_empty() {
            let statuses: Vec<Status> = nodes
                .iter()
                .map(|nd| filter(info, nd).expect_err("rejected a moment ago"))
                .collect();
            let pairs: Vec<_> = nodes.iter().zip(statuses.iter()).collect();
            return Err(unschedulable_message(info, &pairs));
        }
        if self.feasible.len() == 1 {
            return Ok(self.feasible[0]);
        }
        let feasible = &self.feasible;
        score_with(
            info,
            feasible.len(),
            |k| &nodes[feasible[k]],
            &mut self.scores,
        );
        // The best score; ties broken at random (reservoir sampling, as upstream).
        let mut best = 0;
        let mut ties = 0u64;
        for k in 0..self.scores.len() {
            if self.scores[k] > self.scores[best] {
                best = k;
                ties = 1;
            } else if self.scores[k] == self.scores[best] {
                ties += 1;
                if next_rand(&mut self.rng).is_multiple_of(ties) {
                    best = k;
                }
            }
        }
        Ok(self.feasible[best])
    }
}

fn scheduled_condition(pod: &Pod) -> Option<&PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "PodScheduled")
}

/// Upstream's numFeasibleNodesToFind with the adaptive percentage (50% less 1% per 125
/// nodes, at least 5%), never fewer than 100 nodes.
pub fn num_feasible_nodes_to_find(all: usize) -> usize {
    if all < MIN_FEASIBLE_NODES_TO_FIND {
        return all;
    }
    let pct = 50usize
        .saturating_sub(all / 125)
        .max(MIN_FEASIBLE_NODES_PERCENTAGE);
    (all * pct / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

fn next_rand(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: usize) -> Vec<NodeInfo> {
        (0..n)
            .map(|i| {
                NodeInfo::new(
                    &serde_json::from_value(json!({
                        "metadata": {"name": format!("sim-{i}"), "labels": {"type": "sim"}},
                        "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "100Gi"},
                                   "conditions": [{"type": "Ready", "status": "True"}]},
                    }))
                    .unwrap(),
                )
            })
            .collect()
    }

    fn pod(i: usize, owners: usize) -> PodInfo {
        let p: Pod = serde_json::from_value(json!({
            "metadata": {"name": format!("p-{i}"), "namespace": "default", "uid": format!("u-{i}"),
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                                              "uid": format!("rs-{}", i % owners), "controller": true}]},
            "spec": {"containers": [{"name": "c", "image": "nginx",
                                     "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]},
        }))
        .unwrap();
        PodInfo::from_pod(&p)
    }

    /// Schedules `count` pods onto `nodes`, assuming each; returns how many fit.
    fn fill(nodes: &mut [NodeInfo], count: usize) -> (usize, Option<String>) {
        let mut picker = Picker::new(7);
        let mut last_err = None;
        let mut placed = 0;
        for i in 0..count {
            let info = Arc::new(pod(i, 10));
            match picker.pick(nodes, &info) {
                Ok(n) => {
                    nodes[n].add_pod(info);
                    placed += 1;
                }
                Err(e) => last_err = Some(e),
            }
        }
        (placed, last_err)
    }

    #[test]
    fn a_burst_never_overcommits_and_spreads() {
        let mut ns = nodes(3);
        let (placed, err) = fill(&mut ns, 340);
        assert_eq!(placed, 330, "3 nodes of 110 pods");
        assert_eq!(
            err.unwrap(),
            "0/3 nodes are available: 3 Too many pods. preemption: 0/3 nodes are available: \
             3 No preemption victims found for incoming pod.."
        );
        let mut ns = nodes(10);
        fill(&mut ns, 100);
        for n in &ns {
            assert_eq!(n.pod_count(), 10, "{}: spread evenly", n.name);
            assert_eq!(n.owners.len(), 10, "each owner's pods spread");
        }
    }

    /// cargo test --release -p rkube-scheduler -- --ignored --nocapture throughput
    #[test]
    #[ignore]
    fn throughput_at_1000_nodes() {
        let mut ns = nodes(1000);
        let count = 50_000;
        let start = std::time::Instant::now();
        let (placed, _) = fill(&mut ns, count);
        let took = start.elapsed();
        assert_eq!(placed, count);
        println!(
            "scheduled {count} pods on 1000 nodes in {took:?}: {:.0} pods/s",
            count as f64 / took.as_secs_f64()
        );
    }

    #[test]
    fn feasible_nodes_to_find() {
        assert_eq!(num_feasible_nodes_to_find(3), 3);
        assert_eq!(num_feasible_nodes_to_find(99), 99);
        assert_eq!(num_feasible_nodes_to_find(100), 100);
        assert_eq!(num_feasible_nodes_to_find(1000), 420);
        assert_eq!(num_feasible_nodes_to_find(5000), 500);
        assert_eq!(num_feasible_nodes_to_find(6000), 300);
    }
}
