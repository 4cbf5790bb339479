//! The reviews (authentication.k8s.io and authorization.k8s.io): a create answers a question
//! about a user, a token or a permission, and nothing is stored.
//!
//! Access reviews ask the server's authorizer (authz/), as upstream's do.

mod access;
mod identity;
#[cfg(test)]
mod tests;

use axum::{http::StatusCode, response::Response};
use serde_json::{json, Value};

use crate::{
    authn::Identity,
    rest::{respond, Call},
    status::{ApiError, ApiResult},
};

pub async fn create(call: &Call<'_>) -> ApiResult<Response> {
    let def = call.def();
    let mut obj = crate::rest::create::decode_checked(call)?;
    obj["apiVersion"] = json!(def.api_version());
    obj["kind"] = json!(def.kind);
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    // SelfSubjectReview alone has no spec.
    if def.kind != "SelfSubjectReview" && !obj.get("spec").is_some_and(Value::is_object) {
        obj["spec"] = json!({});
    }
    let status = match def.kind {
        "SelfSubjectReview" => identity::self_subject(call, &mut obj)?,
        "TokenReview" => identity::token(call, &mut obj).await?,
        "SelfSubjectRulesReview" => access::rules(call, &obj)?,
        _ => access::access(call, &obj)?,
    };
    obj["status"] = status;
    respond(call, StatusCode::CREATED, obj)
}

/// A user as `userInfo` lists it (uid and extra only when set).
fn user_info(id: &Identity) -> Value {
    let mut u = json!({"username": id.user, "groups": id.groups});
    if !id.uid.is_empty() {
        u["uid"] = json!(id.uid);
    }
    if !id.extra.is_empty() {
        u["extra"] = json!(id.extra);
    }
    u
}

/// Who asks; the router lets no unauthenticated request this far.
fn caller<'a>(call: &'a Call<'_>) -> ApiResult<&'a Identity> {
    call.user.ok_or_else(ApiError::unauthorized)
}
