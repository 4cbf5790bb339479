//! The cluster CA: generated once, then loaded and used to sign every leaf.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData,
};
use x509_parser::certificate::X509Certificate;

use crate::issue::{first_cert_der, parse_der, random_serial, validity};
use crate::{Error, Result};

/// Ten years: the CA outlives many leaf renewals, and replacing it means
/// redistributing trust to every node and client.
pub(crate) const CA_VALIDITY_DAYS: u32 = 3650;

pub(crate) struct Ca {
    cert_pem: String,
    cert_der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    /// A fresh self-signed ECDSA P-256 CA; returns it and its key PEM.
    pub(crate) fn generate() -> Result<(Ca, String)> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let (not_before, not_after, now) = validity(CA_VALIDITY_DAYS);
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        // The timestamp makes each generated CA's name unique, like k3s, so
        // a regenerated CA is distinguishable from the one it replaced.
        dn.push(
            DnType::CommonName,
            format!("rkube-server-ca@{}", now.unix_timestamp()),
        );
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = not_before;
        params.not_after = not_after;
        params.serial_number = Some(random_serial()?);
        let cert = params.self_signed(&key)?;
        let key_pem = key.serialize_pem();
        let ca = Ca {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            issuer: Issuer::new(params, key),
        };
        Ok((ca, key_pem))
    }

    /// Loads a stored CA, checking that the key belongs to the certificate
    /// and that the certificate is a CA, so a mixed-up file pair fails at
    /// start instead of producing certificates nobody trusts.
    pub(crate) fn load(
        cert_pem: String,
        key_pem: &str,
        cert_path: &Path,
        key_path: &Path,
    ) -> Result<Ca> {
        let invalid = |path: &Path, reason: String| Error::Invalid {
            path: path.to_owned(),
            reason,
        };
        let cert_der = first_cert_der(&cert_pem).map_err(|e| invalid(cert_path, e))?;
        let x509 = parse_der(&cert_der).map_err(|e| invalid(cert_path, e))?;
        if !x509.is_ca() {
            return Err(invalid(cert_path, "not a CA certificate".into()));
        }
        let key = KeyPair::from_pem(key_pem).map_err(|e| invalid(key_path, e.to_string()))?;
        if key.subject_public_key_info() != x509.public_key().raw {
            return Err(invalid(
                key_path,
                format!("key does not match {}", cert_path.display()),
            ));
        }
        let issuer = Issuer::from_ca_cert_der(&cert_der.as_slice().into(), key)
            .map_err(|e| invalid(cert_path, e.to_string()))?;
        Ok(Ca {
            cert_pem,
            cert_der,
            issuer,
        })
    }

    pub(crate) fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Signs `params` for `key`'s public key; returns the leaf PEM.
    pub(crate) fn sign(&self, params: &CertificateParams, key: &KeyPair) -> Result<String> {
        Ok(params.signed_by(key, &self.issuer)?.pem())
    }

    /// Whether `leaf` was signed by this CA (name chaining and signature),
    /// so leaves left over from a replaced CA get re-issued.
    pub(crate) fn issued(&self, leaf: &X509Certificate<'_>) -> bool {
        let Ok(ca) = parse_der(&self.cert_der) else {
            return false;
        };
        leaf.issuer().as_raw() == ca.subject().as_raw()
            && leaf.verify_signature(Some(ca.public_key())).is_ok()
    }
}
