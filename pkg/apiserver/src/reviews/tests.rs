use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::testing::{send, server};

const AUTHN: &str = "/apis/authentication.k8s.io/v1";
const AUTHZ: &str = "/apis/authorization.k8s.io/v1";

async fn post(lb: &crate::Loopback, uri: &str, body: Value) -> (StatusCode, Value) {
    send(lb, Method::POST, uri, Some(body)).await
}

#[tokio::test]
async fn whoami_and_token_reviews() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let lb = server.loopback("system:admin", &["system:masters"], "test");

    let (code, r) = post(
        &lb,
        &format!("{AUTHN}/selfsubjectreviews"),
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED, "{r}");
    assert_eq!(
        r["status"]["userInfo"],
        json!({"username": "system:admin", "groups": ["system:masters", "system:authenticated"]})
    );
    assert!(r["metadata"]["creationTimestamp"].is_string());
    // Nothing stored: no GET, LIST or WATCH.
    let (code, _) = send(
        &lb,
        Method::GET,
        &format!("{AUTHN}/selfsubjectreviews"),
        None,
    )
    .await;
    assert_eq!(code, StatusCode::METHOD_NOT_ALLOWED);

    let (code, sa) = post(
        &lb,
        "/api/v1/namespaces/default/serviceaccounts",
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}}),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED);
    let (_, tr) = post(
        &lb,
        "/api/v1/namespaces/default/serviceaccounts/robot/token",
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}),
    )
    .await;
    let token = tr["status"]["token"].as_str().unwrap();

    let review = |spec: Value| json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec});
    let (code, r) = post(
        &lb,
        &format!("{AUTHN}/tokenreviews"),
        review(json!({"token": token})),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED, "{r}");
    let st = &r["status"];
    assert_eq!(st["authenticated"], true, "{r}");
    assert_eq!(
        st["user"]["username"],
        "system:serviceaccount:default:robot"
    );
    assert_eq!(st["user"]["uid"], sa["metadata"]["uid"]);
    assert_eq!(
        st["user"]["groups"],
        json!([
            "system:serviceaccounts",
            "system:serviceaccounts:default",
            "system:authenticated"
        ])
    );
    assert!(
        st["user"]["extra"]["authentication.kubernetes.io/credential-id"][0]
            .as_str()
            .unwrap()
            .starts_with("JTI=")
    );
    assert_eq!(
        st["audiences"],
        json!(["https://kubernetes.default.svc.cluster.local", "rkube"])
    );

    let (_, r) = post(
        &lb,
        &format!("{AUTHN}/tokenreviews"),
        review(json!({"token": token, "audiences": ["vault"]})),
    )
    .await;
    assert!(r["status"].get("authenticated").is_none(), "{r}");
    assert_eq!(
        r["status"]["error"],
        "token audiences [\"https://kubernetes.default.svc.cluster.local\" \"rkube\"] is invalid for the target audiences [\"vault\"]"
    );
    let (code, r) = post(&lb, &format!("{AUTHN}/tokenreviews"), review(json!({}))).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(
        r["message"],
        "token is required for TokenReview in authentication"
    );
}

#[tokio::test]
async fn access_reviews_allow_and_validate() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let lb = server.loopback("system:admin", &["system:masters"], "test");
    let ssar = |spec: Value| json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": spec});

    let (code, r) = post(&lb, &format!("{AUTHZ}/selfsubjectaccessreviews"),
        ssar(json!({"resourceAttributes": {"verb": "create", "resource": "pods", "namespace": "default"}}))).await;
    assert_eq!(code, StatusCode::CREATED, "{r}");
    assert_eq!(r["status"], json!({"allowed": true}));
    assert_eq!(r["spec"]["resourceAttributes"]["verb"], "create");

    let (code, r) = post(
        &lb,
        &format!("{AUTHZ}/selfsubjectaccessreviews"),
        ssar(json!({})),
    )
    .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r["message"],
        "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified"
    );

    let (code, r) = post(
        &lb,
        &format!("{AUTHZ}/subjectaccessreviews"),
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}}}),
    )
    .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r["message"].as_str().unwrap().ends_with(
            "spec.user: Invalid value: \"\": at least one of user or group must be specified"
        ),
        "{r}"
    );

    let (code, r) = post(&lb, &format!("{AUTHZ}/namespaces/default/localsubjectaccessreviews"),
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "LocalSubjectAccessReview",
            "spec": {"user": "u", "resourceAttributes": {"verb": "get", "resource": "pods", "namespace": "other"}}})).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r["message"].as_str().unwrap().contains("spec.resourceAttributes.namespace: Invalid value: \"other\": must match metadata.namespace"), "{r}");

    let rules = |spec: Value| json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": spec});
    let (code, r) = post(
        &lb,
        &format!("{AUTHZ}/selfsubjectrulesreviews"),
        rules(json!({})),
    )
    .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(r["message"], "no namespace on request");
    let (code, r) = post(
        &lb,
        &format!("{AUTHZ}/selfsubjectrulesreviews"),
        rules(json!({"namespace": "default"})),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED);
    // The admin's: cluster-admin's, then what system:basic-user gives everyone.
    let rules = r["status"]["resourceRules"].as_array().unwrap();
    assert_eq!(
        rules[0],
        json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})
    );
    assert!(rules.contains(&json!({"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]})), "{r}");
    assert_eq!(r["status"]["incomplete"], false);
}

#[tokio::test]
async fn bodies_that_are_not_objects_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let lb = server.loopback("system:admin", &["system:masters"], "test");
    post(
        &lb,
        "/api/v1/namespaces/default/serviceaccounts",
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}}),
    )
    .await;
    for uri in [
        format!("{AUTHN}/selfsubjectreviews"),
        format!("{AUTHN}/tokenreviews"),
        format!("{AUTHZ}/selfsubjectaccessreviews"),
        "/api/v1/namespaces/default/serviceaccounts/robot/token".to_string(),
    ] {
        for body in [
            json!([]),
            json!("x"),
            json!(3),
            json!({"spec": []}),
            json!({"metadata": 1}),
        ] {
            if uri.ends_with("selfsubjectreviews") && body.get("spec").is_some() {
                continue; // no spec there: an unknown field, dropped with a warning
            }
            let (code, s) = post(&lb, &uri, body.clone()).await;
            assert_eq!(code, StatusCode::BAD_REQUEST, "{uri} {body}: {s}");
        }
    }
}
