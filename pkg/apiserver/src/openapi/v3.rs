//! OpenAPI v3 (`/openapi/v3`): an index of per-group-version documents, each an OpenAPI
//! 3.0 document with its paths and the component schemas they reference.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::paths::{self, Definition, Location, Operation, Param, PathItem, Section};

const SCHEMAS: &str = "#/components/schemas/";

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("{SCHEMAS}{name}")})
}

fn param(p: &Param) -> Value {
    let mut v = json!({
        "description": p.description,
        "in": p.location.as_str(),
        "name": p.name,
        "schema": {"type": p.ty, "uniqueItems": true},
    });
    if p.required {
        v["required"] = json!(true);
    }
    v
}

/// The same schema for each media type.
fn content(types: &[&str], name: &str) -> Value {
    types
        .iter()
        .map(|t| (t.to_string(), json!({"schema": schema_ref(name)})))
        .collect::<Map<_, _>>()
        .into()
}

fn operation(o: &Operation) -> Value {
    let responses: Map<String, Value> = o
        .responses
        .iter()
        .map(|r| {
            (
                r.code.to_string(),
                json!({"content": content(o.produces, &r.schema), "description": r.description}),
            )
        })
        .collect();
    let mut v = json!({
        "description": o.description,
        "operationId": o.id,
        "responses": responses,
        "tags": [o.tag],
    });
    let params: Vec<Value> = o
        .params
        .iter()
        .filter(|p| p.location != Location::Body)
        .map(param)
        .collect();
    if !params.is_empty() {
        v["parameters"] = params.into();
    }
    if let Some(body) = o.body() {
        let mut rb =
            json!({"content": content(o.consumes, body.schema.as_deref().unwrap_or_default())});
        if body.required {
            rb["required"] = json!(true);
        }
        v["requestBody"] = rb;
    }
    if let Some(action) = o.action {
        v["x-kubernetes-action"] = json!(action);
    }
    if let Some(gvk) = &o.gvk {
        v["x-kubernetes-group-version-kind"] = gvk.json();
    }
    v
}

fn path_item(p: &PathItem) -> Value {
    let mut v = Map::new();
    for o in &p.ops {
        v.insert(o.method.as_str().into(), operation(o));
    }
    if !p.params.is_empty() {
        v.insert(
            "parameters".into(),
            p.params.iter().map(param).collect::<Vec<_>>().into(),
        );
    }
    Value::Object(v)
}

/// Rewrites a v2 schema as upstream's v3 documents have it: references point at the
/// components, and a reference with siblings (a field's `description`, `default`) becomes
/// `allOf: [{$ref}]` beside them, since OpenAPI 3.0 ignores the siblings of a `$ref`.
fn to_components(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get_mut("$ref") {
                if let Some(name) = r.strip_prefix("#/definitions/") {
                    *r = format!("{SCHEMAS}{name}");
                }
                if m.len() > 1 {
                    if let Some(r) = m.remove("$ref") {
                        m.insert("allOf".into(), json!([{ "$ref": r }]));
                    }
                }
            }
            for (k, x) in m.iter_mut() {
                if k != "$ref" {
                    to_components(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(to_components),
        _ => {}
    }
}

/// One section's OpenAPI 3.0 document.
pub fn document(section: &Section, catalog: &BTreeMap<String, Definition>, version: &str) -> Value {
    let paths: Map<String, Value> = section
        .paths
        .iter()
        .map(|p| (p.path.clone(), path_item(p)))
        .collect();
    let mut schemas: Map<String, Value> = paths::referenced_schemas(&section.paths, catalog)
        .into_iter()
        .collect();
    schemas.values_mut().for_each(to_components);
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "BearerToken": {
                    "description": "Bearer Token authentication",
                    "in": "header",
                    "name": "authorization",
                    "type": "apiKey",
                },
            },
        },
        "security": [{"BearerToken": []}],
    })
}

/// `/openapi/v3`: where each section's document is, its hash in the URL.
pub fn index<'a>(hashes: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
    let paths: Map<String, Value> = hashes
        .into_iter()
        .map(|(name, hash)| {
            (
                name.to_string(),
                json!({"serverRelativeURL": format!("/openapi/v3/{name}?hash={hash}")}),
            )
        })
        .collect();
    json!({ "paths": paths })
}
