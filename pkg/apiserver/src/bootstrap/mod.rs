//! Objects every cluster has from its first start: the four system namespaces, the
//! `kubernetes` Service on the first address of the service range, to the secure `port`
//! (rkube-server keeps it, its Endpoints and EndpointSlice right from then on), and the RBAC
//! bootstrap policy (rbac.rs), reconciled at every start.

mod policy;
mod rbac;
#[cfg(test)]
mod rbac_tests;
mod reconcile;

use rkube_store::StoreExt;
use serde_json::{json, Value};
use tracing::info;

use crate::{
    alloc,
    object::{meta_mut, new_uid, now, set_type_meta},
    rest::Api,
    status::ApiResult,
    strategy,
};

pub async fn ensure(api: &Api, port: u16) -> ApiResult<()> {
    let namespaces =
        rkube_api::registry::find("", "v1", "namespaces").expect("namespaces are served");
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        create_if_absent(api, namespaces, None, json!({"metadata": {"name": ns}})).await?;
    }
    let services = rkube_api::registry::find("", "v1", "services").expect("services are served");
    let ip = api.ranges.first().to_string();
    let svc = json!({
        "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": ip,
            "clusterIPs": [ip],
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
            "sessionAffinity": "None",
        },
    });
    create_if_absent(api, services, Some("default"), svc).await?;
    rbac::ensure(api).await
}

/// Creates `obj` unless its key exists, as the registry stores a create (type meta, uid,
/// creationTimestamp, defaults): whether it was created.
async fn create_if_absent(
    api: &Api,
    def: &'static rkube_api::ResourceDef,
    ns: Option<&str>,
    mut obj: Value,
) -> ApiResult<bool> {
    let name = crate::object::name(&obj).to_string();
    let key = def.key(ns, &name);
    if api.store.get(key.as_bytes()).await?.is_some() {
        return Ok(false);
    }
    set_type_meta(def, &mut obj);
    {
        let m = meta_mut(&mut obj);
        if let Some(ns) = ns {
            m.insert("namespace".into(), json!(ns));
        }
        m.insert("uid".into(), json!(new_uid()));
        m.insert("creationTimestamp".into(), json!(now()));
    }
    rkube_api::defaults::apply(def, &mut obj);
    strategy::prepare_for_create(def, &mut obj);
    let owner = format!("{}/{name}", ns.unwrap_or_default());
    let created = api
        .store
        .txn(alloc::create_holding(&key, &obj, &owner))
        .await?
        .succeeded;
    if created {
        info!(resource = def.plural, name = %name, "bootstrapped");
    }
    Ok(created)
}
