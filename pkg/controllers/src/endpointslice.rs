//! The EndpointSlice controller, as kube-controller-manager's: every Service with a selector
//! (but ExternalName ones) has discovery.k8s.io/v1 EndpointSlices (one address type per IP
//! family of the service, at most 100 endpoints each, owned by the Service, labelled
//! `kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by`) listing its
//! selected pods with ready/serving/terminating conditions, grouped by the ports they resolve
//! to; a service without endpoints keeps one empty placeholder slice. Slices are reconciled the
//! way upstream's reconciler does (keep, update in place, fill, create, delete) and only
//! written when they would change.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::{future::ready, stream, StreamExt};
use k8s_openapi::{
    api::{
        core::v1::{Node, Pod, Service},
        discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice},
    },
    apimachinery::pkg::apis::meta::v1::OwnerReference,
    jiff::Timestamp,
};
use kube::{
    api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams},
    runtime::{
        controller::Action,
        reflector::{ObjectRef, Store},
        watcher, WatchStreamExt,
    },
    Client, ResourceExt,
};
use tracing::debug;

use crate::{
    endpoints::{
        drive, find_port, inputs, is_headless, is_ipv6, is_pod_ready, is_service_ip_set,
        managed_selector, node_name, pod_ips, pod_ref, protocol, rfc3339, selected_pods,
        should_pod_be_in_endpoints, should_set_hostname, Inputs, Trigger, TriggerTimeTracker,
        HEADLESS, LAST_CHANGE_TRIGGER_TIME,
    },
    Context, Error, Result,
};

pub(crate) const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
pub(crate) const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
pub(crate) const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// kube-controller-manager's --max-endpoints-per-slice default.
pub(crate) const MAX_ENDPOINTS_PER_SLICE: usize = 100;
/// Retry delay while selected pods name nodes that do not exist (yet).
const MISSING_NODE_RETRY: Duration = Duration::from_secs(5);

struct State {
    client: Client,
    pods: Store<Pod>,
    nodes: Store<Node>,
    tracker: Mutex<TriggerTimeTracker>,
}

pub async fn run(ctx: Context) {
    let client = ctx.client.clone();
    let Inputs {
        services,
        pods,
        triggers,
    } = inputs(&ctx.informers);
    // Nodes are only looked up (zones, existence), in the shared store.
    let nodes = ctx.informers.get::<Node>().store();
    // Managed slices changed or deleted by someone else: sync their service again.
    let slice_cfg =
        watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}={CONTROLLER_NAME}"));
    let slice_events = watcher(Api::<EndpointSlice>::all(client.clone()), slice_cfg)
        .default_backoff()
        .filter_map(|ev| {
            ready(match ev {
                Ok(watcher::Event::Apply(s) | watcher::Event::Delete(s)) => {
                    s.labels().get(SERVICE_NAME_LABEL).map(|svc| {
                        Trigger::Sync(
                            ObjectRef::new(svc).within(&s.namespace().unwrap_or_default()),
                        )
                    })
                }
                _ => None,
            })
        });
    let triggers = stream::select(triggers, slice_events).boxed();
    let state = Arc::new(State {
        client,
        pods,
        nodes,
        tracker: Mutex::new(TriggerTimeTracker::default()),
    });
    drive(
        services,
        triggers,
        state,
        reconcile,
        service_gone,
        "endpointslice",
    )
    .await;
}

/// Slices of a deleted Service go with it through the garbage collector (they are owned).
async fn service_gone(svc: ObjectRef<Service>, st: Arc<State>) {
    let ns = svc.namespace.clone().unwrap_or_default();
    st.tracker
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .forget(&ns, &svc.name);
}

async fn reconcile(svc: Arc<Service>, st: Arc<State>) -> Result<Action> {
    if st.pods.wait_until_ready().await.is_err() || st.nodes.wait_until_ready().await.is_err() {
        return Err(Error::Other("pod or node store closed".into()));
    }
    let Some(selector) = managed_selector(&svc) else {
        return Ok(Action::await_change());
    };
    let pods = selected_pods(&st.pods, &svc, selector);
    let ns = svc.namespace().unwrap_or_default();
    let api: Api<EndpointSlice> = Api::namespaced(st.client.clone(), &ns);
    // Read live, so slices this controller just wrote are never missed (no duplicates).
    let lp = ListParams::default().labels(&format!(
        "{SERVICE_NAME_LABEL}={},{MANAGED_BY_LABEL}={CONTROLLER_NAME}",
        svc.name_any()
    ));
    let existing: Vec<EndpointSlice> = api
        .list(&lp)
        .await?
        .items
        .into_iter()
        .filter(|s| s.metadata.deletion_timestamp.is_none())
        .collect();
    let trigger = st
        .tracker
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .compute(&svc, &pods);
    let node_zone = |name: &str| -> Option<Option<String>> {
        let node = st.nodes.get(&ObjectRef::new(name))?;
        Some(node.labels().get(ZONE_LABEL).cloned())
    };
    let plan = plan(&svc, &pods, node_zone, &existing, MAX_ENDPOINTS_PER_SLICE);
    if !plan.is_empty() {
        debug!(namespace = %ns, service = %svc.name_any(), create = plan.create.len(), update = plan.update.len(), delete = plan.delete.len(), "writing endpoint slices");
    }
    for mut slice in plan.create {
        set_trigger_time(&mut slice, trigger);
        match api.create(&PostParams::default(), &slice).await {
            Ok(_) => {}
            // The namespace is terminating.
            Err(kube::Error::Api(e)) if e.code == 403 => {}
            Err(e) => return Err(e.into()),
        }
    }
    for mut slice in plan.update {
        set_trigger_time(&mut slice, trigger);
        api.replace(&slice.name_any(), &PostParams::default(), &slice)
            .await?;
    }
    for slice in plan.delete {
        match api
            .delete(&slice.name_any(), &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    if plan.skipped > 0 {
        debug!(namespace = %ns, service = %svc.name_any(), pods = plan.skipped, "pods skipped: their node does not exist");
        return Ok(Action::requeue(MISSING_NODE_RETRY));
    }
    Ok(Action::await_change())
}

fn set_trigger_time(slice: &mut EndpointSlice, trigger: Option<Timestamp>) {
    let annotations = slice.metadata.annotations.get_or_insert_with(BTreeMap::new);
    match trigger {
        Some(t) => annotations.insert(LAST_CHANGE_TRIGGER_TIME.into(), rfc3339(t)),
        None => annotations.remove(LAST_CHANGE_TRIGGER_TIME),
    };
    if annotations.is_empty() {
        slice.metadata.annotations = None;
    }
}

/// What to write for one service.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub create: Vec<EndpointSlice>,
    pub update: Vec<EndpointSlice>,
    pub delete: Vec<EndpointSlice>,
    /// Selected pods left out because their node does not exist.
    pub skipped: usize,
}

impl Plan {
    fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

/// The address types the service's IP families call for.
pub(crate) fn address_types(svc: &Service) -> BTreeSet<&'static str> {
    let spec = svc.spec.as_ref();
    let mut out = BTreeSet::new();
    for f in spec
        .and_then(|s| s.ip_families.as_ref())
        .into_iter()
        .flatten()
    {
        match f.as_str() {
            "IPv4" => out.insert("IPv4"),
            "IPv6" => out.insert("IPv6"),
            _ => false,
        };
    }
    if !out.is_empty() {
        return out;
    }
    if is_service_ip_set(svc) {
        let v6 = spec
            .and_then(|s| s.cluster_ip.as_deref())
            .is_some_and(is_ipv6);
        out.insert(if v6 { "IPv6" } else { "IPv4" });
        return out;
    }
    // Headless without families: both, as upstream.
    out.insert("IPv4");
    out.insert("IPv6");
    out
}

fn owned_by(slice: &EndpointSlice, svc: &Service) -> bool {
    let uid = svc.uid().unwrap_or_default();
    slice
        .owner_references()
        .iter()
        .any(|o| o.uid == uid && o.kind == "Service" && o.api_version == "v1")
}

/// Upstream's setEndpointSliceLabels: the service's labels (reserved keys aside), the headless
/// marker, the service name and the manager; and whether the non-reserved ones changed.
fn slice_labels(
    current: &BTreeMap<String, String>,
    svc: &Service,
) -> (BTreeMap<String, String>, bool) {
    let reserved = |k: &str| k == SERVICE_NAME_LABEL || k == MANAGED_BY_LABEL || k == HEADLESS;
    let kept: BTreeMap<String, String> = current
        .iter()
        .filter(|(k, _)| !reserved(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut labels: BTreeMap<String, String> = svc
        .labels()
        .iter()
        .filter(|(k, _)| !reserved(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let changed = kept != labels;
    if !is_service_ip_set(svc) {
        labels.insert(HEADLESS.into(), String::new());
    }
    labels.insert(SERVICE_NAME_LABEL.into(), svc.name_any());
    labels.insert(MANAGED_BY_LABEL.into(), CONTROLLER_NAME.into());
    (labels, changed)
}

fn new_slice(svc: &Service, ports: &[EndpointPort], address_type: &str) -> EndpointSlice {
    let owner = OwnerReference {
        api_version: "v1".into(),
        kind: "Service".into(),
        name: svc.name_any(),
        uid: svc.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", svc.name_any())),
            namespace: svc.namespace(),
            owner_references: Some(vec![owner]),
            labels: Some(slice_labels(&BTreeMap::new(), svc).0),
            ..ObjectMeta::default()
        },
        address_type: address_type.into(),
        endpoints: Vec::new(),
        ports: (!ports.is_empty()).then(|| ports.to_vec()),
    }
}

/// Upstream's getEndpointPorts: each service port resolved on the pod (unresolvable skipped).
fn endpoint_ports(svc: &Service, pod: &Pod) -> Vec<EndpointPort> {
    let ports = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or_default();
    if ports.is_empty() && is_headless(svc) {
        return Vec::new();
    }
    ports
        .iter()
        .filter_map(|sp| {
            let port = find_port(pod, sp)?;
            Some(EndpointPort {
                name: Some(sp.name.clone().unwrap_or_default()),
                port: Some(port),
                protocol: Some(protocol(sp.protocol.as_deref()).to_string()),
                app_protocol: sp.app_protocol.clone(),
            })
        })
        .collect()
}

/// A set of ports, order aside.
fn ports_key(ports: &[EndpointPort]) -> String {
    let mut keys: Vec<String> = ports
        .iter()
        .map(|p| {
            format!(
                "{}/{}/{}/{}",
                p.name.as_deref().unwrap_or_default(),
                p.port.unwrap_or_default(),
                protocol(p.protocol.as_deref()),
                p.app_protocol.as_deref().unwrap_or_default()
            )
        })
        .collect();
    keys.sort();
    keys.join(",")
}

/// Upstream's podToEndpoint.
fn pod_to_endpoint(pod: &Pod, zone: Option<String>, svc: &Service, address_type: &str) -> Endpoint {
    let serving = is_pod_ready(pod);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let publish = svc
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let ready = publish || (serving && !terminating);
    let v6 = address_type == "IPv6";
    let addresses = pod_ips(pod)
        .into_iter()
        .filter_map(|ip| ip.parse::<std::net::IpAddr>().ok())
        .filter(|ip| ip.is_ipv6() == v6)
        .map(|ip| ip.to_string())
        .collect();
    Endpoint {
        addresses,
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        target_ref: Some(pod_ref(pod)),
        node_name: node_name(pod),
        zone,
        hostname: should_set_hostname(pod, svc)
            .then(|| pod.spec.as_ref().and_then(|s| s.hostname.clone()))
            .flatten(),
        ..Endpoint::default()
    }
}

/// Upstream's endpoint hash: addresses, hostname and the pod it stands for.
fn endpoint_key(ep: &Endpoint) -> (Vec<String>, String, String, String) {
    let mut addresses = ep.addresses.clone();
    addresses.sort();
    let r = ep.target_ref.as_ref();
    (
        addresses,
        ep.hostname.clone().unwrap_or_default(),
        r.and_then(|r| r.namespace.clone()).unwrap_or_default(),
        r.and_then(|r| r.name.clone()).unwrap_or_default(),
    )
}

/// Upstream's EndpointsEqualBeyondHash (target references compared without resourceVersion).
fn endpoints_equal(a: &Endpoint, b: &Endpoint) -> bool {
    let target = |e: &Endpoint| {
        e.target_ref.clone().map(|mut r| {
            r.resource_version = None;
            r
        })
    };
    let cond = |e: &Endpoint| {
        let c = e.conditions.clone().unwrap_or_default();
        (c.ready, c.serving, c.terminating)
    };
    a.node_name == b.node_name
        && a.zone == b.zone
        && cond(a) == cond(b)
        && target(a) == target(b)
        && a.hints == b.hints
}

/// Upstream's placeholderSliceCompare: no endpoints, no ports, same type, namespace, labels.
fn is_placeholder_like(slice: &EndpointSlice, placeholder: &EndpointSlice) -> bool {
    slice.endpoints.is_empty()
        && slice.ports.as_ref().is_none_or(Vec::is_empty)
        && slice.address_type == placeholder.address_type
        && slice.metadata.namespace == placeholder.metadata.namespace
        && slice.labels() == placeholder.labels()
}

type DesiredSet = BTreeMap<(Vec<String>, String, String, String), Endpoint>;

/// Computes the slices to create, update and delete for `svc` given its selected pods and its
/// current slices. `node_zone` answers None for a node that does not exist, else its zone.
pub(crate) fn plan(
    svc: &Service,
    pods: &[Arc<Pod>],
    node_zone: impl Fn(&str) -> Option<Option<String>>,
    existing: &[EndpointSlice],
    max_per_slice: usize,
) -> Plan {
    let mut plan = Plan::default();
    let types = address_types(svc);
    let mut by_type: BTreeMap<&str, Vec<&EndpointSlice>> = BTreeMap::new();
    for s in existing {
        match types.get(s.address_type.as_str()) {
            Some(t) => by_type.entry(*t).or_default().push(s),
            // The service no longer has that IP family.
            None => plan.delete.push(s.clone()),
        }
    }
    for t in types {
        let slices = by_type.remove(t).unwrap_or_default();
        plan_address_type(svc, pods, &node_zone, &slices, t, max_per_slice, &mut plan);
    }
    plan
}

fn plan_address_type(
    svc: &Service,
    pods: &[Arc<Pod>],
    node_zone: &impl Fn(&str) -> Option<Option<String>>,
    existing: &[&EndpointSlice],
    address_type: &str,
    max: usize,
    plan: &mut Plan,
) {
    let mut to_delete: Vec<EndpointSlice> = Vec::new();
    let mut existing_by_ports: BTreeMap<String, Vec<EndpointSlice>> = BTreeMap::new();
    for s in existing {
        if owned_by(s, svc) {
            existing_by_ports
                .entry(ports_key(s.ports.as_deref().unwrap_or_default()))
                .or_default()
                .push((*s).clone());
        } else {
            to_delete.push((*s).clone());
        }
    }
    let publish = svc
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let mut desired_by_ports: BTreeMap<String, (Vec<EndpointPort>, DesiredSet)> = BTreeMap::new();
    for pod in pods {
        if !should_pod_be_in_endpoints(pod, true) {
            continue;
        }
        let ports = endpoint_ports(svc, pod);
        let key = ports_key(&ports);
        let entry = desired_by_ports
            .entry(key)
            .or_insert_with(|| (ports, DesiredSet::new()));
        let zone = match node_zone(&node_name(pod).unwrap_or_default()) {
            Some(zone) => zone,
            // Upstream leaves out pods on nodes that do not exist (and retries), unless the
            // service publishes not-ready addresses.
            None if !publish => {
                plan.skipped += 1;
                continue;
            }
            None => None,
        };
        let ep = pod_to_endpoint(pod, zone, svc, address_type);
        if !ep.addresses.is_empty() {
            entry.1.insert(endpoint_key(&ep), ep);
        }
    }

    let mut to_create = Vec::new();
    let mut to_update = Vec::new();
    for (key, (ports, desired)) in desired_by_ports.iter_mut() {
        let current = existing_by_ports
            .get(key)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let (c, u, d) = plan_ports(
            svc,
            current,
            std::mem::take(desired),
            ports,
            address_type,
            max,
        );
        to_create.extend(c);
        to_update.extend(u);
        to_delete.extend(d);
    }
    for (key, slices) in existing_by_ports {
        if !desired_by_ports.contains_key(&key) {
            to_delete.extend(slices);
        }
    }
    // A service without endpoints keeps one empty placeholder slice.
    if existing.len() == to_delete.len() && to_create.is_empty() {
        let placeholder = new_slice(svc, &[], address_type);
        if to_delete.len() == 1 && is_placeholder_like(&to_delete[0], &placeholder) {
            to_delete.clear();
        } else {
            to_create.push(placeholder);
        }
    }
    // Rather than create one slice and delete another, reuse the latter (upstream's finalize).
    let mut i = 0;
    while i < to_delete.len() && !to_create.is_empty() {
        if owned_by(&to_delete[i], svc) && to_delete[i].address_type == address_type {
            let old = to_delete.remove(i);
            let mut slice = to_create
                .pop()
                .unwrap_or_else(|| new_slice(svc, &[], address_type));
            slice.metadata.name = old.metadata.name;
            slice.metadata.resource_version = old.metadata.resource_version;
            to_update.push(slice);
        } else {
            i += 1;
        }
    }
    // No new slices for a service being deleted: the garbage collector is removing them.
    if svc.metadata.deletion_timestamp.is_some() {
        to_create.clear();
    }
    plan.create.extend(to_create);
    plan.update.extend(to_update);
    plan.delete.extend(to_delete);
}

/// Upstream's reconcileByPortMapping: keeps endpoints where they are, updates those that
/// changed, fills slices being updated anyway, then the fullest unchanged slice that can take
/// the rest, then new slices. Returns (create, update, delete).
fn plan_ports(
    svc: &Service,
    existing: &[EndpointSlice],
    mut desired: DesiredSet,
    ports: &[EndpointPort],
    address_type: &str,
    max: usize,
) -> (Vec<EndpointSlice>, Vec<EndpointSlice>, Vec<EndpointSlice>) {
    let mut by_name: BTreeMap<String, EndpointSlice> = BTreeMap::new();
    let mut unchanged: BTreeSet<String> = BTreeSet::new();
    let mut to_update: BTreeSet<String> = BTreeSet::new();
    let mut to_delete: BTreeSet<String> = BTreeSet::new();
    for s in existing {
        let name = s.name_any();
        let mut kept = Vec::new();
        let mut changed = false;
        for ep in &s.endpoints {
            if let Some(want) = desired.remove(&endpoint_key(ep)) {
                changed |= !endpoints_equal(&want, ep);
                kept.push(want);
            }
        }
        let (labels, labels_changed) = slice_labels(s.labels(), svc);
        if changed || kept.len() != s.endpoints.len() {
            if kept.is_empty() {
                to_delete.insert(name.clone());
                by_name.insert(name, s.clone());
            } else {
                let mut s = s.clone();
                s.endpoints = kept;
                s.metadata.labels = Some(labels);
                to_update.insert(name.clone());
                by_name.insert(name, s);
            }
        } else if labels_changed {
            let mut s = s.clone();
            s.metadata.labels = Some(labels);
            to_update.insert(name.clone());
            by_name.insert(name, s);
        } else {
            unchanged.insert(name.clone());
            by_name.insert(name, s.clone());
        }
    }
    let pop = |desired: &mut DesiredSet| desired.pop_first().map(|(_, ep)| ep);
    // Fill the slices being written anyway, fullest first.
    if !desired.is_empty() && !to_update.is_empty() {
        let mut names: Vec<&String> = to_update.iter().collect();
        names.sort_by_key(|n| std::cmp::Reverse(by_name[*n].endpoints.len()));
        let names: Vec<String> = names.into_iter().cloned().collect();
        for n in names {
            let Some(s) = by_name.get_mut(&n) else {
                continue;
            };
            while s.endpoints.len() < max {
                let Some(ep) = pop(&mut desired) else { break };
                s.endpoints.push(ep);
            }
        }
    }
    let mut to_create = Vec::new();
    while !desired.is_empty() {
        let mut fill: Option<String> = None;
        if desired.len() < max && !unchanged.is_empty() {
            // The unchanged slice closest to full once it takes them all.
            let mut closest = max;
            for n in &unchanged {
                let len = by_name[n].endpoints.len();
                if len + desired.len() <= max && max - (len + desired.len()) < closest {
                    closest = max - (len + desired.len());
                    fill = Some(n.clone());
                }
            }
        }
        match fill {
            Some(n) => {
                let s = by_name.get_mut(&n).expect("unchanged slices are known");
                while s.endpoints.len() < max {
                    let Some(ep) = pop(&mut desired) else { break };
                    s.endpoints.push(ep);
                }
                unchanged.remove(&n);
                to_update.insert(n);
            }
            None => {
                let mut s = new_slice(svc, ports, address_type);
                while s.endpoints.len() < max {
                    let Some(ep) = pop(&mut desired) else { break };
                    s.endpoints.push(ep);
                }
                to_create.push(s);
            }
        }
    }
    let take = |names: BTreeSet<String>,
                by_name: &mut BTreeMap<String, EndpointSlice>|
     -> Vec<EndpointSlice> {
        names
            .into_iter()
            .filter_map(|n| by_name.remove(&n))
            .collect()
    };
    let update = take(to_update, &mut by_name);
    let delete = take(to_delete, &mut by_name);
    (to_create, update, delete)
}

#[cfg(test)]
mod tests;
