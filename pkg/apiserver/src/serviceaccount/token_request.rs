//! POST serviceaccounts/<name>/token: a TokenRequest in, the same with `status.token` out, as
//! upstream's TokenREST (pkg/registry/core/serviceaccount/storage/token.go).

use axum::{http::StatusCode, response::Response};
use rkube_api::{FieldError, FieldErrorKind, ResourceDef};
use serde_json::{json, Value};

use super::claims::{username, Claims, Private, Ref};
use crate::{
    object::{new_uid, rfc3339},
    rest::{respond, Call},
    status::{ApiError, ApiResult},
};

/// Upstream's bounds on `spec.expirationSeconds`.
const MIN_SECONDS: i64 = 10 * 60;
const MAX_SECONDS: i64 = 1 << 32;
const DEFAULT_SECONDS: i64 = 60 * 60;
/// What kubelets ask for kube-api-access volumes: such a pod-bound token stays valid a year
/// (warning after the hour), so pods whose tokens are not refreshed in time keep working.
pub const WARN_ONLY_SECONDS: i64 = 3607;
const EXTENDED_SECONDS: i64 = 365 * 24 * 60 * 60;

/// The kind invalid TokenRequests are reported as.
static TOKEN_REQUEST: ResourceDef = ResourceDef::named(
    "authentication.k8s.io",
    "v1",
    "TokenRequest",
    "tokenrequests",
    "tokenrequest",
);

pub async fn create(call: &Call<'_>, mut req: Value) -> ApiResult<Response> {
    let tokens =
        call.api.tokens.as_ref().ok_or_else(|| {
            ApiError::service_unavailable("service account tokens are not issued")
        })?;
    let (ns, name) = (call.ns().unwrap_or_default(), call.name());
    for (field, want) in [("name", name), ("namespace", ns)] {
        match req
            .pointer(&format!("/metadata/{field}"))
            .and_then(Value::as_str)
        {
            Some(given) if !given.is_empty() && given != want => {
                let err = FieldError {
                    kind: FieldErrorKind::Invalid(json!(given)),
                    field: format!("metadata.{field}"),
                    detail: format!("must match the service account {field} if specified"),
                };
                return Err(ApiError::invalid(&TOKEN_REQUEST, name, &[err]));
            }
            _ => {}
        }
    }
    let sa_def = call.def();
    let (sa, _) = call.api.read(sa_def, Some(ns), name).await?;
    let sa_uid = sa["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let spec = &mut req["spec"];
    if !spec.is_object() {
        *spec = json!({});
    }
    let audiences: Vec<String> = match spec.get("audiences").and_then(Value::as_array) {
        Some(a) if !a.is_empty() => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => tokens.audiences.clone(),
    };
    spec["audiences"] = json!(audiences);
    let seconds = spec
        .get("expirationSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_SECONDS);
    spec["expirationSeconds"] = json!(seconds);
    let bound = spec.get("boundObjectRef").cloned().filter(Value::is_object);

    let now = time::OffsetDateTime::now_utc();
    let meta = json!({"name": name, "namespace": ns, "creationTimestamp": rfc3339(now)});
    req["metadata"] = meta;
    req["apiVersion"] = json!("authentication.k8s.io/v1");
    req["kind"] = json!("TokenRequest");
    req.as_object_mut().map(|o| o.remove("status"));

    let detail = if seconds < MIN_SECONDS {
        "may not specify a duration less than 10 minutes"
    } else if seconds > MAX_SECONDS {
        "may not specify a duration larger than 2^32 seconds"
    } else {
        ""
    };
    if !detail.is_empty() {
        let err = FieldError {
            kind: FieldErrorKind::Invalid(json!(seconds)),
            field: "spec.expirationSeconds".into(),
            detail: detail.into(),
        };
        return Err(ApiError::invalid(&TOKEN_REQUEST, "", &[err]));
    }

    let mut private = Private {
        namespace: ns.to_string(),
        node: None,
        pod: None,
        secret: None,
        serviceaccount: Ref {
            name: name.to_string(),
            uid: sa_uid,
        },
        warnafter: None,
    };
    if let Some(r) = &bound {
        bind(call, name, r, &mut private).await?;
    }

    // A kubelet's kube-api-access token (pod-bound, for the API server) lives a year.
    let for_api = audiences.iter().all(|a| tokens.audiences.contains(a));
    let mut lifetime = seconds;
    if private.pod.is_some() && seconds == WARN_ONLY_SECONDS && for_api {
        private.warnafter = Some(now.unix_timestamp() + seconds);
        lifetime = EXTENDED_SECONDS;
    }
    let iat = now.unix_timestamp();
    let claims = Claims {
        aud: audiences,
        exp: iat + lifetime,
        iat,
        iss: tokens.issuer.clone(),
        jti: new_uid(),
        kubernetes: private,
        nbf: iat,
        sub: username(ns, name),
    };
    // As upstream: the status gives the requested expiry, even for an extended token.
    req["status"] = json!({
        "token": tokens.sign(&claims),
        "expirationTimestamp": rfc3339(now + time::Duration::seconds(seconds)),
    });
    respond(call, StatusCode::CREATED, req)
}

/// Fills the claims of the object `r` (a boundObjectRef) binds the token to.
async fn bind(call: &Call<'_>, sa: &str, r: &Value, private: &mut Private) -> ApiResult<()> {
    let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default();
    let (api_version, kind, obj_name, want_uid) = (s("apiVersion"), s("kind"), s("name"), s("uid"));
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    let plural = match (group, kind) {
        ("", "Pod") => "pods",
        ("", "Secret") => "secrets",
        ("", "Node") => "nodes",
        _ => {
            return Err(ApiError::bad_request(format!(
                "cannot bind token to object of type {group}/{version}, Kind={kind}"
            )))
        }
    };
    let def = rkube_api::registry::find("", "v1", plural).expect("a served core resource");
    let ns = def.namespaced.then(|| call.ns().unwrap_or_default());
    let (obj, _) = call.api.read(def, ns, obj_name).await?;
    let uid = obj["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if !want_uid.is_empty() && want_uid != uid {
        return Err(ApiError::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {kind} {obj_name:?}: the UID in the bound object reference ({want_uid}) does not match the UID in record. The object might have been deleted and then recreated"),
        ));
    }
    let this = Ref {
        name: obj_name.to_string(),
        uid,
    };
    match kind {
        "Pod" => {
            let runs_as = obj["spec"]["serviceAccountName"]
                .as_str()
                .unwrap_or_default();
            if runs_as != sa {
                return Err(ApiError::bad_request(format!(
                    "cannot bind token for serviceaccount {sa:?} to pod running with different serviceaccount name."
                )));
            }
            // The pod's node rides along (upstream's ServiceAccountTokenPodNodeInfo).
            if let Some(node) = obj["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
                let nodes = rkube_api::registry::find("", "v1", "nodes").expect("nodes are served");
                // A node not found still gives its name, as upstream.
                let uid = match call.api.read(nodes, None, node).await {
                    Ok((n, _)) => n["metadata"]["uid"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    Err(_) => String::new(),
                };
                private.node = Some(Ref {
                    name: node.to_string(),
                    uid,
                });
            }
            private.pod = Some(this);
        }
        "Secret" => private.secret = Some(this),
        _ => private.node = Some(this),
    }
    Ok(())
}
