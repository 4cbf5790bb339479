//! The in-process transport serves what the network does, as the identity it was made for.

use std::time::Duration;

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::testing::{send, server};

#[tokio::test]
async fn requests_are_served_as_the_loopback_identity() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let lb = server.loopback("system:kube-scheduler", &[], "kube-scheduler/v0.1.0");

    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "lb"}, "data": {"k": "v"}});
    let (code, created) = send(
        &lb,
        Method::POST,
        "/api/v1/namespaces/default/configmaps",
        Some(cm),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    // The field manager comes from the transport's User-Agent, as for a remote client.
    assert_eq!(
        created["metadata"]["managedFields"][0]["manager"],
        "kube-scheduler"
    );
    let (code, got) = send(
        &lb,
        Method::GET,
        "/api/v1/namespaces/default/configmaps/lb",
        None,
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(got["data"]["k"], "v");

    // Bad input gets the same Status as over the network.
    let (code, status) = send(
        &lb,
        Method::POST,
        "/api/v1/namespaces/default/configmaps",
        Some(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}})),
    )
    .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(status["reason"], "Invalid");
}

#[tokio::test]
async fn a_watch_streams_through_the_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let lb = server.loopback("system:kube-controller-manager", &[], "kcm/v0.1.0");
    let (_, list) = send(
        &lb,
        Method::GET,
        "/api/v1/namespaces/default/configmaps",
        None,
    )
    .await;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();

    let req = Request::get(format!(
        "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}"
    ))
    .body(Body::empty())
    .unwrap();
    let resp = lb.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();

    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w"}});
    let (code, _) = send(
        &lb,
        Method::POST,
        "/api/v1/namespaces/default/configmaps",
        Some(cm),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED);

    let mut seen = Vec::new();
    let event = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let frame = body.frame().await.expect("watch ended").unwrap();
            if let Some(data) = frame.data_ref() {
                seen.extend_from_slice(data);
            }
            if let Some(end) = seen.iter().position(|b| *b == b'\n') {
                return serde_json::from_slice::<Value>(&seen[..end]).unwrap();
            }
        }
    })
    .await
    .expect("no watch event within 10 s");
    assert_eq!(event["type"], "ADDED");
    assert_eq!(event["object"]["metadata"]["name"], "w");
}
