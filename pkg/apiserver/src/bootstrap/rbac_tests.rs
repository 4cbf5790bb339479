//! The bootstrap policy on a fresh store and its reconciliation on a restart over the same
//! store (a second server bound to it).

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use rkube_store::{Store, StoreExt};
use serde_json::{json, Value};

use super::policy;
use crate::authz::covers;
use crate::testing::{send, server_on};

const RBAC: &str = "/apis/rbac.authorization.k8s.io/v1";

fn open(dir: &std::path::Path) -> Arc<dyn Store> {
    Arc::new(rkube_store::embedded::EmbeddedStore::open(&dir.join("store")).unwrap())
}

async fn get(server: &crate::ApiServer, path: &str) -> Value {
    let lb = server.loopback("system:admin", &["system:masters"], "test");
    let (code, obj) = send(&lb, Method::GET, &format!("{RBAC}/{path}"), None).await;
    assert_eq!(code, StatusCode::OK, "{path}: {obj}");
    obj
}

async fn put(server: &crate::ApiServer, path: &str, obj: Value) {
    let lb = server.loopback("system:admin", &["system:masters"], "test");
    let (code, out) = send(&lb, Method::PUT, &format!("{RBAC}/{path}"), Some(obj)).await;
    assert_eq!(code, StatusCode::OK, "{path}: {out}");
}

fn rules(obj: &Value) -> Vec<Value> {
    obj["rules"].as_array().cloned().unwrap_or_default()
}

fn expected_role(name: &str) -> Value {
    policy::load()
        .cluster_roles
        .into_iter()
        .find(|r| r["metadata"]["name"] == name)
        .unwrap()
}

fn grants(obj: &Value, rule: Value) -> bool {
    covers::missing(&rules(obj), &[rule]).is_empty()
}

#[tokio::test]
async fn a_fresh_server_has_the_bootstrap_policy() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_on(dir.path(), open(dir.path())).await;
    for (name, selects) in [
        ("view", "aggregate-to-view"),
        ("edit", "aggregate-to-edit"),
        ("admin", "aggregate-to-admin"),
    ] {
        let role = get(&server, &format!("clusterroles/{name}")).await;
        assert_eq!(
            role["aggregationRule"]["clusterRoleSelectors"],
            json!([{"matchLabels": {format!("rbac.authorization.k8s.io/{selects}"): "true"}}]),
            "{role}"
        );
        assert_eq!(
            role["metadata"]["labels"]["kubernetes.io/bootstrapping"],
            "rbac-defaults"
        );
        assert_eq!(
            role["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"],
            "true"
        );
        assert!(
            role["metadata"]["uid"].is_string()
                && role["metadata"]["creationTimestamp"].is_string()
        );
    }
    let view = get(&server, "clusterroles/system:aggregate-to-view").await;
    assert_eq!(
        view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"],
        "true"
    );
    assert!(grants(
        &view,
        json!({"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods"]})
    ));
    assert!(!grants(
        &view,
        json!({"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]})
    ));
    let basic = get(&server, "clusterrolebindings/system:basic-user").await;
    assert_eq!(basic["roleRef"]["name"], "system:basic-user");
    assert_eq!(
        basic["subjects"],
        json!([{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:authenticated"}])
    );
    let discovery = get(&server, "clusterroles/system:discovery").await;
    assert_eq!(discovery["rules"][0]["verbs"], json!(["get"]));
    assert!(discovery["rules"][0]["nonResourceURLs"]
        .as_array()
        .unwrap()
        .contains(&json!("/apis/*")));
    let admin = get(&server, "clusterrolebindings/cluster-admin").await;
    assert_eq!(admin["subjects"][0]["name"], "system:masters");
    // The namespaced part: kube-system and kube-public.
    let reader = get(
        &server,
        "namespaces/kube-system/roles/extension-apiserver-authentication-reader",
    )
    .await;
    assert_eq!(
        reader["rules"][0]["resourceNames"],
        json!(["extension-apiserver-authentication"])
    );
    get(
        &server,
        "namespaces/kube-public/rolebindings/system:controller:bootstrap-signer",
    )
    .await;
    // Everything of the policy is there, each binding's role too.
    let p = policy::load();
    let lb = server.loopback("system:admin", &["system:masters"], "test");
    for (path, want) in [
        ("clusterroles", p.cluster_roles.len()),
        ("clusterrolebindings", p.cluster_role_bindings.len()),
        ("roles", p.roles.len()),
        ("rolebindings", p.role_bindings.len()),
    ] {
        let (_, list) = send(&lb, Method::GET, &format!("{RBAC}/{path}"), None).await;
        assert_eq!(list["items"].as_array().unwrap().len(), want, "{path}");
    }
    for b in &p.cluster_role_bindings {
        get(
            &server,
            &format!("clusterroles/{}", b["roleRef"]["name"].as_str().unwrap()),
        )
        .await;
    }
}

#[tokio::test]
async fn a_restart_of_an_unchanged_cluster_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let first = server_on(dir.path(), store.clone()).await;
    let before = store.revisions().await.unwrap().current;
    let view = get(&first, "clusterroles/view").await;
    let _second = server_on(dir.path(), store.clone()).await;
    assert_eq!(store.revisions().await.unwrap().current, before);
    let again = get(&first, "clusterroles/view").await;
    assert_eq!(
        again["metadata"]["resourceVersion"],
        view["metadata"]["resourceVersion"]
    );
}

#[tokio::test]
async fn a_trimmed_role_gets_its_permissions_back_and_keeps_the_users() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let server = server_on(dir.path(), store.clone()).await;
    let mut role = get(&server, "clusterroles/system:aggregate-to-view").await;
    let custom = json!({"verbs": ["get"], "apiGroups": ["example.com"], "resources": ["widgets"]});
    role["rules"] = json!([role["rules"][2].clone(), custom.clone()]);
    // A label the user changed keeps its value; one the user removed comes back.
    role["metadata"]["labels"] = json!({"rbac.authorization.k8s.io/aggregate-to-view": "yes"});
    put(&server, "clusterroles/system:aggregate-to-view", role).await;

    server_on(dir.path(), store.clone()).await;
    let role = get(&server, "clusterroles/system:aggregate-to-view").await;
    let expected = expected_role("system:aggregate-to-view");
    assert!(
        covers::missing(&rules(&role), &rules(&expected)).is_empty(),
        "{role}"
    );
    assert!(rules(&role).contains(&custom), "{role}");
    assert_eq!(
        rules(&role)[2],
        json!({"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]})
    );
    assert!(grants(
        &role,
        json!({"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods"]})
    ));
    assert_eq!(
        role["metadata"]["labels"],
        json!({"rbac.authorization.k8s.io/aggregate-to-view": "yes", "kubernetes.io/bootstrapping": "rbac-defaults"})
    );

    // Reconciled once: the next restart writes nothing.
    let rev = store.revisions().await.unwrap().current;
    server_on(dir.path(), store.clone()).await;
    assert_eq!(store.revisions().await.unwrap().current, rev);
}

#[tokio::test]
async fn an_opted_out_role_is_left_as_the_user_left_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let server = server_on(dir.path(), store.clone()).await;
    let mut role = get(&server, "clusterroles/system:node").await;
    role["rules"] = json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["nodes"]}]);
    role["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] = json!("false");
    role["metadata"]["labels"] = json!({});
    put(&server, "clusterroles/system:node", role).await;
    let left = get(&server, "clusterroles/system:node").await;

    server_on(dir.path(), store.clone()).await;
    assert_eq!(get(&server, "clusterroles/system:node").await, left);
}

#[tokio::test]
async fn a_binding_gets_its_subjects_and_role_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let server = server_on(dir.path(), store.clone()).await;
    let mut basic = get(&server, "clusterrolebindings/system:public-info-viewer").await;
    let user = json!({"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane"});
    basic["subjects"] = json!([basic["subjects"][1].clone(), user.clone()]);
    put(
        &server,
        "clusterrolebindings/system:public-info-viewer",
        basic,
    )
    .await;
    // roleRef is immutable through the API: changed in the store, as an older policy left it.
    let def = rkube_api::registry::find("rbac.authorization.k8s.io", "v1", "clusterrolebindings")
        .unwrap();
    let key = def.key(None, "system:kube-dns");
    let kv = store.get(key.as_bytes()).await.unwrap().unwrap();
    let mut dns: Value = serde_json::from_slice(&kv.value).unwrap();
    let old_uid = dns["metadata"]["uid"].clone();
    dns["roleRef"]["name"] = json!("view");
    store
        .put(key.as_bytes(), &serde_json::to_vec(&dns).unwrap())
        .await
        .unwrap();

    server_on(dir.path(), store.clone()).await;
    let basic = get(&server, "clusterrolebindings/system:public-info-viewer").await;
    assert_eq!(
        basic["subjects"],
        json!([
            {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:unauthenticated"},
            user,
            {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:authenticated"},
        ])
    );
    let dns = get(&server, "clusterrolebindings/system:kube-dns").await;
    assert_eq!(dns["roleRef"]["name"], "system:kube-dns");
    assert_ne!(dns["metadata"]["uid"], old_uid);
}
