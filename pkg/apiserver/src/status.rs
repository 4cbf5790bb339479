//! API errors and their wire form: a metav1 Status with upstream's code, reason and wording.
//! Errors from the layers below become `ApiError` here, at the API edge and nowhere else.

use axum::{
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};
use rkube_api::{FieldError, ResourceDef};
use serde_json::{json, Value};

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    pub fn with_message(mut self, message: String) -> Self {
        self.message = message;
        self
    }

    pub(crate) fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn method_not_supported(resource: &str, verb: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!("{verb} is not supported on resources of kind {resource:?}"),
        )
    }

    /// `pods "x" not found`, details naming the resource as upstream's NewNotFound.
    pub fn not_found(def: &ResourceDef, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} {name:?} not found", qualified(def)),
        )
        .with_details(json!({"name": name, "group": def.group, "kind": def.plural}))
    }

    /// A path that names no served resource.
    pub fn path_not_found() -> Self {
        Self::new(404, "NotFound", "the server could not find the requested resource")
            .with_details(json!({"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]}))
    }

    pub fn already_exists(def: &ResourceDef, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} {name:?} already exists", qualified(def)),
        )
        .with_details(json!({"name": name, "group": def.group, "kind": def.plural}))
    }

    /// Optimistic concurrency failure, in upstream's words.
    pub fn conflict(def: &ResourceDef, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} {name:?}: {why}",
                qualified(def)
            ),
        )
        .with_details(json!({"name": name, "group": def.group, "kind": def.plural}))
    }

    /// A conflict qualified by the kind ("ConfigMap", "Deployment.apps"), as upstream's
    /// delete preconditions report it.
    pub fn conflict_on_kind(def: &ResourceDef, name: &str, why: &str) -> Self {
        let kind = if def.group.is_empty() {
            def.kind.to_string()
        } else {
            format!("{}.{}", def.kind, def.group)
        };
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {kind} {name:?}: {why}"),
        )
        .with_details(json!({"name": name, "group": def.group, "kind": def.kind}))
    }

    pub fn modified(def: &ResourceDef, name: &str) -> Self {
        Self::conflict(
            def,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    pub fn forbidden(def: &ResourceDef, name: &str, why: &str) -> Self {
        let what = if name.is_empty() {
            qualified(def)
        } else {
            format!("{} {name:?}", qualified(def))
        };
        Self::new(403, "Forbidden", format!("{what} is forbidden: {why}"))
            .with_details(json!({"name": name, "group": def.group, "kind": def.plural}))
    }

    /// 422 with one cause per field, message as upstream's NewInvalid.
    pub fn invalid(def: &ResourceDef, name: &str, errs: &[FieldError]) -> Self {
        let causes: Vec<Value> = errs
            .iter()
            .map(|e| json!({"reason": e.reason(), "message": e.body(), "field": e.field}))
            .collect();
        let kind = if def.group.is_empty() {
            def.kind.to_string()
        } else {
            format!("{}.{}", def.kind, def.group)
        };
        Self::new(
            422,
            "Invalid",
            rkube_api::validation::aggregate_message(&kind, name, errs),
        )
        .with_details(json!({"name": name, "group": def.group, "kind": def.kind, "causes": causes}))
    }

    /// 410 for a resourceVersion older than the retained history.
    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn too_large() -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            "Request entity too large: limit is 3145728",
        )
    }

    /// 504 for a read at a revision the store has not reached within the wait, as upstream's
    /// NewTooLargeResourceVersionError (a Timeout, retry after 1 s).
    pub fn too_large_resource_version(requested: i64, current: i64) -> Self {
        Self::new(
            504,
            "Timeout",
            format!("Timeout: Too large resource version: {requested}, current: {current}"),
        )
        .with_details(json!({
            "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
            "retryAfterSeconds": 1,
        }))
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {content_type:?})"))
    }

    pub fn not_acceptable(accept: &str) -> Self {
        Self::new(406, "NotAcceptable", format!("only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {accept:?})"))
    }

    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "ServiceUnavailable", message)
    }

    /// The Status object itself (also the `object` of a watch ERROR event).
    pub fn status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }
}

/// `pods` or `deployments.apps`, as upstream's GroupResource prints.
pub fn qualified(def: &ResourceDef) -> String {
    if def.group.is_empty() {
        def.plural.to_string()
    } else {
        format!("{}.{}", def.plural, def.group)
    }
}

impl From<rkube_store::Error> for ApiError {
    fn from(e: rkube_store::Error) -> Self {
        match e {
            rkube_store::Error::Compacted { requested, compact_revision } => ApiError::gone(format!(
                "The resourceVersion for the provided list is too old. (requested {requested}, oldest {compact_revision})"
            )),
            rkube_store::Error::FutureRevision { requested, current } => {
                ApiError::too_large_resource_version(requested, current)
            }
            rkube_store::Error::Unavailable(m) => ApiError::service_unavailable(m),
            rkube_store::Error::Closed => ApiError::service_unavailable("the server is shutting down"),
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.status()).unwrap_or_default();
        (code, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}
