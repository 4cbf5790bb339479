//! The kubelet's part for pods bound to simulated nodes: one task owns every pod's state
//! and the nodes' IP pools; status writes and deletions run concurrently and report back.

use std::{
    collections::{HashMap, HashSet},
    net::Ipv4Addr,
    pin::pin,
    sync::Arc,
    time::Duration,
};

use futures_util::StreamExt;
use k8s_openapi::{
    api::core::v1::{Container, Event, ObjectReference, Pod},
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time},
    jiff::{SignedDuration, Timestamp},
};
use kube::{
    api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions},
    runtime::{watcher, WatchStreamExt},
    Client,
};
use serde_json::{json, Value};
use tokio::sync::{mpsc, Semaphore};
use tracing::{debug, warn};

use crate::{
    ipam::NodeIpam,
    nodes::{time, SimNode},
};

/// API writes in flight at once.
const CONCURRENCY: usize = 64;
/// How long a deleted pod's containers take to stop, at most.
const MAX_TERMINATION: Duration = Duration::from_secs(1);
const RETRY: Duration = Duration::from_secs(1);

enum Msg {
    Watch(Box<watcher::Event<Pod>>),
    /// The Running status was written (or not); `initial` for the first write.
    Written {
        uid: String,
        ok: bool,
        initial: bool,
    },
    /// The final DELETE failed: start the termination over.
    TerminateFailed {
        uid: String,
    },
    /// A readiness probe's initial delay ran out.
    Ready {
        uid: String,
    },
    /// Look at the pod again (after a failed write, or waiting for an IP).
    Retry {
        uid: String,
    },
}

struct SimPod {
    node: usize,
    latest: Arc<Pod>,
    ip: Option<Ipv4Addr>,
    started_at: Option<Timestamp>,
    started: bool,
    start_in_flight: bool,
    terminating: bool,
    /// A retry is already pending.
    retry_pending: bool,
    warned_no_ip: bool,
}

pub async fn run(client: Client, nodes: Arc<Vec<SimNode>>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let forward = {
        let (client, tx) = (client.clone(), tx.clone());
        async move {
            let api: Api<Pod> = Api::all(client);
            let mut events = pin!(watcher(api, watcher::Config::default()).default_backoff());
            while let Some(ev) = events.next().await {
                match ev {
                    Ok(ev) => {
                        if tx.send(Msg::Watch(Box::new(ev))).is_err() {
                            return;
                        }
                    }
                    Err(e) => debug!(error = %e, "simulated kubelet pod watch failed; retrying"),
                }
            }
        }
    };
    let mut k = Kubelet {
        index: nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect(),
        ipams: nodes.iter().map(|n| NodeIpam::new(n.pod_cidr)).collect(),
        nodes,
        pods: HashMap::new(),
        relist: None,
        listed: false,
        deferred: Vec::new(),
        client,
        tx,
        writes: Arc::new(Semaphore::new(CONCURRENCY)),
    };
    let handle = async move {
        while let Some(m) = rx.recv().await {
            k.handle(m);
        }
    };
    tokio::join!(forward, handle);
}

struct Kubelet {
    nodes: Arc<Vec<SimNode>>,
    index: HashMap<String, usize>,
    ipams: Vec<NodeIpam>,
    pods: HashMap<String, SimPod>,
    relist: Option<HashSet<String>>,
    /// Until the first list is complete, new pods wait (so running pods reclaim their IPs
    /// first).
    listed: bool,
    deferred: Vec<String>,
    client: Client,
    tx: mpsc::UnboundedSender<Msg>,
    writes: Arc<Semaphore>,
}

impl Kubelet {
    fn handle(&mut self, m: Msg) {
        match m {
            Msg::Watch(ev) => self.on_watch(*ev),
            Msg::Written { uid, ok, initial } => {
                let Some(sp) = self.pods.get_mut(&uid) else {
                    return;
                };
                match (initial, ok) {
                    (true, true) => {
                        sp.start_in_flight = false;
                        sp.started = true;
                        self.schedule_readiness(&uid);
                    }
                    (true, false) => {
                        sp.start_in_flight = false;
                        self.retry_later(&uid);
                    }
                    (false, true) => {}
                    (false, false) => {
                        let (tx, uid) = (self.tx.clone(), uid.clone());
                        tokio::spawn(async move {
                            tokio::time::sleep(RETRY).await;
                            let _ = tx.send(Msg::Ready { uid });
                        });
                    }
                }
            }
            Msg::Ready { uid } => {
                let Some(sp) = self.pods.get(&uid) else {
                    return;
                };
                if sp.started && !sp.terminating {
                    self.write_running(&uid, false);
                }
            }
            Msg::TerminateFailed { uid } => {
                let Some(sp) = self.pods.get_mut(&uid) else {
                    return;
                };
                sp.terminating = false;
                let latest = sp.latest.clone();
                self.on_pod(latest);
            }
            Msg::Retry { uid } => {
                let Some(sp) = self.pods.get_mut(&uid) else {
                    return;
                };
                sp.retry_pending = false;
                let latest = sp.latest.clone();
                self.on_pod(latest);
            }
        }
    }

    fn on_watch(&mut self, ev: watcher::Event<Pod>) {
        match ev {
            watcher::Event::Init => self.relist = Some(HashSet::new()),
            watcher::Event::InitApply(p) => {
                if let (Some(seen), Some(uid)) = (&mut self.relist, &p.metadata.uid) {
                    seen.insert(uid.clone());
                }
                self.on_pod(Arc::new(p));
            }
            watcher::Event::InitDone => {
                if let Some(seen) = self.relist.take() {
                    let gone: Vec<String> = self
                        .pods
                        .keys()
                        .filter(|u| !seen.contains(*u))
                        .cloned()
                        .collect();
                    for uid in gone {
                        self.forget(&uid);
                    }
                }
                self.listed = true;
                for uid in std::mem::take(&mut self.deferred) {
                    if let Some(sp) = self.pods.get(&uid) {
                        let latest = sp.latest.clone();
                        self.on_pod(latest);
                    }
                }
            }
            watcher::Event::Apply(p) => self.on_pod(Arc::new(p)),
            watcher::Event::Delete(p) => {
                if let Some(uid) = &p.metadata.uid {
                    self.forget(uid);
                }
            }
        }
    }

    fn forget(&mut self, uid: &str) {
        if let Some(sp) = self.pods.remove(uid) {
            if let Some(ip) = sp.ip {
                self.ipams[sp.node].release(ip);
            }
        }
    }

    fn on_pod(&mut self, pod: Arc<Pod>) {
        let Some(uid) = pod.metadata.uid.clone() else {
            return;
        };
        let Some(&node) = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_ref())
            .and_then(|n| self.index.get(n))
        else {
            return;
        };
        let sp = self.pods.entry(uid.clone()).or_insert_with(|| SimPod {
            node,
            latest: pod.clone(),
            ip: None,
            started_at: None,
            started: false,
            start_in_flight: false,
            terminating: false,
            retry_pending: false,
            warned_no_ip: false,
        });
        sp.latest = pod.clone();
        if pod.metadata.deletion_timestamp.is_some() {
            if !sp.terminating {
                sp.terminating = true;
                self.terminate(&uid);
            }
            return;
        }
        let status = pod.status.as_ref();
        let phase = status.and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Succeeded" | "Failed")) || sp.started || sp.start_in_flight {
            return;
        }
        // Running already (an earlier run of the simulator): take over its address.
        let pod_ip = status
            .and_then(|s| s.pod_ip.as_deref())
            .and_then(|ip| ip.parse::<Ipv4Addr>().ok());
        if let (Some("Running"), Some(ip)) = (phase, pod_ip) {
            if sp.ip.is_none() && self.ipams[node].reserve(ip) {
                sp.ip = Some(ip);
            }
            sp.started = true;
            sp.started_at = status
                .and_then(|s| s.start_time.as_ref())
                .map(|t| t.0)
                .or_else(|| Some(Timestamp::now()));
            let unready = status
                .and_then(|s| s.container_statuses.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| !c.ready));
            self.schedule_readiness(&uid);
            if unready {
                // Readiness may be due already (the simulator was down when it was).
                let _ = self.tx.send(Msg::Ready { uid });
            }
            return;
        }
        if !self.listed {
            self.deferred.push(uid);
            return;
        }
        if sp.ip.is_none() {
            match self.ipams[node].allocate() {
                Some(ip) => sp.ip = Some(ip),
                None => {
                    if !sp.warned_no_ip {
                        sp.warned_no_ip = true;
                        let range = self.ipams[node].range();
                        warn!(pod = %key(&pod), node = %self.nodes[node].name, "no pod IP left on the simulated node");
                        self.event(
                            &pod,
                            node,
                            "FailedCreatePodSandBox",
                            format!(
                                "Failed to create pod sandbox: plugin type=\"host-local\" failed (add): failed to allocate for range 0: no IP addresses available in range set: {range}"
                            ),
                        );
                    }
                    self.retry_later_after(&uid, Duration::from_secs(5));
                    return;
                }
            }
        }
        sp.started_at.get_or_insert_with(Timestamp::now);
        sp.start_in_flight = true;
        self.write_running(&uid, true);
    }

    /// Readiness flips when each readiness probe's initial delay runs out.
    fn schedule_readiness(&self, uid: &str) {
        let Some(sp) = self.pods.get(uid) else {
            return;
        };
        let Some(started_at) = sp.started_at else {
            return;
        };
        let elapsed = elapsed_since(started_at);
        let mut delays: Vec<u64> = readiness_delays(&sp.latest)
            .into_iter()
            .filter(|d| Duration::from_secs(*d) > elapsed)
            .collect();
        delays.sort_unstable();
        delays.dedup();
        for d in delays {
            let wait = Duration::from_secs(d) - elapsed;
            let (tx, uid) = (self.tx.clone(), uid.to_string());
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                let _ = tx.send(Msg::Ready { uid });
            });
        }
    }

    fn retry_later(&mut self, uid: &str) {
        self.retry_later_after(uid, RETRY);
    }

    fn retry_later_after(&mut self, uid: &str, wait: Duration) {
        let Some(sp) = self.pods.get_mut(uid) else {
            return;
        };
        if std::mem::replace(&mut sp.retry_pending, true) {
            return;
        }
        let (tx, uid) = (self.tx.clone(), uid.to_string());
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let _ = tx.send(Msg::Retry { uid });
        });
    }

    /// Writes the Running status (containers ready as their probes allow by now).
    fn write_running(&self, uid: &str, initial: bool) {
        let Some(sp) = self.pods.get(uid) else {
            return;
        };
        let (Some(ip), Some(started_at)) = (sp.ip, sp.started_at) else {
            return;
        };
        let node = &self.nodes[sp.node];
        let status = running_status(
            &sp.latest,
            node.ip,
            ip,
            started_at,
            elapsed_since(started_at),
        );
        let pod = sp.latest.clone();
        let (client, tx, sem, uid) = (
            self.client.clone(),
            self.tx.clone(),
            self.writes.clone(),
            uid.to_string(),
        );
        tokio::spawn(async move {
            let _permit = sem.acquire_owned().await;
            let ok = match patch_status(client, &pod, status).await {
                Ok(()) => true,
                Err(kube::Error::Api(e)) if e.code == 404 => true,
                Err(e) => {
                    debug!(pod = %key(&pod), error = %e, "writing the Running status failed");
                    false
                }
            };
            let _ = tx.send(Msg::Written { uid, ok, initial });
        });
    }

    /// After min(grace period, 1s): containers terminated, then the final DELETE.
    fn terminate(&self, uid: &str) {
        let Some(sp) = self.pods.get(uid) else {
            return;
        };
        let pod = sp.latest.clone();
        let grace = pod
            .metadata
            .deletion_grace_period_seconds
            .unwrap_or(0)
            .max(0) as u64;
        let wait = Duration::from_secs(grace).min(MAX_TERMINATION);
        let started_at = sp.started_at;
        let (client, tx, sem, uid) = (
            self.client.clone(),
            self.tx.clone(),
            self.writes.clone(),
            uid.to_string(),
        );
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let _permit = sem.acquire_owned().await;
            let status = terminated_status(&pod, started_at);
            match patch_status(client.clone(), &pod, status).await {
                Ok(()) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => return,
                Err(e) => {
                    debug!(pod = %key(&pod), error = %e, "writing the terminated status failed")
                }
            }
            let api: Api<Pod> = Api::namespaced(
                client,
                pod.metadata.namespace.as_deref().unwrap_or_default(),
            );
            let dp = DeleteParams {
                grace_period_seconds: Some(0),
                preconditions: Some(Preconditions {
                    uid: Some(uid.clone()),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match api
                .delete(pod.metadata.name.as_deref().unwrap_or_default(), &dp)
                .await
            {
                Ok(_) => debug!(pod = %key(&pod), "deleted"),
                // Gone already, or a new pod took the name.
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
                Err(e) => {
                    warn!(pod = %key(&pod), error = %e, "deleting a terminated pod failed; retrying");
                    tokio::time::sleep(RETRY).await;
                    let _ = tx.send(Msg::TerminateFailed { uid });
                }
            }
        });
    }

    /// A kubelet-style (core/v1, source kubelet) event about a pod.
    fn event(&self, pod: &Pod, node: usize, reason: &str, message: String) {
        let now = Timestamp::now();
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let node = self.nodes[node].name.clone();
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!("{name}.{:x}", now.as_nanosecond())),
                namespace: Some(ns.clone()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                namespace: Some(ns.clone()),
                name: Some(name),
                uid: pod.metadata.uid.clone(),
                resource_version: pod.metadata.resource_version.clone(),
                ..ObjectReference::default()
            },
            reason: Some(reason.into()),
            message: Some(message),
            type_: Some("Warning".into()),
            source: Some(k8s_openapi::api::core::v1::EventSource {
                component: Some("kubelet".into()),
                host: Some(node.clone()),
            }),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            reporting_component: Some("kubelet".into()),
            reporting_instance: Some(node),
            ..Event::default()
        };
        let client = self.client.clone();
        tokio::spawn(async move {
            let api: Api<Event> = Api::namespaced(client, &ns);
            if let Err(e) = api.create(&PostParams::default(), &event).await {
                debug!(error = %e, "writing an event failed");
            }
        });
    }
}

/// A strategic merge patch on pods/status, as the kubelet's status manager writes: conditions
/// merge by type, so conditions others own (DisruptionTarget, readiness gates) stay.
async fn patch_status(client: Client, pod: &Pod, status: Value) -> kube::Result<()> {
    let api: Api<Pod> = Api::namespaced(
        client,
        pod.metadata.namespace.as_deref().unwrap_or_default(),
    );
    let patch = json!({ "status": status });
    api.patch_status(
        pod.metadata.name.as_deref().unwrap_or_default(),
        &PatchParams::default(),
        &Patch::Strategic(&patch),
    )
    .await
    .map(|_| ())
}

fn key(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default()
    )
}

fn elapsed_since(t: Timestamp) -> Duration {
    Duration::try_from(Timestamp::now().duration_since(t)).unwrap_or_default()
}

fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// Each container's readiness probe initial delay (0 without a probe), in seconds.
fn readiness_delays(pod: &Pod) -> Vec<u64> {
    let spec = pod.spec.as_ref();
    let sidecars = spec
        .and_then(|s| s.init_containers.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| is_sidecar(c));
    spec.map(|s| s.containers.iter())
        .into_iter()
        .flatten()
        .chain(sidecars)
        .map(readiness_delay)
        .collect()
}

fn readiness_delay(c: &Container) -> u64 {
    c.readiness_probe
        .as_ref()
        .and_then(|p| p.initial_delay_seconds)
        .unwrap_or(0)
        .max(0) as u64
}

fn container_id(pod: &Pod, c: &Container) -> String {
    format!(
        "sim://{}-{}",
        pod.metadata.uid.as_deref().unwrap_or_default(),
        c.name
    )
}

fn condition(
    type_: &str,
    status: bool,
    at: &str,
    reason: Option<&str>,
    message: Option<String>,
) -> Value {
    // Written with a strategic merge patch (conditions merge by type): null clears a
    // reason or message left from before.
    json!({
        "type": type_,
        "status": if status { "True" } else { "False" },
        "lastProbeTime": null,
        "lastTransitionTime": at,
        "reason": reason,
        "message": message,
    })
}

/// The status the kubelet reports for a running pod, `elapsed` after it started.
pub fn running_status(
    pod: &Pod,
    host_ip: Ipv4Addr,
    pod_ip: Ipv4Addr,
    started_at: Timestamp,
    elapsed: Duration,
) -> Value {
    let start = time(started_at);
    let empty = Vec::new();
    let spec = pod.spec.as_ref();
    let containers = spec.map_or(&empty, |s| &s.containers);
    let inits = spec
        .and_then(|s| s.init_containers.as_ref())
        .unwrap_or(&empty);
    let ready_after = |c: &Container| Duration::from_secs(readiness_delay(c)) <= elapsed;
    let state_running = json!({"running": {"startedAt": start}});
    let running =
        |c: &Container, ready: bool| container_status(pod, c, ready, true, state_running.clone());
    let statuses: Vec<Value> = containers
        .iter()
        .map(|c| running(c, ready_after(c)))
        .collect();
    let init_statuses: Vec<Value> = inits
        .iter()
        .map(|c| {
            if is_sidecar(c) {
                running(c, ready_after(c))
            } else {
                container_status(pod, c, true, false, completed(pod, c, &start, &start))
            }
        })
        .collect();
    let unready: Vec<&str> = containers
        .iter()
        .chain(inits.iter().filter(|c| is_sidecar(c)))
        .filter(|c| !ready_after(c))
        .map(|c| c.name.as_str())
        .collect();
    let all_ready = unready.is_empty();
    // Readiness turned true when the slowest probe's delay ran out.
    let ready_at = containers
        .iter()
        .chain(inits.iter().filter(|c| is_sidecar(c)))
        .map(readiness_delay)
        .max()
        .unwrap_or(0);
    let ready_at = time(
        started_at
            .checked_add(SignedDuration::from_secs(ready_at as i64))
            .unwrap_or(started_at),
    );
    let (ready_reason, ready_message, ready_time) = if all_ready {
        (None, None, ready_at.as_str())
    } else {
        (
            Some("ContainersNotReady"),
            Some(format!(
                "containers with unready status: [{}]",
                unready.join(" ")
            )),
            start.as_str(),
        )
    };
    let mut status = json!({
        "phase": "Running",
        "conditions": [
            condition("PodReadyToStartContainers", true, &start, None, None),
            condition("Initialized", true, &start, None, None),
            condition("Ready", all_ready, ready_time, ready_reason, ready_message.clone()),
            condition("ContainersReady", all_ready, ready_time, ready_reason, ready_message),
            condition("PodScheduled", true, &start, None, None),
        ],
        "hostIP": host_ip.to_string(),
        "hostIPs": [{"ip": host_ip.to_string()}],
        "podIP": pod_ip.to_string(),
        "podIPs": [{"ip": pod_ip.to_string()}],
        "startTime": start,
        "containerStatuses": statuses,
    });
    if !init_statuses.is_empty() {
        status["initContainerStatuses"] = json!(init_statuses);
    }
    status
}

/// One container's status as a kubelet reports it; the sim only varies readiness and state.
fn container_status(pod: &Pod, c: &Container, ready: bool, started: bool, state: Value) -> Value {
    json!({
        "name": c.name,
        "image": c.image.as_deref().unwrap_or_default(),
        "imageID": format!("sim://{}", c.image.as_deref().unwrap_or_default()),
        "containerID": container_id(pod, c),
        "ready": ready,
        "started": started,
        "restartCount": 0,
        "state": state,
        "lastState": {},
    })
}

/// A container state that ran from `started` to `finished` and exited 0.
fn completed(pod: &Pod, c: &Container, started: &str, finished: &str) -> Value {
    json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started,
                          "finishedAt": finished, "containerID": container_id(pod, c)}})
}

/// The status once a deleted pod's containers stopped: terminated, exit code 0.
pub fn terminated_status(pod: &Pod, started_at: Option<Timestamp>) -> Value {
    let now = time(Timestamp::now());
    let start = started_at.map(time).unwrap_or_else(|| now.clone());
    let terminated =
        |c: &Container| container_status(pod, c, false, false, completed(pod, c, &start, &now));
    let empty = Vec::new();
    let spec = pod.spec.as_ref();
    let containers = spec.map_or(&empty, |s| &s.containers);
    let mut status = json!({
        "phase": "Succeeded",
        "conditions": [
            condition("PodReadyToStartContainers", false, &now, None, None),
            condition("Initialized", true, &start, None, None),
            condition("Ready", false, &now, Some("PodCompleted"), None),
            condition("ContainersReady", false, &now, Some("PodCompleted"), None),
            condition("PodScheduled", true, &start, None, None),
        ],
        "containerStatuses": containers.iter().map(terminated).collect::<Vec<_>>(),
    });
    let sidecars: Vec<Value> = spec
        .and_then(|s| s.init_containers.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| is_sidecar(c))
        .map(terminated)
        .collect();
    if !sidecars.is_empty() {
        status["initContainerStatuses"] = json!(sidecars);
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(spec: Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "u-1"},
            "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn running_without_probes_is_ready() {
        let p = pod(json!({"containers": [{"name": "nginx", "image": "nginx:1.27"}]}));
        let s = running_status(
            &p,
            "10.41.0.1".parse().unwrap(),
            "10.42.1.2".parse().unwrap(),
            Timestamp::UNIX_EPOCH,
            Duration::ZERO,
        );
        assert_eq!(s["phase"], "Running");
        assert_eq!(s["podIP"], "10.42.1.2");
        assert_eq!(s["podIPs"], json!([{"ip": "10.42.1.2"}]));
        assert_eq!(s["hostIP"], "10.41.0.1");
        assert_eq!(s["startTime"], "1970-01-01T00:00:00Z");
        let c = &s["containerStatuses"][0];
        assert_eq!(c["ready"], true);
        assert_eq!(c["started"], true);
        assert_eq!(c["imageID"], "sim://nginx:1.27");
        assert_eq!(c["containerID"], "sim://u-1-nginx");
        assert_eq!(c["state"]["running"]["startedAt"], "1970-01-01T00:00:00Z");
        let types: Vec<(&str, &str)> = s["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["type"].as_str().unwrap(), c["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            types,
            [
                ("PodReadyToStartContainers", "True"),
                ("Initialized", "True"),
                ("Ready", "True"),
                ("ContainersReady", "True"),
                ("PodScheduled", "True")
            ]
        );
        // The whole thing is a valid PodStatus.
        let _: k8s_openapi::api::core::v1::PodStatus = serde_json::from_value(s).unwrap();
    }

    #[test]
    fn readiness_waits_for_the_initial_delay() {
        let p = pod(json!({"containers": [
            {"name": "app", "image": "app", "readinessProbe": {"httpGet": {"port": 80}, "initialDelaySeconds": 5}},
            {"name": "log", "image": "log"},
        ]}));
        assert_eq!(readiness_delays(&p), [5, 0]);
        let s = running_status(
            &p,
            "10.41.0.1".parse().unwrap(),
            "10.42.1.2".parse().unwrap(),
            Timestamp::UNIX_EPOCH,
            Duration::from_secs(2),
        );
        assert_eq!(s["containerStatuses"][0]["ready"], false);
        assert_eq!(s["containerStatuses"][1]["ready"], true);
        assert_eq!(s["conditions"][2]["status"], "False");
        assert_eq!(s["conditions"][2]["reason"], "ContainersNotReady");
        assert_eq!(
            s["conditions"][2]["message"],
            "containers with unready status: [app]"
        );
        let s = running_status(
            &p,
            "10.41.0.1".parse().unwrap(),
            "10.42.1.2".parse().unwrap(),
            Timestamp::UNIX_EPOCH,
            Duration::from_secs(5),
        );
        assert_eq!(s["containerStatuses"][0]["ready"], true);
        assert_eq!(s["conditions"][2]["status"], "True");
        assert_eq!(
            s["conditions"][2]["lastTransitionTime"],
            "1970-01-01T00:00:05Z"
        );
    }

    #[test]
    fn init_containers_and_termination() {
        let p = pod(json!({
            "initContainers": [{"name": "setup", "image": "busybox"},
                               {"name": "proxy", "image": "envoy", "restartPolicy": "Always"}],
            "containers": [{"name": "app", "image": "app"}],
        }));
        let s = running_status(
            &p,
            "10.41.0.1".parse().unwrap(),
            "10.42.1.2".parse().unwrap(),
            Timestamp::UNIX_EPOCH,
            Duration::ZERO,
        );
        assert_eq!(
            s["initContainerStatuses"][0]["state"]["terminated"]["reason"],
            "Completed"
        );
        assert!(s["initContainerStatuses"][1]["state"]["running"].is_object());
        let t = terminated_status(&p, Some(Timestamp::UNIX_EPOCH));
        assert_eq!(t["phase"], "Succeeded");
        assert_eq!(
            t["containerStatuses"][0]["state"]["terminated"]["exitCode"],
            0
        );
        assert_eq!(t["containerStatuses"][0]["ready"], false);
        assert_eq!(t["initContainerStatuses"][0]["name"], "proxy");
        let _: k8s_openapi::api::core::v1::PodStatus = serde_json::from_value(t).unwrap();
    }
}
