//! SubjectAccessReview, LocalSubjectAccessReview, SelfSubjectAccessReview (`kubectl auth
//! can-i`) and SelfSubjectRulesReview (`kubectl auth can-i --list`), validated as upstream's
//! (pkg/apis/authorization/validation) and answered by the server's authorizer (as AlwaysAllow
//! where there is none).

use rkube_api::{FieldError, FieldErrorKind};
use serde_json::{json, Value};

use super::{caller, Call};
use crate::{
    authn::Identity,
    authz::Attributes,
    status::{ApiError, ApiResult},
};

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
    let Some(authorizer) = &call.api.authorizer else {
        return Ok(json!({"allowed": true}));
    };
    let subject = match def.kind {
        "SelfSubjectAccessReview" => caller(call)?.clone(),
        _ => subject(spec),
    };
    let attrs = match resource {
        Some(r) => {
            let s = |k: &str| r[k].as_str().unwrap_or_default();
            let mut ns = s("namespace");
            if def.kind == "LocalSubjectAccessReview" && ns.is_empty() {
                ns = call.ns().unwrap_or_default();
            }
            let mut a = Attributes::resource(s("verb"), s("group"), s("resource"), ns, s("name"));
            a.subresource = s("subresource").into();
            a.api_version = s("version").into();
            a
        }
        None => {
            let n = non_resource.expect("validated");
            Attributes {
                verb: n["verb"].as_str().unwrap_or_default().into(),
                path: n["path"].as_str().unwrap_or_default().into(),
                ..Default::default()
            }
        }
    };
    let d = authorizer.decide(&subject, &attrs);
    let mut status = json!({"allowed": d.allowed});
    if !d.reason.is_empty() {
        status["reason"] = json!(d.reason);
    }
    Ok(status)
}

/// The user a (Local)SubjectAccessReview asks about, as its spec gives it.
fn subject(spec: &Value) -> Identity {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    Identity {
        user: spec["user"].as_str().unwrap_or_default().into(),
        groups: strings(&spec["groups"]),
        uid: spec["uid"].as_str().unwrap_or_default().into(),
        extra: spec["extra"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), strings(v)))
            .collect(),
    }
}

pub fn rules(call: &Call<'_>, obj: &Value) -> ApiResult<Value> {
    let ns = obj["spec"]["namespace"].as_str().unwrap_or_default();
    if ns.is_empty() {
        return Err(ApiError::bad_request("no namespace on request"));
    }
    if let Some(authorizer) = &call.api.authorizer {
        let (resource, non_resource, errors) = authorizer.rules_for(caller(call)?, ns);
        let mut status = json!({
            "resourceRules": resource,
            "nonResourceRules": non_resource,
            "incomplete": !errors.is_empty(),
        });
        match errors.as_slice() {
            [] => {}
            [one] => status["evaluationError"] = json!(one),
            many => status["evaluationError"] = json!(format!("[{}]", many.join(", "))),
        }
        return Ok(status);
    }
    Ok(json!({
        "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
        "incomplete": false,
    }))
}
