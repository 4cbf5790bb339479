//! The kubelet API's TLS and who may use it. Client certificates are verified against the
//! configured CA but requested optionally, so that a request without one gets an HTTP 401 rather
//! than a failed handshake; a verified identity outside the API server's groups gets 403.

use std::sync::Arc;

use rustls::{server::WebPkiClientVerifier, RootCertStore, ServerConfig};
use rustls_pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::{Error, Result};

/// The user upstream's API server presents to kubelets.
pub const KUBELET_CLIENT_USER: &str = "kube-apiserver-kubelet-client";
const MASTERS: &str = "system:masters";

pub(crate) fn server_config(cert_pem: &str, key_pem: &str, ca_pem: &str) -> Result<ServerConfig> {
    let pem = |e: rustls_pki_types::pem::Error| Error::Server(format!("reading PEM: {e}"));
    let tls = |e: rustls::Error| Error::Server(format!("TLS configuration: {e}"));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.map_err(pem)?).map_err(tls)?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| Error::Server(format!("client CA: {e}")))?;
    let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(pem)?;
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(tls)?;
    // Upgrades (exec, port-forward) are HTTP/1.1 only.
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// A verified client: the certificate's CN and O values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Peer {
    pub user: String,
    pub groups: Vec<String>,
}

impl Peer {
    /// The API server's identity (upstream authorizes it through RBAC's system:masters binding).
    pub(crate) fn may_use_kubelet_api(&self) -> bool {
        self.user == KUBELET_CLIENT_USER || self.groups.iter().any(|g| g == MASTERS)
    }
}

/// The identity of a peer whose chain rustls already verified.
pub(crate) fn peer(certs: Option<&[CertificateDer<'_>]>) -> Option<Peer> {
    let (_, cert) = X509Certificate::from_der(certs?.first()?.as_ref()).ok()?;
    let subject = cert.subject();
    let user = subject
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(str::to_string))
        .collect();
    Some(Peer { user, groups })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_api_server_identity_is_allowed() {
        let p = |user: &str, groups: &[&str]| Peer {
            user: user.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        };
        assert!(p(KUBELET_CLIENT_USER, &[]).may_use_kubelet_api());
        assert!(p("system:admin", &["system:masters"]).may_use_kubelet_api());
        assert!(!p("system:node:n1", &["system:nodes"]).may_use_kubelet_api());
    }
}
