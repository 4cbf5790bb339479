//! The cluster's PKI: one CA that signs the apiserver's serving certificate
//! and client certificates, the k3s-format join token derived from it, and
//! kubeconfig rendering.
//!
//! Everything lives as PEM files in one TLS directory so a restart reuses
//! the same identities; only what no longer fits (missing, expiring, SANs
//! changed) is re-issued.

use std::io;
use std::path::PathBuf;

pub mod any_server;
mod ca;
mod cluster;
pub mod files;
mod issue;
pub mod kubeconfig;
mod sans;
mod service_account;
pub mod token;

pub use cluster::{
    ClusterPki, ADMIN_CERT_FILE, ADMIN_KEY_FILE, CA_CERT_FILE, CA_KEY_FILE,
    KUBELET_CLIENT_CERT_FILE, KUBELET_CLIENT_CN, KUBELET_CLIENT_KEY_FILE, SERVING_CERT_FILE,
    SERVING_KEY_FILE,
};
pub use sans::{host_addresses, San, ServingSans, DEFAULT_SERVICE_IP};
pub use service_account::{load_or_create_service_key, SERVICE_ACCOUNT_KEY_FILE};

/// Errors from creating, loading or issuing key material.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{op} {}: {source}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("certificate generation: {0}")]
    Cert(#[from] rcgen::Error),
    /// A file that must be reused (the CA) is unreadable or inconsistent;
    /// we refuse to replace it because every issued credential depends on it.
    #[error("{}: {reason}", .path.display())]
    Invalid { path: PathBuf, reason: String },
    #[error("invalid PEM: {0}")]
    Pem(String),
    #[error("invalid subject alternative name {0:?}")]
    InvalidSan(String),
    #[error("unsupported certificate subject: {0}")]
    Subject(String),
    #[error("invalid join token: {0}")]
    InvalidToken(String),
    #[error("the system random source failed")]
    Random,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

/// Fills `N` bytes from the OS random source (ring's, already in the tree
/// via rustls, so no extra RNG crate).
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    use ring::rand::SecureRandom;
    let mut buf = [0u8; N];
    ring::rand::SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| Error::Random)?;
    Ok(buf)
}

/// Lowercase hex, without pulling in a crate for it.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
