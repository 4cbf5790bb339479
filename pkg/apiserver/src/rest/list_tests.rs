//! The streamed, spliced JSON list is the decoding path's list byte for byte: whole, paged
//! with `limit`/`continue`, with selectors, and with an item that cannot be spliced; and a
//! selector the key answers agrees with the one on the object.

use std::sync::Arc;

use bytes::Bytes;
use rkube_store::{embedded::EmbeddedStore, Store, StoreExt};
use serde_json::{json, Value};

use super::*;
use crate::{
    object::to_stored,
    request::{ResourceRequest, Verb},
    rest::Api,
};

#[test]
fn continue_round_trip() {
    let t = decode_continue(&encode_continue(42, "web-1\u{0}")).unwrap();
    assert_eq!((t.rv, t.start.as_str()), (42, "web-1\u{0}"));
    assert!(decode_continue("garbage").is_err());
}

/// A pod as the API server stores it (defaults, managedFields, status), ~1.3 KiB.
fn pod(i: usize) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("web-{i:04}"),
            "namespace": "ns",
            "uid": format!("00000000-0000-0000-0000-{i:012}"),
            "creationTimestamp": "2026-11-27T10:00:00Z",
            "labels": {"app": "web", "shard": (i % 4).to_string()},
            "annotations": {"note": "quote \" brace } bracket ] backslash \\ done"},
            "managedFields": [{"manager": "bench", "operation": "Update", "apiVersion": "v1",
                "time": "2026-11-27T10:00:00Z", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}}}}}}],
        },
        "spec": {
            "containers": [{"name": "web", "image": "registry.k8s.io/nginx-slim:0.27",
                "args": ["}", "{", "[\"]"], "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "resources": {"requests": {"cpu": "100m"}}, "terminationMessagePath": "/dev/termination-log"}],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "nodeName": if i.is_multiple_of(3) { "node-a" } else { "node-b" },
        },
        "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable", "message": "0/0 nodes are available: välue\n\t"}]},
    })
}

async fn api_with_pods(dir: &std::path::Path, n: usize) -> Api {
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir).unwrap());
    for i in 0..n {
        let mut p = pod(i);
        if i == n / 2 {
            // A metadata key with an escape: this one cannot be spliced and is decoded.
            p["metadata"]["a\"b"] = json!("x");
        }
        store
            .put(
                format!("/registry/pods/ns/web-{i:04}").as_bytes(),
                &to_stored(&p),
            )
            .await
            .unwrap();
    }
    // Another namespace's pods are not in the namespace's list.
    store
        .put(b"/registry/pods/other/web-0000", &to_stored(&pod(0)))
        .await
        .unwrap();
    Api::new(
        store,
        crate::alloc::Ranges::parse("10.43.0.0/16", 30000..=32767).unwrap(),
    )
}

fn list_call(api: &Api, params: Params) -> Call<'_> {
    Call {
        api,
        user: None,
        trusted: false,
        req: ResourceRequest {
            def: rkube_api::registry::find("", "v1", "pods").unwrap(),
            namespace: Some("ns".into()),
            name: None,
            subresource: None,
            verb: Verb::List,
        },
        params,
        output: Output::Json,
        content_type: None,
        body: Bytes::new(),
    }
}

/// The served body's exact length if it said so (sent whole, not streamed), the body, and
/// what the decoding path serves for the same call.
async fn both(api: &Api, params: Params) -> (Option<u64>, Vec<u8>, Vec<u8>) {
    let call = list_call(api, params);
    let resp = list(&call).await.unwrap();
    let filter = Filter::new(call.def(), &call.params).unwrap();
    let decoded = serde_json::to_vec(&list_value(&call, &filter).await.unwrap()).unwrap();
    let body = resp.into_body();
    let exact = hyper::body::Body::size_hint(&body).exact();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (exact, body, decoded)
}

fn same(served: &[u8], decoded: &[u8]) {
    assert!(
        served == decoded,
        "served and decoded lists differ:\n{}\n---\n{}",
        String::from_utf8_lossy(&served[..served.len().min(2000)]),
        String::from_utf8_lossy(&decoded[..decoded.len().min(2000)])
    );
}

/// Appends a served page's item names to `names`; its continue token, if any.
fn take_page(page: &[u8], names: &mut Vec<String>) -> Option<String> {
    let v: Value = serde_json::from_slice(page).unwrap();
    for item in v["items"].as_array().unwrap() {
        names.push(item["metadata"]["name"].as_str().unwrap().to_string());
    }
    v["metadata"]["continue"].as_str().map(str::to_string)
}

#[tokio::test]
async fn streamed_lists_are_the_decoded_lists() {
    let dir = tempfile::tempdir().unwrap();
    // ~1.3 KiB each: 1000 pods are several chunks.
    let api = api_with_pods(dir.path(), 1000).await;

    let (exact, served, decoded) = both(&api, Params::default()).await;
    same(&served, &decoded);
    assert!(
        served.len() > 3 * list_body_chunk(),
        "the list spans several chunks"
    );
    assert_eq!(exact, None, "a long list streams");
    let v: Value = serde_json::from_slice(&served).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 1000);
    assert_eq!(v["items"][500]["metadata"]["a\"b"], "x");
    let mut probe = Vec::new();
    assert!(
        !crate::rest::splice::write_item(&mut probe, &to_stored(&v["items"][500]), 1),
        "item 500 takes the decoding path"
    );

    // Pages: each page the decoded one; together every pod once, in key order.
    let mut names = Vec::new();
    let mut params = Params {
        limit: Some(150),
        ..Params::default()
    };
    loop {
        let (_, served, decoded) = both(&api, params.clone()).await;
        same(&served, &decoded);
        match take_page(&served, &mut names) {
            Some(c) => params.continue_ = Some(c),
            None => break,
        }
    }
    let want: Vec<String> = (0..1000).map(|i| format!("web-{i:04}")).collect();
    assert_eq!(names, want);

    // Selectors: decoded for matching, still spliced for output.
    for (labels, fields, count) in [
        (Some("shard=1"), None, 250),
        (None, Some("spec.nodeName=node-a"), 334),
        (
            Some("app=web,shard in (0,2)"),
            Some("spec.nodeName!=node-a"),
            333,
        ),
        (Some("app=none"), None, 0),
    ] {
        let params = Params {
            label_selector: labels.map(str::to_string),
            field_selector: fields.map(str::to_string),
            ..Params::default()
        };
        let (_, served, decoded) = both(&api, params).await;
        same(&served, &decoded);
        let v: Value = serde_json::from_slice(&served).unwrap();
        assert_eq!(
            v["items"].as_array().unwrap().len(),
            count,
            "{labels:?} {fields:?}"
        );
    }
    api.store.close().await.unwrap();
}

#[tokio::test]
async fn short_lists_are_sent_whole() {
    let dir = tempfile::tempdir().unwrap();
    let api = api_with_pods(dir.path(), 3).await;
    let (exact, served, decoded) = both(&api, Params::default()).await;
    same(&served, &decoded);
    assert_eq!(
        exact,
        Some(served.len() as u64),
        "sent whole, with its length"
    );
    api.store.close().await.unwrap();
}

/// The body a list call serves.
async fn served(api: &Api, params: Params) -> Vec<u8> {
    let resp = list(&list_call(api, params)).await.unwrap();
    axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec()
}

#[tokio::test]
async fn lists_from_the_watch_cache_are_the_stores_lists() {
    let dir = tempfile::tempdir().unwrap();
    let direct = api_with_pods(dir.path(), 400).await;
    let cached = Api::with_list_cache(
        direct.store.clone(),
        crate::alloc::Ranges::parse("10.43.0.0/16", 30000..=32767).unwrap(),
        true,
    );
    // The first list starts loading the pods into the cache (and reads the store).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while cached
        .watch_cache
        .list("/registry/pods/", b"/registry/pods/ns/", Some(0))
        .await
        .unwrap()
        .is_none()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "pods not loaded in 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let rv = direct.store.revisions().await.unwrap().current.to_string();
    let cases = [
        Params::default(),
        Params {
            label_selector: Some("shard=1".into()),
            field_selector: Some("spec.nodeName=node-a".into()),
            ..Params::default()
        },
        Params {
            resource_version: Some("0".into()),
            ..Params::default()
        },
        Params {
            resource_version: Some(rv.clone()),
            resource_version_match: Some("NotOlderThan".into()),
            ..Params::default()
        },
        Params {
            resource_version: Some(rv),
            resource_version_match: Some("Exact".into()),
            ..Params::default()
        },
    ];
    for params in cases {
        let (a, b) = (
            served(&cached, params.clone()).await,
            served(&direct, params).await,
        );
        same(&a, &b);
    }

    // Pages: the first from the cache, the rest from the store at the revision the first
    // page's continue token pins, so a pod created meanwhile is in none of them.
    let mut params = Params {
        limit: Some(150),
        ..Params::default()
    };
    let first = served(&cached, params.clone()).await;
    same(&first, &served(&direct, params.clone()).await);
    direct
        .store
        .put(b"/registry/pods/ns/web-0200a", &to_stored(&pod(9999)))
        .await
        .unwrap();
    let mut names = Vec::new();
    let mut page = first;
    while let Some(c) = take_page(&page, &mut names) {
        params.continue_ = Some(c);
        page = served(&cached, params.clone()).await;
    }
    let want: Vec<String> = (0..400).map(|i| format!("web-{i:04}")).collect();
    assert_eq!(names, want);
    // A new list has it.
    let v: Value = serde_json::from_slice(&served(&cached, Params::default()).await).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 401);
    direct.store.close().await.unwrap();
}

#[tokio::test]
async fn a_list_at_a_revision_not_reached_is_a_timeout_as_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let mut api = api_with_pods(dir.path(), 1).await;
    api.watch_cache = std::sync::Arc::new(
        crate::watchcache::WatchCache::new(api.store.clone(), false)
            .with_fresh_wait(std::time::Duration::from_millis(200)),
    );
    let current = api.store.revisions().await.unwrap().current;
    let params = Params {
        resource_version: Some((current + 5).to_string()),
        ..Params::default()
    };
    let err = list(&list_call(&api, params)).await.err().unwrap();
    assert_eq!(
        err.status(),
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("Timeout: Too large resource version: {}, current: {current}", current + 5),
            "reason": "Timeout", "code": 504,
            "details": {"causes": [{"reason": "ResourceVersionTooLarge",
                "message": "Too large resource version"}], "retryAfterSeconds": 1}})
    );
    // Reached within the wait, it is served.
    api.watch_cache = std::sync::Arc::new(
        crate::watchcache::WatchCache::new(api.store.clone(), false)
            .with_fresh_wait(std::time::Duration::from_secs(30)),
    );
    let params = Params {
        resource_version: Some((current + 1).to_string()),
        ..Params::default()
    };
    let store = api.store.clone();
    let write = tokio::spawn(async move {
        store
            .put(b"/registry/pods/ns/late", &to_stored(&pod(7)))
            .await
            .unwrap()
    });
    let body = served(&api, params).await;
    write.await.unwrap();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        v["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            > current
    );
    api.store.close().await.unwrap();
}

fn list_body_chunk() -> usize {
    256 * 1024
}

#[test]
fn selecting_by_name_and_namespace_is_told_from_the_key() {
    let pods = rkube_api::registry::find("", "v1", "pods").unwrap();
    let nodes = rkube_api::registry::find("", "v1", "nodes").unwrap();
    let filter = |def, fields: &str, labels: Option<&str>| {
        let params = Params {
            field_selector: Some(fields.into()),
            label_selector: labels.map(Into::into),
            ..Params::default()
        };
        Filter::new(def, &params).unwrap()
    };
    let selectors = [
        "metadata.name=a",
        "metadata.name!=a",
        "metadata.namespace=ns1",
        "metadata.namespace=ns1,metadata.name=b",
        "metadata.namespace!=ns1,metadata.name=a",
        "metadata.name==a/b",
    ];
    for sel in selectors {
        let f = filter(pods, sel, None);
        for (ns, name) in [("ns1", "a"), ("ns1", "b"), ("ns2", "a"), ("x", "a-b")] {
            let obj = json!({"metadata": {"name": name, "namespace": ns}});
            let key = pods.key(Some(ns), name);
            assert_eq!(
                f.matches_key(key.as_bytes()),
                Some(f.matches(&obj)),
                "{sel} on {key}"
            );
        }
    }
    for sel in ["metadata.name=n1", "metadata.name!=n1"] {
        let f = filter(nodes, sel, None);
        for name in ["n1", "n2"] {
            let obj = json!({"metadata": {"name": name}});
            let key = nodes.key(None, name);
            assert_eq!(
                f.matches_key(key.as_bytes()),
                Some(f.matches(&obj)),
                "{sel}"
            );
        }
    }
    // Anything else needs the object.
    let key = pods.key(Some("ns1"), "a");
    assert_eq!(
        filter(pods, "spec.nodeName=n1", None).matches_key(key.as_bytes()),
        None
    );
    assert_eq!(
        filter(pods, "metadata.name=a", Some("app=x")).matches_key(key.as_bytes()),
        None
    );
    assert_eq!(
        filter(pods, "metadata.name=a", None).matches_key(b"/registry/other/ns1/a"),
        None
    );
}
