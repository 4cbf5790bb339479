//! The garbage collector, as kube-controller-manager's: every resource that can be listed,
//! watched and deleted is watched (metadata only; the set is rediscovered periodically), an
//! owner -> dependents graph is kept from ownerReferences, and
//! - dependents whose owners are all gone are deleted (owners verified with a live GET; when
//!   some owners remain only the dangling references are removed),
//! - an owner deleted in the foreground (foregroundDeletion finalizer) has its dependents
//!   deleted, waits for those that block it, then loses the finalizer,
//! - an owner deleted with the orphan finalizer has its references removed from every
//!   dependent, then loses the finalizer.

mod decide;
mod graph;
mod meta;
mod queue;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use futures_util::StreamExt;
use kube::{
    api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions, PropagationPolicy},
    core::{GroupVersionKind, ObjectMeta},
    discovery::{verbs, ApiResource, Discovery, Scope},
    runtime::{watcher, WatchStreamExt},
    Client,
};
use serde_json::Value;
use tokio::task::{AbortHandle, JoinSet};
use tracing::{debug, info, warn};

use crate::{Context, Error, Result};
use decide::{Decision, OwnerState, Policy};
use graph::{Actions, Graph, Identity, Observed, FOREGROUND, ORPHAN};
use meta::GcObject;
use queue::WorkQueue;

/// How often the set of watched resources is rediscovered (upstream: 30s).
const RESYNC_DISCOVERY: Duration = Duration::from_secs(30);
const DELETE_WORKERS: usize = 4;
const ORPHAN_WORKERS: usize = 2;
/// Optimistic-concurrency retries for one patch.
const CONFLICT_RETRIES: usize = 8;

struct Gc {
    client: Client,
    graph: Mutex<Graph>,
    attempt_to_delete: Arc<WorkQueue>,
    attempt_to_orphan: Arc<WorkQueue>,
    discovery: RwLock<Option<Arc<Discovery>>>,
}

/// How a worker is done with an item.
enum Outcome {
    Forget,
    /// Look again later (a virtual node not yet seen by a watch).
    Requeue,
}

pub async fn run(ctx: Context) {
    let gc = Arc::new(Gc {
        client: ctx.client.clone(),
        graph: Mutex::new(Graph::default()),
        attempt_to_delete: Arc::new(WorkQueue::default()),
        attempt_to_orphan: Arc::new(WorkQueue::default()),
        discovery: RwLock::new(None),
    });
    // Dropping the set (when this task is aborted) aborts every worker and monitor.
    let mut tasks = JoinSet::new();
    for _ in 0..DELETE_WORKERS {
        let gc = gc.clone();
        tasks.spawn(async move { gc.delete_worker().await });
    }
    for _ in 0..ORPHAN_WORKERS {
        let gc = gc.clone();
        tasks.spawn(async move { gc.orphan_worker().await });
    }
    // group/resource -> (version watched, its monitor)
    let mut monitors: HashMap<String, (String, AbortHandle)> = HashMap::new();
    loop {
        match Discovery::new(gc.client.clone()).run().await {
            Ok(d) => {
                let d = Arc::new(d);
                *gc.discovery.write().unwrap_or_else(|e| e.into_inner()) = Some(d.clone());
                sync_monitors(&gc, &d, &mut monitors, &mut tasks);
            }
            Err(e) => warn!(error = %e, "garbage collector: discovery failed"),
        }
        tokio::time::sleep(RESYNC_DISCOVERY).await;
    }
}

/// What the collector watches: resources supporting list, watch and delete, but events.
fn deletable_resources(d: &Discovery) -> Vec<ApiResource> {
    let mut out = Vec::new();
    for group in d.groups() {
        for (ar, caps) in group.recommended_resources() {
            let ops = [verbs::LIST, verbs::WATCH, verbs::DELETE];
            if !ops.iter().all(|v| caps.supports_operation(v)) {
                continue;
            }
            if ar.plural == "events" && (ar.group.is_empty() || ar.group == "events.k8s.io") {
                continue;
            }
            out.push(ar);
        }
    }
    out
}

fn source_key(ar: &ApiResource) -> String {
    format!("{}/{}", ar.group, ar.plural)
}

fn sync_monitors(
    gc: &Arc<Gc>,
    d: &Discovery,
    monitors: &mut HashMap<String, (String, AbortHandle)>,
    tasks: &mut JoinSet<()>,
) {
    let wanted = deletable_resources(d);
    let keys: HashSet<String> = wanted.iter().map(source_key).collect();
    monitors.retain(|k, (_, h)| {
        let keep = keys.contains(k);
        if !keep {
            info!(resource = %k, "garbage collector: no longer watching");
            h.abort();
        }
        keep
    });
    for ar in wanted {
        let key = source_key(&ar);
        if let Some((version, h)) = monitors.get(&key) {
            if *version == ar.version {
                continue;
            }
            h.abort();
        }
        debug!(resource = %key, version = %ar.version, "garbage collector: watching");
        let gc = gc.clone();
        let version = ar.version.clone();
        let handle = tasks.spawn(async move { gc.monitor(ar).await });
        monitors.insert(key, (version, handle));
    }
}

fn observed(ar: &ApiResource, source: &str, meta: &ObjectMeta) -> Option<Observed> {
    Some(Observed {
        identity: Identity {
            api_version: ar.api_version.clone(),
            kind: ar.kind.clone(),
            namespace: meta.namespace.clone(),
            name: meta.name.clone()?,
            uid: meta.uid.clone()?,
        },
        owners: meta.owner_references.clone().unwrap_or_default(),
        deleting: meta.deletion_timestamp.is_some(),
        finalizers: meta.finalizers.clone().unwrap_or_default(),
        source: source.to_string(),
    })
}

fn is_status(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

impl Gc {
    fn enqueue(&self, acts: Actions) {
        for uid in &acts.attempt_to_delete {
            self.attempt_to_delete.add(uid);
        }
        for uid in &acts.attempt_to_orphan {
            self.attempt_to_orphan.add(uid);
        }
    }

    fn graph(&self) -> std::sync::MutexGuard<'_, Graph> {
        self.graph.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Feeds one resource's watch (metadata only) into the graph.
    async fn monitor(self: Arc<Self>, ar: ApiResource) {
        let source = source_key(&ar);
        let api: Api<GcObject> = Api::all_with(self.client.clone(), &ar);
        let mut relisted: HashSet<String> = HashSet::new();
        let mut events = watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        while let Some(ev) = events.next().await {
            let acts = match ev {
                Ok(watcher::Event::Init) => {
                    relisted.clear();
                    continue;
                }
                Ok(watcher::Event::InitApply(o)) => {
                    let Some(obs) = observed(&ar, &source, &o.metadata) else {
                        continue;
                    };
                    relisted.insert(obs.identity.uid.clone());
                    self.graph().observe(&obs)
                }
                Ok(watcher::Event::InitDone) => {
                    // Whatever the re-list no longer has was deleted meanwhile.
                    let mut g = self.graph();
                    let mut acts = Actions::default();
                    for uid in g.uids_from(&source) {
                        if !relisted.contains(&uid) {
                            let a = g.observe_deleted(&uid);
                            acts.attempt_to_delete.extend(a.attempt_to_delete);
                        }
                    }
                    relisted.clear();
                    debug!(resource = %source, nodes = g.len(), "garbage collector: resource synced");
                    acts
                }
                Ok(watcher::Event::Apply(o)) => {
                    let Some(obs) = observed(&ar, &source, &o.metadata) else {
                        continue;
                    };
                    self.graph().observe(&obs)
                }
                Ok(watcher::Event::Delete(o)) => {
                    let Some(uid) = o.metadata.uid.as_deref() else {
                        continue;
                    };
                    self.graph().observe_deleted(uid)
                }
                Err(e) => {
                    debug!(resource = %source, error = %e, "garbage collector: watch failed");
                    continue;
                }
            };
            self.enqueue(acts);
        }
    }

    /// The API resource for a kind, and whether it is namespaced.
    fn resolve(&self, api_version: &str, kind: &str) -> Option<(ApiResource, bool)> {
        let d = self
            .discovery
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let found = d
            .resolve_gvk(&GroupVersionKind::gvk(group, version, kind))
            .or_else(|| d.get(group).and_then(|g| g.recommended_kind(kind)));
        found.map(|(ar, caps)| (ar, caps.scope == Scope::Namespaced))
    }

    fn api(&self, ar: &ApiResource, namespaced: bool, ns: Option<&str>) -> Api<DynamicObject> {
        match (namespaced, ns) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, ar),
            _ => Api::all_with(self.client.clone(), ar),
        }
    }

    fn api_for(&self, id: &Identity) -> Result<Api<DynamicObject>> {
        let (ar, namespaced) = self.resolve(&id.api_version, &id.kind).ok_or_else(|| {
            Error::Other(format!("no resource serves {} {}", id.api_version, id.kind))
        })?;
        Ok(self.api(&ar, namespaced, id.namespace.as_deref()))
    }

    /// The object's live metadata, if the object with that uid still exists.
    async fn live(&self, api: &Api<DynamicObject>, id: &Identity) -> Result<Option<ObjectMeta>> {
        let got = api.get_metadata_opt(&id.name).await?;
        Ok(got
            .map(|m| m.metadata)
            .filter(|m| m.uid.as_deref() == Some(id.uid.as_str())))
    }

    async fn delete_worker(self: Arc<Self>) {
        loop {
            let uid = self.attempt_to_delete.get().await;
            match self.attempt_to_delete_item(&uid).await {
                Ok(Outcome::Forget) => self.attempt_to_delete.forget(&uid),
                Ok(Outcome::Requeue) => self.attempt_to_delete.add_rate_limited(&uid),
                Err(e) => {
                    debug!(uid = %uid, error = %e, "garbage collector: retrying");
                    self.attempt_to_delete.add_rate_limited(&uid);
                }
            }
            self.attempt_to_delete.done(&uid);
        }
    }

    async fn orphan_worker(self: Arc<Self>) {
        loop {
            let uid = self.attempt_to_orphan.get().await;
            match self.orphan_dependents(&uid).await {
                Ok(()) => self.attempt_to_orphan.forget(&uid),
                Err(e) => {
                    debug!(uid = %uid, error = %e, "garbage collector: orphaning failed, retrying");
                    self.attempt_to_orphan.add_rate_limited(&uid);
                }
            }
            self.attempt_to_orphan.done(&uid);
        }
    }

    async fn attempt_to_delete_item(&self, uid: &str) -> Result<Outcome> {
        let Some(item) = self.graph().node(uid).cloned() else {
            return Ok(Outcome::Forget);
        };
        // Being deleted is a one-way trip: wait for the final delete, then act on dependents.
        if item.being_deleted && !item.deleting_dependents {
            return Ok(Outcome::Forget);
        }
        let id = &item.identity;
        let api = self.api_for(id)?;
        let Some(latest) = self.live(&api, id).await? else {
            let acts = self.graph().virtual_delete(id);
            self.enqueue(acts);
            return Ok(Outcome::Forget);
        };
        if item.deleting_dependents {
            self.process_deleting_dependents(uid, id).await?;
            return Ok(Outcome::Forget);
        }
        let refs = latest.owner_references.clone().unwrap_or_default();
        if refs.is_empty() {
            return Ok(if item.observed {
                Outcome::Forget
            } else {
                Outcome::Requeue
            });
        }
        let Some(classified) = self.classify(id, &refs).await? else {
            // A cluster-scoped object naming a namespaced owner: invalid, left alone.
            return Ok(Outcome::Forget);
        };
        let (has_dependents, dependent_waits) = {
            let g = self.graph();
            (
                g.node(uid).is_some_and(|n| !n.dependents.is_empty()),
                g.has_dependent_deleting_dependents(uid),
            )
        };
        let finalizers = latest.finalizers.clone().unwrap_or_default();
        match decide::decide(&classified, has_dependents, dependent_waits, &finalizers) {
            Decision::Keep => {}
            Decision::RemoveOwnerRefs(uids) => {
                debug!(object = %id.name, owners = ?uids, "garbage collector: removing dangling owner references");
                self.patch_meta(&api, id, |meta| {
                    decide::remove_owner_refs_patch(
                        meta.resource_version.as_deref().unwrap_or_default(),
                        meta.owner_references.as_deref().unwrap_or_default(),
                        &uids,
                    )
                })
                .await?;
            }
            Decision::DeleteForeground { unblock_first } => {
                if unblock_first {
                    self.patch_meta(&api, id, |meta| {
                        decide::unblock_owner_refs_patch(
                            meta.resource_version.as_deref().unwrap_or_default(),
                            meta.owner_references.as_deref().unwrap_or_default(),
                        )
                    })
                    .await?;
                }
                self.delete(&api, id, Policy::Foreground).await?;
            }
            Decision::Delete(policy) => self.delete(&api, id, policy).await?,
        }
        Ok(if item.observed {
            Outcome::Forget
        } else {
            Outcome::Requeue
        })
    }

    /// Looks every owner up (known-absent ones aside); None for an invalid reference from a
    /// cluster-scoped object to a namespaced owner.
    async fn classify(
        &self,
        id: &Identity,
        refs: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference],
    ) -> Result<
        Option<
            Vec<(
                k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
                OwnerState,
            )>,
        >,
    > {
        let mut out = Vec::with_capacity(refs.len());
        for r in refs {
            if self.graph().is_absent(r, id.namespace.as_deref()) {
                out.push((r.clone(), OwnerState::Dangling));
                continue;
            }
            let (ar, namespaced) = self.resolve(&r.api_version, &r.kind).ok_or_else(|| {
                Error::Other(format!(
                    "no resource serves owner kind {} {}",
                    r.api_version, r.kind
                ))
            })?;
            if namespaced && id.namespace.is_none() {
                return Ok(None);
            }
            let owner_ns = if namespaced {
                id.namespace.clone()
            } else {
                None
            };
            let owner = Identity::of_owner(r, owner_ns.as_deref());
            let api = self.api(&ar, namespaced, owner_ns.as_deref());
            let state = match self.live(&api, &owner).await? {
                None => {
                    self.graph().mark_absent(&owner);
                    OwnerState::Dangling
                }
                Some(m)
                    if m.deletion_timestamp.is_some()
                        && m.finalizers.iter().flatten().any(|f| f == FOREGROUND) =>
                {
                    OwnerState::WaitingForDependents
                }
                Some(_) => OwnerState::Solid,
            };
            out.push((r.clone(), state));
        }
        Ok(Some(out))
    }

    async fn process_deleting_dependents(&self, uid: &str, id: &Identity) -> Result<()> {
        let blocking = self.graph().blocking_dependents(uid);
        if blocking.is_empty() {
            debug!(object = %id.name, kind = %id.kind, namespace = id.namespace.as_deref().unwrap_or_default(), "garbage collector: dependents gone, removing foregroundDeletion finalizer");
            return self.remove_finalizer(id, FOREGROUND).await;
        }
        for (dep, waits) in blocking {
            if !waits {
                self.attempt_to_delete.add(&dep);
            }
        }
        Ok(())
    }

    async fn orphan_dependents(&self, uid: &str) -> Result<()> {
        let (owner, dependents) = {
            let g = self.graph();
            let Some(n) = g.node(uid) else { return Ok(()) };
            (n.identity.clone(), g.dependents(uid))
        };
        let uids = vec![uid.to_string()];
        for dep in &dependents {
            let api = self.api_for(dep)?;
            self.patch_meta(&api, dep, |meta| {
                decide::remove_owner_refs_patch(
                    meta.resource_version.as_deref().unwrap_or_default(),
                    meta.owner_references.as_deref().unwrap_or_default(),
                    &uids,
                )
            })
            .await?;
        }
        debug!(object = %owner.name, kind = %owner.kind, namespace = owner.namespace.as_deref().unwrap_or_default(), dependents = dependents.len(), "garbage collector: dependents orphaned, removing orphan finalizer");
        self.remove_finalizer(&owner, ORPHAN).await
    }

    async fn remove_finalizer(&self, id: &Identity, finalizer: &str) -> Result<()> {
        let api = self.api_for(id)?;
        self.patch_meta(&api, id, |meta| {
            decide::remove_finalizer_patch(
                meta.resource_version.as_deref().unwrap_or_default(),
                meta.finalizers.as_deref().unwrap_or_default(),
                finalizer,
            )
        })
        .await
    }

    /// Reads the object, builds a merge patch carrying its resourceVersion and sends it,
    /// again on conflict; nothing when it is gone or the patch is not needed.
    async fn patch_meta(
        &self,
        api: &Api<DynamicObject>,
        id: &Identity,
        build: impl Fn(&ObjectMeta) -> Option<Value>,
    ) -> Result<()> {
        for _ in 0..CONFLICT_RETRIES {
            let Some(meta) = self.live(api, id).await? else {
                return Ok(());
            };
            let Some(patch) = build(&meta) else {
                return Ok(());
            };
            match api
                .patch(&id.name, &PatchParams::default(), &Patch::Merge(patch))
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if is_status(&e, 404) => return Ok(()),
                Err(e) if is_status(&e, 409) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Other(format!(
            "{} {}: too many conflicts",
            id.kind, id.name
        )))
    }

    async fn delete(&self, api: &Api<DynamicObject>, id: &Identity, policy: Policy) -> Result<()> {
        debug!(object = %id.name, kind = %id.kind, namespace = id.namespace.as_deref().unwrap_or_default(), policy = ?policy, "garbage collector: deleting object");
        let dp = DeleteParams {
            propagation_policy: Some(match policy {
                Policy::Background => PropagationPolicy::Background,
                Policy::Foreground => PropagationPolicy::Foreground,
                Policy::Orphan => PropagationPolicy::Orphan,
            }),
            preconditions: Some(Preconditions {
                uid: Some(id.uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&id.name, &dp).await {
            Ok(_) => Ok(()),
            // Gone already, or replaced by another object of that name.
            Err(e) if is_status(&e, 404) || is_status(&e, 409) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests;
