//! An API server on a temporary store for unit tests, driven through the in-process
//! transport (no socket or TLS).

use std::time::Duration;

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::{ApiServer, Config, Loopback, VersionInfo};

pub async fn server(dir: &std::path::Path) -> ApiServer {
    let store = std::sync::Arc::new(
        rkube_store::embedded::EmbeddedStore::open(&dir.join("store")).unwrap(),
    );
    server_on(dir, store).await
}

/// A server on `store`, which the test may also read and write directly.
pub async fn server_on(
    dir: &std::path::Path,
    store: std::sync::Arc<dyn rkube_store::Store>,
) -> ApiServer {
    build(dir, store, false).await
}

/// A server whose pod creates go through the ServiceAccount admission plugin.
pub async fn server_admitting(dir: &std::path::Path) -> ApiServer {
    let store = std::sync::Arc::new(
        rkube_store::embedded::EmbeddedStore::open(&dir.join("store")).unwrap(),
    );
    build(dir, store, true).await
}

async fn build(
    dir: &std::path::Path,
    store: std::sync::Arc<dyn rkube_store::Store>,
    admission: bool,
) -> ApiServer {
    let sans = rkube_pki::ServingSans::detect(vec![], "10.43.0.1".parse().unwrap());
    let pki = rkube_pki::ClusterPki::load_or_create(&dir.join("tls"), &sans).unwrap();
    let cfg = Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        advertise: "127.0.0.1:6443".into(),
        ca_pem: pki.ca_cert_pem().into(),
        serving_chain_pem: pki.serving_cert_chain_pem().into(),
        serving_key_pem: pki.serving_key_pem().into(),
        version: VersionInfo {
            git_version: "v1.33.0+rkube".into(),
            git_commit: "test".into(),
            compiler_version: "test".into(),
        },
        service_cidr: "10.43.0.0/16".into(),
        node_port_range: 30000..=32767,
        kubelet_client: None,
        join: None,
        service_accounts: Some(crate::ServiceAccountConfig {
            key_pem: pki.service_account_key_pem().into(),
            issuer: crate::serviceaccount::DEFAULT_ISSUER.into(),
            audiences: vec![crate::serviceaccount::DEFAULT_ISSUER.into(), "rkube".into()],
            // Most tests create pods in namespaces no controller gives a `default` account.
            admission,
        }),
    };
    ApiServer::bind(cfg, store).await.unwrap()
}

pub async fn send(
    lb: &Loopback,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    let body = match body {
        Some(v) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let resp = lb.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A request with a body of the given content type (a patch); the status and the decoded body.
pub async fn send_with(
    lb: &Loopback,
    method: Method,
    uri: &str,
    content_type: &str,
    body: Value,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = lb.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The next line of a streamed body (a watch event), within 10 s; `buf` keeps what was read
/// past it.
pub async fn next_line(body: &mut Body, buf: &mut Vec<u8>) -> Value {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(end) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=end).collect();
                return serde_json::from_slice::<Value>(&line).unwrap();
            }
            let frame = body.frame().await.expect("stream ended").unwrap();
            if let Some(data) = frame.data_ref() {
                buf.extend_from_slice(data);
            }
        }
    })
    .await
    .expect("no line within 10 s")
}

/// Opens a watch (`uri` with `watch=true`) asking for `accept`.
pub async fn open_watch(lb: &Loopback, uri: &str, accept: &str) -> Body {
    let req = Request::get(uri)
        .header(header::ACCEPT, accept)
        .body(Body::empty())
        .unwrap();
    let resp = lb.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{uri}");
    resp.into_body()
}
