//! Service updates against a real embedded store: what they allocate and release, and that
//! the keys held stay those the Services use.

use std::sync::Arc;

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use http_body_util::BodyExt;
use rkube_store::{Store, StoreExt};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::{alloc, testing, Loopback};

const SVCS: &str = "/api/v1/namespaces/default/services";

struct Cluster {
    lb: Loopback,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

async fn cluster() -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(rkube_store::embedded::EmbeddedStore::open(&dir.path().join("store")).unwrap());
    let server = testing::server_on(dir.path(), store.clone()).await;
    let lb = server.loopback("system:admin", &["system:masters"], "kubectl/v1.33.0");
    Cluster {
        lb,
        store,
        _dir: dir,
    }
}

impl Cluster {
    async fn send(&self, method: Method, uri: &str, ct: &str, body: Value) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, ct)
            .body(Body::from(body.to_string()))
            .unwrap();
        let resp = self.lb.clone().oneshot(req).await.unwrap();
        let code = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn create(&self, svc: Value) -> Value {
        let (code, got) = self.send(Method::POST, SVCS, "application/json", svc).await;
        assert_eq!(code, StatusCode::CREATED, "{got}");
        got
    }

    async fn patch(&self, name: &str, patch: Value) -> (StatusCode, Value) {
        let uri = format!("{SVCS}/{name}");
        self.send(Method::PATCH, &uri, "application/merge-patch+json", patch)
            .await
    }

    async fn patched(&self, name: &str, patch: Value) -> Value {
        let (code, got) = self.patch(name, patch).await;
        assert_eq!(code, StatusCode::OK, "{got}");
        got
    }

    /// Who holds `key`, if anyone.
    async fn holder(&self, key: &str) -> Option<String> {
        let kv = self.store.get(key.as_bytes()).await.unwrap()?;
        Some(String::from_utf8(kv.value).unwrap())
    }

    async fn port_holder(&self, np: i64) -> Option<String> {
        self.holder(&alloc::port_key(np)).await
    }

    /// How many node-port keys are held, by any Service.
    async fn node_ports_held(&self) -> usize {
        let prefix = "/registry/rkube/nodeports/";
        let held = self.store.range(rkube_store::RangeRequest::prefix(prefix));
        held.await.unwrap().kvs.len()
    }
}

fn svc(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
           "spec": spec})
}

fn cluster_ip(name: &str) -> Value {
    svc(
        name,
        json!({"selector": {"app": name}, "ports": [{"name": "http", "port": 80}]}),
    )
}

fn node_port(name: &str, ports: Value) -> Value {
    svc(
        name,
        json!({"type": "NodePort", "selector": {"app": name}, "ports": ports}),
    )
}

fn node_port_of(svc: &Value, i: usize) -> i64 {
    svc["spec"]["ports"][i]["nodePort"]
        .as_i64()
        .unwrap_or_else(|| panic!("no nodePort on port {i}: {svc}"))
}

fn message(status: &Value) -> &str {
    status["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn to_node_port_allocates_and_back_releases() {
    let c = cluster().await;
    c.create(cluster_ip("web")).await;
    let got = c
        .patched("web", json!({"spec": {"type": "NodePort"}}))
        .await;
    let np = node_port_of(&got, 0);
    assert!((30000..=32767).contains(&np), "{np}");
    assert_eq!(c.port_holder(np).await.as_deref(), Some("default/web"));
    // Back to ClusterIP: the node port and externalTrafficPolicy go, the port is free.
    let got = c
        .patched("web", json!({"spec": {"type": "ClusterIP"}}))
        .await;
    assert!(got["spec"]["ports"][0].get("nodePort").is_none(), "{got}");
    assert!(got["spec"].get("externalTrafficPolicy").is_none(), "{got}");
    assert_eq!(c.port_holder(np).await, None);
    let other = c
        .create(node_port("other", json!([{"port": 80, "nodePort": np}])))
        .await;
    assert_eq!(node_port_of(&other, 0), np);
}

#[tokio::test]
async fn added_ports_get_node_ports_and_removed_ones_are_released() {
    let c = cluster().await;
    let created = c
        .create(node_port("web", json!([{"name": "http", "port": 80}])))
        .await;
    let first = node_port_of(&created, 0);
    let ports = json!([{"name": "http", "port": 80}, {"name": "https", "port": 443}]);
    let got = c.patched("web", json!({"spec": {"ports": ports}})).await;
    // The port left out keeps its node port (patchAllocatedValues); the new one gets one.
    assert_eq!(node_port_of(&got, 0), first);
    let second = node_port_of(&got, 1);
    assert_ne!(second, first);
    assert_eq!(c.port_holder(second).await.as_deref(), Some("default/web"));
    // Removing a port releases its node port: another Service may ask for it.
    let got = c
        .patched(
            "web",
            json!({"spec": {"ports": [{"name": "https", "port": 443, "nodePort": second}]}}),
        )
        .await;
    assert_eq!(got["spec"]["ports"].as_array().unwrap().len(), 1);
    assert_eq!(c.port_holder(first).await, None);
    c.create(node_port("other", json!([{"port": 80, "nodePort": first}])))
        .await;
    assert_eq!(c.port_holder(first).await.as_deref(), Some("default/other"));
}

#[tokio::test]
async fn a_node_port_held_by_another_service_is_refused() {
    let c = cluster().await;
    let a = c.create(node_port("a", json!([{"port": 80}]))).await;
    let taken = node_port_of(&a, 0);
    c.create(node_port("b", json!([{"port": 80}]))).await;
    let (code, status) = c
        .patch(
            "b",
            json!({"spec": {"ports": [{"port": 80, "nodePort": taken}]}}),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    assert_eq!(
        message(&status),
        format!(
            "Service \"b\" is invalid: spec.ports[0].nodePort: Invalid value: {taken}: provided port is already allocated"
        )
    );
    assert_eq!(c.port_holder(taken).await.as_deref(), Some("default/a"));
    // The same from ClusterIP, and nothing of what the failed update picked stays taken.
    c.create(cluster_ip("d")).await;
    let before = c.node_ports_held().await;
    let (code, _) = c
        .patch(
            "d",
            json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": taken}, {"port": 81}]}}),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    let after = c.node_ports_held().await;
    assert_eq!(before, after);
}

#[tokio::test]
async fn two_services_racing_for_one_node_port_get_it_once() {
    let c = cluster().await;
    for name in ["a", "b", "x"] {
        c.create(cluster_ip(name)).await;
    }
    let x = c.patched("x", json!({"spec": {"type": "NodePort"}})).await;
    let want = node_port_of(&x, 0) + 1;
    let want = if want > 32767 { 30000 } else { want };
    let ask = json!({"spec": {"type": "NodePort",
        "ports": [{"name": "http", "port": 80, "nodePort": want}]}});
    let (ra, rb) = tokio::join!(c.patch("a", ask.clone()), c.patch("b", ask.clone()));
    let codes = [ra.0, rb.0];
    assert!(
        codes.contains(&StatusCode::OK),
        "{codes:?} {} {}",
        ra.1,
        rb.1
    );
    assert!(
        codes.contains(&StatusCode::UNPROCESSABLE_ENTITY),
        "{codes:?} {} {}",
        ra.1,
        rb.1
    );
    let winner = if ra.0 == StatusCode::OK { "a" } else { "b" };
    assert_eq!(c.port_holder(want).await, Some(format!("default/{winner}")));
}

#[tokio::test]
async fn external_name_and_cluster_ip_trade_places() {
    let c = cluster().await;
    let created = c.create(cluster_ip("web")).await;
    let ip = created["spec"]["clusterIP"].as_str().unwrap().to_string();
    assert_eq!(
        c.holder(&alloc::ip_key(&ip)).await.as_deref(),
        Some("default/web")
    );
    // ClusterIP -> ExternalName: the cluster IP and IP families go, the IP is released.
    let got = c
        .patched(
            "web",
            json!({"spec": {"type": "ExternalName", "externalName": "example.com"}}),
        )
        .await;
    for f in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
        assert!(got["spec"].get(f).is_none(), "{f}: {got}");
    }
    assert_eq!(c.holder(&alloc::ip_key(&ip)).await, None);
    // ExternalName -> ClusterIP: a cluster IP is allocated.
    let got = c
        .patched(
            "web",
            json!({"spec": {"type": "ClusterIP", "externalName": null}}),
        )
        .await;
    let new_ip = got["spec"]["clusterIP"].as_str().unwrap();
    assert!(new_ip.starts_with("10.43."), "{got}");
    assert_eq!(got["spec"]["clusterIPs"], json!([new_ip]));
    assert_eq!(
        c.holder(&alloc::ip_key(new_ip)).await.as_deref(),
        Some("default/web")
    );
}

#[tokio::test]
async fn a_changed_cluster_ip_is_refused_as_upstream() {
    let c = cluster().await;
    let created = c.create(cluster_ip("web")).await;
    let ip = created["spec"]["clusterIP"].as_str().unwrap();
    let (code, status) = c
        .patch("web", json!({"spec": {"clusterIP": "10.43.7.7"}}))
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        message(&status),
        "Service \"web\" is invalid: spec.clusterIPs[0]: Invalid value: []string{\"10.43.7.7\"}: may not change once set"
    );
    assert_eq!(
        c.holder(&alloc::ip_key(ip)).await.as_deref(),
        Some("default/web")
    );
    assert_eq!(c.holder(&alloc::ip_key("10.43.7.7")).await, None);
}

#[tokio::test]
async fn put_keeps_allocated_values_and_apply_allocates() {
    let c = cluster().await;
    let created = c
        .create(node_port("web", json!([{"name": "http", "port": 80}])))
        .await;
    let np = node_port_of(&created, 0);
    // A PUT of the original manifest: the allocated values stay.
    let mut body = node_port("web", json!([{"name": "http", "port": 80}]));
    body["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"].clone();
    let (code, got) = c
        .send(
            Method::PUT,
            &format!("{SVCS}/web"),
            "application/json",
            body,
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{got}");
    assert_eq!(node_port_of(&got, 0), np);
    assert_eq!(got["spec"]["clusterIP"], created["spec"]["clusterIP"]);
    // Server-side apply to another Service that turns it into a NodePort one.
    c.create(cluster_ip("api")).await;
    let applied = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"},
        "spec": {"type": "NodePort", "selector": {"app": "api"},
                 "ports": [{"name": "http", "port": 80}]}});
    let (code, got) = c
        .send(
            Method::PATCH,
            &format!("{SVCS}/api?fieldManager=test&force=true"),
            "application/apply-patch+yaml",
            applied,
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{got}");
    let np = node_port_of(&got, 0);
    assert_eq!(c.port_holder(np).await.as_deref(), Some("default/api"));
}

#[tokio::test]
async fn delete_releases_only_what_the_service_holds() {
    let c = cluster().await;
    let a = c.create(node_port("a", json!([{"port": 80}]))).await;
    let np = node_port_of(&a, 0);
    let ip = a["spec"]["clusterIP"].as_str().unwrap().to_string();
    // As an older rkube could leave it: the key recorded for another Service.
    c.store
        .put(alloc::port_key(np).as_bytes(), b"default/b")
        .await
        .unwrap();
    let (code, got) = c
        .send(
            Method::DELETE,
            &format!("{SVCS}/a"),
            "application/json",
            json!({}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{got}");
    assert_eq!(c.port_holder(np).await.as_deref(), Some("default/b"));
    assert_eq!(c.holder(&alloc::ip_key(&ip)).await, None);
}

#[tokio::test]
async fn a_local_load_balancer_gets_a_health_check_node_port_held_until_it_goes() {
    let c = cluster().await;
    let lb = svc(
        "lb",
        json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local",
               "selector": {"app": "lb"}, "ports": [{"port": 80}]}),
    );
    let created = c.create(lb).await;
    let hc = created["spec"]["healthCheckNodePort"]
        .as_i64()
        .unwrap_or_else(|| panic!("no healthCheckNodePort: {created}"));
    assert!((30000..=32767).contains(&hc));
    assert_ne!(hc, node_port_of(&created, 0));
    assert_eq!(c.port_holder(hc).await.as_deref(), Some("default/lb"));

    // Another Service may not ask for it.
    let (code, status) = c
        .send(
            Method::POST,
            SVCS,
            "application/json",
            svc(
                "other",
                json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                       "healthCheckNodePort": hc, "ports": [{"port": 80}]}),
            ),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    assert_eq!(
        message(&status),
        format!("Service \"other\" is invalid: spec.healthCheckNodePort: Invalid value: {hc}: provided port is already allocated")
    );

    // Cluster traffic policy: the port is dropped and released; Local again: a new one.
    let cluster_wide = c
        .patched("lb", json!({"spec": {"externalTrafficPolicy": "Cluster"}}))
        .await;
    assert!(
        cluster_wide["spec"].get("healthCheckNodePort").is_none(),
        "{cluster_wide}"
    );
    assert_eq!(c.port_holder(hc).await, None);
    let local = c
        .patched("lb", json!({"spec": {"externalTrafficPolicy": "Local"}}))
        .await;
    let again = local["spec"]["healthCheckNodePort"]
        .as_i64()
        .unwrap_or_else(|| panic!("no healthCheckNodePort: {local}"));
    assert_eq!(c.port_holder(again).await.as_deref(), Some("default/lb"));

    let (code, _) = c
        .send(
            Method::DELETE,
            &format!("{SVCS}/lb"),
            "application/json",
            json!({}),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(c.port_holder(again).await, None);
}
