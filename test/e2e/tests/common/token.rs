//! Acting as a bearer token instead of the admin certificate: a kubeconfig holding only the
//! token, and kubectl run with it.

use std::{
    path::{Path, PathBuf},
    process::Output,
};

use super::{kubectl_path, Cluster};

/// A kubeconfig for `c` that authenticates with `token` alone (namespace `default`), trusting
/// the CA in `ca_file`, or else the admin kubeconfig's.
pub fn kubeconfig(c: &Cluster, name: &str, token: &str, ca_file: Option<&Path>) -> PathBuf {
    let ca = match ca_file {
        Some(f) => format!("certificate-authority: {}", f.display()),
        None => {
            let data = c.kubectl(
                "1.33",
                &[
                    "config",
                    "view",
                    "--raw",
                    "-o",
                    "jsonpath={.clusters[0].cluster.certificate-authority-data}",
                ],
            );
            format!("certificate-authority-data: {data}")
        }
    };
    let path = c.dir.path().join(format!("{name}.kubeconfig"));
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:{port}\n    {ca}\nusers:\n- name: u\n  user:\n    token: {token}\ncontexts:\n- name: x\n  context: {{cluster: c, user: u, namespace: default}}\ncurrent-context: x\n",
        port = c.port,
        token = token.trim(),
    );
    std::fs::write(&path, yaml).unwrap();
    path
}

/// kubectl `version` with `kubeconfig`; its output whatever the exit status.
pub fn kubectl(kubeconfig: &Path, version: &str, args: &[&str]) -> Output {
    std::process::Command::new(kubectl_path(version))
        .env("KUBECONFIG", kubeconfig)
        .args(["--request-timeout", "30s"])
        .args(args)
        .output()
        .unwrap()
}

/// `kubectl auth whoami -o json` with `kubeconfig`: the userInfo the server sees.
pub fn whoami(kubeconfig: &Path, version: &str) -> serde_json::Value {
    let out = kubectl(kubeconfig, version, &["auth", "whoami", "-o", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let review: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    review["status"]["userInfo"].clone()
}
