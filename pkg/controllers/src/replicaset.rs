//! The ReplicaSet controller (upstream's pkg/controller/replicaset): keeps `spec.replicas` pods
//! from the template, adopting matching orphans and releasing pods that no longer match,
//! deleting the least valuable pods first, creating in slow-start batches, and never acting
//! twice on a lagging cache (expectations). Its helpers are shared with the Deployment
//! controller.

pub(crate) mod events;
mod expectations;
pub(crate) mod index;
pub(crate) mod owner;
pub(crate) mod pods;
mod ranking;
pub(crate) mod selector;
mod status;

use std::{
    collections::{HashMap, HashSet},
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::{future::join_all, StreamExt};
use k8s_openapi::api::{
    apps::v1::ReplicaSet,
    core::v1::{Pod, PodTemplateSpec},
};
use kube::{
    api::{Api, DeleteParams, ObjectMeta, PostParams},
    core::{Selector, Status},
    runtime::{controller::Action, reflector::ObjectRef, reflector::Store, Controller},
    ResourceExt,
};
use tracing::{debug, instrument, warn};

use self::{
    events::{Recorder, NORMAL, WARNING},
    expectations::Expectations,
    index::ByNamespace,
    owner::{controller_of, new_controller_ref, patch_owner, OwnerChange},
};
use crate::{informers::Change, Context, Error, Result};

/// At most this many pods are created or deleted in one sync (upstream's BurstReplicas).
const BURST_REPLICAS: usize = 500;
/// The first slow-start batch of creations.
const SLOW_START_INITIAL_BATCH: usize = 1;
const COMPONENT: &str = "replicaset-controller";

struct Ctx {
    client: kube::Client,
    pods: Store<Pod>,
    /// The same pods by namespace: a sync looks only at its namespace's pods.
    pods_by_ns: Arc<ByNamespace<Pod>>,
    replicasets: Store<ReplicaSet>,
    expectations: Expectations,
    recorder: Recorder,
    failures: Mutex<HashMap<String, u32>>,
}

pub async fn run(ctx: Context) {
    let client = ctx.client.clone();
    let pod_informer = ctx.informers.get::<Pod>();
    let rs_informer = ctx.informers.get::<ReplicaSet>();
    let mut pod_changes = pod_informer.subscribe();
    // The shared ReplicaSet store drives the controller: every add and update reconciles.
    let rs_changes = rs_informer.subscribe().filter_map(|c| async move {
        match c {
            Change::Added(rs) | Change::Updated { new: rs, .. } => Some(rs),
            Change::Deleted(_) | Change::Synced => None,
        }
    });
    let controller = Controller::for_shared_stream(rs_changes, rs_informer.store());
    let shared = Arc::new(Ctx {
        client: client.clone(),
        pods: pod_informer.store(),
        pods_by_ns: pod_informer.by_namespace(),
        replicasets: rs_informer.store(),
        expectations: Expectations::default(),
        recorder: Recorder::new(client, COMPONENT),
        failures: Mutex::default(),
    });
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let handler_ctx = shared.clone();
    let watch_pods = async move {
        while let Some(change) = pod_changes.recv().await {
            for r in pod_triggers(&handler_ctx, change) {
                let _ = tx.send(r);
            }
        }
    };
    let controller = controller
        .reconcile_on(receiver_stream(rx))
        .run(reconcile, error_policy, shared)
        .for_each(|r| async move {
            if let Err(e) = r {
                debug!(error = %e, "replicaset reconcile failed");
            }
        });
    tokio::join!(watch_pods, controller);
}

/// An unbounded receiver as a stream.
pub(crate) fn receiver_stream<T: Send + 'static>(
    rx: tokio::sync::mpsc::UnboundedReceiver<T>,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) })
}

fn key_of(ns: &str, name: &str) -> String {
    format!("{ns}/{name}")
}

fn pod_key(pod: &Pod) -> String {
    key_of(
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default(),
    )
}

/// The ReplicaSet a controller reference names, if it is (still) that object.
fn resolve(
    ctx: &Ctx,
    ns: &str,
    r: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
) -> Option<Arc<ReplicaSet>> {
    owner::resolve(&ctx.replicasets, ns, r)
}

/// ReplicaSets that might adopt an orphan pod.
fn matching_replicasets(ctx: &Ctx, pod: &Pod) -> Vec<ObjectRef<ReplicaSet>> {
    owner::selecting(&ctx.replicasets, &pod.metadata, |k| {
        k.spec.as_ref().map(|s| &s.selector)
    })
}

/// A pod deleted or marked for deletion: the owner's deletion expectation is met.
fn pod_deleted(ctx: &Ctx, pod: &Pod) -> Vec<ObjectRef<ReplicaSet>> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    let Some(rs) = controller_of(&pod.metadata).and_then(|r| resolve(ctx, ns, r)) else {
        return Vec::new();
    };
    ctx.expectations
        .deletion_observed(&key_of(ns, &rs.name_any()), &pod_key(pod));
    vec![ObjectRef::from_obj(&*rs)]
}

/// Upstream's addPod/updatePod/deletePod: which ReplicaSets to sync, observing expectations.
fn pod_triggers(ctx: &Ctx, change: Change<Pod>) -> Vec<ObjectRef<ReplicaSet>> {
    match change {
        Change::Added(pod) => {
            if pod.metadata.deletion_timestamp.is_some() {
                return pod_deleted(ctx, &pod);
            }
            let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
            match controller_of(&pod.metadata) {
                Some(r) => match resolve(ctx, ns, r) {
                    Some(rs) => {
                        ctx.expectations
                            .creation_observed(&key_of(ns, &rs.name_any()));
                        vec![ObjectRef::from_obj(&*rs)]
                    }
                    None => Vec::new(),
                },
                None => matching_replicasets(ctx, &pod),
            }
        }
        Change::Updated { old, new } => {
            if old.metadata.resource_version == new.metadata.resource_version {
                return Vec::new();
            }
            let labels_changed = old.metadata.labels != new.metadata.labels;
            if new.metadata.deletion_timestamp.is_some() {
                let mut out = pod_deleted(ctx, &new);
                if labels_changed {
                    out.extend(pod_deleted(ctx, &old));
                }
                return out;
            }
            let ns = new.metadata.namespace.as_deref().unwrap_or_default();
            let (cur, prev) = (controller_of(&new.metadata), controller_of(&old.metadata));
            let mut out = Vec::new();
            if cur != prev {
                if let Some(rs) = prev.and_then(|r| resolve(ctx, ns, r)) {
                    out.push(ObjectRef::from_obj(&*rs));
                }
            }
            match cur {
                Some(r) => out.extend(resolve(ctx, ns, r).map(|rs| ObjectRef::from_obj(&*rs))),
                None if labels_changed || cur != prev => {
                    out.extend(matching_replicasets(ctx, &new))
                }
                None => {}
            }
            out
        }
        Change::Deleted(pod) => pod_deleted(ctx, &pod),
        Change::Synced => Vec::new(),
    }
}

fn error_policy(rs: Arc<ReplicaSet>, e: &Error, ctx: Arc<Ctx>) -> Action {
    let key = key_of(&rs.namespace().unwrap_or_default(), &rs.name_any());
    let n = {
        let mut failures = ctx.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = failures.entry(key).or_default();
        *n = n.saturating_add(1);
        *n
    };
    debug!(error = %e, replicaset = %rs.name_any(), "replicaset sync failed; retrying");
    Action::requeue(backoff(n))
}

/// Per-object exponential retry delay, like upstream's workqueue rate limiter (but starting
/// higher, as every attempt here lists from a local cache anyway).
pub(crate) fn backoff(failures: u32) -> Duration {
    let ms = 100u64.saturating_mul(1u64 << failures.min(16).saturating_sub(1));
    Duration::from_millis(ms.min(300_000))
}

fn replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

#[instrument(skip_all, fields(replicaset = %format!("{}/{}", rs.namespace().unwrap_or_default(), rs.name_any())))]
async fn reconcile(rs: Arc<ReplicaSet>, ctx: Arc<Ctx>) -> Result<Action> {
    let _ = ctx.pods.wait_until_ready().await;
    let ns = rs.namespace().unwrap_or_default();
    let key = key_of(&ns, &rs.name_any());
    let uid = rs.uid().unwrap_or_default();
    let expectations = ctx.expectations.satisfied(&key, &uid);
    let Some(sel) = selector::parse(rs.spec.as_ref().map(|s| &s.selector)) else {
        warn!("invalid selector; ignoring");
        return Ok(Action::await_change());
    };
    // Every active pod of the namespace: claiming also releases owned pods that stopped matching.
    let active: Vec<Arc<Pod>> = ctx.pods_by_ns.filter(&ns, pods::is_active);
    let claimed = claim_pods(&ctx, &rs, &sel, active).await?;

    let manage = if expectations.is_ok() && rs.metadata.deletion_timestamp.is_none() {
        manage_replicas(&ctx, &rs, &key, &claimed).await
    } else {
        Ok(())
    };
    let now = pods::now();
    let manage_error = manage.as_ref().err().map(error_message);
    let status = status::calculate(&rs, &claimed, manage_error.as_deref(), now);
    update_status(&ctx, &rs, status).await?;
    manage?;
    ctx.failures
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&key);

    // Come back when a ready pod becomes available, or when expectations expire.
    let min_ready = rs
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    let mut after = claimed
        .iter()
        .filter_map(|p| pods::until_available(p, min_ready, now))
        .min();
    if let Err(remaining) = expectations {
        after = Some(after.map_or(remaining, |a| a.min(remaining)));
    }
    Ok(after.map_or_else(Action::await_change, Action::requeue))
}

/// The message upstream reports for a failed API call (the Status message).
pub(crate) fn error_message(e: &Error) -> String {
    match e {
        Error::Kube(kube::Error::Api(s)) => s.message.clone(),
        e => e.to_string(),
    }
}

/// Upstream's RecheckDeletionTimestamp: adopt only if the live object is the same and alive.
async fn can_adopt(ctx: &Ctx, rs: &ReplicaSet) -> Result<()> {
    let api: Api<ReplicaSet> =
        Api::namespaced(ctx.client.clone(), &rs.namespace().unwrap_or_default());
    let fresh = api.get(&rs.name_any()).await?;
    if fresh.metadata.uid != rs.metadata.uid {
        return Err(Error::Other(format!(
            "original ReplicaSet {}/{} is gone: got uid {}, wanted {}",
            rs.namespace().unwrap_or_default(),
            rs.name_any(),
            fresh.uid().unwrap_or_default(),
            rs.uid().unwrap_or_default()
        )));
    }
    if fresh.metadata.deletion_timestamp.is_some() {
        return Err(Error::Other(format!(
            "{}/{} has just been deleted",
            rs.namespace().unwrap_or_default(),
            rs.name_any()
        )));
    }
    Ok(())
}

/// Upstream's PodControllerRefManager.ClaimPods: the pods this ReplicaSet controls, after
/// adopting matching orphans and releasing owned pods that no longer match.
async fn claim_pods(
    ctx: &Ctx,
    rs: &ReplicaSet,
    sel: &Selector,
    candidates: Vec<Arc<Pod>>,
) -> Result<Vec<Arc<Pod>>> {
    let ns = rs.namespace().unwrap_or_default();
    let uid = rs.uid().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let me = new_controller_ref("apps/v1", "ReplicaSet", &rs.name_any(), &uid);
    let deleting = rs.metadata.deletion_timestamp.is_some();
    let mut claimed = Vec::new();
    let mut adoptable: Option<std::result::Result<(), String>> = None;
    let mut first_error = None;
    for pod in candidates {
        let matches = selector::matches(sel, pod.metadata.labels.as_ref());
        let pod_uid = pod.uid().unwrap_or_default();
        if let Some(r) = controller_of(&pod.metadata) {
            if r.uid != uid {
                continue;
            }
            if matches {
                claimed.push(pod);
                continue;
            }
            if deleting {
                continue;
            }
            debug!(pod = %pod.name_any(), "releasing pod that no longer matches");
            match patch_owner(&api, &pod.name_any(), &pod_uid, OwnerChange::Release(&uid)).await {
                Ok(()) => {}
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 422 => {}
                Err(e) => {
                    first_error.get_or_insert(Error::Kube(e));
                }
            }
            continue;
        }
        if deleting || !matches || pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if adoptable.is_none() {
            adoptable = Some(can_adopt(ctx, rs).await.map_err(|e| e.to_string()));
        }
        if let Some(Err(e)) = &adoptable {
            first_error.get_or_insert(Error::Other(format!(
                "can't adopt Pod {ns}/{} ({pod_uid}): {e}",
                pod.name_any()
            )));
            continue;
        }
        debug!(pod = %pod.name_any(), "adopting orphan pod");
        match patch_owner(&api, &pod.name_any(), &pod_uid, OwnerChange::Adopt(&me)).await {
            Ok(()) => claimed.push(pod),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => {
                first_error.get_or_insert(Error::Kube(e));
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(claimed),
    }
}

/// The pod a ReplicaSet creates from its template (upstream's GetPodFromTemplate).
fn pod_from_template(rs: &ReplicaSet) -> Pod {
    let template: PodTemplateSpec = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let name = rs.name_any();
    // The prefix must itself be a valid generateName.
    let prefix = if name.len() < 253 {
        format!("{name}-")
    } else {
        name.clone()
    };
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(prefix),
            namespace: rs.namespace(),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![new_controller_ref(
                "apps/v1",
                "ReplicaSet",
                &name,
                &rs.uid().unwrap_or_default(),
            )]),
            ..ObjectMeta::default()
        },
        spec: template.spec,
        status: None,
    }
}

/// Calls `f` `count` times: in batches of 1, 2, 4, ... run concurrently, stopping after the
/// first batch with a failure. Returns the number of successes and the first failure.
pub(crate) async fn slow_start_batch<F, Fut>(
    count: usize,
    initial: usize,
    f: F,
) -> (usize, Option<Error>)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let mut remaining = count;
    let mut successes = 0;
    let mut batch = remaining.min(initial);
    while batch > 0 {
        let results = join_all((0..batch).map(|_| f())).await;
        let mut failure = None;
        for r in results {
            match r {
                Ok(()) => successes += 1,
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        if failure.is_some() {
            return (successes, failure);
        }
        remaining -= batch;
        batch = (2 * batch).min(remaining);
    }
    (successes, None)
}

pub(crate) fn namespace_terminating(s: &Status) -> bool {
    s.details
        .as_ref()
        .is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating"))
}

async fn create_pod(ctx: &Ctx, rs: &ReplicaSet, pod: &Pod) -> Result<()> {
    if pod.metadata.labels.as_ref().is_none_or(|l| l.is_empty()) {
        return Err(Error::Other("unable to create pods, no labels".into()));
    }
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &rs.namespace().unwrap_or_default());
    match api.create(&PostParams::default(), pod).await {
        Ok(created) => {
            ctx.recorder.event(
                rs,
                NORMAL,
                "SuccessfulCreate",
                format!("Created pod: {}", created.name_any()),
            );
            Ok(())
        }
        // The namespace is going away: nothing can be created, and that is fine.
        Err(kube::Error::Api(s)) if namespace_terminating(&s) => Ok(()),
        Err(e) => {
            let e = Error::Kube(e);
            ctx.recorder.event(
                rs,
                WARNING,
                "FailedCreate",
                format!("Error creating: {}", error_message(&e)),
            );
            Err(e)
        }
    }
}

async fn delete_pod(ctx: &Ctx, rs: &ReplicaSet, key: &str, pod: &Pod) -> Option<Error> {
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &rs.namespace().unwrap_or_default());
    let name = pod.name_any();
    match api.delete(&name, &DeleteParams::default()).await {
        Ok(_) => {
            ctx.recorder.event(
                rs,
                NORMAL,
                "SuccessfulDelete",
                format!("Deleted pod: {name}"),
            );
            None
        }
        Err(e) => {
            // The informer will not observe this deletion.
            ctx.expectations.deletion_observed(key, &pod_key(pod));
            match e {
                kube::Error::Api(s) if s.code == 404 => None,
                e => {
                    let e = Error::Kube(e);
                    ctx.recorder.event(
                        rs,
                        WARNING,
                        "FailedDelete",
                        format!("Error deleting: {}", error_message(&e)),
                    );
                    Some(e)
                }
            }
        }
    }
}

/// Pods of this ReplicaSet and its siblings (ReplicaSets with the same controller), which rank
/// pods for deletion by how crowded their node is.
fn related_pods(ctx: &Ctx, rs: &ReplicaSet) -> Vec<Arc<Pod>> {
    let Some(owner) = controller_of(&rs.metadata) else {
        return Vec::new();
    };
    let ns = rs.metadata.namespace.as_deref();
    let siblings: Vec<Arc<ReplicaSet>> = ctx.replicasets.state_filter(|other| {
        other.metadata.namespace.as_deref() == ns
            && controller_of(&other.metadata).is_some_and(|r| r.uid == owner.uid)
    });
    let mut seen = HashSet::new();
    let mut related = Vec::new();
    for sibling in siblings {
        let Some(sel) = selector::parse(sibling.spec.as_ref().map(|s| &s.selector)) else {
            continue;
        };
        for pod in ctx.pods_by_ns.filter(ns.unwrap_or_default(), |p| {
            selector::matches(&sel, p.metadata.labels.as_ref())
        }) {
            if seen.insert(pod.uid().unwrap_or_default()) {
                related.push(pod);
            }
        }
    }
    related
}

/// Creates or deletes pods so that `pods` (the active pods the ReplicaSet controls) reach
/// `spec.replicas`, at most BURST_REPLICAS at a time.
async fn manage_replicas(ctx: &Ctx, rs: &ReplicaSet, key: &str, pods: &[Arc<Pod>]) -> Result<()> {
    let uid = rs.uid().unwrap_or_default();
    let diff = pods.len() as i64 - i64::from(replicas(rs));
    if diff < 0 {
        let count = (diff.unsigned_abs() as usize).min(BURST_REPLICAS);
        ctx.expectations.expect_creations(key, &uid, count);
        debug!(need = replicas(rs), creating = count, "too few replicas");
        let pod = pod_from_template(rs);
        let (created, failure) = slow_start_batch(count, SLOW_START_INITIAL_BATCH, || {
            create_pod(ctx, rs, &pod)
        })
        .await;
        // Creations never attempted (or failed) will not be observed.
        for _ in created..count {
            ctx.expectations.creation_observed(key);
        }
        return failure.map_or(Ok(()), Err);
    }
    if diff > 0 {
        let count = (diff as usize).min(BURST_REPLICAS);
        debug!(need = replicas(rs), deleting = count, "too many replicas");
        let related = related_pods(ctx, rs);
        let victims = ranking::pods_to_delete(pods.to_vec(), &related, count, pods::now());
        ctx.expectations
            .expect_deletions(key, &uid, victims.iter().map(|p| pod_key(p)).collect());
        let failures = join_all(victims.iter().map(|p| delete_pod(ctx, rs, key, p))).await;
        if let Some(e) = failures.into_iter().flatten().next() {
            return Err(e);
        }
    }
    Ok(())
}

/// Writes `status` if it changed (upstream's updateReplicaSetStatus, one retry on a fresh read).
async fn update_status(
    ctx: &Ctx,
    rs: &ReplicaSet,
    mut status: k8s_openapi::api::apps::v1::ReplicaSetStatus,
) -> Result<()> {
    if !status::needs_update(rs, &status) {
        return Ok(());
    }
    status.observed_generation = rs.metadata.generation;
    let api: Api<ReplicaSet> =
        Api::namespaced(ctx.client.clone(), &rs.namespace().unwrap_or_default());
    let mut obj = rs.clone();
    obj.metadata.managed_fields = None;
    for attempt in 0..2 {
        obj.status = Some(status.clone());
        match api
            .replace_status(&rs.name_any(), &PostParams::default(), &obj)
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(()),
            Err(e) if attempt == 1 => return Err(e.into()),
            Err(_) => {
                obj = api.get(&rs.name_any()).await?;
                obj.metadata.managed_fields = None;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use k8s_openapi::api::apps::v1::ReplicaSetSpec;

    use super::*;

    #[tokio::test]
    async fn slow_start_doubles_batches_and_stops_on_failure() {
        let calls = AtomicUsize::new(0);
        let (ok, err) = slow_start_batch(10, 1, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .await;
        assert_eq!(
            (ok, err.is_none(), calls.load(Ordering::SeqCst)),
            (10, true, 10)
        );

        // Batches 1, 2, 4: the 5th call fails, so the batch of 4 completes and 8 is skipped.
        let calls = AtomicUsize::new(0);
        let (ok, err) = slow_start_batch(20, 1, || async {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            if n == 4 {
                Err(Error::Other("quota".into()))
            } else {
                Ok(())
            }
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 7);
        assert_eq!(ok, 6);
        assert!(err.is_some());
    }

    #[test]
    fn pods_come_from_the_template() {
        let mut rs = ReplicaSet::default();
        rs.metadata.name = Some("web-5d8f7c9b4".into());
        rs.metadata.namespace = Some("default".into());
        rs.metadata.uid = Some("rs-uid".into());
        let template = PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(
                    [
                        ("app".to_string(), "web".to_string()),
                        ("pod-template-hash".to_string(), "5d8f7c9b4".to_string()),
                    ]
                    .into(),
                ),
                annotations: Some([("a".to_string(), "b".to_string())].into()),
                ..Default::default()
            }),
            spec: None,
        };
        rs.spec = Some(ReplicaSetSpec {
            replicas: Some(3),
            template: Some(template),
            ..Default::default()
        });
        let pod = pod_from_template(&rs);
        assert_eq!(
            pod.metadata.generate_name.as_deref(),
            Some("web-5d8f7c9b4-")
        );
        assert_eq!(
            pod.metadata.labels.as_ref().unwrap()["pod-template-hash"],
            "5d8f7c9b4"
        );
        let r = &pod.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (
                r.api_version.as_str(),
                r.kind.as_str(),
                r.name.as_str(),
                r.uid.as_str(),
                r.controller,
                r.block_owner_deletion
            ),
            (
                "apps/v1",
                "ReplicaSet",
                "web-5d8f7c9b4",
                "rs-uid",
                Some(true),
                Some(true)
            )
        );
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(200));
        assert_eq!(backoff(40), Duration::from_secs(300));
    }
}
