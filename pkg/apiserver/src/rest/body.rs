//! Request bodies: JSON, YAML or Kubernetes protobuf (what kubectl's typed commands send),
//! within kube-apiserver's 3 MiB limit. Protobuf is decoded to the JSON kube-apiserver would
//! write for the same object (`rkube_api::proto`), so handlers only ever see JSON.

use bytes::Bytes;
use serde_json::Value;

use crate::status::{ApiError, ApiResult};

pub const MAX_BODY: usize = 3 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    Json,
    Yaml,
    Protobuf,
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
        rkube_api::proto::CONTENT_TYPE => Ok(BodyFormat::Protobuf),
        other => Err(ApiError::unsupported_media_type(other)),
    }
}

/// Decodes a body into a JSON object; anything else is a 400 as upstream words it.
/// How upstream's JSON serializer prefixes what it could not decode.
const VERSION_KIND: &str = "couldn't get version/kind; json parse error: ";
/// The Go type it decodes apiVersion and kind into first.
const TYPE_META_STRUCT: &str = r#"struct { APIVersion string "json:\"apiVersion,omitempty\""; Kind string "json:\"kind,omitempty\"" }"#;

pub fn decode_body(content_type: Option<&str>, body: &Bytes) -> ApiResult<Value> {
    if body.len() > MAX_BODY {
        return Err(ApiError::too_large());
    }
    let v: Value = match body_format(content_type)? {
        BodyFormat::Json => rkube_api::patch::decode_go_json(body)
            .map_err(|e| ApiError::bad_request(format!("{VERSION_KIND}{e}")))?,
        BodyFormat::Yaml => serde_yaml::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")))?,
        BodyFormat::Protobuf => rkube_api::proto::decode_object(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding protobuf: {e}")))?,
    };
    // Upstream first reads apiVersion and kind into a Go struct: its error for anything else.
    match &v {
        Value::Object(_) => Ok(v),
        Value::Null => Err(ApiError::bad_request("Object 'Kind' is missing in 'null'")),
        other => Err(ApiError::bad_request(format!(
            "{VERSION_KIND}{}",
            rkube_api::patch::go_type_error(other, TYPE_META_STRUCT)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protobuf_bodies_decode_to_json() {
        // k8s\0 + Unknown{typeMeta{apiVersion: v1, kind: Namespace}, raw: {metadata{name: x}}}
        let mut body = b"k8s\x00".to_vec();
        body.extend_from_slice(&[
            0x0a, 0x0f, 0x0a, 0x02, b'v', b'1', 0x12, 0x09, b'N', b'a', b'm', b'e', b's', b'p',
            b'a', b'c', b'e', 0x12, 0x05, 0x0a, 0x03, 0x0a, 0x01, b'x',
        ]);
        let v = decode_body(
            Some("application/vnd.kubernetes.protobuf"),
            &Bytes::from(body),
        )
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}})
        );
    }

    #[test]
    fn malformed_json_is_worded_as_upstream() {
        let message = |body: &'static [u8]| {
            decode_body(None, &Bytes::from_static(body))
                .unwrap_err()
                .message
        };
        assert_eq!(
            message(b"imastring!"),
            "couldn't get version/kind; json parse error: invalid character 'i' looking for beginning of value"
        );
        assert_eq!(
            message(b"{\"kind\": \"ConfigMap\""),
            "couldn't get version/kind; json parse error: unexpected end of JSON input"
        );
        assert_eq!(
            message(b"{]"),
            "couldn't get version/kind; json parse error: invalid character ']' looking for beginning of object key string"
        );
        assert_eq!(
            message(b"[1]"),
            r#"couldn't get version/kind; json parse error: json: cannot unmarshal array into Go value of type struct { APIVersion string "json:\"apiVersion,omitempty\""; Kind string "json:\"kind,omitempty\"" }"#
        );
        assert_eq!(message(b"null"), "Object 'Kind' is missing in 'null'");
    }

    #[test]
    fn malformed_protobuf_is_a_bad_request() {
        let err = decode_body(
            Some("application/vnd.kubernetes.protobuf"),
            &Bytes::from_static(b"{\"kind\":\"Namespace\"}"),
        )
        .unwrap_err();
        assert_eq!((err.code, err.reason), (400, "BadRequest"));
        assert!(
            err.message.starts_with("error decoding protobuf: "),
            "{}",
            err.message
        );
        let err = decode_body(Some("application/cbor"), &Bytes::new()).unwrap_err();
        assert_eq!(err.code, 415);
    }
}
