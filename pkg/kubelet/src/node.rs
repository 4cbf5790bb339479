//! The Node object: registration, labels, capacity from this machine, addresses, nodeInfo,
//! conditions, and status reports (every 10 s when something changed, else every 5 min, as the
//! kubelet's nodeStatusUpdateFrequency/nodeStatusReportFrequency).

use std::time::{Duration, Instant};

use k8s_openapi::{api::core::v1::Node, jiff::Timestamp};
use kube::{
    api::{Api, Patch, PatchParams, PostParams},
    Client,
};
use serde_json::{json, Value};
use tracing::{debug, info};

use crate::{machine::MachineInfo, time::time, KubeletConfig, Result};

pub const KUBELET_VERSION: &str = "v1.33.0+rkube";
pub const RUNTIME_VERSION: &str = "libcontainer://0.7.0";
pub const MAX_PODS: u32 = 110;
const CHECK_EVERY: Duration = Duration::from_secs(10);
const REPORT_EVERY: Duration = Duration::from_secs(300);

pub fn labels(cfg: &KubeletConfig) -> Value {
    let mut l = json!({
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": cfg.node_name,
        "kubernetes.io/os": "linux",
    });
    if cfg.control_plane {
        l["node-role.kubernetes.io/control-plane"] = json!("true");
    }
    l
}

/// Why the node is not ready yet (None: ready).
pub type NotReady = Option<String>;

/// The node's status without heartbeat times (those are added when it is written), so two
/// reports can be compared.
pub fn status(cfg: &KubeletConfig, m: &MachineInfo, not_ready: &NotReady) -> Value {
    let capacity = json!({
        "cpu": m.cpus.to_string(),
        "memory": format!("{}Ki", m.memory / 1024),
        "ephemeral-storage": format!("{}Ki", m.ephemeral_storage / 1024),
        "pods": MAX_PODS.to_string(),
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
    });
    let cond = |type_: &str, status: &str, reason: &str, message: &str| json!({"type": type_, "status": status, "reason": reason, "message": message});
    let ready = match not_ready {
        None => cond(
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
        ),
        Some(why) => cond("Ready", "False", "KubeletNotReady", why),
    };
    json!({
        "capacity": capacity,
        "allocatable": capacity,
        "conditions": [
            cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            ready,
        ],
        "addresses": [
            {"type": "InternalIP", "address": cfg.node_ip.to_string()},
            {"type": "Hostname", "address": cfg.node_name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": cfg.port}},
        "nodeInfo": {
            "machineID": m.machine_id,
            "systemUUID": m.system_uuid,
            "bootID": m.boot_id,
            "kernelVersion": m.kernel_version,
            "osImage": m.os_image,
            "containerRuntimeVersion": RUNTIME_VERSION,
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
    })
}

/// Adds heartbeat and transition times to the conditions of `status`; transitions keep the
/// time they had in `previous` when the condition's status did not change.
fn stamp(mut status: Value, previous: Option<&Value>, now: &str) -> Value {
    if let Some(conds) = status["conditions"].as_array_mut() {
        for c in conds {
            let before = previous
                .and_then(|p| p["conditions"].as_array())
                .and_then(|a| a.iter().find(|o| o["type"] == c["type"]));
            let transition = match before {
                Some(b) if b["status"] == c["status"] => b["lastTransitionTime"].clone(),
                _ => json!(now),
            };
            c["lastHeartbeatTime"] = json!(now);
            c["lastTransitionTime"] = transition;
        }
    }
    status
}

/// Keeps the Node registered and its status current.
pub struct NodeReporter {
    cfg: KubeletConfig,
    machine: MachineInfo,
    api: Api<Node>,
    /// The last status written, with its times.
    last: Option<Value>,
    last_written: Option<Instant>,
    /// For status.images.
    images: Option<rkube_image::ImageService>,
}

impl NodeReporter {
    pub fn new(cfg: KubeletConfig, client: Client) -> NodeReporter {
        let machine = MachineInfo::detect(&cfg.agent_dir);
        NodeReporter {
            cfg,
            machine,
            api: Api::all(client),
            last: None,
            last_written: None,
            images: None,
        }
    }

    /// Reports the node's images in status.images.
    pub fn with_images(mut self, images: rkube_image::ImageService) -> NodeReporter {
        self.images = Some(images);
        self
    }

    /// Creates the node, or takes over an existing one of the same name; returns it.
    pub async fn register(&mut self, not_ready: &NotReady) -> Result<Node> {
        let now = time(Timestamp::now());
        let st = stamp(status(&self.cfg, &self.machine, not_ready), None, &now);
        let mut spec = json!({});
        if let Some(cidr) = &self.cfg.pod_cidr {
            spec = json!({"podCIDR": cidr, "podCIDRs": [cidr]});
        }
        let node = match self.api.get_opt(&self.cfg.node_name).await? {
            Some(existing) => {
                let has_cidr = existing
                    .spec
                    .as_ref()
                    .and_then(|s| s.pod_cidr.as_deref())
                    .is_some_and(|c| !c.is_empty());
                let mut patch = json!({"metadata": {"labels": labels(&self.cfg)}});
                if !has_cidr && self.cfg.pod_cidr.is_some() {
                    patch["spec"] = spec;
                }
                info!(node = %self.cfg.node_name, "node exists; taking it over");
                self.api
                    .patch(
                        &self.cfg.node_name,
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await?
            }
            None => {
                let node: Node = serde_json::from_value(json!({
                    "apiVersion": "v1", "kind": "Node",
                    "metadata": {
                        "name": self.cfg.node_name,
                        "labels": labels(&self.cfg),
                        "annotations": {"volumes.kubernetes.io/controller-managed-attach-detach": "true"},
                    },
                    "spec": spec,
                }))
                .map_err(|e| crate::Error::Other(format!("building the Node: {e}")))?;
                match self.api.create(&PostParams::default(), &node).await {
                    Ok(n) => {
                        info!(node = %self.cfg.node_name, ip = %self.cfg.node_ip, "node registered");
                        n
                    }
                    Err(kube::Error::Api(e)) if e.code == 409 => {
                        self.api.get(&self.cfg.node_name).await?
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        self.write(st).await?;
        Ok(node)
    }

    async fn write(&mut self, st: Value) -> Result<()> {
        // Strategic: conditions merge by type, so conditions others set stay.
        self.api
            .patch_status(
                &self.cfg.node_name,
                &PatchParams::default(),
                &Patch::Strategic(&json!({ "status": st })),
            )
            .await?;
        self.last = Some(st);
        self.last_written = Some(Instant::now());
        Ok(())
    }

    /// Writes the status when it changed or when the report period passed.
    pub async fn update(&mut self, not_ready: &NotReady) -> Result<()> {
        self.machine = MachineInfo::detect(&self.cfg.agent_dir);
        let mut fresh = status(&self.cfg, &self.machine, not_ready);
        if let Some(images) = &self.images {
            fresh["images"] = images_status(&images.list().unwrap_or_default());
        }
        let unchanged = self
            .last
            .as_ref()
            .is_some_and(|l| strip_times(l.clone()) == fresh);
        let due = self
            .last_written
            .is_none_or(|t| t.elapsed() >= REPORT_EVERY);
        if unchanged && !due {
            return Ok(());
        }
        let now = time(Timestamp::now());
        let st = stamp(fresh, self.last.as_ref(), &now);
        debug!(node = %self.cfg.node_name, "reporting node status");
        self.write(st).await
    }

    pub fn check_every() -> Duration {
        CHECK_EVERY
    }
}

/// Upstream's nodeStatusMaxImages.
const MAX_IMAGES: usize = 50;

/// status.images as upstream reports it: the largest images first, each with its repo digest
/// and tags as names.
fn images_status(images: &[rkube_image::Image]) -> Value {
    let mut sorted: Vec<&rkube_image::Image> = images.iter().collect();
    sorted.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.id.cmp(&b.id)));
    let list: Vec<Value> = sorted
        .into_iter()
        .take(MAX_IMAGES)
        .map(|i| {
            let names: Vec<&str> = i
                .repo_digest
                .iter()
                .chain(&i.references)
                .map(String::as_str)
                .collect();
            json!({"names": names, "sizeBytes": i.size})
        })
        .collect();
    json!(list)
}

fn strip_times(mut v: Value) -> Value {
    if let Some(conds) = v["conditions"].as_array_mut() {
        for c in conds {
            if let Some(o) = c.as_object_mut() {
                o.remove("lastHeartbeatTime");
                o.remove("lastTransitionTime");
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn cfg() -> KubeletConfig {
        crate::tests::config()
    }

    #[test]
    fn status_reads_as_a_kubelets() {
        let c = KubeletConfig {
            control_plane: true,
            ..cfg()
        };
        let m = MachineInfo::detect(std::path::Path::new("/"));
        let st = stamp(status(&c, &m, &None), None, "2025-01-01T00:00:00Z");
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": "n1", "labels": labels(&c)}, "status": st,
        }))
        .unwrap();
        let labels = node.metadata.labels.unwrap();
        assert_eq!(labels["node-role.kubernetes.io/control-plane"], "true");
        assert_eq!(labels["kubernetes.io/hostname"], "n1");
        let s = node.status.unwrap();
        assert_eq!(
            s.daemon_endpoints.unwrap().kubelet_endpoint.unwrap().port,
            10250
        );
        assert_eq!(s.capacity.as_ref().unwrap()["pods"].0, "110");
        assert_eq!(s.capacity.unwrap()["cpu"].0, m.cpus.to_string());
        let info = s.node_info.unwrap();
        assert_eq!(info.container_runtime_version, "libcontainer://0.7.0");
        assert_eq!(info.kubelet_version, "v1.33.0+rkube");
        let ready = s
            .conditions
            .unwrap()
            .into_iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(ready.reason.as_deref(), Some("KubeletReady"));
        assert_eq!(
            ready.message.as_deref(),
            Some("kubelet is posting ready status")
        );
        assert_eq!(s.addresses.unwrap()[0].address, "10.0.0.5");
    }

    #[test]
    fn transitions_keep_their_time_until_the_status_changes() {
        let m = MachineInfo::detect(std::path::Path::new("/"));
        let c = cfg();
        let a = stamp(status(&c, &m, &Some("x".into())), None, "T1");
        let b = stamp(status(&c, &m, &Some("x".into())), Some(&a), "T2");
        assert_eq!(b["conditions"][3]["lastTransitionTime"], "T1");
        assert_eq!(b["conditions"][3]["lastHeartbeatTime"], "T2");
        let r = stamp(status(&c, &m, &None), Some(&b), "T3");
        assert_eq!(r["conditions"][3]["lastTransitionTime"], "T3");
        assert_eq!(r["conditions"][0]["lastTransitionTime"], "T1");
        assert_eq!(strip_times(r), status(&c, &m, &None));
    }

    #[test]
    fn images_largest_first_named_by_digest_and_tags() {
        let img = |id: &str, size, refs: &[&str], digest: Option<&str>| rkube_image::Image {
            id: id.into(),
            references: refs.iter().map(|r| r.to_string()).collect(),
            repo_digest: digest.map(str::to_string),
            config: Default::default(),
            layers: Vec::new(),
            size,
        };
        let v = images_status(&[
            img("sha256:a", 10, &["docker.io/library/a:1"], None),
            img(
                "sha256:b",
                20,
                &["docker.io/library/b:1", "docker.io/library/b:2"],
                Some("docker.io/library/b@sha256:d"),
            ),
        ]);
        assert_eq!(
            v,
            json!([
                {"names": ["docker.io/library/b@sha256:d", "docker.io/library/b:1", "docker.io/library/b:2"], "sizeBytes": 20},
                {"names": ["docker.io/library/a:1"], "sizeBytes": 10},
            ])
        );
    }
}
