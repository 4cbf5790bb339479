//! The key that signs ServiceAccount tokens: ECDSA P-256 (JWT ES256), PKCS#8 PEM in
//! `service.key` (k3s's file name), created once and reused so tokens stay valid across
//! restarts.

use std::path::Path;

use crate::files::{read_optional, write_atomic};
use crate::{Error, Result};

/// k3s keeps its service-account key here too.
pub const SERVICE_ACCOUNT_KEY_FILE: &str = "service.key";

/// Loads `dir/service.key`, creating it when absent. A file that is not a P-256 PKCS#8 key
/// is an error rather than replaced: every token handed out depends on it.
pub fn load_or_create_service_key(dir: &Path) -> Result<String> {
    let path = dir.join(SERVICE_ACCOUNT_KEY_FILE);
    if let Some(pem) = read_optional(&path)? {
        rcgen::KeyPair::from_pem(&pem)
            .ok()
            .filter(|k| k.algorithm() == &rcgen::PKCS_ECDSA_P256_SHA256)
            .ok_or_else(|| Error::Invalid {
                path: path.clone(),
                reason: "not an ECDSA P-256 private key (PKCS#8 PEM)".into(),
            })?;
        return Ok(pem);
    }
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let pem = key.serialize_pem();
    write_atomic(&path, pem.as_bytes(), 0o600)?;
    tracing::info!(path = %path.display(), "created the service-account signing key");
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn creates_once_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create_service_key(dir.path()).unwrap();
        assert!(first.starts_with("-----BEGIN PRIVATE KEY-----"));
        let meta = std::fs::metadata(dir.path().join(SERVICE_ACCOUNT_KEY_FILE)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(load_or_create_service_key(dir.path()).unwrap(), first);
    }

    #[test]
    fn refuses_a_foreign_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SERVICE_ACCOUNT_KEY_FILE), "junk").unwrap();
        assert!(matches!(
            load_or_create_service_key(dir.path()),
            Err(Error::Invalid { .. })
        ));
    }
}
