//! The endpoints controller, as kube-controller-manager's: every Service with a selector (but
//! ExternalName ones) has an Endpoints object of the same name listing the selected pods that
//! have an IP, ready ones under `addresses` and the others under `notReadyAddresses` (all as
//! ready with publishNotReadyAddresses), with each service port resolved against each pod;
//! deleting the Service deletes it. Objects are only written when they would change.
//!
//! Also holds what the EndpointSlice controller shares with it: the pod and port rules, the
//! trigger-time tracker and the Service/Pod watches mapping pod changes to services.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    convert::Infallible,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::{future::ready, stream, stream::BoxStream, StreamExt};
use k8s_openapi::{
    api::core::v1::{
        EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service,
        ServicePort,
    },
    apimachinery::pkg::util::intstr::IntOrString,
    jiff::Timestamp,
};
use kube::{
    api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams},
    runtime::{
        controller::{applier, Action, Config as ApplierConfig},
        reflector::{ObjectRef, Store},
        watcher, WatchStreamExt,
    },
    Client, ResourceExt,
};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::{
    informers::{Change, Informers},
    Context, Error, Result,
};

pub(crate) const LAST_CHANGE_TRIGGER_TIME: &str =
    "endpoints.kubernetes.io/last-change-trigger-time";
const OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
pub(crate) const HEADLESS: &str = "service.kubernetes.io/headless";
const LEADER_ANNOTATION: &str = "control-plane.alpha.kubernetes.io/leader";
/// Upstream truncates an Endpoints object past this many addresses.
const MAX_CAPACITY: usize = 1000;
const CONCURRENCY: u16 = 5;

// ---------------------------------------------------------------------------------------------
// Pod and port rules shared with the EndpointSlice controller.

pub(crate) fn is_pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The pod's IPs: status.podIPs, or status.podIP when only that is set.
pub(crate) fn pod_ips(pod: &Pod) -> Vec<String> {
    let Some(status) = pod.status.as_ref() else {
        return Vec::new();
    };
    let ips: Vec<String> = status
        .pod_ips
        .iter()
        .flatten()
        .map(|p| p.ip.clone())
        .filter(|ip| !ip.is_empty())
        .collect();
    if !ips.is_empty() {
        return ips;
    }
    status
        .pod_ip
        .iter()
        .filter(|ip| !ip.is_empty())
        .cloned()
        .collect()
}

pub(crate) fn is_ipv6(ip: &str) -> bool {
    ip.contains(':')
}

/// Upstream's ShouldPodBeInEndpoints: not terminal, has an IP, and (unless terminating pods
/// are wanted) not being deleted.
pub(crate) fn should_pod_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return false;
    }
    if pod_ips(pod).is_empty() {
        return false;
    }
    include_terminating || pod.metadata.deletion_timestamp.is_none()
}

pub(crate) fn should_set_hostname(pod: &Pod, svc: &Service) -> bool {
    let spec = pod.spec.as_ref();
    let hostname = spec.and_then(|s| s.hostname.as_deref()).unwrap_or_default();
    let subdomain = spec
        .and_then(|s| s.subdomain.as_deref())
        .unwrap_or_default();
    !hostname.is_empty() && subdomain == svc.name_any() && svc.namespace() == pod.namespace()
}

pub(crate) fn protocol(p: Option<&str>) -> &str {
    p.unwrap_or("TCP")
}

/// Upstream's FindPort: a numeric targetPort as is, a named one looked up among the pod's
/// container ports (then sidecars') with the service port's protocol.
pub(crate) fn find_port(pod: &Pod, sp: &ServicePort) -> Option<i32> {
    match &sp.target_port {
        None => Some(sp.port),
        Some(IntOrString::Int(p)) => Some(*p),
        Some(IntOrString::String(name)) => {
            let spec = pod.spec.as_ref()?;
            let want = protocol(sp.protocol.as_deref());
            let sidecars = spec
                .init_containers
                .iter()
                .flatten()
                .filter(|c| c.restart_policy.as_deref() == Some("Always"));
            spec.containers
                .iter()
                .chain(sidecars)
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| {
                    p.name.as_deref() == Some(name.as_str())
                        && protocol(p.protocol.as_deref()) == want
                })
                .map(|p| p.container_port)
        }
    }
}

pub(crate) fn is_service_ip_set(svc: &Service) -> bool {
    let ip = svc
        .spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .unwrap_or_default();
    !ip.is_empty() && ip != "None"
}

pub(crate) fn is_headless(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}

/// The selector the controllers act on: None for services they leave alone.
pub(crate) fn managed_selector(svc: &Service) -> Option<&BTreeMap<String, String>> {
    let spec = svc.spec.as_ref()?;
    if spec.type_.as_deref() == Some("ExternalName") {
        return None;
    }
    spec.selector.as_ref()
}

pub(crate) fn selects(selector: &BTreeMap<String, String>, pod: &Pod) -> bool {
    selector_matches(selector, pod.labels())
}

pub(crate) fn selector_matches(
    selector: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The pods of the service's namespace its selector picks.
pub(crate) fn selected_pods(
    pods: &Store<Pod>,
    svc: &Service,
    selector: &BTreeMap<String, String>,
) -> Vec<Arc<Pod>> {
    let ns = svc.namespace();
    let mut out: Vec<Arc<Pod>> = pods
        .state()
        .into_iter()
        .filter(|p| p.namespace() == ns && selects(selector, p))
        .collect();
    out.sort_by_key(|p| p.name_any());
    out
}

pub(crate) fn pod_ref(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: pod.namespace(),
        name: Some(pod.name_any()),
        uid: pod.uid(),
        ..ObjectReference::default()
    }
}

pub(crate) fn node_name(pod: &Pod) -> Option<String> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .filter(|n| !n.is_empty())
}

/// Upstream's TriggerTimeTracker: the earliest change (pod Ready transition, Service
/// creation) not yet exported, or the Service's creation for one seen the first time.
#[derive(Default)]
pub(crate) struct TriggerTimeTracker {
    services: HashMap<(String, String), TrackedService>,
}

#[derive(Default)]
struct TrackedService {
    pods: HashMap<String, Timestamp>,
    service: Option<Timestamp>,
}

impl TriggerTimeTracker {
    pub(crate) fn compute(&mut self, svc: &Service, pods: &[Arc<Pod>]) -> Option<Timestamp> {
        let key = (svc.namespace().unwrap_or_default(), svc.name_any());
        let known = self.services.contains_key(&key);
        let state = self.services.entry(key).or_default();
        let mut min: Option<Timestamp> = None;
        let mut pod_times = HashMap::new();
        for pod in pods {
            let ready = pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
                .and_then(|c| c.last_transition_time.as_ref())
                .map(|t| t.0);
            if let Some(t) = ready {
                if state.pods.get(&pod.name_any()).is_none_or(|last| t > *last) {
                    min = Some(min.map_or(t, |m| m.min(t)));
                }
                pod_times.insert(pod.name_any(), t);
            }
        }
        let created = svc.metadata.creation_timestamp.as_ref().map(|t| t.0);
        if let Some(t) = created {
            if state.service.is_none_or(|last| t > last) {
                min = Some(min.map_or(t, |m| m.min(t)));
            }
        }
        state.pods = pod_times;
        state.service = created;
        if !known {
            return created;
        }
        min
    }

    pub(crate) fn forget(&mut self, ns: &str, name: &str) {
        self.services.remove(&(ns.to_string(), name.to_string()));
    }
}

/// Go's RFC3339Nano rendering, as the annotation carries it.
pub(crate) fn rfc3339(t: Timestamp) -> String {
    t.to_string()
}

// ---------------------------------------------------------------------------------------------
// Watches shared by both controllers.

pub(crate) enum Trigger {
    Sync(ObjectRef<Service>),
    Gone(ObjectRef<Service>),
}

pub(crate) struct Inputs {
    pub services: Store<Service>,
    pub pods: Store<Pod>,
    pub triggers: BoxStream<'static, Trigger>,
}

fn service_ref(ns: Option<String>, name: &str) -> ObjectRef<Service> {
    let r = ObjectRef::new(name);
    match ns {
        Some(ns) => r.within(&ns),
        None => r,
    }
}

/// Services and Pods from the shared informers; yields the services to sync (a Service
/// changed, or a pod it selects or selected did) and those deleted.
pub(crate) fn inputs(informers: &Informers) -> Inputs {
    let (svc_informer, pod_informer) = (informers.get::<Service>(), informers.get::<Pod>());
    let services = svc_informer.store();
    let svc_events = svc_informer.subscribe().map(|c| -> Vec<Trigger> {
        match c {
            // A relist reports every service again as updated: each is synced once more.
            Change::Added(s) | Change::Updated { new: s, .. } => {
                vec![Trigger::Sync(ObjectRef::from_obj(&*s))]
            }
            Change::Deleted(s) => vec![Trigger::Gone(ObjectRef::from_obj(&*s))],
            Change::Synced => Vec::new(),
        }
    });

    let svc_store = services.clone();
    let members_of =
        move |ns: Option<&str>, labels: &BTreeMap<String, String>| -> Vec<ObjectRef<Service>> {
            svc_store
                .state()
                .iter()
                .filter(|s| {
                    s.namespace().as_deref() == ns
                        && managed_selector(s).is_some_and(|sel| selector_matches(sel, labels))
                })
                .map(|s| ObjectRef::from_obj(&**s))
                .collect()
        };
    // A pod leaving a selector must sync the service it left: the old labels come with the
    // update.
    let pod_events = pod_informer.subscribe().map(move |c| -> Vec<Trigger> {
        let mut touched: HashSet<ObjectRef<Service>> = HashSet::new();
        let (before, now) = match &c {
            Change::Added(p) | Change::Deleted(p) => (None, p),
            Change::Updated { old, new } => (Some(old.labels()), new),
            Change::Synced => return Vec::new(),
        };
        let ns = now.namespace();
        touched.extend(members_of(ns.as_deref(), now.labels()));
        if let Some(before) = before.filter(|b| *b != now.labels()) {
            touched.extend(members_of(ns.as_deref(), before));
        }
        touched.into_iter().map(Trigger::Sync).collect()
    });

    let triggers = stream::select(svc_events, pod_events)
        .flat_map(stream::iter)
        .boxed();
    Inputs {
        services,
        pods: pod_informer.store(),
        triggers,
    }
}

/// Runs `reconcile` for every service the triggers name, and `gone` for deleted ones.
pub(crate) async fn drive<S, R, RF, G, GF>(
    services: Store<Service>,
    triggers: BoxStream<'static, Trigger>,
    state: Arc<S>,
    reconcile: R,
    gone: G,
    name: &'static str,
) where
    S: Send + Sync + 'static,
    R: FnMut(Arc<Service>, Arc<S>) -> RF,
    RF: std::future::Future<Output = Result<Action>> + Send + 'static,
    G: Fn(ObjectRef<Service>, Arc<S>) -> GF,
    GF: std::future::Future<Output = ()>,
{
    let (gone_tx, mut gone_rx) = mpsc::unbounded_channel();
    let store = services.clone();
    let queue = triggers.filter_map(move |t| {
        ready(match t {
            // Only services the store has (another watch may name one not there yet).
            Trigger::Sync(r) if store.get(&r).is_some() => Some(Ok::<_, Infallible>(r)),
            Trigger::Sync(_) => None,
            Trigger::Gone(r) => {
                let _ = gone_tx.send(r);
                None
            }
        })
    });
    let mut reconcile = reconcile;
    let run = applier(
        move |svc, st| Box::pin(reconcile(svc, st)),
        move |svc: Arc<Service>, e: &Error, _| {
            debug!(controller = name, service = %svc.name_any(), error = %e, "sync failed, retrying");
            Action::requeue(Duration::from_secs(1))
        },
        state.clone(),
        services,
        queue,
        ApplierConfig::default().concurrency(CONCURRENCY),
    )
    .for_each(|r| {
        if let Err(e) = r {
            debug!(controller = name, error = %e, "reconcile failed");
        }
        ready(())
    });
    let cleanup = async {
        while let Some(r) = gone_rx.recv().await {
            gone(r, state.clone()).await;
        }
    };
    tokio::join!(run, cleanup);
}

// ---------------------------------------------------------------------------------------------
// The endpoints controller.

struct State {
    client: Client,
    pods: Store<Pod>,
    tracker: Mutex<TriggerTimeTracker>,
}

pub async fn run(ctx: Context) {
    let client = ctx.client.clone();
    let Inputs {
        services,
        pods,
        triggers,
    } = inputs(&ctx.informers);
    // Endpoints changed or deleted by someone else: sync their service again.
    let endpoint_triggers = watcher(
        Api::<Endpoints>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .filter_map(|ev| {
        ready(match ev {
            Ok(watcher::Event::Apply(ep) | watcher::Event::Delete(ep)) => {
                Some(Trigger::Sync(service_ref(ep.namespace(), &ep.name_any())))
            }
            _ => None,
        })
    });
    let triggers = stream::select(triggers, endpoint_triggers).boxed();
    let state = Arc::new(State {
        client: client.clone(),
        pods,
        tracker: Mutex::new(TriggerTimeTracker::default()),
    });
    let leftovers = remove_leftovers(client, services.clone());
    let main = drive(
        services,
        triggers,
        state,
        reconcile,
        service_gone,
        "endpoints",
    );
    tokio::join!(main, leftovers);
}

/// A deleted Service takes its Endpoints with it.
async fn service_gone(svc: ObjectRef<Service>, st: Arc<State>) {
    let ns = svc.namespace.clone().unwrap_or_default();
    st.tracker
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .forget(&ns, &svc.name);
    let api: Api<Endpoints> = Api::namespaced(st.client.clone(), &ns);
    match api.delete(&svc.name, &DeleteParams::default()).await {
        Ok(_) => debug!(namespace = %ns, name = %svc.name, "endpoints of deleted service removed"),
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        Err(e) => {
            warn!(namespace = %ns, name = %svc.name, error = %e, "removing endpoints of deleted service")
        }
    }
}

/// Once at start, as upstream: Endpoints whose Service no longer exists (deleted while the
/// controller was down) are deleted, leader-election records aside.
async fn remove_leftovers(client: Client, services: Store<Service>) {
    if services.wait_until_ready().await.is_err() {
        return;
    }
    let all: Api<Endpoints> = Api::all(client.clone());
    let list = match all.list(&ListParams::default()).await {
        Ok(l) => l,
        Err(e) => {
            warn!(error = %e, "listing endpoints: leftovers not cleaned up");
            return;
        }
    };
    for ep in list.items {
        if ep.annotations().contains_key(LEADER_ANNOTATION) {
            continue;
        }
        let ns = ep.namespace().unwrap_or_default();
        let name = ep.name_any();
        if services
            .get(&service_ref(Some(ns.clone()), &name))
            .is_some()
        {
            continue;
        }
        // Confirm with the API server before deleting anything.
        let svcs: Api<Service> = Api::namespaced(client.clone(), &ns);
        if let Ok(None) = svcs.get_opt(&name).await {
            let api: Api<Endpoints> = Api::namespaced(client.clone(), &ns);
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => {
                    info!(namespace = %ns, name = %name, "removed endpoints without a service")
                }
                Err(e) => {
                    debug!(namespace = %ns, name = %name, error = %e, "removing leftover endpoints")
                }
            }
        }
    }
}

async fn reconcile(svc: Arc<Service>, st: Arc<State>) -> Result<Action> {
    if st.pods.wait_until_ready().await.is_err() {
        return Err(Error::Other("pod store closed".into()));
    }
    let Some(selector) = managed_selector(&svc) else {
        return Ok(Action::await_change());
    };
    let pods = selected_pods(&st.pods, &svc, selector);
    let trigger = st
        .tracker
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .compute(&svc, &pods);
    let subsets = desired_subsets(&svc, &pods);
    let ns = svc.namespace().unwrap_or_default();
    let api: Api<Endpoints> = Api::namespaced(st.client.clone(), &ns);
    let current = api.get_opt(&svc.name_any()).await?;
    let Some((create, ep)) = plan(&svc, current.as_ref(), subsets, trigger) else {
        return Ok(Action::await_change());
    };
    let addresses: usize = ep
        .subsets
        .iter()
        .flatten()
        .map(|s| s.addresses.as_ref().map_or(0, Vec::len))
        .sum();
    debug!(namespace = %ns, service = %svc.name_any(), ready = addresses, create, "writing endpoints");
    if create {
        match api.create(&PostParams::default(), &ep).await {
            Ok(_) => {}
            // The namespace is terminating.
            Err(kube::Error::Api(e)) if e.code == 403 => {}
            Err(e) => return Err(e.into()),
        }
    } else {
        api.replace(&svc.name_any(), &PostParams::default(), &ep)
            .await?;
    }
    Ok(Action::await_change())
}

/// The address of `pod` in the service's IP family.
fn endpoint_ip(svc: &Service, pod: &Pod) -> Option<String> {
    let spec = svc.spec.as_ref();
    let v6 = match spec
        .and_then(|s| s.ip_families.as_ref())
        .and_then(|f| f.first())
    {
        Some(family) => family == "IPv6",
        None if is_service_ip_set(svc) => spec
            .and_then(|s| s.cluster_ip.as_deref())
            .is_some_and(is_ipv6),
        None => pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.as_deref())
            .is_some_and(is_ipv6),
    };
    pod_ips(pod).into_iter().find(|ip| is_ipv6(ip) == v6)
}

/// The subsets upstream computes: one address per pod with an IP (ready or not), per port
/// resolved on that pod, repacked.
pub(crate) fn desired_subsets(svc: &Service, pods: &[Arc<Pod>]) -> Vec<EndpointSubset> {
    let Some(spec) = svc.spec.as_ref() else {
        return Vec::new();
    };
    let tolerate = spec.publish_not_ready_addresses.unwrap_or(false);
    let ports = spec.ports.as_deref().unwrap_or_default();
    let mut subsets = Vec::new();
    for pod in pods {
        if !should_pod_be_in_endpoints(pod, tolerate) {
            continue;
        }
        let Some(ip) = endpoint_ip(svc, pod) else {
            continue;
        };
        let address = EndpointAddress {
            ip,
            hostname: should_set_hostname(pod, svc)
                .then(|| pod.spec.as_ref().and_then(|s| s.hostname.clone()))
                .flatten(),
            node_name: node_name(pod),
            target_ref: Some(pod_ref(pod)),
        };
        let ready = tolerate || is_pod_ready(pod);
        let subset = |port: Option<EndpointPort>| EndpointSubset {
            addresses: ready.then(|| vec![address.clone()]),
            not_ready_addresses: (!ready).then(|| vec![address.clone()]),
            ports: port.map(|p| vec![p]),
        };
        if ports.is_empty() {
            // A headless service may have no ports.
            if is_headless(svc) {
                subsets.push(subset(None));
            }
            continue;
        }
        for sp in ports {
            let Some(port) = find_port(pod, sp) else {
                continue;
            };
            subsets.push(subset(Some(EndpointPort {
                name: sp.name.clone().filter(|n| !n.is_empty()),
                port,
                protocol: Some(protocol(sp.protocol.as_deref()).to_string()),
                app_protocol: sp.app_protocol.clone(),
            })));
        }
    }
    repack(subsets)
}

type PortKey = (i32, String, String, Option<String>);
type AddrKey = (String, String);
/// Address -> ready for a port.
type ReadyByAddress = BTreeMap<AddrKey, bool>;

fn port_key(p: &EndpointPort) -> PortKey {
    (
        p.port,
        p.name.clone().unwrap_or_default(),
        p.protocol.clone().unwrap_or_default(),
        p.app_protocol.clone(),
    )
}

fn addr_key(a: &EndpointAddress) -> AddrKey {
    (
        a.ip.clone(),
        a.target_ref
            .as_ref()
            .and_then(|r| r.uid.clone())
            .unwrap_or_default(),
    )
}

fn ip_order(a: &EndpointAddress, b: &EndpointAddress) -> std::cmp::Ordering {
    let parse = |s: &str| s.parse::<IpAddr>().ok();
    parse(&a.ip)
        .cmp(&parse(&b.ip))
        .then_with(|| a.ip.cmp(&b.ip))
        .then_with(|| addr_key(a).1.cmp(&addr_key(b).1))
}

/// Upstream's RepackSubsets: addresses offering the same set of ports share one subset; an
/// address ready for a port in any input subset is ready for it. Sorted (addresses by IP,
/// ports by number) so equal inputs give equal outputs.
pub(crate) fn repack(subsets: Vec<EndpointSubset>) -> Vec<EndpointSubset> {
    let mut addrs: BTreeMap<AddrKey, EndpointAddress> = BTreeMap::new();
    // port (None for "no ports") -> address -> ready
    let mut by_port: BTreeMap<Option<PortKey>, (Option<EndpointPort>, ReadyByAddress)> =
        BTreeMap::new();
    for s in &subsets {
        let ports: Vec<Option<&EndpointPort>> = match s.ports.as_deref() {
            None | Some([]) => vec![None],
            Some(ps) => ps.iter().map(Some).collect(),
        };
        for port in ports {
            let entry = by_port
                .entry(port.map(port_key))
                .or_insert_with(|| (port.cloned(), BTreeMap::new()));
            let tagged = s
                .addresses
                .iter()
                .flatten()
                .map(|a| (a, true))
                .chain(s.not_ready_addresses.iter().flatten().map(|a| (a, false)));
            for (a, ready) in tagged {
                let k = addr_key(a);
                addrs.entry(k.clone()).or_insert_with(|| a.clone());
                let r = entry.1.entry(k).or_insert(ready);
                *r = *r || ready;
            }
        }
    }
    // address set -> ports offered to exactly that set
    let mut by_set: BTreeMap<Vec<(AddrKey, bool)>, Vec<EndpointPort>> = BTreeMap::new();
    for (port, set) in by_port.into_values() {
        let key: Vec<(AddrKey, bool)> = set.into_iter().collect();
        let ports = by_set.entry(key).or_default();
        if let Some(p) = port {
            ports.push(p);
        }
    }
    let mut out: Vec<EndpointSubset> = by_set
        .into_iter()
        .map(|(set, mut ports)| {
            let (mut ready, mut not_ready): (Vec<EndpointAddress>, Vec<EndpointAddress>) =
                (Vec::new(), Vec::new());
            for (k, r) in set {
                let a = addrs[&k].clone();
                if r {
                    ready.push(a);
                } else {
                    not_ready.push(a);
                }
            }
            ready.sort_by(ip_order);
            not_ready.sort_by(ip_order);
            ports.sort_by_key(port_key);
            EndpointSubset {
                addresses: (!ready.is_empty()).then_some(ready),
                not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
                ports: (!ports.is_empty()).then_some(ports),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        let first = |s: &EndpointSubset| {
            s.addresses
                .iter()
                .chain(s.not_ready_addresses.iter())
                .flatten()
                .min_by(|x, y| ip_order(x, y))
                .cloned()
        };
        match (first(a), first(b)) {
            (Some(x), Some(y)) => ip_order(&x, &y),
            (x, y) => x.is_some().cmp(&y.is_some()),
        }
        .then_with(|| {
            let ports =
                |s: &EndpointSubset| s.ports.iter().flatten().map(port_key).collect::<Vec<_>>();
            ports(a).cmp(&ports(b))
        })
    });
    out
}

/// Upstream's truncateEndpoints: past MAX_CAPACITY addresses, ready ones are kept first, each
/// subset keeping its proportion. True when something was cut.
fn truncate(subsets: &mut [EndpointSubset]) -> bool {
    let count = |v: &Option<Vec<EndpointAddress>>| v.as_ref().map_or(0, Vec::len);
    let total_ready: usize = subsets.iter().map(|s| count(&s.addresses)).sum();
    let total_not_ready: usize = subsets.iter().map(|s| count(&s.not_ready_addresses)).sum();
    if total_ready + total_not_ready <= MAX_CAPACITY {
        return false;
    }
    let truncate_ready = total_ready > MAX_CAPACITY;
    let (max, total) = if truncate_ready {
        (MAX_CAPACITY, total_ready)
    } else {
        (MAX_CAPACITY - total_ready, total_not_ready)
    };
    let mut can_add = max;
    for s in subsets.iter_mut() {
        let n = if truncate_ready {
            count(&s.addresses)
        } else {
            count(&s.not_ready_addresses)
        };
        let share = (n * max).div_ceil(total.max(1)).min(can_add);
        if truncate_ready {
            if let Some(a) = s.addresses.as_mut() {
                a.truncate(share);
            }
            s.not_ready_addresses = None;
            can_add -= count(&s.addresses);
        } else {
            if let Some(a) = s.not_ready_addresses.as_mut() {
                a.truncate(share);
            }
            can_add -= count(&s.not_ready_addresses);
        }
    }
    true
}

/// Stored subsets in the form `desired_subsets` produces: empty lists as absent, target
/// references without resourceVersion.
fn normalized(subsets: Option<&Vec<EndpointSubset>>) -> Vec<EndpointSubset> {
    let addrs = |v: &Option<Vec<EndpointAddress>>| -> Option<Vec<EndpointAddress>> {
        let v: Vec<EndpointAddress> = v
            .iter()
            .flatten()
            .cloned()
            .map(|mut a| {
                if let Some(r) = a.target_ref.as_mut() {
                    r.resource_version = None;
                }
                a
            })
            .collect();
        (!v.is_empty()).then_some(v)
    };
    subsets
        .into_iter()
        .flatten()
        .map(|s| EndpointSubset {
            addresses: addrs(&s.addresses),
            not_ready_addresses: addrs(&s.not_ready_addresses),
            ports: s.ports.clone().filter(|p| !p.is_empty()),
        })
        .collect()
}

/// The Endpoints object to write for `svc` (true: create it), or None when the current one
/// already says it all.
pub(crate) fn plan(
    svc: &Service,
    current: Option<&Endpoints>,
    subsets: Vec<EndpointSubset>,
    trigger: Option<Timestamp>,
) -> Option<(bool, Endpoints)> {
    let svc_labels = svc.labels().clone();
    let mut subsets = subsets;
    let truncated = truncate(&mut subsets);
    if let Some(cur) = current {
        let mut compare_labels = cur.labels().clone();
        compare_labels.remove(HEADLESS);
        let capacity_ok = cur.annotations().contains_key(OVER_CAPACITY) == truncated;
        if normalized(cur.subsets.as_ref()) == subsets
            && compare_labels == svc_labels
            && capacity_ok
        {
            return None;
        }
    }
    let mut ep = match current {
        Some(cur) => cur.clone(),
        None => Endpoints {
            metadata: ObjectMeta {
                name: Some(svc.name_any()),
                ..ObjectMeta::default()
            },
            ..Endpoints::default()
        },
    };
    ep.subsets = (!subsets.is_empty()).then_some(subsets);
    let mut labels = svc_labels;
    if is_service_ip_set(svc) {
        labels.remove(HEADLESS);
    } else {
        labels.insert(HEADLESS.into(), String::new());
    }
    ep.metadata.labels = (!labels.is_empty()).then_some(labels);
    let mut annotations = ep.metadata.annotations.take().unwrap_or_default();
    match trigger {
        Some(t) => annotations.insert(LAST_CHANGE_TRIGGER_TIME.into(), rfc3339(t)),
        None => annotations.remove(LAST_CHANGE_TRIGGER_TIME),
    };
    if truncated {
        annotations.insert(OVER_CAPACITY.into(), "truncated".into());
    } else {
        annotations.remove(OVER_CAPACITY);
    }
    ep.metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    Some((current.is_none(), ep))
}

#[cfg(test)]
pub(crate) mod tests;
