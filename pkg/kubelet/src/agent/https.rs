//! The few HTTPS requests of joining: one connection per request (HTTP/1.1), either trusting
//! nothing yet (to fetch the CA bundle, which the caller then checks against the token's hash)
//! or trusting only the cluster CA.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rkube_pki::any_server::AnyServerCert;
use rustls::{
    pki_types::{CertificateDer, ServerName},
    ClientConfig, RootCertStore,
};
use rustls_pki_types::pem::PemObject;
use tokio_rustls::TlsConnector;

const TIMEOUT: Duration = Duration::from_secs(15);

/// A parsed `https://host[:port]` server URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    pub host: String,
    pub port: u16,
}

impl ServerUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("https://")
            .ok_or_else(|| format!("{url:?}: must start with https://"))?;
        let authority = rest.split('/').next().unwrap_or_default();
        let uri: hyper::Uri = format!("https://{authority}/")
            .parse()
            .map_err(|e| format!("{url:?}: {e}"))?;
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("{url:?}: no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        Ok(Self {
            host,
            port: uri.port_u16().unwrap_or(6443),
        })
    }
}

/// Whom to trust for one request.
pub enum Trust<'a> {
    /// Anyone: only for `GET /cacerts`, whose answer is verified by hash afterwards.
    Unverified,
    /// Servers whose certificate chains to this CA bundle.
    Ca(&'a str),
}

/// Sends one request; returns the status and the whole body.
pub async fn request(
    server: &ServerUrl,
    trust: Trust<'_>,
    method: Method,
    path: &str,
    authorization: Option<&str>,
    body: Option<Vec<u8>>,
) -> Result<(StatusCode, Bytes), String> {
    tokio::time::timeout(
        TIMEOUT,
        send(server, trust, method, path, authorization, body),
    )
    .await
    .map_err(|_| format!("no answer within {TIMEOUT:?}"))?
}

async fn send(
    server: &ServerUrl,
    trust: Trust<'_>,
    method: Method,
    path: &str,
    authorization: Option<&str>,
    body: Option<Vec<u8>>,
) -> Result<(StatusCode, Bytes), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let tls = match trust {
        Trust::Unverified => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServerCert::new(provider)))
            .with_no_client_auth(),
        Trust::Ca(pem) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                roots
                    .add(cert.map_err(|e| format!("the CA bundle: {e}"))?)
                    .map_err(|e| format!("the CA bundle: {e}"))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    let name = ServerName::try_from(server.host.clone()).map_err(|e| e.to_string())?;
    let tcp = tokio::net::TcpStream::connect((server.host.as_str(), server.port))
        .await
        .map_err(|e| format!("connecting to {}:{}: {e}", server.host, server.port))?;
    let stream = TlsConnector::from(Arc::new(tls))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake with {}: {e}", server.host))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, &server.host)
        .header(hyper::header::USER_AGENT, "rkube-agent");
    if let Some(a) = authorization {
        req = req.header(hyper::header::AUTHORIZATION, a);
    }
    if body.is_some() {
        req = req.header(hyper::header::CONTENT_TYPE, "application/json");
    }
    let req = req
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls() {
        assert_eq!(
            ServerUrl::parse("https://127.0.0.1:7443").unwrap(),
            ServerUrl {
                host: "127.0.0.1".into(),
                port: 7443
            }
        );
        assert_eq!(
            ServerUrl::parse("https://cp.example/").unwrap(),
            ServerUrl {
                host: "cp.example".into(),
                port: 6443
            }
        );
        assert_eq!(ServerUrl::parse("https://[::1]:6443").unwrap().host, "::1");
        assert!(ServerUrl::parse("http://x:1").is_err());
        assert!(ServerUrl::parse("https://").is_err());
    }
}
