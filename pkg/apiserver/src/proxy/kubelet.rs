//! The API server's HTTPS client to kubelets: presents the kubelet-client certificate, trusts
//! the cluster CA, and keeps the connection upgradeable (exec and port-forward switch protocols).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::{
    client::{
        danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
        WebPkiServerVerifier,
    },
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime},
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tracing::debug;

use crate::tls::TlsError;

/// Dialing a kubelet, TLS included (sim nodes have none: this must fail fast, not hang).
const DIAL_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error("dial tcp {addr}: connect: {}", go_wording(.source))]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("dial tcp {0}: i/o timeout")]
    Timeout(SocketAddr),
    #[error("tls: {0}")]
    Tls(std::io::Error),
    #[error("{0}")]
    Http(#[from] hyper::Error),
}

/// An OS error as Go prints it ("connection refused"), which clients and people grep for.
fn go_wording(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        std::io::ErrorKind::ConnectionReset => "connection reset by peer".into(),
        std::io::ErrorKind::HostUnreachable => "no route to host".into(),
        std::io::ErrorKind::NetworkUnreachable => "network is unreachable".into(),
        _ => {
            let s = e.to_string();
            // Rust appends " (os error N)"; Go does not.
            match s.rfind(" (os error ") {
                Some(i) => s[..i].to_lowercase(),
                None => s,
            }
        }
    }
}

/// The client identity and trust towards kubelets.
#[derive(Clone)]
pub struct KubeletClient {
    connector: TlsConnector,
}

impl KubeletClient {
    pub fn new(ca_pem: &str, cert_pem: &str, key_pem: &str) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(cert.map_err(|e| TlsError::Pem(e.to_string()))?)?;
        }
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| TlsError::Verifier(e.to_string()))?;
        let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Pem(e.to_string()))?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| TlsError::Pem(e.to_string()))?;
        let mut cfg = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(CaOnly(inner)))
            .with_client_auth_cert(chain, key)?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            connector: TlsConnector::from(Arc::new(cfg)),
        })
    }

    /// Sends one request to the kubelet at `addr` on a fresh connection that supports upgrades.
    pub async fn send(
        &self,
        addr: SocketAddr,
        req: hyper::Request<Body>,
    ) -> Result<hyper::Response<Incoming>, DialError> {
        let connect = async {
            let tcp = TcpStream::connect(addr)
                .await
                .map_err(|source| DialError::Connect { addr, source })?;
            let _ = tcp.set_nodelay(true);
            let name = ServerName::IpAddress(addr.ip().into());
            self.connector
                .connect(name, tcp)
                .await
                .map_err(DialError::Tls)
        };
        let tls = tokio::time::timeout(DIAL_TIMEOUT, connect)
            .await
            .map_err(|_| DialError::Timeout(addr))??;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                debug!(%addr, error = %e, "kubelet connection ended with an error");
            }
        });
        Ok(sender.send_request(req).await?)
    }
}

/// Verifies that a kubelet's serving certificate comes from the cluster CA, without insisting
/// that it names the address dialed (kubelets' certificates name what their nodes chose;
/// upstream does not verify kubelet certificates at all unless --kubelet-certificate-authority).
#[derive(Debug)]
struct CaOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for CaOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_errors_read_like_go() {
        let addr: SocketAddr = "192.0.2.1:10250".parse().unwrap();
        let refused = DialError::Connect {
            addr,
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        };
        assert_eq!(
            refused.to_string(),
            "dial tcp 192.0.2.1:10250: connect: connection refused"
        );
        let os = DialError::Connect {
            addr,
            source: std::io::Error::from_raw_os_error(113),
        };
        assert_eq!(
            os.to_string(),
            "dial tcp 192.0.2.1:10250: connect: no route to host"
        );
        assert_eq!(
            DialError::Timeout(addr).to_string(),
            "dial tcp 192.0.2.1:10250: i/o timeout"
        );
    }
}
