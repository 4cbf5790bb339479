//! Responses in the representation the client negotiated: JSON, YAML, Table, or metadata.

use axum::{
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};
use rkube_api::ResourceDef;
use serde_json::{json, Value};

use super::Call;
use crate::{
    object::now,
    request::Output,
    status::{ApiError, ApiResult},
};

/// Serializes one object or list for the client.
pub fn respond(call: &Call<'_>, code: StatusCode, obj: Value) -> ApiResult<Response> {
    let is_list = obj.get("items").is_some_and(Value::is_array) && obj.get("metadata").is_some();
    let body = match call.output {
        Output::Json => obj,
        Output::Yaml => {
            let text =
                serde_yaml::to_string(&obj).map_err(|e| ApiError::internal(e.to_string()))?;
            return Ok((code, [(header::CONTENT_TYPE, "application/yaml")], text).into_response());
        }
        Output::Table(v) => {
            // Status objects (e.g. a subresource's) are not tabulated.
            if obj.get("kind").and_then(Value::as_str) == Some("Status") {
                obj
            } else {
                to_table(
                    call.def(),
                    v,
                    &obj,
                    is_list,
                    call.params.include_object.as_deref(),
                )
            }
        }
        Output::PartialMetadata(v) => to_partial(v, &obj, is_list),
    };
    Ok(json_response(code, &body))
}

/// The stored object `stored` at `revision` as a JSON response, written from its bytes
/// (splice.rs); `None` when the client wants another representation or the kind's served
/// form differs from the stored one (the caller then responds from the decoded object).
pub fn respond_stored(
    call: &Call<'_>,
    code: StatusCode,
    stored: &[u8],
    revision: i64,
) -> Option<Response> {
    let def = call.def();
    if call.output != Output::Json || super::convert::converts(def) {
        return None;
    }
    let body = super::splice::object(stored, revision, &def.api_version(), def.kind)?;
    Some((code, [(header::CONTENT_TYPE, "application/json")], body).into_response())
}

pub fn json_response(code: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (code, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

/// One object's metadata as a meta.k8s.io PartialObjectMetadata.
pub(crate) fn partial_object(version: &str, obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

fn to_partial(version: &str, obj: &Value, is_list: bool) -> Value {
    if !is_list {
        return partial_object(version, obj);
    }
    let items: Vec<Value> = obj["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| partial_object(version, o))
        .collect();
    json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
        "items": items,
    })
}

/// A meta.k8s.io Table of one object or a list, with the kind's columns.
pub fn to_table(
    def: &ResourceDef,
    version: &str,
    obj: &Value,
    is_list: bool,
    include: Option<&str>,
) -> Value {
    let now = now();
    let columns: Vec<Value> = rkube_api::table::columns(def)
        .iter()
        .map(|c| {
            json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority})
        })
        .collect();
    let row = |o: &Value| -> Value {
        let object = match include.unwrap_or("Metadata") {
            "None" => Value::Null,
            "Object" => {
                // Row objects are decoded on their own: they need their kind.
                let mut full = o.clone();
                crate::object::set_type_meta(def, &mut full);
                full
            }
            _ => partial_object("v1", o),
        };
        json!({"cells": rkube_api::table::cells(def, o, &now), "object": object})
    };
    let (rows, metadata): (Vec<Value>, Value) = if is_list {
        let meta = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
        (
            obj["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(row)
                .collect(),
            meta,
        )
    } else {
        let rv = obj
            .pointer("/metadata/resourceVersion")
            .cloned()
            .unwrap_or(Value::Null);
        (vec![row(obj)], json!({"resourceVersion": rv}))
    };
    json!({
        "kind": "Table",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": rows,
    })
}

// ---- Warnings (field validation) ----
// Upstream records warnings in the request context and writes each as a `Warning: 299 -
// "<text>"` header. Here handlers add them to a recorder scoped to the call
// (`with_recorded_warnings`, around the verb's handler in `handle`).

tokio::task_local! {
    static WARNINGS: std::cell::RefCell<Vec<String>>;
}

/// Records warnings for the response of the call being handled (kubectl prints each as
/// `Warning: <text>`). Outside a call, they are dropped.
pub fn add_warnings(warnings: Vec<String>) {
    if warnings.is_empty() {
        return;
    }
    let _ = WARNINGS.try_with(|w| w.borrow_mut().extend(warnings));
}

/// Runs a handler with a warnings recorder and attaches what it recorded to its response.
pub async fn with_recorded_warnings(
    handler: impl std::future::Future<Output = ApiResult<Response>>,
) -> ApiResult<Response> {
    WARNINGS
        .scope(std::cell::RefCell::new(Vec::new()), async {
            let result = handler.await;
            let warnings = WARNINGS.with(|w| w.take());
            result.map(|r| with_warnings(r, &warnings))
        })
        .await
}

/// Adds one `Warning` header per distinct warning: `299 - "<text, Go-quoted>"`.
pub fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    let mut seen: Vec<&str> = Vec::new();
    for w in warnings {
        if seen.contains(&w.as_str()) {
            continue;
        }
        seen.push(w);
        let value = format!("299 - {}", rkube_api::validation::go_quote(w));
        if let Ok(v) = axum::http::HeaderValue::from_bytes(value.as_bytes()) {
            response.headers_mut().append(header::WARNING, v);
        }
    }
    response
}
