//! Every active namespace has a `default` ServiceAccount and the `kube-root-ca.crt` ConfigMap
//! with the cluster CA (clients and e2e suites wait for both); recreated when deleted.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use kube::{
    api::{Api, ObjectMeta, PostParams},
    runtime::{controller::Action, reflector::ObjectRef, watcher, Controller},
    ResourceExt,
};
use tracing::{debug, instrument};

use crate::{Context, Error, Result};

const ROOT_CA: &str = "kube-root-ca.crt";

pub async fn run(ctx: Context) {
    let client = ctx.client.clone();
    let by_namespace = |ns: Option<String>| ns.map(|n| ObjectRef::<Namespace>::new(&n));
    Controller::new(
        Api::<Namespace>::all(client.clone()),
        watcher::Config::default(),
    )
    .watches(
        Api::<ServiceAccount>::all(client.clone()),
        watcher::Config::default().fields("metadata.name=default"),
        move |sa| by_namespace(sa.namespace()),
    )
    .watches(
        Api::<ConfigMap>::all(client),
        watcher::Config::default().fields("metadata.name=kube-root-ca.crt"),
        move |cm| by_namespace(cm.namespace()),
    )
    .run(
        reconcile,
        |_, _: &Error, _| Action::requeue(Duration::from_secs(2)),
        Arc::new(ctx),
    )
    .for_each(|r| async move {
        if let Err(e) = r {
            debug!(error = %e, "serviceaccount reconcile failed");
        }
    })
    .await;
}

#[instrument(skip_all, fields(namespace = %ns.name_any()))]
async fn reconcile(ns: Arc<Namespace>, ctx: Arc<Context>) -> Result<Action> {
    if ns.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let name = ns.name_any();
    let sas: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), &name);
    if sas.get_opt("default").await?.is_none() {
        let sa = ServiceAccount {
            metadata: ObjectMeta {
                name: Some("default".into()),
                ..ObjectMeta::default()
            },
            ..ServiceAccount::default()
        };
        ignore_exists(sas.create(&PostParams::default(), &sa).await)?;
    }
    let cms: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &name);
    let want = BTreeMap::from([("ca.crt".to_string(), ctx.root_ca_pem.to_string())]);
    match cms.get_opt(ROOT_CA).await? {
        None => {
            let mut annotations = BTreeMap::new();
            annotations.insert("kubernetes.io/description".to_string(), "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.".to_string());
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(ROOT_CA.into()),
                    annotations: Some(annotations),
                    ..ObjectMeta::default()
                },
                data: Some(want),
                ..ConfigMap::default()
            };
            ignore_exists(cms.create(&PostParams::default(), &cm).await)?;
        }
        Some(mut cm) if cm.data.as_ref() != Some(&want) => {
            cm.data = Some(want);
            cms.replace(ROOT_CA, &PostParams::default(), &cm).await?;
        }
        Some(_) => {}
    }
    Ok(Action::await_change())
}

fn ignore_exists<T>(r: kube::Result<T>) -> Result<()> {
    match r {
        Ok(_) => Ok(()),
        // Racing ourselves, or the namespace began terminating.
        Err(kube::Error::Api(e)) if e.code == 409 || e.code == 403 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
