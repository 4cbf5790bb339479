//! Node registration, the node lease (renewed every 10s) and node status (reported every
//! 60s, and at once when something else changed it), as the kubelet does them.

use std::{
    collections::BTreeSet,
    hash::{Hash, Hasher},
    net::Ipv4Addr,
    pin::pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use futures_util::StreamExt;
use k8s_openapi::{
    api::{coordination::v1::Lease, core::v1::Node},
    jiff::Timestamp,
};
use kube::{
    api::{Api, Patch, PatchParams, PostParams},
    runtime::{watcher, WatchStreamExt},
    Client,
};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::{Cidr, NodePlan, SimConfig};

pub const LEASE_NAMESPACE: &str = "kube-node-lease";
pub const LEASE_DURATION_SECONDS: i32 = 40;
pub const LEASE_RENEW: Duration = Duration::from_secs(10);
pub const STATUS_REPORT: Duration = Duration::from_secs(60);
pub const KUBELET_VERSION: &str = "v1.33.0-rkube-sim";
const CONCURRENCY: usize = 32;

/// A registered simulated node.
#[derive(Debug)]
pub struct SimNode {
    pub name: String,
    pub ip: Ipv4Addr,
    /// The node's spec.podCIDR (its own, when it already had one).
    pub pod_cidr: Cidr,
    pub uid: String,
    /// When its conditions last changed (registration).
    pub transition: String,
    pub boot_id: String,
    /// Deleted by someone: like the kubelet, the node is not registered again until restart.
    pub gone: AtomicBool,
    cfg: Arc<SimConfig>,
}

pub fn time(t: Timestamp) -> String {
    k8s_openapi::jiff::fmt::strtime::format("%Y-%m-%dT%H:%M:%SZ", t).expect("a timestamp formats")
}

pub fn micro_time(t: Timestamp) -> String {
    k8s_openapi::jiff::fmt::strtime::format("%Y-%m-%dT%H:%M:%S%.6fZ", t)
        .expect("a timestamp formats")
}

fn hex_id(seed: &str, salt: u64) -> String {
    let mut out = String::new();
    for k in 0..2u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (seed, salt, k).hash(&mut h);
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

fn uuid_like(hex: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

pub fn labels(name: &str) -> Value {
    json!({
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": "rkube-sim",
        "type": "sim",
    })
}

/// The node's status as the kubelet reports it.
fn status(cfg: &SimConfig, name: &str, ip: Ipv4Addr, transition: &str, boot_id: &str) -> Value {
    let now = time(Timestamp::now());
    let resources = json!({
        "cpu": cfg.cpu,
        "memory": cfg.memory,
        "ephemeral-storage": cfg.ephemeral_storage,
        "pods": cfg.pods.to_string(),
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
    });
    let cond = |type_: &str, status: &str, reason: &str, message: &str| {
        json!({"type": type_, "status": status, "reason": reason, "message": message,
               "lastHeartbeatTime": now, "lastTransitionTime": transition})
    };
    let machine = hex_id(name, 1);
    json!({
        "capacity": resources,
        "allocatable": resources,
        "conditions": [
            cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        "addresses": [
            {"type": "InternalIP", "address": ip.to_string()},
            {"type": "Hostname", "address": name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": machine,
            "systemUUID": uuid_like(&hex_id(name, 2)),
            "bootID": boot_id,
            "kernelVersion": "6.8.0-rkube-sim",
            "osImage": "rkube simulated node",
            "containerRuntimeVersion": "sim://0",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
    })
}

/// Registers one node, retrying API errors until it works.
pub async fn register_until_done(client: Client, cfg: Arc<SimConfig>, plan: NodePlan) -> SimNode {
    let mut delay = Duration::from_millis(500);
    loop {
        match register(&client, &cfg, &plan).await {
            Ok(node) => return node,
            Err(e) => {
                warn!(node = %plan.name, error = %e, "registering simulated node failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}

async fn register(client: &Client, cfg: &Arc<SimConfig>, plan: &NodePlan) -> kube::Result<SimNode> {
    let api: Api<Node> = Api::all(client.clone());
    let now = Timestamp::now();
    let transition = time(now);
    let boot_id = uuid_like(&hex_id(&plan.name, now.as_nanosecond() as u64));
    let node_status = status(cfg, &plan.name, plan.ip, &transition, &boot_id);
    let cidr = plan.pod_cidr.to_string();
    let existing = match api.get_opt(&plan.name).await? {
        Some(n) => Some(n),
        None => {
            let node: Node = serde_json::from_value(json!({
                "apiVersion": "v1", "kind": "Node",
                "metadata": {
                    "name": plan.name,
                    "labels": labels(&plan.name),
                    "annotations": {
                        "node.alpha.kubernetes.io/ttl": "0",
                        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                    },
                },
                "spec": {"podCIDR": cidr, "podCIDRs": [cidr], "providerID": format!("sim://{}", plan.name)},
                "status": node_status,
            }))
            .expect("a valid Node");
            match api.create(&PostParams::default(), &node).await {
                Ok(created) => {
                    info!(node = %plan.name, pod_cidr = %cidr, ip = %plan.ip, "simulated node registered");
                    // Some API servers drop status on create: report it anyway.
                    let patch = json!({ "status": node_status });
                    api.patch_status(&plan.name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await?;
                    return Ok(sim_node(cfg, plan, &created, transition, boot_id));
                }
                Err(kube::Error::Api(e)) if e.code == 409 => Some(api.get(&plan.name).await?),
                Err(e) => return Err(e),
            }
        }
    };
    // The node exists (an earlier run): take it over, keeping its pod CIDR.
    let existing = existing.expect("node found or created");
    let has_cidr = existing
        .spec
        .as_ref()
        .and_then(|s| s.pod_cidr.as_deref())
        .is_some_and(|c| !c.is_empty());
    let mut patch = json!({"metadata": {"labels": labels(&plan.name)}});
    if !has_cidr {
        patch["spec"] = json!({"podCIDR": cidr, "podCIDRs": [cidr]});
    }
    let node = api
        .patch(&plan.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    let patch = json!({ "status": node_status });
    api.patch_status(&plan.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    info!(node = %plan.name, "simulated node taken over");
    Ok(sim_node(cfg, plan, &node, transition, boot_id))
}

fn sim_node(
    cfg: &Arc<SimConfig>,
    plan: &NodePlan,
    node: &Node,
    transition: String,
    boot_id: String,
) -> SimNode {
    let pod_cidr = node
        .spec
        .as_ref()
        .and_then(|s| s.pod_cidr.as_deref())
        .and_then(|c| c.parse::<Cidr>().ok())
        .unwrap_or(plan.pod_cidr);
    SimNode {
        name: plan.name.clone(),
        ip: plan.ip,
        pod_cidr,
        uid: node.metadata.uid.clone().unwrap_or_default(),
        transition,
        boot_id,
        gone: AtomicBool::new(false),
        cfg: cfg.clone(),
    }
}

impl SimNode {
    async fn renew_lease(&self, leases: &Api<Lease>) -> kube::Result<()> {
        let now = micro_time(Timestamp::now());
        let patch = json!({"spec": {
            "holderIdentity": self.name,
            "leaseDurationSeconds": LEASE_DURATION_SECONDS,
            "renewTime": now,
        }});
        match leases
            .patch(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => {
                let lease: Lease = serde_json::from_value(json!({
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {
                        "name": self.name,
                        "namespace": LEASE_NAMESPACE,
                        "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": self.name, "uid": self.uid}],
                    },
                    "spec": {"holderIdentity": self.name, "leaseDurationSeconds": LEASE_DURATION_SECONDS, "renewTime": now},
                }))
                .expect("a valid Lease");
                match leases.create(&PostParams::default(), &lease).await {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn report_status(&self, nodes: &Api<Node>) -> kube::Result<()> {
        let patch = json!({"status": status(&self.cfg, &self.name, self.ip, &self.transition, &self.boot_id)});
        // Strategic, as the kubelet's: conditions merge by type, so others' conditions stay.
        match nodes
            .patch_status(
                &self.name,
                &PatchParams::default(),
                &Patch::Strategic(&patch),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => {
                self.gone.store(true, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// Renews every node's lease every 10s and reports every node's status every 60s, and a
/// node's at once when it is flagged on `dirty`.
pub async fn heartbeats(
    client: Client,
    nodes: Arc<Vec<SimNode>>,
    mut dirty: mpsc::UnboundedReceiver<usize>,
) {
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let node_api: Api<Node> = Api::all(client);
    let mut lease_tick = tokio::time::interval(LEASE_RENEW);
    let mut status_tick = tokio::time::interval(STATUS_REPORT);
    lease_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    status_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Registration just reported status.
    status_tick.tick().await;
    loop {
        tokio::select! {
            _ = lease_tick.tick() => {
                futures_util::stream::iter(nodes.iter().filter(|n| !n.gone.load(Ordering::Relaxed)))
                    .for_each_concurrent(CONCURRENCY, |n| {
                        let leases = &leases;
                        async move {
                            if let Err(e) = n.renew_lease(leases).await {
                                debug!(node = %n.name, error = %e, "renewing the node lease failed");
                            }
                        }
                    })
                    .await;
            }
            _ = status_tick.tick() => report(&node_api, nodes.iter()).await,
            Some(i) = dirty.recv() => {
                let mut set = BTreeSet::from([i]);
                while let Ok(i) = dirty.try_recv() {
                    set.insert(i);
                }
                report(&node_api, set.into_iter().filter_map(|i| nodes.get(i))).await;
            }
        }
    }
}

async fn report(api: &Api<Node>, nodes: impl Iterator<Item = &SimNode>) {
    futures_util::stream::iter(nodes.filter(|n| !n.gone.load(Ordering::Relaxed)))
        .for_each_concurrent(CONCURRENCY, |n| async move {
            if let Err(e) = n.report_status(api).await {
                debug!(node = %n.name, error = %e, "reporting node status failed");
            }
        })
        .await;
}

/// Watches the simulated nodes: a node someone marked not ready (or whose capacity was
/// changed) gets its status reported again at once; a deleted node stops its heartbeats.
pub async fn watch(client: Client, nodes: Arc<Vec<SimNode>>, dirty: mpsc::UnboundedSender<usize>) {
    let index: std::collections::HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let api: Api<Node> = Api::all(client);
    let mut events =
        pin!(watcher(api, watcher::Config::default().labels("type=sim")).default_backoff());
    while let Some(ev) = events.next().await {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                debug!(error = %e, "simulated node watch failed; retrying");
                continue;
            }
        };
        match ev {
            watcher::Event::Apply(n) | watcher::Event::InitApply(n) => {
                let Some(&i) = n.metadata.name.as_deref().and_then(|name| index.get(name)) else {
                    continue;
                };
                if nodes[i].gone.load(Ordering::Relaxed)
                    || n.metadata.uid.as_deref() != Some(&nodes[i].uid)
                {
                    continue;
                }
                if !looks_like_ours(&n, &nodes[i].cfg) {
                    let _ = dirty.send(i);
                }
            }
            watcher::Event::Delete(n) => {
                if let Some(&i) = n.metadata.name.as_deref().and_then(|name| index.get(name)) {
                    if n.metadata.uid.as_deref() == Some(&nodes[i].uid) {
                        info!(node = %nodes[i].name, "simulated node deleted; it stays gone until restart");
                        nodes[i].gone.store(true, Ordering::Relaxed);
                    }
                }
            }
            watcher::Event::Init | watcher::Event::InitDone => {}
        }
    }
}

/// Ready, not under pressure, with the configured capacity.
fn looks_like_ours(n: &Node, cfg: &SimConfig) -> bool {
    let Some(status) = &n.status else {
        return false;
    };
    let ready = status.conditions.iter().flatten().any(|c| {
        c.type_ == "Ready" && c.status == "True" && c.reason.as_deref() == Some("KubeletReady")
    });
    let pressure = status.conditions.iter().flatten().any(|c| {
        matches!(
            c.type_.as_str(),
            "MemoryPressure" | "DiskPressure" | "PIDPressure"
        ) && c.status != "False"
    });
    let cpu_ok = status
        .allocatable
        .as_ref()
        .and_then(|a| a.get("cpu"))
        .is_some_and(|q| q.0 == cfg.cpu);
    ready && !pressure && cpu_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_reads_as_a_kubelets() {
        let cfg = SimConfig::default();
        let s = status(
            &cfg,
            "sim-0",
            "10.41.0.1".parse().unwrap(),
            "2025-01-01T00:00:00Z",
            "b",
        );
        let node: Node =
            serde_json::from_value(json!({"metadata": {"name": "sim-0"}, "status": s})).unwrap();
        assert!(looks_like_ours(&node, &cfg));
        let st = node.status.unwrap();
        assert_eq!(st.allocatable.unwrap()["memory"].0, "256Gi");
        let info = st.node_info.unwrap();
        assert_eq!(info.kubelet_version, KUBELET_VERSION);
        assert_eq!(info.container_runtime_version, "sim://0");
        assert_eq!(info.machine_id.len(), 32);
        assert_eq!(st.addresses.unwrap()[0].address, "10.41.0.1");
        let ready = st
            .conditions
            .unwrap()
            .into_iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(
            ready.message.as_deref(),
            Some("kubelet is posting ready status")
        );
        assert_eq!(time(Timestamp::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            micro_time(Timestamp::UNIX_EPOCH),
            "1970-01-01T00:00:00.000000Z"
        );
    }
}
