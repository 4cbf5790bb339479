//! What the filters and scores look at: a pod's scheduling facts ([`PodInfo`]) and a node with
//! what its pods already take ([`NodeInfo`]), both computed once from the API objects.

use std::{borrow::Cow, collections::BTreeMap, sync::Arc};

use k8s_openapi::{
    api::core::v1::{
        Container, Node, NodeSelector, Pod, PreferredSchedulingTerm, Taint, Toleration,
    },
    apimachinery::pkg::api::resource::Quantity,
};

use crate::quantity::{parse_milli, parse_value};

/// Requests the scheduler assumes for a container that states none, when scoring
/// (upstream's DefaultMilliCPURequest and DefaultMemoryRequest).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// An amount of each resource the scheduler accounts for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    /// Bytes.
    pub memory: i64,
    /// Bytes.
    pub ephemeral_storage: i64,
    /// Extended resources, hugepages and other scalar resources, sorted by name.
    pub scalar: Vec<(String, i64)>,
}

impl Resources {
    /// From a ResourceList; unknown and malformed entries are left out.
    pub fn from_list(list: Option<&BTreeMap<String, Quantity>>) -> Self {
        let mut r = Resources::default();
        for (name, q) in list.into_iter().flatten() {
            r.add_one(name, &q.0);
        }
        r
    }

    fn add_one(&mut self, name: &str, q: &str) {
        match name {
            "cpu" => self.milli_cpu = self.milli_cpu.saturating_add(parse_milli(q).unwrap_or(0)),
            "memory" => self.memory = self.memory.saturating_add(parse_value(q).unwrap_or(0)),
            "ephemeral-storage" => {
                self.ephemeral_storage = self
                    .ephemeral_storage
                    .saturating_add(parse_value(q).unwrap_or(0))
            }
            n if is_scalar_resource(n) => {
                let v = parse_value(q).unwrap_or(0);
                self.add_scalar(n, v);
            }
            _ => {}
        }
    }

    fn add_scalar(&mut self, name: &str, v: i64) {
        match self.scalar.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) => self.scalar[i].1 = self.scalar[i].1.saturating_add(v),
            Err(i) => self.scalar.insert(i, (name.to_string(), v)),
        }
    }

    pub fn scalar(&self, name: &str) -> i64 {
        self.scalar
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .map_or(0, |i| self.scalar[i].1)
    }

    pub fn add(&mut self, o: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_add(o.milli_cpu);
        self.memory = self.memory.saturating_add(o.memory);
        self.ephemeral_storage = self.ephemeral_storage.saturating_add(o.ephemeral_storage);
        for (n, v) in &o.scalar {
            self.add_scalar(n, *v);
        }
    }

    pub fn sub(&mut self, o: &Resources) {
        self.milli_cpu -= o.milli_cpu;
        self.memory -= o.memory;
        self.ephemeral_storage -= o.ephemeral_storage;
        for (n, v) in &o.scalar {
            self.add_scalar(n, -*v);
        }
    }

    /// Each resource becomes the larger of the two.
    pub fn max_with(&mut self, o: &Resources) {
        self.milli_cpu = self.milli_cpu.max(o.milli_cpu);
        self.memory = self.memory.max(o.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(o.ephemeral_storage);
        for (n, v) in &o.scalar {
            let cur = self.scalar(n);
            if *v > cur {
                self.add_scalar(n, *v - cur);
            }
        }
    }

    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.iter().all(|(_, v)| *v == 0)
    }
}

/// Upstream's IsScalarResourceName: extended resources (`example.com/foo`), hugepages,
/// `kubernetes.io/`-prefixed native resources and attachable volumes.
pub fn is_scalar_resource(name: &str) -> bool {
    let prefixed_native = name.contains("kubernetes.io/");
    let native = !name.contains('/') || prefixed_native;
    let extended = !native && !name.starts_with("requests.");
    extended
        || prefixed_native
        || name.starts_with("hugepages-")
        || name.starts_with("attachable-volumes-")
}

/// A host port a container binds (`protocol`, `ip` default to TCP and 0.0.0.0).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub protocol: String,
    pub ip: String,
    pub port: i32,
}

impl HostPort {
    pub fn conflicts(&self, o: &HostPort) -> bool {
        self.port == o.port
            && self.protocol == o.protocol
            && (self.ip == o.ip || self.ip == ANY_IP || o.ip == ANY_IP)
    }
}

const ANY_IP: &str = "0.0.0.0";

/// A pod's scheduling facts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodInfo {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub priority: i32,
    /// preemptionPolicy: Never.
    pub preemption_never: bool,
    /// What the pod requests (containers, init containers, sidecars, overhead).
    pub requests: Resources,
    /// cpu and memory with upstream's defaults for containers that request none (scoring).
    pub non_zero_milli_cpu: i64,
    pub non_zero_memory: i64,
    pub host_ports: Vec<HostPort>,
    pub tolerations: Vec<Toleration>,
    pub node_selector: BTreeMap<String, String>,
    pub required_affinity: Option<NodeSelector>,
    pub preferred_affinity: Vec<PreferredSchedulingTerm>,
    /// The controller owner's uid (for spreading a ReplicaSet's pods).
    pub owner_uid: Option<String>,
}

impl PodInfo {
    pub fn from_pod(pod: &Pod) -> Self {
        let meta = &pod.metadata;
        let mut info = PodInfo {
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
            owner_uid: meta
                .owner_references
                .iter()
                .flatten()
                .find(|o| o.controller == Some(true))
                .map(|o| o.uid.clone()),
            ..PodInfo::default()
        };
        let Some(spec) = &pod.spec else {
            return info;
        };
        info.priority = spec.priority.unwrap_or(0);
        info.preemption_never = spec.preemption_policy.as_deref() == Some("Never");
        info.requests = pod_requests(spec, false);
        let nz = pod_requests(spec, true);
        info.non_zero_milli_cpu = nz.milli_cpu;
        info.non_zero_memory = nz.memory;
        let sidecars = spec
            .init_containers
            .iter()
            .flatten()
            .filter(|c| is_sidecar(c));
        for c in spec.containers.iter().chain(sidecars) {
            for p in c.ports.iter().flatten() {
                if p.host_port.unwrap_or(0) <= 0 {
                    continue;
                }
                let ip = p.host_ip.as_deref().unwrap_or("");
                info.host_ports.push(HostPort {
                    protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                    ip: if ip.is_empty() || ip == "::" {
                        ANY_IP.into()
                    } else {
                        ip.into()
                    },
                    port: p.host_port.unwrap_or(0),
                });
            }
        }
        info.tolerations = spec.tolerations.clone().unwrap_or_default();
        info.node_selector = spec.node_selector.clone().unwrap_or_default();
        if let Some(na) = spec
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
        {
            info.required_affinity = na
                .required_during_scheduling_ignored_during_execution
                .clone();
            info.preferred_affinity = na
                .preferred_during_scheduling_ignored_during_execution
                .clone()
                .unwrap_or_default();
        }
        info
    }
}

fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// Upstream's PodRequests: the containers' sum, sidecars added, the largest init container
/// step (with the sidecars started before it) as a floor, plus overhead. With `non_zero`,
/// containers that state no cpu or memory request count upstream's defaults.
pub fn pod_requests(spec: &k8s_openapi::api::core::v1::PodSpec, non_zero: bool) -> Resources {
    let container_requests = |c: &Container| {
        let list = c.resources.as_ref().and_then(|r| r.requests.as_ref());
        let mut r = Resources::from_list(list);
        if non_zero {
            let has = |k: &str| list.is_some_and(|l| l.contains_key(k));
            if !has("cpu") {
                r.milli_cpu += DEFAULT_MILLI_CPU_REQUEST;
            }
            if !has("memory") {
                r.memory += DEFAULT_MEMORY_REQUEST;
            }
        }
        r
    };
    let mut reqs = Resources::default();
    for c in &spec.containers {
        reqs.add(&container_requests(c));
    }
    let mut sidecars = Resources::default();
    let mut init_peak = Resources::default();
    for c in spec.init_containers.iter().flatten() {
        let r = container_requests(c);
        let step = if is_sidecar(c) {
            reqs.add(&r);
            sidecars.add(&r);
            sidecars.clone()
        } else {
            let mut t = r;
            t.add(&sidecars);
            t
        };
        init_peak.max_with(&step);
    }
    reqs.max_with(&init_peak);
    if let Some(o) = &spec.overhead {
        reqs.add(&Resources::from_list(Some(o)));
    }
    reqs
}

/// A node and what the pods bound to it (or assumed onto it) take.
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// spec.taints, plus the taint the node lifecycle controller puts on a node whose Ready
    /// condition is not True (`node.kubernetes.io/not-ready` when False,
    /// `node.kubernetes.io/unreachable` when Unknown or missing), so pods that tolerate
    /// those still schedule there, as upstream.
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    pub allocatable: Resources,
    /// The allocatable pod count.
    pub allowed_pods: i64,
    pub requested: Resources,
    pub non_zero_milli_cpu: i64,
    pub non_zero_memory: i64,
    /// The pods on the node, by uid.
    pub pods: BTreeMap<String, Arc<PodInfo>>,
    /// Host ports in use, with how many pods use each.
    pub used_ports: Vec<(HostPort, u32)>,
    /// Pods per controller owner uid.
    pub owners: BTreeMap<String, u32>,
}

pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

impl NodeInfo {
    pub fn new(node: &Node) -> Self {
        let mut n = NodeInfo::default();
        n.set_node(node);
        n
    }

    /// Takes the node's own facts; what its pods take stays.
    pub fn set_node(&mut self, node: &Node) {
        self.name = node.metadata.name.clone().unwrap_or_default();
        self.labels = node.metadata.labels.clone().unwrap_or_default();
        let spec = node.spec.as_ref();
        self.unschedulable = spec.and_then(|s| s.unschedulable).unwrap_or(false);
        self.taints = spec.and_then(|s| s.taints.clone()).unwrap_or_default();
        let status = node.status.as_ref();
        let ready = status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.status.as_str());
        let implied = match ready {
            Some("True") => None,
            Some("False") => Some(TAINT_NOT_READY),
            _ => Some(TAINT_UNREACHABLE),
        };
        if let Some(key) = implied {
            if !self.taints.iter().any(|t| t.key == key) {
                self.taints.push(Taint {
                    key: key.into(),
                    effect: "NoSchedule".into(),
                    ..Taint::default()
                });
            }
        }
        let alloc = status.and_then(|s| s.allocatable.as_ref());
        self.allocatable = Resources::from_list(alloc);
        self.allowed_pods = alloc
            .and_then(|a| a.get("pods"))
            .and_then(|q| parse_value(&q.0))
            .unwrap_or(0);
    }

    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        if self.pods.contains_key(&pod.uid) {
            return;
        }
        self.requested.add(&pod.requests);
        self.non_zero_milli_cpu += pod.non_zero_milli_cpu;
        self.non_zero_memory += pod.non_zero_memory;
        for hp in &pod.host_ports {
            match self.used_ports.iter_mut().find(|(p, _)| p == hp) {
                Some((_, n)) => *n += 1,
                None => self.used_ports.push((hp.clone(), 1)),
            }
        }
        if let Some(o) = &pod.owner_uid {
            *self.owners.entry(o.clone()).or_default() += 1;
        }
        self.pods.insert(pod.uid.clone(), pod);
    }

    pub fn remove_pod(&mut self, uid: &str) -> Option<Arc<PodInfo>> {
        let pod = self.pods.remove(uid)?;
        self.requested.sub(&pod.requests);
        self.non_zero_milli_cpu -= pod.non_zero_milli_cpu;
        self.non_zero_memory -= pod.non_zero_memory;
        for hp in &pod.host_ports {
            if let Some(i) = self.used_ports.iter().position(|(p, _)| p == hp) {
                self.used_ports[i].1 -= 1;
                if self.used_ports[i].1 == 0 {
                    self.used_ports.swap_remove(i);
                }
            }
        }
        if let Some(o) = &pod.owner_uid {
            if let Some(n) = self.owners.get_mut(o) {
                *n -= 1;
                if *n == 0 {
                    self.owners.remove(o);
                }
            }
        }
        Some(pod)
    }

    pub fn pod_count(&self) -> i64 {
        self.pods.len() as i64
    }
}

/// How a filter rejected a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Preemption might help (resources, ports).
    Unschedulable,
    /// Evicting pods would not help (taints, affinity, unschedulable node).
    UnschedulableAndUnresolvable,
}

/// A filter's verdict on one node: the reasons as upstream words them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub code: Code,
    pub reasons: Vec<Cow<'static, str>>,
}

impl Status {
    pub fn unresolvable(reason: impl Into<Cow<'static, str>>) -> Self {
        Status {
            code: Code::UnschedulableAndUnresolvable,
            reasons: vec![reason.into()],
        }
    }

    pub fn unschedulable(reason: impl Into<Cow<'static, str>>) -> Self {
        Status {
            code: Code::Unschedulable,
            reasons: vec![reason.into()],
        }
    }
}
