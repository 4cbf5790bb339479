//! ServiceAccount tokens: issued by `serviceaccounts/<name>/token` (TokenRequest), accepted as
//! `Authorization: Bearer` credentials. ES256 JWTs signed with the cluster's service-account key.

mod authenticate;
pub mod claims;
pub mod oidc;
#[cfg(test)]
mod tests;
pub mod token_request;

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

pub use authenticate::TokenCache;
use claims::Claims;

/// k3s's issuer and first API audience with the default cluster domain (tests).
#[cfg(test)]
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the service-account key is not PEM")]
    Pem,
    #[error("the service-account key is not a P-256 PKCS#8 key: {0}")]
    Key(String),
}

/// Why a token was refused (logged, and TokenReview's `status.error`; clients see 401).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Stale(String),
    #[error("looking up the token's objects: {0}")]
    Lookup(String),
}

/// Signs and verifies the cluster's ServiceAccount tokens.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
    /// The public key's uncompressed point (0x04 || x || y), for the JWKS.
    point: Vec<u8>,
    pub issuer: String,
    /// What the API server accepts in `aud`; the default audiences of a TokenRequest.
    pub audiences: Vec<String>,
    pub(crate) cache: TokenCache,
}

impl Tokens {
    pub fn new(key_pem: &str, issuer: &str, audiences: Vec<String>) -> Result<Self, KeyError> {
        let der = pem_body(key_pem).ok_or(KeyError::Pem)?;
        let rng = ring::rand::SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &rng)
            .map_err(|e| KeyError::Key(e.to_string()))?;
        let point = pair.public_key().as_ref();
        Ok(Self {
            encoding: EncodingKey::from_ec_der(&der),
            // ring (under jsonwebtoken) verifies against the bare point.
            decoding: DecodingKey::from_ec_der(point),
            kid: key_id(point),
            point: point.to_vec(),
            issuer: issuer.to_string(),
            audiences,
            cache: TokenCache::default(),
        })
    }

    /// The signed JWT of `claims`.
    pub fn sign(&self, claims: &Claims) -> String {
        let mut header = Header::new(Algorithm::ES256);
        // Upstream's tokens carry only alg and kid.
        header.typ = None;
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .expect("ES256 signing of serializable claims cannot fail")
    }

    /// The claims of a token this server signed, within its time, and which of `audiences`
    /// it was issued for (at least one, else it is refused), with upstream's reasons.
    pub fn verify(
        &self,
        token: &str,
        audiences: &[String],
    ) -> Result<(Claims, Vec<String>), TokenError> {
        use jsonwebtoken::errors::ErrorKind;
        let mut v = Validation::new(Algorithm::ES256);
        v.set_issuer(&[&self.issuer]);
        v.validate_aud = false;
        v.set_required_spec_claims(&["exp", "iss", "sub"]);
        v.validate_nbf = true;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)
            .map(|d| d.claims)
            .map_err(|e| {
                TokenError::Invalid(match e.kind() {
                    ErrorKind::ExpiredSignature => "service account token has expired".into(),
                    ErrorKind::ImmatureSignature => "service account token is not valid yet".into(),
                    ErrorKind::InvalidSignature => "invalid signature".into(),
                    _ => e.to_string(),
                })
            })?;
        let matched: Vec<String> = audiences
            .iter()
            .filter(|a| claims.aud.contains(a))
            .cloned()
            .collect();
        if matched.is_empty() {
            return Err(TokenError::Invalid(format!(
                "token audiences {} is invalid for the target audiences {}",
                go_quoted(&claims.aud),
                go_quoted(audiences)
            )));
        }
        Ok((claims, matched))
    }
}

/// A string slice as Go's `%q` prints it: `["a" "b"]`.
fn go_quoted(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(" "))
}

/// The base64 body of a single-block PEM.
fn pem_body(pem: &str) -> Option<Vec<u8>> {
    let b64: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// Upstream's key id: the unpadded base64url SHA-256 of the key's PKIX (SubjectPublicKeyInfo)
/// DER, which for P-256 is a fixed header before the uncompressed point.
fn key_id(point: &[u8]) -> String {
    const P256_SPKI_PREFIX: &[u8] = &[
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];
    let mut spki = P256_SPKI_PREFIX.to_vec();
    spki.extend_from_slice(point);
    let digest = ring::digest::digest(&ring::digest::SHA256, &spki);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}
