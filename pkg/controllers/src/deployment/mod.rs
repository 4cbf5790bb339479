//! The Deployment controller (upstream's pkg/controller/deployment): owns ReplicaSets named
//! `<deployment>-<pod-template-hash>`, rolls templates out with RollingUpdate or Recreate,
//! keeps revisions in annotations (so `kubectl rollout history|undo` work), scales
//! proportionally mid-rollout, honours pause, cleans up old revisions and reports status and
//! conditions the way `kubectl rollout status` reads them.

mod arithmetic;
mod conditions;
mod hash;
mod history;
mod recreate;
mod replicasets;
mod rolling;
mod status;
mod sync;

use std::{collections::HashMap, sync::Arc, sync::Mutex};

use futures_util::StreamExt;
use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    core::v1::Pod,
};
use kube::{
    api::Api,
    runtime::{controller::Action, reflector::ObjectRef, reflector::Store, watcher, Controller},
    ResourceExt,
};
use tracing::{debug, instrument};

use self::sync::Dc;
use crate::{
    informers::Change,
    replicaset::{
        backoff,
        events::{Recorder, WARNING},
        index::ByNamespace,
        owner::controller_of,
        receiver_stream, selector,
    },
    Context, Error, Result,
};

const COMPONENT: &str = "deployment-controller";

pub(crate) struct Ctx {
    client: kube::Client,
    deployments: Store<Deployment>,
    replicasets: Store<ReplicaSet>,
    /// The same ReplicaSets and pods by namespace: a sync looks only at its namespace.
    replicasets_by_ns: Arc<ByNamespace<ReplicaSet>>,
    pods: Store<Pod>,
    pods_by_ns: Arc<ByNamespace<Pod>>,
    recorder: Recorder,
    failures: Mutex<HashMap<String, u32>>,
}

pub async fn run(ctx: Context) {
    let client = ctx.client.clone();
    let rs_informer = ctx.informers.get::<ReplicaSet>();
    let pod_informer = ctx.informers.get::<Pod>();
    let (mut rs_changes, mut pod_changes) = (rs_informer.subscribe(), pod_informer.subscribe());
    let controller = Controller::new(
        Api::<Deployment>::all(client.clone()),
        watcher::Config::default(),
    );
    let shared = Arc::new(Ctx {
        client: client.clone(),
        deployments: controller.store(),
        replicasets: rs_informer.store(),
        replicasets_by_ns: rs_informer.by_namespace(),
        pods: pod_informer.store(),
        pods_by_ns: pod_informer.by_namespace(),
        recorder: Recorder::new(client, COMPONENT),
        failures: Mutex::default(),
    });
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (rs_ctx, rs_tx) = (shared.clone(), tx.clone());
    let watch_replicasets = async move {
        while let Some(change) = rs_changes.recv().await {
            for r in replica_set_triggers(&rs_ctx, change) {
                let _ = rs_tx.send(r);
            }
        }
    };
    let pod_ctx = shared.clone();
    let watch_pods = async move {
        while let Some(change) = pod_changes.recv().await {
            if let Change::Deleted(pod) = change {
                for r in pod_deleted(&pod_ctx, &pod) {
                    let _ = tx.send(r);
                }
            }
        }
    };
    let controller = controller
        .reconcile_on(receiver_stream(rx))
        .run(reconcile, error_policy, shared)
        .for_each(|r| async move {
            if let Err(e) = r {
                debug!(error = %e, "deployment reconcile failed");
            }
        });
    tokio::join!(watch_replicasets, watch_pods, controller);
}

/// The Deployment a controller reference names, if it is (still) that object.
fn resolve(
    ctx: &Ctx,
    ns: &str,
    r: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
) -> Option<Arc<Deployment>> {
    crate::replicaset::owner::resolve(&ctx.deployments, ns, r)
}

/// Deployments that might adopt an orphan ReplicaSet.
fn matching_deployments(ctx: &Ctx, rs: &ReplicaSet) -> Vec<ObjectRef<Deployment>> {
    crate::replicaset::owner::selecting(&ctx.deployments, &rs.metadata, |k| {
        k.spec.as_ref().map(|s| &s.selector)
    })
}

fn owner_of(ctx: &Ctx, rs: &ReplicaSet) -> Option<ObjectRef<Deployment>> {
    let ns = rs.metadata.namespace.as_deref().unwrap_or_default();
    controller_of(&rs.metadata)
        .and_then(|r| resolve(ctx, ns, r))
        .map(|d| ObjectRef::from_obj(&*d))
}

/// Upstream's addReplicaSet/updateReplicaSet/deleteReplicaSet.
fn replica_set_triggers(ctx: &Ctx, change: Change<ReplicaSet>) -> Vec<ObjectRef<Deployment>> {
    match change {
        Change::Added(rs) => {
            if rs.metadata.deletion_timestamp.is_some() || controller_of(&rs.metadata).is_some() {
                return owner_of(ctx, &rs).into_iter().collect();
            }
            matching_deployments(ctx, &rs)
        }
        Change::Updated { old, new } => {
            if old.metadata.resource_version == new.metadata.resource_version {
                return Vec::new();
            }
            let (cur, prev) = (controller_of(&new.metadata), controller_of(&old.metadata));
            let mut out = Vec::new();
            if cur != prev {
                out.extend(owner_of(ctx, &old));
            }
            if cur.is_some() {
                out.extend(owner_of(ctx, &new));
                return out;
            }
            if old.metadata.labels != new.metadata.labels || cur != prev {
                out.extend(matching_deployments(ctx, &new));
            }
            out
        }
        Change::Deleted(rs) => owner_of(ctx, &rs).into_iter().collect(),
        Change::Synced => Vec::new(),
    }
}

/// Upstream's deletePod: a Recreate rollout waits for old pods to be gone.
fn pod_deleted(ctx: &Ctx, pod: &Pod) -> Vec<ObjectRef<Deployment>> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    let Some(r) = controller_of(&pod.metadata).filter(|r| r.kind == "ReplicaSet") else {
        return Vec::new();
    };
    let Some(rs) = ctx.replicasets.get(&ObjectRef::new(&r.name).within(ns)) else {
        return Vec::new();
    };
    if rs.metadata.uid.as_deref() != Some(r.uid.as_str()) {
        return Vec::new();
    }
    let Some(d) = controller_of(&rs.metadata).and_then(|r| resolve(ctx, ns, r)) else {
        return Vec::new();
    };
    let recreate = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        == Some("Recreate");
    if recreate {
        vec![ObjectRef::from_obj(&*d)]
    } else {
        Vec::new()
    }
}

fn key_of(d: &Deployment) -> String {
    format!("{}/{}", d.namespace().unwrap_or_default(), d.name_any())
}

fn error_policy(d: Arc<Deployment>, e: &Error, ctx: Arc<Ctx>) -> Action {
    let n = {
        let mut failures = ctx.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = failures.entry(key_of(&d)).or_default();
        *n = n.saturating_add(1);
        *n
    };
    debug!(error = %e, deployment = %d.name_any(), "deployment sync failed; retrying");
    Action::requeue(backoff(n))
}

#[instrument(skip_all, fields(deployment = %key_of(&d)))]
async fn reconcile(d: Arc<Deployment>, ctx: Arc<Ctx>) -> Result<Action> {
    let _ = ctx.replicasets.wait_until_ready().await;
    let _ = ctx.pods.wait_until_ready().await;
    let mut dc = Dc::new(&ctx, (*d).clone());
    dc.sync_deployment().await?;
    ctx.failures
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&key_of(&d));
    Ok(dc
        .requeue
        .map_or_else(Action::await_change, Action::requeue))
}

impl Dc<'_> {
    /// `syncDeployment`.
    async fn sync_deployment(&mut self) -> Result<()> {
        let selects_all = self
            .d
            .spec
            .as_ref()
            .is_some_and(|s| selector::is_empty(&s.selector));
        if selects_all {
            self.event(
                WARNING,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.".into(),
            );
            let status = self.d.status.get_or_insert_with(Default::default);
            if status.observed_generation.unwrap_or(0) < self.d.metadata.generation.unwrap_or(0) {
                status.observed_generation = self.d.metadata.generation;
                self.update_status().await?;
            }
            return Ok(());
        }
        self.claim_replica_sets().await?;
        if self.d.metadata.deletion_timestamp.is_some() {
            return self.sync_status_only().await;
        }
        self.check_paused_conditions().await?;
        if self.d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false) {
            return self.sync().await;
        }
        if self.is_scaling_event().await? {
            return self.sync().await;
        }
        let recreate = self
            .d
            .spec
            .as_ref()
            .and_then(|s| s.strategy.as_ref())
            .and_then(|s| s.type_.as_deref())
            == Some("Recreate");
        if recreate {
            let pods = self.deployment_pods();
            self.rollout_recreate(&pods).await
        } else {
            self.rollout_rolling().await
        }
    }

    /// The pods of the namespace the Deployment's selector matches.
    fn deployment_pods(&self) -> Vec<Arc<Pod>> {
        let ns = self.d.namespace().unwrap_or_default();
        let Some(sel) = selector::parse(self.d.spec.as_ref().map(|s| &s.selector)) else {
            return Vec::new();
        };
        self.ctx
            .pods_by_ns
            .filter(&ns, |p| selector::matches(&sel, p.metadata.labels.as_ref()))
    }
}
