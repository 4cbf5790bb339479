use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::testing::{send, server};

const NS: &str = "/api/v1/namespaces/default";

/// A request carrying only a bearer token (no client certificate identity).
async fn as_bearer(server: &crate::ApiServer, token: &str, uri: &str) -> (StatusCode, Value) {
    let req = Request::get(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let resp = server.app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Lets the `robot` account list pods and ConfigMaps in `default`, and waits until the
/// authorizer has seen it.
async fn grant_robot_reads(server: &crate::ApiServer, lb: &crate::Loopback) {
    let rbac = "/apis/rbac.authorization.k8s.io/v1/namespaces/default";
    let (code, v) = send(
        lb,
        Method::POST,
        &format!("{rbac}/roles"),
        Some(json!({"metadata": {"name": "reads"}, "rules": [
            {"apiGroups": [""], "resources": ["pods", "configmaps"], "verbs": ["list"]}]})),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED, "{v}");
    let (code, v) = send(
        lb,
        Method::POST,
        &format!("{rbac}/rolebindings"),
        Some(json!({"metadata": {"name": "robot-reads"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reads"},
            "subjects": [{"kind": "ServiceAccount", "name": "robot"}]})),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED, "{v}");
    let robot = server.loopback_authorized(
        "system:serviceaccount:default:robot",
        &["system:serviceaccounts"],
        "test",
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while send(&robot, Method::GET, &format!("{NS}/pods"), None)
        .await
        .0
        != StatusCode::OK
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the grant never took effect"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn payload(token: &str) -> Value {
    let mut parts = token.split('.');
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts.next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "ES256");
    assert!(
        header["kid"].as_str().is_some_and(|k| k.len() == 43),
        "{header}"
    );
    assert!(header.get("typ").is_none());
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts.next().unwrap())
            .unwrap(),
    )
    .unwrap()
}

async fn service_account(lb: &crate::Loopback, name: &str) -> String {
    let (code, sa) = send(
        lb,
        Method::POST,
        &format!("{NS}/serviceaccounts"),
        Some(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}})),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED, "{sa}");
    sa["metadata"]["uid"].as_str().unwrap().to_string()
}

async fn token(lb: &crate::Loopback, sa: &str, spec: Value) -> (StatusCode, Value) {
    send(
        lb,
        Method::POST,
        &format!("{NS}/serviceaccounts/{sa}/token"),
        Some(
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}),
        ),
    )
    .await
}

#[tokio::test]
async fn issued_tokens_authenticate_until_their_account_goes() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let lb = server.loopback("system:admin", &["system:masters"], "test");
    let uid = service_account(&lb, "robot").await;
    grant_robot_reads(&server, &lb).await;

    let (code, tr) = token(&lb, "robot", json!({})).await;
    assert_eq!(code, StatusCode::CREATED, "{tr}");
    assert_eq!(tr["kind"], "TokenRequest");
    assert_eq!(tr["metadata"]["name"], "robot");
    assert_eq!(tr["metadata"]["namespace"], "default");
    assert_eq!(tr["spec"]["expirationSeconds"], 3600);
    assert_eq!(
        tr["spec"]["audiences"],
        json!(["https://kubernetes.default.svc.cluster.local", "rkube"])
    );
    assert!(tr["status"]["expirationTimestamp"].as_str().is_some());
    let jwt = tr["status"]["token"].as_str().unwrap().to_string();
    let claims = payload(&jwt);
    assert_eq!(claims["sub"], "system:serviceaccount:default:robot");
    assert_eq!(
        claims["iss"],
        "https://kubernetes.default.svc.cluster.local"
    );
    assert_eq!(
        claims["kubernetes.io"]["serviceaccount"],
        json!({"name": "robot", "uid": uid})
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );

    let (code, list) = as_bearer(&server, &jwt, &format!("{NS}/configmaps")).await;
    assert_eq!(code, StatusCode::OK, "{list}");
    let (code, status) = as_bearer(&server, "not-a-token", &format!("{NS}/configmaps")).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert_eq!(status["reason"], "Unauthorized");
    // Signed by someone else: refused.
    let mut forged = jwt.clone();
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    assert_eq!(
        as_bearer(&server, &forged, &format!("{NS}/configmaps"))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    // A token not yet used when its account is deleted is refused (the one in use may
    // still be cached for a few seconds, as upstream's).
    let (_, tr) = token(&lb, "robot", json!({"expirationSeconds": 600})).await;
    let unused = tr["status"]["token"].as_str().unwrap().to_string();
    let (code, _) = send(
        &lb,
        Method::DELETE,
        &format!("{NS}/serviceaccounts/robot"),
        None,
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        as_bearer(&server, &unused, &format!("{NS}/configmaps"))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    // So is one for a recreated account of the same name (another uid).
    service_account(&lb, "robot").await;
    assert_eq!(
        as_bearer(&server, &unused, &format!("{NS}/configmaps"))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn token_requests_are_checked_as_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let lb = server.loopback("system:admin", &["system:masters"], "test");

    let (code, s) = token(&lb, "nobody", json!({})).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(s["message"], "serviceaccounts \"nobody\" not found");

    service_account(&lb, "robot").await;
    let (code, s) = token(&lb, "robot", json!({"expirationSeconds": 60})).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        s["message"],
        "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"
    );
    let (code, s) = token(&lb, "robot", json!({"expirationSeconds": 5_000_000_000i64})).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(s["message"]
        .as_str()
        .unwrap()
        .ends_with("may not specify a duration larger than 2^32 seconds"));

    let (code, s) = send(
        &lb,
        Method::POST,
        &format!("{NS}/serviceaccounts/robot/token"),
        Some(
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "metadata": {"name": "other"}, "spec": {}}),
        ),
    )
    .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        s["message"],
        "TokenRequest.authentication.k8s.io \"robot\" is invalid: metadata.name: Invalid value: \"other\": must match the service account name if specified"
    );

    let (code, s) = token(
        &lb,
        "robot",
        json!({"boundObjectRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"}}),
    )
    .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(
        s["message"],
        "cannot bind token to object of type apps/v1, Kind=Deployment"
    );
}

#[tokio::test]
async fn pod_bound_tokens_name_the_pod_and_end_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let lb = server.loopback("system:admin", &["system:masters"], "test");
    service_account(&lb, "robot").await;
    grant_robot_reads(&server, &lb).await;
    let (code, pod) = send(
        &lb,
        Method::POST,
        &format!("{NS}/pods"),
        Some(
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"serviceAccountName": "robot", "containers": [{"name": "c", "image": "i"}]}}),
        ),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED, "{pod}");
    let pod_uid = pod["metadata"]["uid"].as_str().unwrap().to_string();
    let bound = |uid: &str| json!({"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": uid});

    let (code, s) = token(&lb, "robot", json!({"boundObjectRef": bound("wrong")})).await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert!(s["message"].as_str().unwrap().starts_with(
        "Operation cannot be fulfilled on Pod \"p\": the UID in the bound object reference (wrong)"
    ));
    service_account(&lb, "other").await;
    let (code, s) = token(&lb, "other", json!({"boundObjectRef": bound(&pod_uid)})).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(s["message"], "cannot bind token for serviceaccount \"other\" to pod running with different serviceaccount name.");

    // A kubelet's kube-api-access request: valid a year, stale after 3607 s.
    let (code, tr) = token(
        &lb,
        "robot",
        json!({"expirationSeconds": 3607, "boundObjectRef": bound(&pod_uid)}),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED, "{tr}");
    let jwt = tr["status"]["token"].as_str().unwrap().to_string();
    let claims = payload(&jwt);
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 365 * 24 * 3600);
    assert_eq!(
        claims["kubernetes.io"]["warnafter"].as_i64().unwrap() - iat,
        3607
    );
    assert_eq!(
        claims["kubernetes.io"]["pod"],
        json!({"name": "p", "uid": pod_uid})
    );
    assert_eq!(
        as_bearer(&server, &jwt, &format!("{NS}/pods")).await.0,
        StatusCode::OK
    );

    // Another pod-bound token, unused until its pod is gone.
    let (_, tr) = token(&lb, "robot", json!({"boundObjectRef": bound(&pod_uid)})).await;
    let unused = tr["status"]["token"].as_str().unwrap().to_string();
    let (code, _) = send(
        &lb,
        Method::DELETE,
        &format!("{NS}/pods/p?gracePeriodSeconds=0"),
        None,
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        as_bearer(&server, &unused, &format!("{NS}/pods")).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn admission_runs_pods_as_an_existing_account_with_its_token_mounted() {
    let dir = tempfile::tempdir().unwrap();
    let server = crate::testing::server_admitting(dir.path()).await;
    let lb = server.loopback("system:admin", &["system:masters"], "test");
    let pod = |name: &str, spec: Value| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec});
    let containers = json!([{"name": "c", "image": "i"}]);

    // No `default` account (no controller here): refused after upstream's retries.
    let started = std::time::Instant::now();
    let (code, s) = send(
        &lb,
        Method::POST,
        &format!("{NS}/pods"),
        Some(pod("p", json!({"containers": containers}))),
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{s}");
    assert_eq!(
        s["message"],
        "pods \"p\" is forbidden: error looking up service account default/default: serviceaccount \"default\" not found"
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));

    service_account(&lb, "default").await;
    let (code, p) = send(
        &lb,
        Method::POST,
        &format!("{NS}/pods"),
        Some(pod("p", json!({"containers": containers}))),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED, "{p}");
    assert_eq!(p["spec"]["serviceAccountName"], "default");
    assert_eq!(p["spec"]["serviceAccount"], "default");
    let vol = &p["spec"]["volumes"][0];
    assert!(vol["name"]
        .as_str()
        .unwrap()
        .starts_with("kube-api-access-"));
    assert_eq!(
        vol["projected"]["sources"][0],
        json!({"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}})
    );
    assert_eq!(
        p["spec"]["containers"][0]["volumeMounts"],
        json!([{"name": vol["name"], "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}])
    );
    // As upstream, managedFields are recorded before admission: what it added is nobody's.
    let owned = p["metadata"]["managedFields"][0]["fieldsV1"].to_string();
    assert!(owned.contains("f:containers"), "{owned}");
    for added in ["f:volumes", "f:volumeMounts", "f:serviceAccountName"] {
        assert!(!owned.contains(added), "{added} in {owned}");
    }

    // Automounting off on the pod, or on its account: no volume.
    let (_, p) = send(
        &lb,
        Method::POST,
        &format!("{NS}/pods"),
        Some(pod(
            "q",
            json!({"automountServiceAccountToken": false, "containers": containers}),
        )),
    )
    .await;
    assert!(p["spec"].get("volumes").is_none(), "{p}");
    let (code, _) = send(
        &lb,
        Method::POST,
        &format!("{NS}/serviceaccounts"),
        Some(json!({
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "quiet"},
        "automountServiceAccountToken": false})),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED);
    let (_, p) = send(
        &lb,
        Method::POST,
        &format!("{NS}/pods"),
        Some(pod(
            "r",
            json!({"serviceAccountName": "quiet", "containers": containers}),
        )),
    )
    .await;
    assert!(p["spec"].get("volumes").is_none(), "{p}");
    assert_eq!(p["spec"]["serviceAccountName"], "quiet");

    // Another missing account is refused at once.
    let (code, s) = send(
        &lb,
        Method::POST,
        &format!("{NS}/pods"),
        Some(pod(
            "s",
            json!({"serviceAccountName": "ghost", "containers": containers}),
        )),
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert!(s["message"]
        .as_str()
        .unwrap()
        .ends_with("serviceaccount \"ghost\" not found"));
}

#[tokio::test]
async fn issuer_discovery_lets_others_verify_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let lb = server.loopback("system:admin", &["system:masters"], "test");
    let (code, conf) = send(&lb, Method::GET, "/.well-known/openid-configuration", None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        conf["issuer"],
        "https://kubernetes.default.svc.cluster.local"
    );
    assert_eq!(conf["jwks_uri"], "https://127.0.0.1:6443/openid/v1/jwks");
    assert_eq!(
        conf["id_token_signing_alg_values_supported"],
        json!(["ES256"])
    );
    let (code, jwks) = send(&lb, Method::GET, "/openid/v1/jwks/", None).await;
    assert_eq!(code, StatusCode::OK);
    let key = &jwks["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str()),
        (Some("EC"), Some("P-256"))
    );

    service_account(&lb, "robot").await;
    let (_, tr) = token(&lb, "robot", json!({})).await;
    let jwt = tr["status"]["token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(header.kid.as_deref(), key["kid"].as_str());
    // A relying party with only the JWKS verifies the token.
    let decoding = jsonwebtoken::DecodingKey::from_ec_components(
        key["x"].as_str().unwrap(),
        key["y"].as_str().unwrap(),
    )
    .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_audience(&["rkube"]);
    let data = jsonwebtoken::decode::<Value>(jwt, &decoding, &v).unwrap();
    assert_eq!(data.claims["sub"], "system:serviceaccount:default:robot");
}
