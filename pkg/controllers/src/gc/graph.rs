//! The garbage collector's dependency graph, as kube-controller-manager's GraphBuilder keeps
//! it: one node per uid (observed through a watch, or "virtual" when only known from another
//! object's ownerReferences), each with its owners and dependents. Feeding it what the watches
//! report returns which nodes the workers must look at; nothing here does I/O.

use std::collections::{BTreeSet, HashMap, HashSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

/// A dependent's uid and the owner identity it names.
type Named = (String, Identity);

/// The finalizer DELETE with propagationPolicy=Foreground adds.
pub const FOREGROUND: &str = "foregroundDeletion";
/// The finalizer DELETE with propagationPolicy=Orphan adds.
pub const ORPHAN: &str = "orphan";

/// Where an object lives: its type, namespace, name and uid.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub uid: String,
}

impl Identity {
    /// The owner an ownerReference names, seen from a dependent in `dependent_ns` (owners of
    /// namespaced objects live in the same namespace, or are cluster-scoped).
    pub fn of_owner(r: &OwnerReference, dependent_ns: Option<&str>) -> Self {
        Identity {
            api_version: r.api_version.clone(),
            kind: r.kind.clone(),
            namespace: dependent_ns.map(str::to_string),
            name: r.name.clone(),
            uid: r.uid.clone(),
        }
    }

    pub fn group(&self) -> &str {
        group_of(&self.api_version)
    }

    /// Same object, whatever the version it was named with.
    pub fn same_coordinates(&self, other: &Identity) -> bool {
        self.uid == other.uid
            && self.group() == other.group()
            && self.kind == other.kind
            && self.name == other.name
            && self.namespace == other.namespace
    }
}

/// "apps" for "apps/v1", "" for "v1".
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// What a watch reported about one object.
#[derive(Clone, Debug)]
pub struct Observed {
    pub identity: Identity,
    pub owners: Vec<OwnerReference>,
    /// metadata.deletionTimestamp is set.
    pub deleting: bool,
    pub finalizers: Vec<String>,
    /// The watch that saw it (group/resource), to notice objects a re-list no longer has.
    pub source: String,
}

#[derive(Clone, Debug)]
pub struct Node {
    pub identity: Identity,
    pub owners: Vec<OwnerReference>,
    /// uids of the objects naming this one as an owner.
    pub dependents: BTreeSet<String>,
    /// False for a virtual node: known only from ownerReferences, not (yet) seen by a watch.
    pub observed: bool,
    pub being_deleted: bool,
    /// Being deleted with the foregroundDeletion finalizer: waits for blocking dependents.
    pub deleting_dependents: bool,
    pub source: Option<String>,
}

/// What the workers must look at after a graph change.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Actions {
    pub attempt_to_delete: Vec<String>,
    pub attempt_to_orphan: Vec<String>,
}

impl Actions {
    fn delete(&mut self, uid: &str) {
        if !self.attempt_to_delete.iter().any(|u| u == uid) {
            self.attempt_to_delete.push(uid.to_string());
        }
    }
}

/// How many known-absent owners are remembered (upstream keeps an LRU of 500).
const ABSENT_CAPACITY: usize = 1000;

#[derive(Debug, Default)]
pub struct Graph {
    nodes: HashMap<String, Node>,
    /// Owners known not to exist, by (uid, namespace or ""): spares a GET per dependent.
    absent: HashSet<(String, String)>,
}

impl Graph {
    pub fn node(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// An add or update from a watch.
    pub fn observe(&mut self, obs: &Observed) -> Actions {
        let mut acts = Actions::default();
        let uid = obs.identity.uid.clone();
        let ns = obs.identity.namespace.clone();
        match self.nodes.get_mut(&uid) {
            None => {
                self.nodes.insert(
                    uid.clone(),
                    Node {
                        identity: obs.identity.clone(),
                        owners: obs.owners.clone(),
                        dependents: BTreeSet::new(),
                        observed: true,
                        being_deleted: obs.deleting,
                        deleting_dependents: false,
                        source: Some(obs.source.clone()),
                    },
                );
                self.add_dependent_to_owners(&uid, ns.as_deref(), &obs.owners, &mut acts);
            }
            Some(node) => {
                if !node.observed {
                    // Dependents may have named this object with other coordinates: let the
                    // workers check their references (a no-op when the owners are solid).
                    if !node.identity.same_coordinates(&obs.identity) {
                        for d in &node.dependents {
                            acts.delete(d);
                        }
                    }
                    node.identity = obs.identity.clone();
                    node.observed = true;
                }
                node.source = Some(obs.source.clone());
                if obs.deleting {
                    node.being_deleted = true;
                }
                let old = std::mem::replace(&mut node.owners, obs.owners.clone());
                let diff = diff_owners(&old, &obs.owners);
                // Owners waiting for this dependent to go may be unblocked now.
                for r in diff
                    .removed
                    .iter()
                    .filter(|r| r.block_owner_deletion == Some(true))
                {
                    if self.nodes.contains_key(&r.uid) {
                        acts.delete(&r.uid);
                    }
                }
                for (was, now) in &diff.changed {
                    if was.block_owner_deletion == Some(true)
                        && now.block_owner_deletion != Some(true)
                        && self.nodes.contains_key(&now.uid)
                    {
                        acts.delete(&now.uid);
                    }
                }
                for r in &diff.removed {
                    if let Some(owner) = self.nodes.get_mut(&r.uid) {
                        owner.dependents.remove(&uid);
                    }
                }
                self.add_dependent_to_owners(&uid, ns.as_deref(), &diff.added, &mut acts);
            }
        }
        self.process_transitions(obs, &mut acts);
        acts
    }

    /// A delete from a watch (or an object a re-list no longer has).
    pub fn observe_deleted(&mut self, uid: &str) -> Actions {
        let mut acts = Actions::default();
        if self.nodes.contains_key(uid) {
            self.remove_node(uid, &mut acts);
        }
        acts
    }

    /// A worker found `identity` absent with a live GET.
    pub fn virtual_delete(&mut self, identity: &Identity) -> Actions {
        let mut acts = Actions::default();
        let Some(node) = self.nodes.get(&identity.uid) else {
            return acts;
        };
        if node.observed {
            // The watch will report the delete; act now unless it was looked up elsewhere.
            if node.identity.same_coordinates(identity) {
                self.remove_node(&identity.uid, &mut acts);
            }
            return acts;
        }
        // A virtual node: dependents may disagree on where the owner lives.
        let node_matches = node.identity.same_coordinates(identity);
        let (matching, nonmatching): (Vec<Named>, Vec<Named>) = node
            .dependents
            .iter()
            .filter_map(|d| {
                let dep = self.nodes.get(d)?;
                let r = dep.owners.iter().find(|r| r.uid == identity.uid)?;
                Some((
                    d.clone(),
                    Identity::of_owner(r, dep.identity.namespace.as_deref()),
                ))
            })
            .partition(|(_, named)| named.same_coordinates(identity));
        if nonmatching.is_empty() {
            self.remove_node(&identity.uid, &mut acts);
            return acts;
        }
        if !matching.is_empty() {
            self.mark_absent(identity);
            for (d, _) in &matching {
                acts.delete(d);
            }
        }
        if node_matches {
            // Look the owner up again where the other dependents say it is.
            let other = nonmatching[0].1.clone();
            if let Some(n) = self.nodes.get_mut(&identity.uid) {
                n.identity = other;
            }
            acts.delete(&identity.uid);
        }
        acts
    }

    /// Nodes a watch of `source` reported, for reconciling a re-list.
    pub fn uids_from(&self, source: &str) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.observed && n.source.as_deref() == Some(source))
            .map(|(u, _)| u.clone())
            .collect()
    }

    /// Dependents whose reference to `uid` has blockOwnerDeletion, with whether each is itself
    /// waiting for its own dependents.
    pub fn blocking_dependents(&self, uid: &str) -> Vec<(String, bool)> {
        let Some(node) = self.nodes.get(uid) else {
            return Vec::new();
        };
        node.dependents
            .iter()
            .filter_map(|d| {
                let dep = self.nodes.get(d)?;
                let blocks = dep
                    .owners
                    .iter()
                    .any(|r| r.uid == uid && r.block_owner_deletion == Some(true));
                blocks.then(|| (d.clone(), dep.deleting_dependents))
            })
            .collect()
    }

    /// The identities of `uid`'s dependents.
    pub fn dependents(&self, uid: &str) -> Vec<Identity> {
        let Some(node) = self.nodes.get(uid) else {
            return Vec::new();
        };
        node.dependents
            .iter()
            .filter_map(|d| self.nodes.get(d).map(|n| n.identity.clone()))
            .collect()
    }

    /// Whether any of `uid`'s dependents is itself deleting its dependents (a possible cycle).
    pub fn has_dependent_deleting_dependents(&self, uid: &str) -> bool {
        self.nodes.get(uid).is_some_and(|n| {
            n.dependents
                .iter()
                .any(|d| self.nodes.get(d).is_some_and(|dep| dep.deleting_dependents))
        })
    }

    /// Whether the owner `r` of an object in `dependent_ns` is known to be gone.
    pub fn is_absent(&self, r: &OwnerReference, dependent_ns: Option<&str>) -> bool {
        self.absent.contains(&(r.uid.clone(), String::new()))
            || self
                .absent
                .contains(&(r.uid.clone(), dependent_ns.unwrap_or_default().to_string()))
    }

    /// Remembers that nothing with `identity`'s uid exists where it names.
    pub fn mark_absent(&mut self, identity: &Identity) {
        if self.absent.len() >= ABSENT_CAPACITY {
            self.absent.clear();
        }
        self.absent.insert((
            identity.uid.clone(),
            identity.namespace.clone().unwrap_or_default(),
        ));
    }

    fn add_dependent_to_owners(
        &mut self,
        uid: &str,
        ns: Option<&str>,
        owners: &[OwnerReference],
        acts: &mut Actions,
    ) {
        let mut suspicious = false;
        for r in owners {
            match self.nodes.get_mut(&r.uid) {
                None => {
                    // Not seen yet: a virtual node the workers verify with a live GET.
                    let identity = Identity::of_owner(r, ns);
                    let mut dependents = BTreeSet::new();
                    dependents.insert(uid.to_string());
                    self.nodes.insert(
                        r.uid.clone(),
                        Node {
                            identity,
                            owners: Vec::new(),
                            dependents,
                            observed: false,
                            being_deleted: false,
                            deleting_dependents: false,
                            source: None,
                        },
                    );
                    acts.delete(&r.uid);
                }
                Some(owner) => {
                    let named = Identity::of_owner(r, ns);
                    let owner_namespaced = owner.identity.namespace.is_some();
                    let other_namespace = owner.identity.namespace.as_deref() != ns;
                    let other_coordinates = owner.identity.group() != named.group()
                        || owner.identity.kind != named.kind
                        || owner.identity.name != named.name;
                    // A namespaced owner elsewhere, other coordinates, or an unverified
                    // cluster-scoped one named from a namespace: let a worker check.
                    if other_coordinates
                        || (other_namespace && (owner_namespaced || !owner.observed))
                    {
                        suspicious = true;
                    }
                    owner.dependents.insert(uid.to_string());
                }
            }
        }
        if suspicious {
            acts.delete(uid);
        }
    }

    fn remove_node(&mut self, uid: &str, acts: &mut Actions) {
        let Some(node) = self.nodes.remove(uid) else {
            return;
        };
        for r in &node.owners {
            if let Some(owner) = self.nodes.get_mut(&r.uid) {
                owner.dependents.remove(uid);
            }
        }
        if !node.dependents.is_empty() {
            self.mark_absent(&node.identity);
        }
        for d in &node.dependents {
            acts.delete(d);
        }
        // Owners deleting their dependents may now be able to finish.
        for r in &node.owners {
            if self
                .nodes
                .get(&r.uid)
                .is_some_and(|o| o.deleting_dependents)
            {
                acts.delete(&r.uid);
            }
        }
    }

    fn process_transitions(&mut self, obs: &Observed, acts: &mut Actions) {
        if !obs.deleting {
            return;
        }
        let uid = &obs.identity.uid;
        if obs.finalizers.iter().any(|f| f == ORPHAN) {
            acts.attempt_to_orphan.push(uid.clone());
            return;
        }
        if obs.finalizers.iter().any(|f| f == FOREGROUND) {
            if let Some(node) = self.nodes.get_mut(uid) {
                node.deleting_dependents = true;
                let deps: Vec<String> = node.dependents.iter().cloned().collect();
                for d in deps {
                    acts.delete(&d);
                }
            }
            acts.delete(uid);
        }
    }
}

struct OwnerDiff {
    added: Vec<OwnerReference>,
    removed: Vec<OwnerReference>,
    changed: Vec<(OwnerReference, OwnerReference)>,
}

fn diff_owners(old: &[OwnerReference], new: &[OwnerReference]) -> OwnerDiff {
    let mut d = OwnerDiff {
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
    };
    for o in old {
        match new.iter().find(|n| n.uid == o.uid) {
            None => d.removed.push(o.clone()),
            Some(n) if n != o => d.changed.push((o.clone(), n.clone())),
            Some(_) => {}
        }
    }
    for n in new {
        if !old.iter().any(|o| o.uid == n.uid) {
            d.added.push(n.clone());
        }
    }
    d
}
