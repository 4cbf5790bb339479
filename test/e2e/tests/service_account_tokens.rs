//! ServiceAccount tokens with real kubectl: `kubectl create token` issues one, and a kubeconfig
//! holding only that token (no client certificate) is let in as the ServiceAccount; a bad
//! token, or a token of a deleted ServiceAccount, is refused as upstream refuses it.

mod common;

use std::path::{Path, PathBuf};

use common::Cluster;

/// A kubeconfig for the cluster that authenticates with `token` alone.
fn token_kubeconfig(c: &Cluster, name: &str, token: &str) -> PathBuf {
    let ca = c.kubectl(
        "1.33",
        &[
            "config",
            "view",
            "--raw",
            "-o",
            "jsonpath={.clusters[0].cluster.certificate-authority-data}",
        ],
    );
    let path = c.dir.path().join(format!("{name}.kubeconfig"));
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:{port}\n    certificate-authority-data: {ca}\nusers:\n- name: u\n  user:\n    token: {token}\ncontexts:\n- name: x\n  context: {{cluster: c, user: u, namespace: default}}\ncurrent-context: x\n",
        port = c.port
    );
    std::fs::write(&path, yaml).unwrap();
    path
}

fn kubectl_as(kubeconfig: &Path, version: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(common::kubectl_path(version))
        .env("KUBECONFIG", kubeconfig)
        .args(["--request-timeout", "30s"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn kubectl_create_token_gives_a_working_credential() {
    let c = Cluster::start();
    c.kubectl("1.33", &["create", "serviceaccount", "robot"]);
    for v in ["1.27", "1.33"] {
        let token = c
            .kubectl(v, &["create", "token", "robot"])
            .trim()
            .to_string();
        assert_eq!(token.split('.').count(), 3, "not a JWT: {token}");
        let kc = token_kubeconfig(&c, &format!("robot-{v}"), &token);
        let out = kubectl_as(&kc, v, &["get", "configmaps", "-o", "name"]);
        assert!(
            out.status.success(),
            "kubectl {v} with the token: {}",
            String::from_utf8_lossy(&out.stderr)
        );
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
    let bad = token_kubeconfig(&c, "bad", "not-a-token");
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
    let kc = token_kubeconfig(&c, "deleted", &token);
    assert!(kubectl_as(&kc, "1.33", &["get", "configmaps"])
        .status
        .success());
    c.kubectl("1.33", &["delete", "serviceaccount", "robot"]);
    common::eventually(30, "the deleted account's token refused", || {
        let out = kubectl_as(&kc, "1.33", &["get", "configmaps"]);
        (!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("Unauthorized"))
            .then_some(())
    });
}
