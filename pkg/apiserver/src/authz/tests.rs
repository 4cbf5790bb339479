//! Authorization end to end through the router: requests refused and allowed as RBAC objects
//! are written, upstream's 403 wording, access reviews and impersonation.

use std::time::{Duration, Instant};

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::{
    testing::{send, server},
    Loopback,
};

const RBAC: &str = "/apis/rbac.authorization.k8s.io/v1";

async fn create(admin: &Loopback, uri: &str, body: Value) {
    let (code, v) = send(admin, Method::POST, uri, Some(body)).await;
    assert_eq!(code, StatusCode::CREATED, "{uri}: {v}");
}

/// Sends the request as `lb` until its answer is `done` (the policy follows writes a little
/// behind); that answer.
async fn until_sent(
    lb: &Loopback,
    method: Method,
    uri: &str,
    body: Option<Value>,
    done: impl Fn(StatusCode, &Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, v) = send(lb, method.clone(), uri, body.clone()).await;
        if done(code, &v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{method} {uri}: {code} {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `uri` as `lb` until it answers `want`.
async fn until(lb: &Loopback, uri: &str, want: StatusCode) -> Value {
    until_sent(lb, Method::GET, uri, None, |code, _| code == want).await
}

/// Posts `body` as `lb` until it is created.
async fn until_created(lb: &Loopback, uri: &str, body: Value) {
    until_sent(lb, Method::POST, uri, Some(body), |code, _| {
        code == StatusCode::CREATED
    })
    .await;
}

/// A server with namespace `team`, its administrator (system:masters) and `jane` (no
/// bindings), both authorized as remote clients.
async fn team() -> (tempfile::TempDir, crate::ApiServer, Loopback, Loopback) {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let admin = server.loopback_authorized("system:admin", &["system:masters"], "test");
    let jane = server.loopback_authorized("jane", &[], "test");
    create(
        &admin,
        "/api/v1/namespaces",
        json!({"metadata": {"name": "team"}}),
    )
    .await;
    (dir, server, admin, jane)
}

#[tokio::test]
async fn rbac_decides_what_each_user_may_do() {
    let (_dir, server, admin, jane) = team().await;

    // Nothing bound: refused in upstream's words (also for a resource nobody serves).
    let (code, s) = send(&jane, Method::GET, "/api/v1/namespaces/team/pods", None).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert_eq!(
        s["message"],
        "pods is forbidden: User \"jane\" cannot list resource \"pods\" in API group \"\" in the namespace \"team\""
    );
    assert_eq!(s["reason"], "Forbidden");
    assert_eq!(s["details"], json!({"kind": "pods"}));
    let (code, s) = send(
        &jane,
        Method::GET,
        "/apis/apps/v1/namespaces/team/deployments/web",
        None,
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert_eq!(
        s["message"],
        "deployments.apps \"web\" is forbidden: User \"jane\" cannot get resource \"deployments\" in API group \"apps\" in the namespace \"team\""
    );
    let (code, _) = send(&jane, Method::GET, "/apis/example.com/v1/widgets", None).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, s) = send(&jane, Method::GET, "/metrics", None).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert_eq!(
        s["message"],
        "forbidden: User \"jane\" cannot get path \"/metrics\""
    );
    // Discovery is everyone's (the bootstrap policy's system:discovery).
    for path in ["/api", "/apis", "/api/v1", "/openapi/v2"] {
        let (code, _) = send(&jane, Method::GET, path, None).await;
        assert_eq!(code, StatusCode::OK, "{path}");
    }
    // The server's own components are not asked.
    let trusted = server.loopback("jane", &[], "test");
    let (code, _) = send(&trusted, Method::GET, "/api/v1/namespaces/team/pods", None).await;
    assert_eq!(code, StatusCode::OK);

    // A Role bound in `team` lets her read pods there, and nothing else.
    create(
        &admin,
        &format!("{RBAC}/namespaces/team/roles"),
        json!({"metadata": {"name": "reader"}, "rules": [
            {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "watch"]},
        ]}),
    )
    .await;
    create(
        &admin,
        &format!("{RBAC}/namespaces/team/rolebindings"),
        json!({"metadata": {"name": "jane-reads"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
            "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane"}]}),
    )
    .await;
    until(&jane, "/api/v1/namespaces/team/pods", StatusCode::OK).await;
    let (code, _) = send(
        &jane,
        Method::GET,
        "/api/v1/namespaces/team/configmaps",
        None,
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, _) = send(&jane, Method::GET, "/api/v1/namespaces/default/pods", None).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, _) = send(&jane, Method::GET, "/api/v1/pods", None).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, s) = send(
        &jane,
        Method::DELETE,
        "/api/v1/namespaces/team/pods/p",
        None,
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{s}");

    // Access reviews ask the same authorizer.
    let review = |verb: &str, resource: &str| {
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"namespace": "team", "verb": verb, "resource": resource}}})
    };
    let ssar = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    // Everyone may ask about themselves (the bootstrap policy's system:basic-user).
    let (_, r) = send(&jane, Method::POST, ssar, Some(review("list", "pods"))).await;
    assert_eq!(
        r["status"],
        json!({"allowed": true, "reason": "RBAC: allowed by RoleBinding \"jane-reads/team\" of Role \"reader\" to User \"jane\""})
    );
    let (_, r) = send(&jane, Method::POST, ssar, Some(review("create", "pods"))).await;
    assert_eq!(r["status"], json!({"allowed": false}));
    let sar = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": "jane", "resourceAttributes": {"namespace": "team", "verb": "get", "resource": "pods", "subresource": "log"}}});
    let (_, r) = send(
        &admin,
        Method::POST,
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        Some(sar),
    )
    .await;
    assert_eq!(r["status"]["allowed"], true, "{r}");
    let ssrr = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": {"namespace": "team"}});
    let (_, r) = send(
        &trusted,
        Method::POST,
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
        Some(ssrr),
    )
    .await;
    assert!(
        r["status"]["resourceRules"]
            .as_array()
            .unwrap()
            .contains(&json!({"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods", "pods/log"]})),
        "{r}"
    );
    assert_eq!(r["status"]["incomplete"], false);

    // A binding to a role that does not exist says so in the refusal.
    create(
        &admin,
        &format!("{RBAC}/namespaces/team/rolebindings"),
        json!({"metadata": {"name": "dangling"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "ghost"},
            "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane"}]}),
    )
    .await;
    let s = until_sent(
        &jane,
        Method::GET,
        "/api/v1/namespaces/team/secrets",
        None,
        |_, s| {
            s["message"]
                .as_str()
                .is_some_and(|m| m.ends_with("not found"))
        },
    )
    .await;
    assert_eq!(
        s["message"],
        "secrets is forbidden: User \"jane\" cannot list resource \"secrets\" in API group \"\" in the namespace \"team\": RBAC: role.rbac.authorization.k8s.io \"ghost\" not found"
    );

    // Deleting the binding takes the permission away again.
    let (code, _) = send(
        &admin,
        Method::DELETE,
        &format!("{RBAC}/namespaces/team/rolebindings/jane-reads"),
        None,
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    until(&jane, "/api/v1/namespaces/team/pods", StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn cluster_roles_bind_cluster_wide_or_in_one_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let admin = server.loopback_authorized("system:admin", &["system:masters"], "test");
    let bot = server.loopback_authorized(
        "system:serviceaccount:team:bot",
        &["system:serviceaccounts", "system:serviceaccounts:team"],
        "test",
    );
    let ops = server.loopback_authorized("olga", &["ops"], "test");
    create(
        &admin,
        "/api/v1/namespaces",
        json!({"metadata": {"name": "team"}}),
    )
    .await;
    create(
        &admin,
        &format!("{RBAC}/clusterroles"),
        json!({"metadata": {"name": "cm-reader"}, "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"], "resourceNames": []},
            {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
        ]}),
    )
    .await;
    // A RoleBinding of a ClusterRole: only in its namespace; an account named without its
    // namespace is the binding's.
    create(
        &admin,
        &format!("{RBAC}/namespaces/team/rolebindings"),
        json!({"metadata": {"name": "bot-reads"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cm-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "bot"}]}),
    )
    .await;
    until(&bot, "/api/v1/namespaces/team/configmaps", StatusCode::OK).await;
    let (code, _) = send(
        &bot,
        Method::GET,
        "/api/v1/namespaces/default/configmaps",
        None,
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    // Non-resource rules count only from cluster-wide bindings.
    let (code, _) = send(&bot, Method::GET, "/metrics", None).await;
    assert_eq!(code, StatusCode::FORBIDDEN);

    // A ClusterRoleBinding to a group: every namespace, and the path.
    create(
        &admin,
        &format!("{RBAC}/clusterrolebindings"),
        json!({"metadata": {"name": "ops-reads"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cm-reader"},
            "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "ops"}]}),
    )
    .await;
    until(&ops, "/api/v1/configmaps", StatusCode::OK).await;
    until(
        &ops,
        "/api/v1/namespaces/default/configmaps/kube-root-ca.crt",
        StatusCode::NOT_FOUND,
    )
    .await;
    until(&ops, "/metrics", StatusCode::OK).await;
    let (code, _) = send(&ops, Method::GET, "/api/v1/namespaces/team/secrets", None).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn impersonation_needs_the_impersonate_verb() {
    let (_dir, _server, admin, jane) = team().await;
    let as_bob = |lb: &Loopback| {
        let req = Request::get("/api/v1/namespaces/default/configmaps")
            .header("Impersonate-User", "bob")
            .body(Body::empty())
            .unwrap();
        let lb = lb.clone();
        async move {
            let resp = lb.oneshot(req).await.unwrap();
            let code = resp.status();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            (
                code,
                serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null),
            )
        }
    };
    let (code, s) = as_bob(&jane).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert_eq!(
        s["message"],
        "users \"bob\" is forbidden: User \"jane\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
    );
    create(
        &admin,
        &format!("{RBAC}/clusterroles"),
        json!({"metadata": {"name": "bob-impersonator"}, "rules": [
            {"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"], "resourceNames": ["bob"]},
        ]}),
    )
    .await;
    create(
        &admin,
        &format!("{RBAC}/clusterrolebindings"),
        json!({"metadata": {"name": "jane-as-bob"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "bob-impersonator"},
            "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane"}]}),
    )
    .await;
    // Now she is bob, who may not list configmaps.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, s) = as_bob(&jane).await;
        if s["message"]
            .as_str()
            .is_some_and(|m| m.contains("User \"bob\""))
        {
            assert_eq!(code, StatusCode::FORBIDDEN);
            break;
        }
        assert!(Instant::now() < deadline, "{s}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // An administrator may impersonate anyone.
    let (code, s) = as_bob(&admin).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert!(
        s["message"].as_str().unwrap().contains("User \"bob\""),
        "{s}"
    );
}

#[tokio::test]
async fn no_one_grants_more_than_they_hold() {
    let (_dir, _server, admin, jane) = team().await;
    let roles = format!("{RBAC}/namespaces/team/roles");
    let bindings = format!("{RBAC}/namespaces/team/rolebindings");
    let bind_jane = |name: &str, kind: &str, role: &str| {
        json!({"metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
            "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane"}]})
    };
    create(
        &admin,
        &roles,
        json!({"metadata": {"name": "manager"}, "rules": [
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"], "verbs": ["create", "get", "update"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
        ]}),
    )
    .await;
    create(
        &admin,
        &bindings,
        bind_jane("jane-manages", "Role", "manager"),
    )
    .await;
    until(&jane, "/api/v1/namespaces/team/pods", StatusCode::OK).await;

    // A Role within what she holds: fine; beyond it: refused in upstream's words.
    let role = |name: &str, resource: &str| {
        json!({"metadata": {"name": name}, "rules": [
            {"apiGroups": [""], "resources": [resource], "verbs": ["get", "list"]}]})
    };
    let (code, v) = send(
        &jane,
        Method::POST,
        &roles,
        Some(role("pod-reader", "pods")),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED, "{v}");
    let (code, s) = send(
        &jane,
        Method::POST,
        &roles,
        Some(role("secret-reader", "secrets")),
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert_eq!(
        s["message"],
        "roles.rbac.authorization.k8s.io \"secret-reader\" is forbidden: user \"jane\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"list\"]}"
    );
    // Nor by updating a Role she may update.
    let mut widened = role("pod-reader", "pods");
    widened["rules"][0]["resources"] = json!(["pods", "secrets"]);
    let (code, _) = send(
        &jane,
        Method::PUT,
        &format!("{roles}/pod-reader"),
        Some(widened.clone()),
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN);

    // Binding: a role she holds, yes; cluster-admin, no (its rules are not hers).
    // (The role is read from the policy, which follows writes a little behind.)
    until_created(&jane, &bindings, bind_jane("again", "Role", "pod-reader")).await;
    let (code, s) = send(
        &jane,
        Method::POST,
        &bindings,
        Some(bind_jane("root", "ClusterRole", "cluster-admin")),
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert!(
        s["message"].as_str().unwrap().starts_with(
            "rolebindings.rbac.authorization.k8s.io \"root\" is forbidden: user \"jane\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n"
        ),
        "{s}"
    );
    let (code, s) = send(
        &jane,
        Method::POST,
        &bindings,
        Some(bind_jane("ghost", "Role", "ghost")),
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert_eq!(
        s["message"],
        "rolebindings.rbac.authorization.k8s.io \"ghost\" is forbidden: role.rbac.authorization.k8s.io \"ghost\" not found"
    );

    // `bind` on cluster-admin and `escalate` on roles lift the checks.
    create(
        &admin,
        &roles,
        json!({"metadata": {"name": "lifter"}, "rules": [
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"], "resourceNames": ["cluster-admin"]},
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["escalate"]},
        ]}),
    )
    .await;
    create(&admin, &bindings, bind_jane("jane-lifts", "Role", "lifter")).await;
    until_created(&jane, &roles, role("secret-reader", "secrets")).await;
    let (code, v) = send(
        &jane,
        Method::POST,
        &bindings,
        Some(bind_jane("root", "ClusterRole", "cluster-admin")),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED, "{v}");
}
