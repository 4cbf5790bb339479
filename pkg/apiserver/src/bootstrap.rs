//! Objects every cluster has from its first start: the four system namespaces and the
//! `kubernetes` Service on the first address of the service range, to the secure `port`
//! (rkube-server keeps it, its Endpoints and EndpointSlice right from then on).

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
    cluster_admin(api).await
}

/// Upstream's bootstrap `cluster-admin` ClusterRole and its binding to `system:masters` (the
/// admin kubeconfig's group), which tools and docs refer to. RBAC is not enforced yet.
async fn cluster_admin(api: &Api) -> ApiResult<()> {
    let find = |plural| {
        rkube_api::registry::find("rbac.authorization.k8s.io", "v1", plural)
            .expect("rbac is served")
    };
    let meta = json!({
        "name": "cluster-admin",
        "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
    });
    let role = json!({
        "metadata": meta,
        "rules": [
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
            {"nonResourceURLs": ["*"], "verbs": ["*"]},
        ],
    });
    create_if_absent(api, find("clusterroles"), None, role).await?;
    let binding = json!({
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}],
    });
    create_if_absent(api, find("clusterrolebindings"), None, binding).await
}

async fn create_if_absent(
    api: &Api,
    def: &'static rkube_api::ResourceDef,
    ns: Option<&str>,
    mut obj: Value,
) -> ApiResult<()> {
    let name = crate::object::name(&obj).to_string();
    let key = def.key(ns, &name);
    if api.store.get(key.as_bytes()).await?.is_some() {
        return Ok(());
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
    if api
        .store
        .txn(alloc::create_holding(&key, &obj, &owner))
        .await?
        .succeeded
    {
        info!(resource = def.plural, name = %name, "bootstrapped");
    }
    Ok(())
}
