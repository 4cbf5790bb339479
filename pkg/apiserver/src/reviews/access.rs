//! SubjectAccessReview, LocalSubjectAccessReview, SelfSubjectAccessReview (`kubectl auth
//! can-i`) and SelfSubjectRulesReview (`kubectl auth can-i --list`), validated as upstream's
//! (pkg/apis/authorization/validation) and answered as its AlwaysAllow authorizer answers.

use rkube_api::{FieldError, FieldErrorKind};
use serde_json::{json, Value};

use super::Call;
use crate::status::{ApiError, ApiResult};

fn invalid(field: &str, value: &Value, detail: &str) -> FieldError {
    FieldError {
        kind: FieldErrorKind::Invalid(value.clone()),
        field: field.into(),
        detail: detail.into(),
    }
}

pub fn access(call: &Call<'_>, obj: &Value) -> ApiResult<Value> {
    let def = call.def();
    let spec = &obj["spec"];
    let resource = spec.get("resourceAttributes").filter(|v| !v.is_null());
    let non_resource = spec.get("nonResourceAttributes").filter(|v| !v.is_null());
    let mut errs = Vec::new();
    match (resource, non_resource) {
        (Some(_), Some(n)) => errs.push(invalid(
            "spec.nonResourceAttributes",
            n,
            "cannot be specified in combination with resourceAttributes",
        )),
        (None, None) => errs.push(invalid(
            "spec.resourceAttributes",
            &json!("null"),
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )),
        _ => {}
    }
    if matches!(def.kind, "SubjectAccessReview" | "LocalSubjectAccessReview") {
        let user = spec["user"].as_str().unwrap_or_default();
        let groups = spec["groups"].as_array().is_some_and(|g| !g.is_empty());
        if user.is_empty() && !groups {
            errs.push(invalid(
                "spec.user",
                &json!(user),
                "at least one of user or group must be specified",
            ));
        }
    }
    if def.kind == "LocalSubjectAccessReview" {
        let ns = call.ns().unwrap_or_default();
        if let Some(n) = non_resource {
            errs.push(invalid(
                "spec.nonResourceAttributes",
                n,
                "disallowed on this kind of request",
            ));
        }
        let given = resource
            .and_then(|r| r["namespace"].as_str())
            .unwrap_or_default();
        if !given.is_empty() && given != ns {
            errs.push(invalid(
                "spec.resourceAttributes.namespace",
                &json!(given),
                "must match metadata.namespace",
            ));
        }
    }
    if !errs.is_empty() {
        return Err(ApiError::invalid(def, "", &errs));
    }
    Ok(json!({"allowed": true}))
}

pub fn rules(obj: &Value) -> ApiResult<Value> {
    if obj["spec"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .is_empty()
    {
        return Err(ApiError::bad_request("no namespace on request"));
    }
    Ok(json!({
        "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
        "incomplete": false,
    }))
}
