//! SelfSubjectReview (`kubectl auth whoami`) and TokenReview.

use serde_json::{json, Value};

use super::{caller, user_info, Call};
use crate::{
    object::now,
    status::{ApiError, ApiResult},
};

/// The caller as the API server knows them.
pub fn self_subject(call: &Call<'_>, obj: &mut Value) -> ApiResult<Value> {
    obj["metadata"]["creationTimestamp"] = json!(now());
    Ok(json!({"userInfo": user_info(caller(call)?)}))
}

/// Whether `spec.token` authenticates, for which of `spec.audiences` (default: the API
/// server's), and as whom.
pub async fn token(call: &Call<'_>, obj: &mut Value) -> ApiResult<Value> {
    obj["metadata"]["creationTimestamp"] = json!(now());
    let token = obj["spec"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if token.is_empty() {
        return Err(ApiError::bad_request(
            "token is required for TokenReview in authentication",
        ));
    }
    let Some(tokens) = call.api.tokens.as_ref() else {
        return Ok(json!({"user": {}, "error": "no token authenticator is configured"}));
    };
    let audiences: Vec<String> = match obj["spec"]["audiences"].as_array() {
        Some(a) if !a.is_empty() => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => tokens.audiences.clone(),
    };
    Ok(match tokens.review(call.api, &token, &audiences).await {
        Ok((id, matched)) => {
            json!({"authenticated": true, "user": user_info(&id), "audiences": matched})
        }
        Err(e) => json!({"user": {}, "error": e.to_string()}),
    })
}
