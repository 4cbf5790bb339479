//! Kubeconfig files with embedded (base64) credentials, so one file is all
//! kubectl or an agent needs.

use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::files::write_atomic;
use crate::Result;

/// The context name [`render`] uses; kubectl picks it via `current-context`.
pub const CONTEXT: &str = "default";

/// The subset of kubectl's `Config` that rkube writes and reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Kubeconfig {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    pub clusters: Vec<NamedCluster>,
    pub contexts: Vec<NamedContext>,
    pub current_context: String,
    pub users: Vec<NamedUser>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedCluster {
    pub name: String,
    pub cluster: Cluster,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Cluster {
    pub server: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_authority_data: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedContext {
    pub name: String,
    pub context: Context,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    pub cluster: String,
    pub user: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedUser {
    pub name: String,
    pub user: User,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct User {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key_data: Option<String>,
}

/// A kubeconfig for `user` on `cluster_name` at `server_url`, with the CA
/// and client credentials embedded base64 and one context, "default",
/// selected.
pub fn render(
    server_url: &str,
    ca_pem: &str,
    client_cert_pem: &str,
    client_key_pem: &str,
    cluster_name: &str,
    user: &str,
) -> String {
    let cfg = Kubeconfig {
        api_version: "v1".into(),
        kind: "Config".into(),
        clusters: vec![NamedCluster {
            name: cluster_name.into(),
            cluster: Cluster {
                server: server_url.into(),
                certificate_authority_data: Some(B64.encode(ca_pem)),
            },
        }],
        contexts: vec![NamedContext {
            name: CONTEXT.into(),
            context: Context {
                cluster: cluster_name.into(),
                user: user.into(),
            },
        }],
        current_context: CONTEXT.into(),
        users: vec![NamedUser {
            name: user.into(),
            user: User {
                client_certificate_data: Some(B64.encode(client_cert_pem)),
                client_key_data: Some(B64.encode(client_key_pem)),
            },
        }],
    };
    // Plain strings and vectors: serialization cannot fail.
    serde_yaml::to_string(&cfg).expect("kubeconfig serializes")
}

/// Writes `contents` to `path` atomically with exactly `mode` (it holds a
/// private key, so usually 0600), creating parent directories.
pub fn write(path: &Path, contents: &str, mode: u32) -> Result<()> {
    write_atomic(path, contents.as_bytes(), mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn renders_parseable_config() {
        let y = render(
            "https://127.0.0.1:6443",
            "CA PEM",
            "CERT PEM",
            "KEY PEM",
            "default",
            "admin",
        );
        let cfg: Kubeconfig = serde_yaml::from_str(&y).unwrap();
        assert_eq!(cfg.api_version, "v1");
        assert_eq!(cfg.kind, "Config");
        assert_eq!(cfg.current_context, "default");
        assert_eq!(cfg.contexts[0].context.user, "admin");
        assert_eq!(cfg.clusters[0].cluster.server, "https://127.0.0.1:6443");
        let dec = |s: &Option<String>| B64.decode(s.as_deref().unwrap()).unwrap();
        assert_eq!(
            dec(&cfg.clusters[0].cluster.certificate_authority_data),
            b"CA PEM"
        );
        assert_eq!(dec(&cfg.users[0].user.client_certificate_data), b"CERT PEM");
        assert_eq!(dec(&cfg.users[0].user.client_key_data), b"KEY PEM");

        // The literal field names kubectl expects.
        let v: serde_yaml::Value = serde_yaml::from_str(&y).unwrap();
        assert!(v["clusters"][0]["cluster"]["certificate-authority-data"].is_string());
        assert!(v["users"][0]["user"]["client-key-data"].is_string());
        assert_eq!(v["current-context"].as_str(), Some("default"));

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("etc/rkube/rkube.yaml");
        write(&p, &y, 0o600).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), y);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
