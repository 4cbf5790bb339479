//! The create path's pieces in process: what each costs (an ignored measurement) and that
//! the shortcuts produce what the general code does.

use std::time::Instant;

use bytes::Bytes;
use serde_json::{json, Value};

use super::super::{decode_body, Api, Call};
use crate::{
    object::{set_type_meta, to_stored},
    params::Params,
    request::{Output, ResourceRequest, Verb},
    strategy,
};

fn api(dir: &std::path::Path) -> Api {
    let store = std::sync::Arc::new(rkube_store::embedded::EmbeddedStore::open(dir).unwrap());
    Api::new(
        store,
        crate::alloc::Ranges::parse("10.43.0.0/16", 30000..=32767).unwrap(),
    )
}

fn call<'a>(api: &'a Api, resource: &str, body: &Value) -> Call<'a> {
    Call {
        api,
        user: None,
        trusted: false,
        req: ResourceRequest {
            def: rkube_api::registry::find("", "v1", resource).unwrap(),
            namespace: Some("bench".into()),
            name: None,
            subresource: None,
            verb: Verb::Create,
        },
        params: Params {
            user_agent: Some("bench/v0.0.0".into()),
            ..Params::default()
        },
        output: Output::Json,
        content_type: Some("application/json".into()),
        body: Bytes::from(serde_json::to_vec(body).unwrap()),
    }
}

pub(super) fn configmap(i: usize) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": format!("cm-{i:05}"), "namespace": "bench", "labels": {"app": "bench", "tier": "config"}},
        "data": {"mode": "bench", "payload": "x".repeat(512)},
    })
}

pub(super) fn pod(i: usize) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("web-{i:05}"),
            "namespace": "bench",
            "labels": {"app": "web", "shard": (i % 16).to_string()},
            "annotations": {"bench.rkube.io/index": i.to_string()},
        },
        "spec": {
            "containers": [{
                "name": "web",
                "image": "registry.k8s.io/nginx-slim:0.27",
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                "env": [{"name": "MODE", "value": "production"}, {"name": "SHARD", "value": (i % 16).to_string()}],
                "resources": {
                    "requests": {"cpu": "100m", "memory": "64Mi"},
                    "limits": {"memory": "128Mi"},
                },
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
            }],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
        },
    })
}

/// `cargo test --release -p rkube-apiserver --lib -- --ignored --nocapture create_cost`
#[test]
#[ignore = "a measurement, not a test"]
fn create_cost() {
    let dir = tempfile::tempdir().unwrap();
    let api = api(dir.path());
    for (resource, make) in [
        ("configmaps", configmap as fn(usize) -> Value),
        ("pods", pod as fn(usize) -> Value),
    ] {
        let n = 20_000;
        let calls: Vec<Call<'_>> = (0..n).map(|i| call(&api, resource, &make(i))).collect();
        let mut t = [0f64; 8];
        let mut lap = |i: usize, s: &mut Instant| {
            t[i] += s.elapsed().as_secs_f64();
            *s = Instant::now();
        };
        for c in &calls {
            let def = c.def();
            let mut s = Instant::now();
            let mut obj = decode_body(c.content_type.as_deref(), &c.body).unwrap();
            lap(0, &mut s);
            crate::openapi::fields::check(&c.params, def, None, &c.body, &mut obj).unwrap();
            lap(1, &mut s);
            set_type_meta(def, &mut obj);
            rkube_api::defaults::apply(def, &mut obj);
            strategy::prepare_for_create(def, &mut obj);
            lap(2, &mut s);
            let before = obj.clone();
            s = Instant::now();
            crate::managed::record_create(c, &mut obj);
            lap(3, &mut s);
            general_create_fields(c, &before);
            lap(7, &mut s);
            let errs = rkube_api::validation::validate(def, &obj, None);
            assert!(errs.is_empty(), "{errs:?}");
            lap(4, &mut s);
            let stored = to_stored(&obj);
            lap(5, &mut s);
            drop((obj, stored));
            lap(6, &mut s);
        }
        let names = [
            "decode",
            "fields",
            "defaults",
            "managed",
            "validate",
            "encode",
            "drop",
            "(managed, general path)",
        ];
        let total: f64 = t[..7].iter().sum();
        let parts: Vec<String> = names
            .iter()
            .zip(t)
            .map(|(name, s)| format!("{name} {:.2}", s * 1e6 / n as f64))
            .collect();
        eprintln!(
            "{resource}: {:.2} µs per create: {}",
            total * 1e6 / n as f64,
            parts.join(", ")
        );
    }
}

/// The managedFields of a create as the general update computes them.
fn general_create_fields(c: &Call<'_>, obj: &Value) -> Value {
    use rkube_api::managed::{self, Context, Managed, Operation, Writer};
    let def = c.def();
    let reset = crate::managed::reset_fields(def, None);
    let now = crate::object::now();
    let cx = Context {
        schema: crate::managed::schema(def),
        reset: &reset,
        now: &now,
    };
    let zero = managed::managers::zero_value(&cx, obj);
    let mut m = Managed::default();
    let who = Writer {
        manager: crate::managed::manager(c),
        operation: Operation::Update,
        api_version: def.api_version(),
        subresource: String::new(),
    };
    managed::update(&cx, &zero, obj, &mut m, &who).unwrap();
    m.encode()
}

/// Creates know their namespace from the last look, and commit only while its key is at
/// that revision: changes made behind their back (as a DELETE of the namespace makes) are
/// seen at once, in upstream's order (the namespace before the name).
#[tokio::test]
async fn a_create_commits_only_while_its_namespace_is_as_last_seen() {
    use rkube_store::StoreExt;
    let dir = tempfile::tempdir().unwrap();
    let api = api(dir.path());
    let key = b"/registry/namespaces/bench";
    let open = serde_json::to_vec(&json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "bench"}, "status": {"phase": "Active"},
    }))
    .unwrap();
    let terminating = serde_json::to_vec(&json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "bench", "deletionTimestamp": "2026-11-27T10:00:00Z"},
        "status": {"phase": "Terminating"},
    }))
    .unwrap();
    let code = |r: crate::status::ApiResult<axum::response::Response>| match r {
        Ok(resp) => resp.status().as_u16(),
        Err(e) => e.code,
    };
    let create = |i: usize| {
        let c = call(&api, "configmaps", &configmap(i));
        async move { code(super::create(&c).await) }
    };

    assert_eq!(create(1).await, 404, "no namespace yet");
    api.store.put(key, &open).await.unwrap();
    assert_eq!(create(1).await, 201);
    assert_eq!(create(2).await, 201, "from what the first create read");

    api.store.put(key, &terminating).await.unwrap();
    assert_eq!(create(3).await, 403, "being deleted");
    api.store.delete(key, 0).await.unwrap().unwrap();
    assert_eq!(create(3).await, 404, "deleted");

    api.store.put(key, &open).await.unwrap();
    assert_eq!(create(3).await, 201, "created again");
    api.store.put(key, &open).await.unwrap();
    assert_eq!(create(3).await, 409, "changed but open: the name is taken");
    api.store.put(key, &terminating).await.unwrap();
    assert_eq!(create(3).await, 403, "the namespace before the name");
    assert!(api
        .store
        .get(b"/registry/configmaps/bench/cm-00003")
        .await
        .unwrap()
        .is_some());
    assert!(api
        .store
        .get(b"/registry/configmaps/bench/cm-00004")
        .await
        .unwrap()
        .is_none());
}

/// A dry-run Service create shows what it would be given (as `kubectl create
/// --dry-run=server` does upstream) and holds nothing; one asking for a value held elsewhere
/// is refused as the create would be.
#[tokio::test]
async fn a_dry_run_service_shows_free_values_and_holds_none() {
    use rkube_store::{RangeRequest, StoreExt};
    let dir = tempfile::tempdir().unwrap();
    let api = api(dir.path());
    api.store
        .put(
            b"/registry/namespaces/bench",
            &serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "bench"}, "status": {"phase": "Active"}}))
            .unwrap(),
        )
        .await
        .unwrap();
    let svc = |name: &str, ip: Option<&str>| {
        let mut s = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "bench"},
            "spec": {"type": "NodePort", "selector": {"app": "x"},
                "ports": [{"port": 80, "protocol": "TCP"}]}});
        if let Some(ip) = ip {
            s["spec"]["clusterIP"] = json!(ip);
        }
        s
    };
    let body = |r: axum::response::Response| async move {
        let b = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice::<Value>(&b).unwrap()
    };
    let held = || async {
        api.store
            .range(RangeRequest::prefix("/registry/rkube/"))
            .await
            .unwrap()
            .kvs
            .len()
    };

    let mut c = call(&api, "services", &svc("dry", None));
    c.params.dry_run = true;
    let shown = body(super::create(&c).await.unwrap()).await;
    let ip = shown["spec"]["clusterIP"].as_str().unwrap();
    assert!(ip.starts_with("10.43."), "{shown}");
    assert_eq!(shown["spec"]["clusterIPs"], json!([ip]));
    let port = shown["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    assert!((30000..=32767).contains(&port), "{shown}");
    assert_eq!(held().await, 0, "a dry run holds nothing");
    let stored = api.store.get(b"/registry/services/specs/bench/dry").await;
    assert!(stored.unwrap().is_none(), "a dry run stores nothing");

    // A real one holds its IP; a dry run asking for it is refused, as its create would be.
    let real = body(
        super::create(&call(&api, "services", &svc("real", None)))
            .await
            .unwrap(),
    )
    .await;
    let taken = real["spec"]["clusterIP"].as_str().unwrap().to_string();
    let mut c = call(&api, "services", &svc("dry2", Some(&taken)));
    c.params.dry_run = true;
    let err = super::create(&c).await.err().unwrap();
    assert_eq!((err.code, err.reason), (422, "Invalid"));
    assert!(
        err.message.contains("provided IP is already allocated"),
        "{}",
        err.message
    );
    assert_eq!(held().await, 2, "the real Service's IP and node port");
}
