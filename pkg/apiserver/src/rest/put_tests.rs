//! PUT as upstream's strategies shape it: create on update for Endpoints, Leases and Events,
//! and no blind overwrite of a Lease.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::testing::{send, server};

#[tokio::test]
async fn a_put_creates_a_missing_endpoints_lease_or_event_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let lb = server.loopback("admin", &["system:masters"], "kubectl/v1.33.0");

    let ep = json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "ep"},
        "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]});
    let uri = "/api/v1/namespaces/default/endpoints/ep";
    let (code, created) = send(&lb, Method::PUT, uri, Some(ep.clone())).await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    assert_eq!(created["metadata"]["name"], "ep");
    assert!(created["metadata"]["uid"].is_string());
    // Now it exists: the same PUT is an update.
    let (code, updated) = send(&lb, Method::PUT, uri, Some(ep)).await;
    assert_eq!(code, StatusCode::OK, "{updated}");
    assert_eq!(updated["metadata"]["uid"], created["metadata"]["uid"]);

    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "l"}, "spec": {"holderIdentity": "a"}});
    let uri = "/apis/coordination.k8s.io/v1/namespaces/default/leases/l";
    let (code, created) = send(&lb, Method::PUT, uri, Some(lease.clone())).await;
    assert_eq!(code, StatusCode::CREATED, "{created}");

    let ev = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
        "reason": "Test", "message": "m", "type": "Normal"});
    let (code, created) = send(
        &lb,
        Method::PUT,
        "/api/v1/namespaces/default/events/e",
        Some(ev),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED, "{created}");

    // Other kinds answer 404.
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}});
    let (code, status) = send(
        &lb,
        Method::PUT,
        "/api/v1/namespaces/default/configmaps/cm",
        Some(cm),
    )
    .await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{status}");
}

#[tokio::test]
async fn a_lease_put_must_carry_its_resource_version() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let lb = server.loopback("admin", &["system:masters"], "kubectl/v1.33.0");
    let uri = "/apis/coordination.k8s.io/v1/namespaces/default/leases/held";
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "held"}, "spec": {"holderIdentity": "a"}});
    let (code, created) = send(&lb, Method::PUT, uri, Some(lease)).await;
    assert_eq!(code, StatusCode::CREATED, "{created}");

    let blind = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "held"}, "spec": {"holderIdentity": "b"}});
    let (code, status) = send(&lb, Method::PUT, uri, Some(blind)).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    assert_eq!(
        status["message"],
        "Lease.coordination.k8s.io \"held\" is invalid: metadata.resourceVersion: Invalid value: 0: must be specified for an update"
    );
    let mut fresh = created.clone();
    fresh["spec"]["holderIdentity"] = json!("b");
    let (code, updated) = send(&lb, Method::PUT, uri, Some(fresh)).await;
    assert_eq!(code, StatusCode::OK, "{updated}");
    assert_eq!(updated["spec"]["holderIdentity"], "b");

    // Other kinds may be overwritten without one.
    let cms = "/api/v1/namespaces/default/configmaps";
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}});
    assert_eq!(
        send(&lb, Method::POST, cms, Some(cm.clone())).await.0,
        StatusCode::CREATED
    );
    let (code, body) = send(&lb, Method::PUT, &format!("{cms}/cm"), Some(cm)).await;
    assert_eq!(code, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_changed_uid_is_refused_and_a_missing_one_kept() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let lb = server.loopback("admin", &["system:masters"], "kubectl/v1.33.0");
    let cms = "/api/v1/namespaces/default/configmaps";
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "u"}});
    let (_, created) = send(&lb, Method::POST, cms, Some(cm.clone())).await;

    let mut other = created.clone();
    other["metadata"]["uid"] = json!("other");
    let (code, status) = send(&lb, Method::PUT, &format!("{cms}/u"), Some(other)).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    assert_eq!(
        status["message"],
        "ConfigMap \"u\" is invalid: metadata.uid: Invalid value: \"other\": field is immutable"
    );
    // Without one, the stored uid stays.
    let (code, updated) = send(&lb, Method::PUT, &format!("{cms}/u"), Some(cm)).await;
    assert_eq!(code, StatusCode::OK, "{updated}");
    assert_eq!(updated["metadata"]["uid"], created["metadata"]["uid"]);
}

#[tokio::test]
async fn a_negative_scale_is_refused_as_a_scale() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let lb = server.loopback("admin", &["system:masters"], "kubectl/v1.33.0");
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}});
    let deploys = "/apis/apps/v1/namespaces/default/deployments";
    let (code, body) = send(&lb, Method::POST, deploys, Some(deploy)).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let want = "Scale.autoscaling \"d\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0";
    let scale = format!("{deploys}/d/scale");
    let (code, status) = send(
        &lb,
        Method::PUT,
        &scale,
        Some(json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
            "metadata": {"name": "d"}, "spec": {"replicas": -1}})),
    )
    .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    assert_eq!(status["message"], want);
    let (code, status) = crate::testing::send_with(
        &lb,
        Method::PATCH,
        &scale,
        "application/merge-patch+json",
        json!({"spec": {"replicas": -1}}),
    )
    .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{status}");
    assert_eq!(status["message"], want);
}
