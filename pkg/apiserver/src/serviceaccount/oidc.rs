//! Service account issuer discovery (`/.well-known/openid-configuration`, `/openid/v1/jwks`):
//! what lets a relying party outside the cluster verify the tokens, as upstream serves it
//! (pkg/serviceaccount/openidmetadata.go).

use axum::{
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};
use base64::Engine;
use serde_json::json;

use super::Tokens;

pub const CONFIGURATION: &str = "/.well-known/openid-configuration";
pub const JWKS: &str = "/openid/v1/jwks";

/// The response for `path`, if it is one of the two documents (with or without a trailing
/// slash, as upstream's routes).
pub fn serve(tokens: &Tokens, path: &str, advertise: &str) -> Option<Response> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let (body, content_type) = match path {
        CONFIGURATION => (
            json!({
                "issuer": tokens.issuer,
                "jwks_uri": format!("https://{advertise}{JWKS}"),
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES256"],
            }),
            "application/json",
        ),
        JWKS => {
            let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
            // The point is 0x04 || x (32 bytes) || y (32 bytes).
            let (x, y) = tokens.point[1..].split_at(32);
            (
                json!({"keys": [{
                    "use": "sig", "kty": "EC", "kid": tokens.kid, "crv": "P-256",
                    "alg": "ES256", "x": b64(x), "y": b64(y),
                }]}),
                "application/jwk-set+json",
            )
        }
        _ => return None,
    };
    Some(
        (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            serde_json::to_vec(&body).unwrap_or_default(),
        )
            .into_response(),
    )
}
