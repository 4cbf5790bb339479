//! The node IPAM controller, as kube-controller-manager's range allocator: every Node without
//! `spec.podCIDR` gets the next free `/node_mask` subnet of the cluster CIDR (in `spec.podCIDR`
//! and `spec.podCIDRs`). What is taken is derived from the Nodes themselves on every (re)list, so
//! a restart never hands a subnet out twice; a deleted Node's subnet is free again. When the
//! cluster CIDR is full the Node gets a `CIDRNotAvailable` event and is retried as subnets free up.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    future::Future,
    net::Ipv4Addr,
    time::Duration,
};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::{
    api::{Api, Patch, PatchParams},
    runtime::{watcher, WatchStreamExt},
    Client, ResourceExt,
};
use serde_json::json;
use tracing::{debug, info, instrument, warn};

use crate::{
    replicaset::events::{Recorder, NORMAL},
    Error, Result,
};

/// Upstream's limit: at most 2^16 node subnets per cluster CIDR.
const MAX_SUBNET_BITS: u8 = 16;
/// How often nodes still waiting for a subnet (API errors, a full range) are retried.
const RETRY: Duration = Duration::from_secs(5);
const COMPONENT: &str = "cidrAllocator";
const CIDR_NOT_AVAILABLE: &str = "CIDRNotAvailable";

/// The node subnets of a cluster CIDR and which are taken. Pure: no I/O.
#[derive(Debug, Clone)]
pub(crate) struct CidrSet {
    base: u32,
    cluster_prefix: u8,
    node_mask: u8,
    used: BTreeSet<u32>,
    /// Where the next search starts (round-robin, as upstream, so a just-freed subnet is not
    /// handed to the next node at once).
    next: u32,
}

impl CidrSet {
    pub(crate) fn new(cluster_cidr: &str, node_mask: u8) -> Result<Self> {
        let (base, cluster_prefix) = parse_v4(cluster_cidr).ok_or_else(|| {
            Error::Other(format!("cluster CIDR {cluster_cidr:?} is not an IPv4 CIDR"))
        })?;
        if node_mask < cluster_prefix || node_mask > 32 {
            return Err(Error::Other(format!(
                "node CIDR mask /{node_mask} must be between the cluster CIDR's /{cluster_prefix} and /32"
            )));
        }
        if node_mask - cluster_prefix > MAX_SUBNET_BITS {
            return Err(Error::Other(format!(
                "node CIDR mask /{node_mask} splits {cluster_cidr} into more than 2^{MAX_SUBNET_BITS} subnets"
            )));
        }
        Ok(Self {
            base,
            cluster_prefix,
            node_mask,
            used: BTreeSet::new(),
            next: 0,
        })
    }

    fn count(&self) -> u32 {
        1 << (self.node_mask - self.cluster_prefix)
    }

    fn subnet(&self, index: u32) -> String {
        let shift = 32 - u32::from(self.node_mask);
        let addr = self.base + (index.checked_shl(shift).unwrap_or(0));
        format!("{}/{}", Ipv4Addr::from(addr), self.node_mask)
    }

    /// The node subnet indexes `cidr` overlaps (none when it is outside the cluster CIDR).
    fn indexes(&self, cidr: &str) -> Option<(u32, u32)> {
        let (net, prefix) = parse_v4(cidr)?;
        let size = |p: u8| 1u64 << (32 - u32::from(p));
        let (lo, hi) = (u64::from(net), u64::from(net) + size(prefix) - 1);
        let (c_lo, c_hi) = (
            u64::from(self.base),
            u64::from(self.base) + size(self.cluster_prefix) - 1,
        );
        if hi < c_lo || lo > c_hi {
            return None;
        }
        let node = size(self.node_mask);
        let first = (lo.max(c_lo) - c_lo) / node;
        let last = (hi.min(c_hi) - c_lo) / node;
        Some((first as u32, last as u32))
    }

    /// Marks the subnets `cidr` overlaps as taken; false when it is outside the cluster CIDR.
    pub(crate) fn occupy(&mut self, cidr: &str) -> bool {
        let Some((first, last)) = self.indexes(cidr) else {
            return false;
        };
        self.used.extend(first..=last);
        true
    }

    pub(crate) fn release(&mut self, cidr: &str) {
        if let Some((first, last)) = self.indexes(cidr) {
            for i in first..=last {
                self.used.remove(&i);
            }
        }
    }

    /// Takes the next free subnet; `None` when every one is taken.
    pub(crate) fn allocate(&mut self) -> Option<String> {
        let count = self.count();
        let index = (0..count)
            .map(|i| (self.next + i) % count)
            .find(|i| !self.used.contains(i))?;
        self.used.insert(index);
        self.next = (index + 1) % count;
        Some(self.subnet(index))
    }

    fn clear(&mut self) {
        self.used.clear();
    }
}

fn parse_v4(cidr: &str) -> Option<(u32, u8)> {
    let (addr, len) = cidr.trim().split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    if len > 32 {
        return None;
    }
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    Some((u32::from(addr) & mask, len))
}

/// The IPv4 pod CIDRs a Node holds (`spec.podCIDRs`, else `spec.podCIDR`).
fn node_cidrs(node: &Node) -> Vec<String> {
    let Some(spec) = node.spec.as_ref() else {
        return Vec::new();
    };
    let all = match (&spec.pod_cidrs, &spec.pod_cidr) {
        (Some(list), _) if !list.is_empty() => list.clone(),
        (_, Some(one)) if !one.is_empty() => vec![one.clone()],
        _ => Vec::new(),
    };
    all.into_iter().filter(|c| parse_v4(c).is_some()).collect()
}

fn has_cidr(node: &Node) -> bool {
    node.spec
        .as_ref()
        .is_some_and(|s| s.pod_cidr.as_deref().is_some_and(|c| !c.is_empty()))
}

/// What the controller knows, driven by watch events. Pure: the API calls are in `run`.
#[derive(Debug)]
struct State {
    set: CidrSet,
    /// Every Node seen and the CIDRs it holds (or was just given by us).
    nodes: HashMap<String, Vec<String>>,
    /// Nodes waiting for a subnet.
    pending: BTreeMap<String, Node>,
    /// Nodes already told CIDRNotAvailable (told once until they get one).
    reported: BTreeSet<String>,
    /// A (re)list in progress.
    listing: Option<Vec<Node>>,
}

impl State {
    fn new(set: CidrSet) -> Self {
        Self {
            set,
            nodes: HashMap::new(),
            pending: BTreeMap::new(),
            reported: BTreeSet::new(),
            listing: None,
        }
    }

    fn on_event(&mut self, event: watcher::Event<Node>) {
        match event {
            watcher::Event::Init => self.listing = Some(Vec::new()),
            watcher::Event::InitApply(node) => self.listing.get_or_insert_with(Vec::new).push(node),
            watcher::Event::InitDone => {
                // Rebuild from the list alone: what exists is exactly what is taken.
                let listed = self.listing.take().unwrap_or_default();
                self.set.clear();
                self.nodes.clear();
                self.pending.clear();
                for node in listed {
                    self.seen(node);
                }
                self.reported.retain(|n| self.pending.contains_key(n));
            }
            watcher::Event::Apply(node) => self.seen(node),
            watcher::Event::Delete(node) => {
                let name = node.name_any();
                for cidr in self.nodes.remove(&name).unwrap_or_default() {
                    self.set.release(&cidr);
                }
                self.pending.remove(&name);
                self.reported.remove(&name);
            }
        }
    }

    fn seen(&mut self, node: Node) {
        let name = node.name_any();
        let cidrs = node_cidrs(&node);
        if has_cidr(&node) {
            for cidr in &cidrs {
                if !self.set.occupy(cidr) {
                    debug!(node = %name, %cidr, "pod CIDR outside the cluster CIDR; not tracked");
                }
            }
            self.nodes.insert(name.clone(), cidrs);
            self.pending.remove(&name);
            self.reported.remove(&name);
        } else if self.nodes.get(&name).is_some_and(|c| !c.is_empty()) {
            // We patched it already; this event predates the patch.
        } else {
            self.nodes.insert(name.clone(), Vec::new());
            self.pending.insert(name, node);
        }
    }
}

/// Runs the node IPAM controller until `shutdown` resolves. Fails at once on an invalid
/// `cluster_cidr`/`node_mask` (IPv4 only).
pub async fn run(
    client: Client,
    cluster_cidr: String,
    node_mask: u8,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let set = CidrSet::new(&cluster_cidr, node_mask)?;
    info!(%cluster_cidr, node_mask, "node IPAM controller starting");
    let api: Api<Node> = Api::all(client.clone());
    let recorder = Recorder::new(client, COMPONENT);
    let mut events = watcher(api.clone(), watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut state = State::new(set);
    let mut retry = tokio::time::interval(RETRY);
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            event = events.next() => match event {
                Some(Ok(event)) => {
                    let settled = !matches!(event, watcher::Event::Init | watcher::Event::InitApply(_));
                    state.on_event(event);
                    if settled {
                        assign_pending(&api, &recorder, &mut state).await;
                    }
                }
                Some(Err(e)) => warn!(error = %e, "node watch failed; retrying"),
                None => return Err(Error::Other("node watch ended".into())),
            },
            _ = retry.tick(), if !state.pending.is_empty() && state.listing.is_none() => {
                assign_pending(&api, &recorder, &mut state).await;
            }
        }
    }
    info!("node IPAM controller stopped");
    Ok(())
}

/// Gives every pending Node a subnet (one patch each), or reports that none is left.
async fn assign_pending(api: &Api<Node>, recorder: &Recorder, state: &mut State) {
    let names: Vec<String> = state.pending.keys().cloned().collect();
    for name in names {
        let Some(cidr) = state.set.allocate() else {
            if let Some(node) = state.pending.get(&name) {
                if state.reported.insert(name.clone()) {
                    warn!(node = %name, "no pod CIDR left in the cluster CIDR");
                    recorder.event(
                        node,
                        NORMAL,
                        CIDR_NOT_AVAILABLE,
                        format!("Node {name} status is now: {CIDR_NOT_AVAILABLE}"),
                    );
                }
            }
            continue;
        };
        match patch_cidr(api, &name, &cidr).await {
            Ok(()) => {
                state.nodes.insert(name.clone(), vec![cidr]);
                state.pending.remove(&name);
                state.reported.remove(&name);
            }
            Err(kube::Error::Api(e)) if e.code == 404 => {
                state.set.release(&cidr);
                state.pending.remove(&name);
                state.nodes.remove(&name);
            }
            Err(e) => {
                // Left pending: retried on the next tick.
                warn!(node = %name, %cidr, error = %e, "assigning pod CIDR failed");
                state.set.release(&cidr);
            }
        }
    }
}

#[instrument(skip(api))]
async fn patch_cidr(api: &Api<Node>, name: &str, cidr: &str) -> Result<(), kube::Error> {
    let patch = json!({"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await?;
    info!("pod CIDR assigned");
    Ok(())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::NodeSpec;
    use kube::api::ObjectMeta;

    use super::*;

    fn node(name: &str, cidr: Option<&str>) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            spec: Some(NodeSpec {
                pod_cidr: cidr.map(Into::into),
                pod_cidrs: cidr.map(|c| vec![c.into()]),
                ..NodeSpec::default()
            }),
            status: None,
        }
    }

    #[test]
    fn allocates_in_order_and_skips_what_is_taken() {
        let mut set = CidrSet::new("10.42.0.0/16", 24).unwrap();
        assert_eq!(set.allocate().as_deref(), Some("10.42.0.0/24"));
        assert!(set.occupy("10.42.1.0/24"));
        assert_eq!(set.allocate().as_deref(), Some("10.42.2.0/24"));
        // A wider existing assignment takes every subnet it covers.
        assert!(set.occupy("10.42.4.0/23"));
        assert_eq!(set.allocate().as_deref(), Some("10.42.3.0/24"));
        assert_eq!(set.allocate().as_deref(), Some("10.42.6.0/24"));
        assert!(!set.occupy("10.43.0.0/24"), "outside the cluster CIDR");
        assert!(!set.occupy("fd00::/64"));
    }

    #[test]
    fn exhausts_then_reuses_released_subnets() {
        let mut set = CidrSet::new("10.0.0.0/22", 24).unwrap();
        let all: Vec<_> = (0..4).map(|_| set.allocate().unwrap()).collect();
        assert_eq!(
            all,
            ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"]
        );
        assert_eq!(set.allocate(), None);
        set.release("10.0.1.0/24");
        assert_eq!(set.allocate().as_deref(), Some("10.0.1.0/24"));
        assert_eq!(set.allocate(), None);
    }

    #[test]
    fn rejects_bad_configuration() {
        assert!(CidrSet::new("10.42.0.0/16", 8).is_err());
        assert!(CidrSet::new("10.42.0.0/16", 33).is_err());
        assert!(
            CidrSet::new("10.0.0.0/8", 26).is_err(),
            "more than 2^16 subnets"
        );
        assert!(CidrSet::new("fd00::/48", 64).is_err());
        assert!(CidrSet::new("10.42.0.0", 24).is_err());
        let whole = CidrSet::new("10.42.0.0/16", 16).unwrap();
        assert_eq!(whole.clone().allocate().as_deref(), Some("10.42.0.0/16"));
    }

    #[test]
    fn a_relist_derives_allocations_from_existing_nodes() {
        let mut state = State::new(CidrSet::new("10.42.0.0/16", 24).unwrap());
        state.on_event(watcher::Event::Init);
        state.on_event(watcher::Event::InitApply(node("a", Some("10.42.0.0/24"))));
        state.on_event(watcher::Event::InitApply(node("b", None)));
        state.on_event(watcher::Event::InitApply(node("c", Some("10.42.2.0/24"))));
        assert!(
            state.pending.is_empty(),
            "nothing decided before the list is complete"
        );
        state.on_event(watcher::Event::InitDone);
        assert_eq!(state.pending.keys().collect::<Vec<_>>(), ["b"]);
        assert_eq!(state.set.allocate().as_deref(), Some("10.42.1.0/24"));
        assert_eq!(state.set.allocate().as_deref(), Some("10.42.3.0/24"));
    }

    #[test]
    fn deleting_a_node_frees_its_subnet_and_stale_events_do_not_reallocate() {
        let mut state = State::new(CidrSet::new("10.0.0.0/23", 24).unwrap());
        state.on_event(watcher::Event::InitDone);
        state.on_event(watcher::Event::Apply(node("a", Some("10.0.0.0/24"))));
        state.on_event(watcher::Event::Apply(node("b", Some("10.0.1.0/24"))));
        state.on_event(watcher::Event::Apply(node("c", None)));
        assert_eq!(state.set.clone().allocate(), None, "full");
        assert!(state.pending.contains_key("c"));

        state.on_event(watcher::Event::Delete(node("a", Some("10.0.0.0/24"))));
        assert_eq!(state.set.clone().allocate().as_deref(), Some("10.0.0.0/24"));

        // As assign_pending records a successful patch; then a stale pre-patch event arrives.
        state.nodes.insert("c".into(), vec!["10.0.0.0/24".into()]);
        state.pending.remove("c");
        state.set.occupy("10.0.0.0/24");
        state.on_event(watcher::Event::Apply(node("c", None)));
        assert!(state.pending.is_empty());
    }
}
