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

pub fn json_response(code: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (code, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

fn partial_object(version: &str, obj: &Value) -> Value {
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
            "Object" => o.clone(),
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
