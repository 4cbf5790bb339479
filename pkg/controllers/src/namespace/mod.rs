//! The namespace controller: a namespace being deleted has everything in it deleted (every
//! namespaced resource the API serves, found through discovery), its conditions report what
//! remains, and once it is empty the `kubernetes` finalizer is removed so it disappears.

use std::{sync::Arc, time::Duration};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::{
    api::{Api, DeleteParams, DynamicObject, ListParams, PostParams},
    discovery::{verbs, Discovery, Scope},
    runtime::{controller::Action, watcher, Controller},
    ResourceExt,
};
use serde_json::json;
use tracing::{debug, info, instrument, warn};

use crate::{Context, Error, Result};

mod conditions;
use conditions::Remaining;

const FINALIZER: &str = "kubernetes";

pub async fn run(ctx: Context) {
    let api: Api<Namespace> = Api::all(ctx.client.clone());
    Controller::new(api, watcher::Config::default())
        .run(reconcile, error_policy, Arc::new(ctx))
        .for_each(|r| async move {
            if let Err(e) = r {
                debug!(error = %e, "namespace reconcile failed");
            }
        })
        .await;
}

fn error_policy(_ns: Arc<Namespace>, e: &Error, _ctx: Arc<Context>) -> Action {
    warn!(error = %e, "namespace controller: retrying");
    Action::requeue(Duration::from_secs(2))
}

#[instrument(skip_all, fields(namespace = %ns.name_any()))]
async fn reconcile(ns: Arc<Namespace>, ctx: Arc<Context>) -> Result<Action> {
    if ns.metadata.deletion_timestamp.is_none() {
        return Ok(Action::await_change());
    }
    let finalizers = ns
        .spec
        .as_ref()
        .and_then(|s| s.finalizers.clone())
        .unwrap_or_default();
    if !finalizers.iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    let name = ns.name_any();
    let remaining = delete_contents(&ctx.client, &name).await?;
    let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
    if remaining.objects() > 0 || !remaining.delete_errors.is_empty() {
        set_conditions(&namespaces, &ns, &remaining).await;
        debug!(
            remaining = remaining.objects(),
            "namespace content remaining"
        );
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let mut done = (*ns).clone();
    done.metadata.managed_fields = None;
    if let Some(spec) = done.spec.as_mut() {
        spec.finalizers = Some(finalizers.into_iter().filter(|f| f != FINALIZER).collect());
    }
    match namespaces
        .replace_subresource("finalize", &name, &PostParams::default(), &done)
        .await
    {
        Ok(_) => info!("namespace finalized"),
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Action::await_change())
}

/// Deletes what is left in `ns`; returns what still exists, and which deletes failed.
async fn delete_contents(client: &kube::Client, ns: &str) -> Result<Remaining> {
    let discovery = Discovery::new(client.clone()).run().await?;
    let mut remaining = Remaining::default();
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            if caps.scope != Scope::Namespaced
                || !caps.supports_operation(verbs::LIST)
                || !caps.supports_operation(verbs::DELETE)
            {
                continue;
            }
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
            // As upstream, one resource type failing does not stop the others.
            if let Err(e) = delete_all(&api).await {
                remaining.delete_errors.push(e.to_string());
            }
            // Whatever a delete did not remove at once (finalizers, graceful pods) still counts.
            match api.list(&ListParams::default()).await {
                Ok(list) => {
                    for obj in &list.items {
                        let finalizers = obj.metadata.finalizers.as_deref().unwrap_or_default();
                        remaining.count(&ar.plural, &ar.group, finalizers);
                    }
                }
                Err(e) => remaining.delete_errors.push(e.to_string()),
            }
        }
    }
    Ok(remaining)
}

async fn delete_all(api: &Api<DynamicObject>) -> Result<()> {
    for obj in api.list(&ListParams::default()).await?.items {
        if obj.metadata.deletion_timestamp.is_some() {
            continue;
        }
        match api
            .delete(&obj.name_any(), &DeleteParams::background())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Writes the namespace's conditions when they changed (upstream's updateConditions).
async fn set_conditions(api: &Api<Namespace>, ns: &Namespace, remaining: &Remaining) {
    let current: Vec<serde_json::Value> = ns
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .map(|c| {
            c.iter()
                .filter_map(|c| serde_json::to_value(c).ok())
                .collect()
        })
        .unwrap_or_default();
    // metav1.Time: second precision.
    let now = k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ");
    let Some(conditions) = conditions::update(&current, remaining, &now.to_string()) else {
        return;
    };
    let status = json!({"status": {"phase": "Terminating", "conditions": conditions}});
    let _ = api
        .patch_status(
            &ns.name_any(),
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(status),
        )
        .await;
}
