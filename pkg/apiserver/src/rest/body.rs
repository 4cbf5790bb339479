//! Request bodies: JSON or YAML, within kube-apiserver's 3 MiB limit.

use bytes::Bytes;
use serde_json::Value;

use crate::status::{ApiError, ApiResult};

pub const MAX_BODY: usize = 3 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    Json,
    Yaml,
}

pub fn body_format(content_type: Option<&str>) -> ApiResult<BodyFormat> {
    let media = content_type
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or_default()
        .trim();
    match media {
        "" | "application/json" | "*/*" => Ok(BodyFormat::Json),
        "application/yaml" | "application/x-yaml" | "text/yaml" => Ok(BodyFormat::Yaml),
        other => Err(ApiError::unsupported_media_type(other)),
    }
}

/// Decodes a body into a JSON object; anything else is a 400 as upstream words it.
pub fn decode_body(content_type: Option<&str>, body: &Bytes) -> ApiResult<Value> {
    if body.len() > MAX_BODY {
        return Err(ApiError::too_large());
    }
    let v: Value = match body_format(content_type)? {
        BodyFormat::Json => serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding JSON: {e}")))?,
        BodyFormat::Yaml => serde_yaml::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")))?,
    };
    if !v.is_object() {
        return Err(ApiError::bad_request(
            "Object 'Kind' is missing in the request body: not an object",
        ));
    }
    Ok(v)
}
