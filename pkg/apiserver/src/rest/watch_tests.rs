//! Watches as metadata-only clients (the garbage collector, `kubectl get --watch -o name`
//! through client-go's metadata informers) ask for them.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::testing::{next_line, open_watch, send, server};

const PARTIAL_V1: &str = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

fn configmap(name: &str, value: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app": "w"}}, "data": {"k": value}})
}

/// A PartialObjectMetadata of `version` for the object `name`, with no body but metadata.
fn assert_partial(event: &Value, kind: &str, name: &str, version: &str) -> String {
    assert_eq!(event["type"], kind, "{event}");
    let o = &event["object"];
    assert_eq!(o["kind"], "PartialObjectMetadata", "{event}");
    assert_eq!(o["apiVersion"], format!("meta.k8s.io/{version}"), "{event}");
    assert_eq!(o["metadata"]["name"], name, "{event}");
    assert_eq!(o["metadata"]["labels"]["app"], "w", "{event}");
    assert!(o.get("data").is_none(), "only metadata is sent: {event}");
    let keys: Vec<&String> = o.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["apiVersion", "kind", "metadata"], "{event}");
    o["metadata"]["resourceVersion"]
        .as_str()
        .expect("a resourceVersion")
        .to_string()
}

#[tokio::test]
async fn metadata_watches_get_partial_object_metadata_for_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let lb = server.loopback("system:kube-controller-manager", &[], "kcm/v0.1.0");
    let cms = "/api/v1/namespaces/default/configmaps";
    let (code, a) = send(&lb, Method::POST, cms, Some(configmap("a", "1"))).await;
    assert_eq!(code, StatusCode::CREATED, "{a}");

    // No resourceVersion: the current state first, then the changes.
    let mut all = open_watch(&lb, &format!("{cms}?watch=true"), PARTIAL_V1).await;
    let mut named = open_watch(
        &lb,
        &format!("{cms}?watch=true&fieldSelector=metadata.name%3Db"),
        PARTIAL_V1,
    )
    .await;
    let beta = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1beta1";
    let mut old = open_watch(&lb, &format!("{cms}?watch=true"), beta).await;
    let (mut buf, mut nbuf, mut obuf) = (Vec::new(), Vec::new(), Vec::new());
    let rv = assert_partial(&next_line(&mut all, &mut buf).await, "ADDED", "a", "v1");
    assert_eq!(rv, a["metadata"]["resourceVersion"].as_str().unwrap());
    assert_partial(
        &next_line(&mut old, &mut obuf).await,
        "ADDED",
        "a",
        "v1beta1",
    );

    let (_, b) = send(&lb, Method::POST, cms, Some(configmap("b", "1"))).await;
    let mut b2 = configmap("b", "2");
    b2["metadata"]["resourceVersion"] = b["metadata"]["resourceVersion"].clone();
    let (code, b2) = send(&lb, Method::PUT, &format!("{cms}/b"), Some(b2)).await;
    assert_eq!(code, StatusCode::OK, "{b2}");
    let (code, _) = send(&lb, Method::DELETE, &format!("{cms}/b"), None).await;
    assert_eq!(code, StatusCode::OK);

    for (body, buf, version) in [(&mut all, &mut buf, "v1"), (&mut named, &mut nbuf, "v1")] {
        let rv = assert_partial(&next_line(body, buf).await, "ADDED", "b", version);
        assert_eq!(rv, b["metadata"]["resourceVersion"].as_str().unwrap());
        let rv = assert_partial(&next_line(body, buf).await, "MODIFIED", "b", version);
        assert_eq!(rv, b2["metadata"]["resourceVersion"].as_str().unwrap());
        let deleted = next_line(body, buf).await;
        let rv: i64 = assert_partial(&deleted, "DELETED", "b", version)
            .parse()
            .unwrap();
        assert!(
            rv > b2["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        );
    }
    assert_partial(
        &next_line(&mut old, &mut obuf).await,
        "ADDED",
        "b",
        "v1beta1",
    );
}
