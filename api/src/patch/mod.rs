//! PATCH bodies, applied as kube-apiserver v1.33 applies them to a stored object: JSON patch,
//! JSON merge patch and strategic merge patch (server-side apply is handled elsewhere).
//!
//! - `json_patch`: RFC 6902 with the semantics of the evanphx/json-patch v4 library upstream
//!   uses, applied through the `json-patch` crate.
//! - `merge_patch`: RFC 7386, as the same library's `MergePatch`.
//! - `strategic`: k8s.io/apimachinery's strategic merge patch, directives included, with
//!   list and map strategies from [`patch_meta`].
//!
//! Errors are upstream's, with their HTTP codes: see [`PatchError`].

mod go_fmt;
mod go_json;

/// A body decoded as Go's `encoding/json` decodes it, or Go's error for it (create and
/// update bodies use it too, for upstream's wording of malformed JSON).
pub fn decode_go_json(body: &[u8]) -> Result<Value, String> {
    go_json::decode(body)
}

/// `json: cannot unmarshal <kind of value> into Go value of type <go_type>`.
pub fn go_type_error(value: &Value, go_type: &str) -> String {
    go_json::type_error(value, go_type)
}
mod json_patch;
mod merge_patch;
mod order;
pub mod patch_meta;
mod strategic;

#[cfg(test)]
mod tests;

use serde_json::{json, Value};

use crate::registry::ResourceDef;

/// The PATCH content types this module applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
}

impl PatchType {
    /// The patch type of a `Content-Type` header (parameters after ';' ignored, as upstream),
    /// or None for any other (`application/apply-patch+yaml` included).
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let media = content_type.split(';').next().unwrap_or_default();
        match media {
            "application/json-patch+json" => Some(Self::Json),
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::Strategic),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json-patch+json",
            Self::Merge => "application/merge-patch+json",
            Self::Strategic => "application/strategic-merge-patch+json",
        }
    }
}

/// Why a patch was not applied, as kube-apiserver answers. `Display` is the Status
/// `message` upstream sends; [`PatchError::http_code`], [`PatchError::reason`] and
/// [`PatchError::details`] complete the Status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// 400 BadRequest: the body is not a patch of its type. The text is Go's decoding error
    /// (`invalid character 'x' looking for beginning of value`, `json: cannot unmarshal
    /// object into Go value of type jsonpatch.Patch`), merge patch's `Invalid JSON Patch`, or
    /// a malformed strategic directive (`invalid patch format of retainKeys`).
    #[error("{0}")]
    BadRequest(String),
    /// 422 Invalid: a well-formed patch that does not apply to this object (a failed JSON
    /// patch `test`, a missing path, a strategic list of lists). Upstream answers
    /// `NewGenericServerResponse(422)`, whose message is a fixed sentence and whose details
    /// are empty: the cause (e.g. `testing value /x failed: test failed`) is kept here for
    /// logs only ([`PatchError::cause`]).
    #[error("the server rejected our request due to an error in our request")]
    Invalid(String),
    /// 422 Invalid: the patched document does not decode as an object (an array or scalar
    /// replaced it). Upstream's `NewInvalid` with one `FieldValueInvalid` cause on field
    /// `patch`, whose value is the patched JSON.
    #[error(" \"\" is invalid: patch: Invalid value: {}: {detail}", go_fmt::quote(.value))]
    InvalidResult { value: String, detail: String },
    /// 413 RequestEntityTooLarge: more than 10000 JSON patch operations.
    #[error("Request entity too large: {0}")]
    TooLarge(String),
    /// 500: upstream returns these strategic-merge failures (a list item without its merge
    /// key, an unknown `$patch`, a `$setElementOrder` out of step with the patch, ...) as
    /// plain errors, which become an InternalError-coded Status with reason "" and the
    /// error text as message.
    #[error("{0}")]
    Internal(String),
}

impl PatchError {
    /// The HTTP status code of the Status upstream sends.
    pub fn http_code(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::Invalid(_) | Self::InvalidResult { .. } => 422,
            Self::TooLarge(_) => 413,
            Self::Internal(_) => 500,
        }
    }

    /// The Status `reason` (`""`, StatusReasonUnknown, for 500s).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "BadRequest",
            Self::Invalid(_) | Self::InvalidResult { .. } => "Invalid",
            Self::TooLarge(_) => "RequestEntityTooLarge",
            Self::Internal(_) => "",
        }
    }

    /// The Status `details` upstream sends, if any.
    pub fn details(&self) -> Option<Value> {
        match self {
            Self::Invalid(_) => Some(json!({})),
            Self::InvalidResult { value, detail } => Some(json!({
                "causes": [{
                    "reason": "FieldValueInvalid",
                    "message": format!("Invalid value: {}: {detail}", go_fmt::quote(value)),
                    "field": "patch",
                }],
            })),
            _ => None,
        }
    }

    /// The underlying error text (for [`PatchError::Invalid`], what upstream leaves out).
    pub fn cause(&self) -> &str {
        match self {
            Self::BadRequest(s) | Self::Invalid(s) | Self::TooLarge(s) | Self::Internal(s) => s,
            Self::InvalidResult { detail, .. } => detail,
        }
    }

    /// The patched document is not an object: decoding it into the kind fails as upstream's
    /// JSON serializer reports.
    fn not_an_object(patched: &Value) -> Self {
        let kind = match patched {
            Value::Array(_) => "array",
            Value::String(_) => "string",
            Value::Number(_) => "number",
            Value::Bool(_) => "bool",
            Value::Null => "null",
            Value::Object(_) => "object",
        };
        Self::InvalidResult {
            value: patched.to_string(),
            detail: format!(
                "couldn't get version/kind; json parse error: json: cannot unmarshal {kind} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}"
            ),
        }
    }
}

/// Applies a PATCH body of type `kind` to `original` (an object of `def`'s kind, as stored)
/// and returns the patched object. Strategic merge patch takes its list and map strategies
/// from `def`'s group and kind ([`patch_meta`]).
///
/// The result is what upstream has before decoding it into the typed object: checks that
/// follow there (name and namespace unchanged, `resourceVersion` precondition, kind,
/// validation) are the caller's.
pub fn apply_patch(
    def: &ResourceDef,
    kind: PatchType,
    original: &Value,
    patch_body: &[u8],
) -> Result<Value, PatchError> {
    match kind {
        PatchType::Json => json_patch::apply(original, patch_body),
        PatchType::Merge => merge_patch::apply(original, patch_body),
        PatchType::Strategic => strategic::apply(def.group, def.kind, original, patch_body),
    }
}
