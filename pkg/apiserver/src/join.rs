//! Joining agents (k3s' flow, rkube's paths):
//!
//! - `GET /cacerts` (unauthenticated, as k3s): the cluster CA bundle, byte for byte what the
//!   join token's `K10<sha256>` prefix hashes, so the agent can pin it before trusting it.
//! - `POST /v1-rkube/node-certs` with basic auth `node:<secret>` (the token's password; the
//!   `server` username is accepted too) and `{"nodeName", "nodeIP"}`: issues the node's client
//!   certificate (`system:node:<name>` in `system:nodes`) and kubelet serving certificate (SANs:
//!   node IP and name), and returns them with the CA and the cluster settings the kubelet needs
//!   (k3s splits this over /v1-k3s/client-kubelet.crt, serving-kubelet.crt and config). A wrong
//!   secret is a 401 and nothing is issued.

use std::{net::IpAddr, sync::Arc};

use axum::{
    body::Body,
    extract::Request,
    http::{header, Method, StatusCode},
    response::{IntoResponse, Response},
};
use base64::Engine as _;
use rkube_pki::{ClusterPki, San};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::status::ApiError;

pub const CACERTS_PATH: &str = "/cacerts";
pub const NODE_CERTS_PATH: &str = "/v1-rkube/node-certs";

/// Node certificates are valid this long (the server's leaves use the same year).
const NODE_CERT_DAYS: u32 = 365;
const MAX_BODY: usize = 16 * 1024;

/// What the API server needs to admit agents.
#[derive(Clone)]
pub struct JoinConfig {
    /// The password of the server's join token.
    pub secret: String,
    /// Signs the node certificates.
    pub pki: Arc<ClusterPki>,
    pub cluster_cidr: String,
    pub cluster_dns: IpAddr,
    pub cluster_domain: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeCertsRequest {
    node_name: String,
    #[serde(rename = "nodeIP")]
    node_ip: IpAddr,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeCertsResponse {
    ca_cert: String,
    client_cert: String,
    client_key: String,
    serving_cert: String,
    serving_key: String,
    #[serde(rename = "clusterCIDR")]
    cluster_cidr: String,
    #[serde(rename = "clusterDNS")]
    cluster_dns: IpAddr,
    cluster_domain: String,
}

/// Whether `path` is one of the join endpoints (served before authentication).
pub fn handles(path: &str) -> bool {
    path == CACERTS_PATH || path == NODE_CERTS_PATH
}

pub async fn serve(join: Option<&JoinConfig>, req: Request) -> Result<Response, ApiError> {
    let Some(join) = join else {
        return Err(ApiError::path_not_found());
    };
    let path = req.uri().path();
    if path == CACERTS_PATH {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return Err(ApiError::new(405, "MethodNotAllowed", "use GET"));
        }
        return Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            join.pki.ca_cert_pem().to_string(),
        )
            .into_response());
    }
    if req.method() != Method::POST {
        return Err(ApiError::new(405, "MethodNotAllowed", "use POST"));
    }
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if !secret_ok(auth.as_deref(), &join.secret) {
        warn!("join refused: wrong or missing token");
        return Err(ApiError::unauthorized());
    }
    let body = axum::body::to_bytes(Body::new(req.into_body()), MAX_BODY)
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?;
    let want: NodeCertsRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("decoding the request: {e}")))?;
    if !valid_node_name(&want.node_name) {
        return Err(ApiError::bad_request(format!(
            "nodeName {:?} is not a lowercase DNS name",
            want.node_name
        )));
    }
    let issued = issue(join, &want).map_err(|e| ApiError::internal(e.to_string()))?;
    info!(node = %want.node_name, ip = %want.node_ip, "issued node certificates");
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(&issued).map_err(|e| ApiError::internal(e.to_string()))?,
    )
        .into_response())
}

fn issue(join: &JoinConfig, want: &NodeCertsRequest) -> rkube_pki::Result<NodeCertsResponse> {
    let pki = &join.pki;
    let (client_cert, client_key) = pki.issue_client_cert(
        &format!("system:node:{}", want.node_name),
        &["system:nodes"],
        NODE_CERT_DAYS,
    )?;
    let (serving_cert, serving_key) = pki.issue_serving_cert(
        &want.node_name,
        &[San::Ip(want.node_ip), San::Dns(want.node_name.clone())],
    )?;
    Ok(NodeCertsResponse {
        ca_cert: pki.ca_cert_pem().to_string(),
        client_cert,
        client_key,
        serving_cert,
        serving_key,
        cluster_cidr: join.cluster_cidr.clone(),
        cluster_dns: join.cluster_dns,
        cluster_domain: join.cluster_domain.clone(),
    })
}

/// Basic auth with user `node` or `server` and the token's password, compared in constant time.
fn secret_ok(authorization: Option<&str>, secret: &str) -> bool {
    let Some(encoded) = authorization.and_then(|a| a.strip_prefix("Basic ")) else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(decoded) = String::from_utf8(decoded) else {
        return false;
    };
    let Some((user, password)) = decoded.split_once(':') else {
        return false;
    };
    // Hashing first makes the comparison length-independent; fold keeps it branch-free.
    let digest = |s: &str| ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    let (a, b) = (digest(password), digest(secret));
    let same = a
        .as_ref()
        .iter()
        .zip(b.as_ref())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0;
    (user == "node" || user == "server") && same
}

fn valid_node_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 253
        && n.split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'))
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(s: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(s)
        )
    }

    #[test]
    fn secret_checks() {
        assert!(secret_ok(Some(&basic("node:s3cret")), "s3cret"));
        assert!(secret_ok(Some(&basic("server:s3cret")), "s3cret"));
        assert!(!secret_ok(Some(&basic("node:wrong")), "s3cret"));
        assert!(!secret_ok(Some(&basic("node:s3cret2")), "s3cret"));
        assert!(!secret_ok(Some(&basic("admin:s3cret")), "s3cret"));
        assert!(!secret_ok(Some(&basic("s3cret")), "s3cret"));
        assert!(!secret_ok(Some("Bearer s3cret"), "s3cret"));
        assert!(!secret_ok(Some("Basic !!!"), "s3cret"));
        assert!(!secret_ok(None, "s3cret"));
    }

    #[test]
    fn node_names() {
        assert!(valid_node_name("node-1.example"));
        assert!(!valid_node_name("Node"));
        assert!(!valid_node_name("-a"));
        assert!(!valid_node_name(""));
    }
}
