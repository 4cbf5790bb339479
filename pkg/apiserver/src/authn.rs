//! Authentication: the verified client certificate's CN is the user, its O values the groups;
//! without one, a ServiceAccount token (`Authorization: Bearer`, serviceaccount/authenticate.rs).

use rustls_pki_types::CertificateDer;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Who sent a request. `None` in the request extensions: anonymous.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub groups: Vec<String>,
    /// The ServiceAccount's uid for its tokens; empty for certificates, as upstream.
    pub uid: String,
    /// What a token is bound to (`authentication.kubernetes.io/pod-name`, ...).
    pub extra: std::collections::BTreeMap<String, Vec<String>>,
}

impl Identity {
    /// `user` in `groups` (plus `system:authenticated`), no uid or extra.
    pub fn new(user: impl Into<String>, groups: Vec<String>) -> Self {
        let mut groups = groups;
        groups.push("system:authenticated".into());
        Identity {
            user: user.into(),
            groups,
            uid: String::new(),
            extra: Default::default(),
        }
    }
}

/// The identity of a TLS peer whose certificate chain rustls already verified.
pub fn from_peer_certificates(certs: Option<&[CertificateDer<'_>]>) -> Option<Identity> {
    let leaf = certs?.first()?;
    let (_, cert) = X509Certificate::from_der(leaf.as_ref()).ok()?;
    let subject = cert.subject();
    let user = subject
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    let groups: Vec<String> = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(str::to_string))
        .collect();
    Some(Identity::new(user, groups))
}
