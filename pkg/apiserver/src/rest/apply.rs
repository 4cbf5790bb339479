//! Server-side apply (application/apply-patch+yaml), as upstream's structured-merge-diff
//! (rkube-api's `managed`): the applied configuration merges into the object (keyed lists
//! by their keys, sets by value, atomic values whole), fields the manager applied before and
//! nobody owns now are removed, other managers' fields are conflicts unless `force`, and
//! `metadata.managedFields` records who owns what.

use axum::{http::StatusCode, response::Response};
use rkube_api::managed::{self, Context, Managed};
use serde_json::{json, Value};

use super::{update::guaranteed_update, Call};
use crate::{
    object::{meta_str, now},
    status::{ApiError, ApiResult},
};

pub async fn apply(call: &Call<'_>) -> ApiResult<Response> {
    let def = call.def();
    if call
        .params
        .field_manager
        .as_deref()
        .is_none_or(str::is_empty)
    {
        return Err(ApiError::bad_request(
            "PATCH requests with application/apply-patch+yaml must specify a fieldManager",
        ));
    }
    if call.body.len() > super::MAX_BODY {
        return Err(ApiError::too_large());
    }
    let applied: Value = serde_yaml::from_slice(&call.body)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    if !applied.is_object() {
        return Err(ApiError::bad_request(
            "the applied configuration must be an object",
        ));
    }
    super::create::check_type_meta(def, &applied)?;
    for f in ["apiVersion", "kind"] {
        if applied
            .get(f)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(ApiError::bad_request(format!(
                "{f} must be set in an applied configuration"
            )));
        }
    }
    if applied
        .pointer("/metadata/managedFields")
        .is_some_and(|m| !m.is_null())
    {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    // The applied configuration must fit the kind's schema (openapi/fields.rs).
    crate::openapi::fields::check_apply(def, call.ns(), &applied)?;
    let body_name = meta_str(&applied, "name").unwrap_or_default();
    if body_name != call.name() {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({})",
            call.name()
        )));
    }
    let who = crate::managed::applier(call);
    let reset = crate::managed::reset_fields(def, call.req.subresource.as_deref());
    let force = call.params.force;
    match call.api.read(def, call.ns(), call.name()).await {
        Err(e) if e.code == 404 => {
            // Apply creates: the applied configuration merged into the kind's zero value,
            // owned by this manager.
            let now = now();
            let cx = Context {
                schema: crate::managed::schema(def),
                reset: &reset,
                now: &now,
            };
            let zero = managed::managers::zero_value(&cx, &applied);
            let mut entries = Managed::default();
            let obj = managed::apply(&cx, &zero, &applied, &mut entries, &who, force)
                .map_err(|e| to_api(call, e))?;
            let mut obj = strip_nulls(obj);
            crate::openapi::fields::check_apply_result(def, call.ns(), &obj)?;
            crate::object::meta_mut(&mut obj).insert("managedFields".into(), entries.encode());
            let create = Call {
                api: call.api,
                user: call.user,
                trusted: call.trusted,
                req: call.req.clone(),
                params: call.params.clone(),
                output: call.output,
                content_type: Some("application/json".into()),
                body: serde_json::to_vec(&obj).expect("serializes").into(),
            };
            super::create::create(&create).await
        }
        Err(e) => Err(e),
        Ok(_) => {
            let written = guaranteed_update(call, None, |old| {
                let now = now();
                let cx = Context {
                    schema: crate::managed::schema(def),
                    reset: &reset,
                    now: &now,
                };
                let mut entries =
                    Managed::decode(old.pointer("/metadata/managedFields")).unwrap_or_default();
                let mut new = managed::apply(&cx, old, &applied, &mut entries, &who, force)
                    .map(strip_nulls)
                    .map_err(|e| to_api(call, e))?;
                crate::openapi::fields::check_apply_result(def, call.ns(), &new)?;
                let meta = crate::object::meta_mut(&mut new);
                meta.insert("managedFields".into(), entries.encode());
                // The stored object's identity stays; the configuration cannot change it.
                for f in ["resourceVersion", "uid", "creationTimestamp"] {
                    match old.pointer(&format!("/metadata/{f}")) {
                        Some(v) => drop(meta.insert(f.into(), v.clone())),
                        None => drop(meta.remove(f)),
                    }
                }
                Ok(new)
            })
            .await?;
            super::update::finish(call, written).map(|mut r| {
                *r.status_mut() = StatusCode::OK;
                r
            })
        }
    }
}

/// Nulls of an applied configuration mean "unset", as in a Go object.
fn strip_nulls(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.retain(|_, x| !x.is_null());
                m.values_mut().for_each(walk);
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

/// Conflicts are upstream's 409 with one cause per field and manager; an object that does
/// not fit its schema (a keyed item without its key, a duplicate key) is a 500, as upstream
/// fails to build the typed object.
fn to_api(call: &Call<'_>, e: managed::Error) -> ApiError {
    match &e {
        managed::Error::Conflicts(conflicts) => {
            let causes: Vec<Value> = conflicts
                .iter()
                .map(|c| {
                    json!({"reason": "FieldManagerConflict", "message": c.message(), "field": c.field()})
                })
                .collect();
            let mut err = ApiError::new(409, "Conflict", e.to_string());
            err.details = Some(json!({"causes": causes}));
            err
        }
        managed::Error::Schema(m) | managed::Error::InvalidManagedFields(m) => {
            let def = call.def();
            ApiError::internal(format!(
                "Internal error occurred: failed to create typed patch object ({}/{}; {}, Kind={}): {m}",
                call.ns().unwrap_or_default(),
                call.name(),
                def.api_version(),
                def.kind
            ))
        }
    }
}
