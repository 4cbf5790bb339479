//! `kubectl create token`, `auth whoami` and `auth can-i` with real kubectl: a token issued
//! for a ServiceAccount is a working credential on its own (no client certificate), a bad
//! token or one of a deleted ServiceAccount is refused as upstream refuses it, and the reviews
//! answer as a 1.33 API server with RBAC does.

mod common;

use common::{
    token::{kubeconfig, kubectl as kubectl_as},
    Cluster,
};

#[test]
fn kubectl_create_token_gives_a_working_credential() {
    let c = Cluster::start();
    c.kubectl("1.33", &["create", "serviceaccount", "robot"]);
    // What it may read: upstream's `view` (its rules aggregated by the controller).
    c.kubectl(
        "1.33",
        &[
            "create",
            "rolebinding",
            "robot-view",
            "--clusterrole=view",
            "--serviceaccount=default:robot",
        ],
    );
    for v in ["1.27", "1.33"] {
        let token = c
            .kubectl(v, &["create", "token", "robot"])
            .trim()
            .to_string();
        assert_eq!(token.split('.').count(), 3, "not a JWT: {token}");
        let kc = kubeconfig(&c, &format!("robot-{v}"), &token, None);
        let out = common::eventually(30, "the token reads ConfigMaps", || {
            let out = kubectl_as(&kc, v, &["get", "configmaps", "-o", "name"]);
            out.status.success().then_some(out)
        });
        assert!(String::from_utf8_lossy(&out.stdout).contains("configmap/kube-root-ca.crt"));

        let err = c.kubectl_err(v, &["create", "token", "robot", "--duration", "1m"]);
        assert!(
            err.contains("TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"),
            "{err}"
        );
        let err = c.kubectl_err(v, &["create", "token", "nobody"]);
        assert!(
            err.contains("serviceaccounts \"nobody\" not found"),
            "{err}"
        );
    }

    // A made-up token: 401, which kubectl reports as upstream's.
    let bad = kubeconfig(&c, "bad", "not-a-token", None);
    let out = kubectl_as(&bad, "1.33", &["get", "configmaps"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error: You must be logged in to the server (Unauthorized)"),
        "{err}"
    );

    // A token whose ServiceAccount is deleted stops working (once it leaves the few-second
    // cache of verdicts: polled).
    let token = c
        .kubectl("1.33", &["create", "token", "robot", "--duration", "20m"])
        .trim()
        .to_string();
    let kc = kubeconfig(&c, "deleted", &token, None);
    let out = kubectl_as(&kc, "1.33", &["get", "configmaps"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    c.kubectl("1.33", &["delete", "serviceaccount", "robot"]);
    common::eventually(30, "the deleted account's token refused", || {
        let out = kubectl_as(&kc, "1.33", &["get", "configmaps"]);
        (!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("Unauthorized"))
            .then_some(())
    });
}

#[test]
fn kubectl_auth_whoami_and_can_i() {
    let c = Cluster::start();
    let v = "1.33";
    let me = c.kubectl(v, &["auth", "whoami"]);
    assert!(
        me.lines()
            .any(|l| l.split_whitespace().eq(["Username", "system:admin"])),
        "{me}"
    );
    assert!(me.contains("[system:masters system:authenticated]"), "{me}");

    c.kubectl(v, &["create", "serviceaccount", "robot"]);
    let token = c
        .kubectl(v, &["create", "token", "robot"])
        .trim()
        .to_string();
    let kc = kubeconfig(&c, "robot", &token, None);
    let user = &common::token::whoami(&kc, v);
    assert_eq!(user["username"], "system:serviceaccount:default:robot");
    assert_eq!(
        user["groups"],
        serde_json::json!([
            "system:serviceaccounts",
            "system:serviceaccounts:default",
            "system:authenticated"
        ])
    );
    assert_eq!(
        user["uid"],
        c.kubectl(v, &["get", "sa", "robot", "-o", "jsonpath={.metadata.uid}"])
    );

    // Impersonation (--as, --as-group) replaces who the request is from.
    let jane = c.kubectl(
        v,
        &[
            "auth",
            "whoami",
            "--as",
            "jane",
            "--as-group",
            "dev",
            "-o",
            "json",
        ],
    );
    let jane: serde_json::Value = serde_json::from_str(&jane).unwrap();
    assert_eq!(jane["status"]["userInfo"]["username"], "jane");
    assert_eq!(
        jane["status"]["userInfo"]["groups"],
        serde_json::json!(["dev", "system:authenticated"])
    );
    let err = c.kubectl_err(v, &["get", "pods", "--as-group", "dev"]);
    assert!(
        err.contains("without impersonating a user") || err.contains("--as"),
        "{err}"
    );

    // kubectl 1.27 asks for v1beta1 / v1alpha1, which a 1.33 server no longer serves.
    let err = c.kubectl_err("1.27", &["auth", "whoami"]);
    assert!(
        err.contains("the selfsubjectreviews API is not enabled in the cluster"),
        "{err}"
    );

    for v in ["1.27", "1.33"] {
        assert_eq!(c.kubectl(v, &["auth", "can-i", "create", "pods"]), "yes\n");
        assert_eq!(c.kubectl(v, &["auth", "can-i", "get", "/healthz"]), "yes\n");
        let out = kubectl_as(
            &kc,
            v,
            &[
                "auth",
                "can-i",
                "delete",
                "deployments.apps",
                "-n",
                "kube-system",
            ],
        );
        // RBAC: the account may not (kubectl says no and exits 1).
        assert!(!out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "no\n");
        // Resource names are checked against discovery, as upstream.
        let out = c.kubectl_raw(v, &["auth", "can-i", "get", "gizmos"]);
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("Warning: the server doesn't have a resource type 'gizmos'"),
            "{out:?}"
        );
        let list = c.kubectl(v, &["auth", "can-i", "--list"]);
        let mut lines = list.lines();
        assert!(
            lines.next().unwrap().split_whitespace().eq([
                "Resources",
                "Non-Resource",
                "URLs",
                "Resource",
                "Names",
                "Verbs"
            ]),
            "{list}"
        );
        assert!(
            list.lines()
                .any(|l| l.split_whitespace().eq(["*.*", "[]", "[]", "[*]"])),
            "{list}"
        );
        assert!(
            list.lines()
                .any(|l| l.split_whitespace().eq(["[*]", "[]", "[*]"])),
            "{list}"
        );
    }
}
