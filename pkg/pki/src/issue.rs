//! Leaf certificate issuance and inspection of stored leaves.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
    KeyUsagePurpose, PublicKeyData, SerialNumber,
};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;

use crate::ca::Ca;
use crate::{random_bytes, Error, Result, San};

/// One year, like k3s's leaf certificates; they are renewed on start once
/// within [`RENEW_BEFORE_DAYS`] of expiry.
pub(crate) const LEAF_VALIDITY_DAYS: u32 = 365;
/// k3s's renewal window: a server restarted at least every few months never
/// serves an expired certificate.
pub(crate) const RENEW_BEFORE_DAYS: i64 = 90;
/// Backdating tolerates clocks on other nodes running slightly behind.
const BACKDATE: Duration = Duration::minutes(5);

/// `(not_before, not_after, now)` for a certificate valid `days` from now.
pub(crate) fn validity(days: u32) -> (OffsetDateTime, OffsetDateTime, OffsetDateTime) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let now = i64::try_from(secs)
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    (now - BACKDATE, now + Duration::days(i64::from(days)), now)
}

/// A random positive 128-bit serial: unique without any state to keep.
pub(crate) fn random_serial() -> Result<SerialNumber> {
    let mut b = random_bytes::<16>()?;
    b[0] &= 0x7f;
    Ok(SerialNumber::from_slice(&b))
}

/// The DER of the first CERTIFICATE block in `pem`.
pub(crate) fn first_cert_der(pem: &str) -> Result<Vec<u8>, String> {
    for block in Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|e| format!("bad PEM: {e}"))?;
        if block.label == "CERTIFICATE" {
            return Ok(block.contents);
        }
    }
    Err("no CERTIFICATE block".into())
}

pub(crate) fn parse_der(der: &[u8]) -> Result<X509Certificate<'_>, String> {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, c)| c)
        .map_err(|e| format!("bad certificate: {e}"))
}

/// What a leaf is for; decides its extended key usage.
#[derive(Clone, Copy)]
pub(crate) enum Usage {
    Server,
    Client,
}

/// Signs a new leaf with a fresh P-256 key; returns `(cert_pem, key_pem)`.
///
/// `orgs` become O attributes (Kubernetes groups). rcgen keys DN attributes
/// by type, so at most two are representable (the second is written under
/// the same OID via a custom type); more is an error rather than a silent
/// drop of a group.
pub(crate) fn issue_leaf(
    ca: &Ca,
    cn: &str,
    orgs: &[&str],
    usage: Usage,
    sans: &[San],
    days: u32,
) -> Result<(String, String)> {
    let mut dn = DistinguishedName::new();
    match orgs {
        [] => {}
        [o] => dn.push(DnType::OrganizationName, *o),
        [o1, o2] => {
            dn.push(DnType::OrganizationName, *o1);
            dn.push(DnType::CustomDnType(vec![2, 5, 4, 10]), *o2);
        }
        _ => {
            return Err(Error::Subject(format!(
                "at most 2 organizations supported, got {orgs:?}"
            )))
        }
    }
    dn.push(DnType::CommonName, cn);

    let (not_before, not_after, _) = validity(days);
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    params.not_before = not_before;
    params.not_after = not_after;
    params.serial_number = Some(random_serial()?);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![match usage {
        Usage::Server => ExtendedKeyUsagePurpose::ServerAuth,
        Usage::Client => ExtendedKeyUsagePurpose::ClientAuth,
    }];
    params.use_authority_key_identifier_extension = true;
    params.subject_alt_names = sans.iter().map(San::to_rcgen).collect::<Result<Vec<_>>>()?;

    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let cert_pem = ca.sign(&params, &key)?;
    Ok((cert_pem, key.serialize_pem()))
}

/// The SANs a certificate carries (DNS lowercased, like [`San::parse`]).
pub(crate) fn cert_sans(cert: &X509Certificate<'_>) -> BTreeSet<San> {
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return BTreeSet::new();
    };
    ext.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(d) => Some(San::Dns(d.to_ascii_lowercase())),
            GeneralName::IPAddress(b) => match b.len() {
                4 => <[u8; 4]>::try_from(*b)
                    .ok()
                    .map(|a| San::Ip(IpAddr::from(a))),
                16 => <[u8; 16]>::try_from(*b)
                    .ok()
                    .map(|a| San::Ip(IpAddr::from(a))),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Why a stored leaf (cert and key PEM) cannot be reused, or `None` if it
/// can: missing or unreadable, key not matching, not signed by the current
/// CA, expiring within the renewal window, or (when `want_sans` is given)
/// not covering every wanted SAN.
pub(crate) fn reissue_reason(
    ca: &Ca,
    cert_pem: Option<&str>,
    key_pem: Option<&str>,
    want_sans: Option<&BTreeSet<San>>,
) -> Option<String> {
    let (Some(cert_pem), Some(key_pem)) = (cert_pem, key_pem) else {
        return Some("missing".into());
    };
    let der = match first_cert_der(cert_pem) {
        Ok(d) => d,
        Err(e) => return Some(e),
    };
    let cert = match parse_der(&der) {
        Ok(c) => c,
        Err(e) => return Some(e),
    };
    let key = match KeyPair::from_pem(key_pem) {
        Ok(k) => k,
        Err(e) => return Some(format!("bad key: {e}")),
    };
    if key.subject_public_key_info() != cert.public_key().raw {
        return Some("key does not match certificate".into());
    }
    if !ca.issued(&cert) {
        return Some("not issued by the current CA".into());
    }
    match cert.validity().time_to_expiration() {
        Some(left) if left >= Duration::days(RENEW_BEFORE_DAYS) => {}
        _ => {
            return Some(format!(
                "expired or expiring within {RENEW_BEFORE_DAYS} days"
            ))
        }
    }
    if let Some(want) = want_sans {
        let have = cert_sans(&cert);
        let missing: Vec<String> = want.difference(&have).map(San::to_string).collect();
        if !missing.is_empty() {
            return Some(format!("SANs not covered: {}", missing.join(", ")));
        }
    }
    None
}
