//! Joining a cluster with a k3s-format token (`K10<sha256 of the CA bundle>::<user>:<secret>`):
//!
//! 1. `GET /cacerts` without trusting anything yet; the bundle's sha256 must equal the token's
//!    pin (else nothing is written and the join is refused);
//! 2. `POST /v1-rkube/node-certs`, now trusting only that CA, with basic auth
//!    `node:<secret>` and `{"nodeName", "nodeIP"}`: the node's client and serving
//!    certificates plus the cluster settings (a wrong secret: 401, nothing issued);
//! 3. the credentials go to `<data-dir>/agent/` and are reused on restart while the CA, node
//!    name and node IP are unchanged.

use std::{net::IpAddr, path::PathBuf};

use base64::Engine as _;
use hyper::{Method, StatusCode};
use rkube_pki::token;
use serde::{Deserialize, Serialize};
use tracing::info;

use super::files::{self, JoinRecord};
use super::https::{self, ServerUrl, Trust};
use super::{ClusterSettings, NodeIdentity};

pub const CACERTS_PATH: &str = "/cacerts";
pub const NODE_CERTS_PATH: &str = "/v1-rkube/node-certs";

#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("--server: {0}")]
    ServerUrl(String),
    #[error("--token: {0}")]
    Token(rkube_pki::Error),
    #[error("fetching the cluster CA from {url}{CACERTS_PATH}: {msg}")]
    FetchCa { url: String, msg: String },
    #[error(
        "the CA bundle served by {url} does not match the token's CA hash (got sha256 {got}, the token pins {want}): refusing to join"
    )]
    CaMismatch {
        url: String,
        got: String,
        want: String,
    },
    #[error("{url} refused the token's secret (401 Unauthorized): check --token")]
    Unauthorized { url: String },
    #[error("requesting node certificates from {url}{NODE_CERTS_PATH}: {msg}")]
    Certs { url: String, msg: String },
    #[error("node credentials in {}: {source}", .dir.display())]
    Files {
        dir: PathBuf,
        source: rkube_pki::Error,
    },
}

/// Who joins where.
#[derive(Clone)]
pub struct JoinRequest {
    /// `https://host:port` of a server.
    pub server_url: String,
    pub token: String,
    pub node_name: String,
    pub node_ip: IpAddr,
    /// `<data-dir>/agent`: the credentials are stored here.
    pub agent_dir: PathBuf,
}

impl std::fmt::Debug for JoinRequest {
    /// The token is a credential.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinRequest")
            .field("server_url", &self.server_url)
            .field("node_name", &self.node_name)
            .field("node_ip", &self.node_ip)
            .field("agent_dir", &self.agent_dir)
            .finish_non_exhaustive()
    }
}

/// A joined node's identity and the cluster settings it received.
#[derive(Debug, Clone)]
pub struct Joined {
    pub identity: NodeIdentity,
    pub cluster: ClusterSettings,
    /// Stored credentials were reused (no new certificates issued).
    pub reused: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeCertsRequest<'a> {
    node_name: &'a str,
    #[serde(rename = "nodeIP")]
    node_ip: IpAddr,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeCertsResponse {
    ca_cert: String,
    client_cert: String,
    client_key: String,
    serving_cert: String,
    serving_key: String,
    #[serde(flatten)]
    cluster: ClusterSettings,
}

/// Checks the CA bundle against the token's pin (a short token pins nothing).
pub fn verify_ca(url: &str, tok: &token::JoinToken, ca_pem: &str) -> Result<(), JoinError> {
    if tok.matches_ca(ca_pem) {
        return Ok(());
    }
    Err(JoinError::CaMismatch {
        url: url.to_string(),
        got: token::ca_hash(ca_pem),
        want: tok.ca_hash.clone().unwrap_or_default(),
    })
}

/// Joins (or rejoins with stored credentials); see the module docs.
pub async fn join(req: &JoinRequest) -> Result<Joined, JoinError> {
    let url = req.server_url.trim_end_matches('/').to_string();
    let server = ServerUrl::parse(&url).map_err(JoinError::ServerUrl)?;
    let tok = token::parse(&req.token).map_err(JoinError::Token)?;

    let (status, body) = https::request(
        &server,
        Trust::Unverified,
        Method::GET,
        CACERTS_PATH,
        None,
        None,
    )
    .await
    .map_err(|msg| JoinError::FetchCa {
        url: url.clone(),
        msg,
    })?;
    if status != StatusCode::OK {
        return Err(JoinError::FetchCa {
            url,
            msg: format!("HTTP {status}"),
        });
    }
    let ca_pem = String::from_utf8(body.to_vec()).map_err(|_| JoinError::FetchCa {
        url: url.clone(),
        msg: "the answer is not text".into(),
    })?;
    verify_ca(&url, &tok, &ca_pem)?;
    let ca_hash = token::ca_hash(&ca_pem);

    let files_err = |source| JoinError::Files {
        dir: req.agent_dir.clone(),
        source,
    };
    if let Some((identity, record)) = files::load(&req.agent_dir, &url).map_err(files_err)? {
        if record.ca_hash == ca_hash
            && record.node_name == req.node_name
            && record.node_ip == req.node_ip
            && identity.ca_pem == ca_pem
        {
            info!(dir = %req.agent_dir.display(), "reusing the stored node credentials");
            return Ok(Joined {
                identity,
                cluster: record.cluster,
                reused: true,
            });
        }
    }

    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            token::DEFAULT_USERNAME,
            tok.password
        ))
    );
    let body = serde_json::to_vec(&NodeCertsRequest {
        node_name: &req.node_name,
        node_ip: req.node_ip,
    })
    .expect("a plain struct serializes");
    let certs_err = |msg: String| JoinError::Certs {
        url: url.clone(),
        msg,
    };
    let (status, body) = https::request(
        &server,
        Trust::Ca(&ca_pem),
        Method::POST,
        NODE_CERTS_PATH,
        Some(&auth),
        Some(body),
    )
    .await
    .map_err(certs_err)?;
    if status == StatusCode::UNAUTHORIZED {
        return Err(JoinError::Unauthorized { url });
    }
    if status != StatusCode::OK {
        return Err(certs_err(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body)
        )));
    }
    let resp: NodeCertsResponse =
        serde_json::from_slice(&body).map_err(|e| certs_err(format!("decoding: {e}")))?;
    if resp.ca_cert != ca_pem {
        return Err(certs_err("the CA changed while joining".into()));
    }
    let identity = NodeIdentity {
        server_url: url.clone(),
        ca_pem: resp.ca_cert,
        client_cert_pem: resp.client_cert,
        client_key_pem: resp.client_key,
        serving_cert_pem: resp.serving_cert,
        serving_key_pem: resp.serving_key,
    };
    let record = JoinRecord {
        ca_hash,
        node_name: req.node_name.clone(),
        node_ip: req.node_ip,
        cluster: resp.cluster.clone(),
    };
    files::save(&req.agent_dir, &identity, &record).map_err(files_err)?;
    info!(node = %req.node_name, server = %url, "joined the cluster");
    Ok(Joined {
        identity,
        cluster: resp.cluster,
        reused: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    #[test]
    fn ca_pin() {
        let good = token::parse(&format!("K10{}::server:pw", token::ca_hash(CA))).unwrap();
        verify_ca("https://s:1", &good, CA).unwrap();
        let other = token::parse(&format!("K10{}::server:pw", "ab".repeat(32))).unwrap();
        let err = verify_ca("https://s:1", &other, CA).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("does not match the token's CA hash"), "{msg}");
        assert!(msg.contains(&token::ca_hash(CA)), "{msg}");
        assert!(msg.contains(&"ab".repeat(32)), "{msg}");
        // A short token pins nothing.
        verify_ca("https://s:1", &token::parse("pw").unwrap(), CA).unwrap();
    }

    #[test]
    fn wire_format() {
        let body = serde_json::to_value(NodeCertsRequest {
            node_name: "n1",
            node_ip: "127.0.0.1".parse().unwrap(),
        })
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"nodeName": "n1", "nodeIP": "127.0.0.1"})
        );
        let resp: NodeCertsResponse = serde_json::from_value(serde_json::json!({
            "caCert": "ca", "clientCert": "cc", "clientKey": "ck", "servingCert": "sc",
            "servingKey": "sk", "clusterCIDR": "10.42.0.0/16", "clusterDNS": "10.43.0.10",
            "clusterDomain": "cluster.local"
        }))
        .unwrap();
        assert_eq!(resp.cluster.cluster_cidr, "10.42.0.0/16");
        assert_eq!(resp.serving_key, "sk");
    }

    #[test]
    fn files_round_trip_with_key_modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let agent = dir.path().join("agent");
        assert!(files::load(&agent, "https://s:1").unwrap().is_none());
        let id = NodeIdentity {
            server_url: "https://s:1".into(),
            ca_pem: CA.into(),
            client_cert_pem: "cc".into(),
            client_key_pem: "ck".into(),
            serving_cert_pem: "sc".into(),
            serving_key_pem: "sk".into(),
        };
        let record = JoinRecord {
            ca_hash: token::ca_hash(CA),
            node_name: "n1".into(),
            node_ip: "127.0.0.1".parse().unwrap(),
            cluster: ClusterSettings {
                cluster_cidr: "10.42.0.0/16".into(),
                cluster_dns: "10.43.0.10".parse().unwrap(),
                cluster_domain: "cluster.local".into(),
            },
        };
        files::save(&agent, &id, &record).unwrap();
        for f in [
            files::CLIENT_KEY_FILE,
            files::SERVING_KEY_FILE,
            files::KUBECONFIG_FILE,
        ] {
            let mode = std::fs::metadata(agent.join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
        let (loaded, rec) = files::load(&agent, "https://s:2").unwrap().unwrap();
        assert_eq!(rec, record);
        assert_eq!(loaded.client_key_pem, "ck");
        assert_eq!(loaded.server_url, "https://s:2");
        std::fs::remove_file(agent.join(files::SERVING_KEY_FILE)).unwrap();
        assert!(files::load(&agent, "https://s:1").unwrap().is_none());
    }
}
