//! Server-side apply (application/apply-patch+yaml): the applied configuration is merged into
//! the object, fields the manager applied before but no longer does are removed, other
//! managers' fields are conflicts unless `force`, and `metadata.managedFields` records who
//! owns what (FieldsV1). Ownership is tracked per map field; lists are owned atomically.

use std::collections::BTreeSet;

use axum::{http::StatusCode, response::Response};
use serde_json::{json, Map, Value};

use super::{update::guaranteed_update, Call};
use crate::{
    object::{meta_str, now},
    status::{ApiError, ApiResult},
};

type FieldPath = Vec<String>;

pub async fn apply(call: &Call<'_>) -> ApiResult<Response> {
    let def = call.def();
    let manager = call
        .params
        .field_manager
        .clone()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "PATCH requests with application/apply-patch+yaml must specify a fieldManager",
            )
        })?;
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
    // The applied configuration must fit the kind's schema (openapi/fields.rs).
    crate::openapi::fields::check_apply(def, call.ns(), &applied)?;
    let body_name = meta_str(&applied, "name").unwrap_or_default();
    if body_name != call.name() {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({})",
            call.name()
        )));
    }
    let api_version = def.api_version();
    match call.api.read(def, call.ns(), call.name()).await {
        Err(e) if e.code == 404 => {
            // Apply creates: the applied configuration, owned by this manager.
            let mut obj = applied.clone();
            set_managed(
                &mut obj,
                &[entry(&manager, &api_version, &field_set(&applied))],
            );
            let create = Call {
                api: call.api,
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
            let force = call.params.force;
            let written = guaranteed_update(call, None, |old| {
                merge(def, old, &applied, &manager, &api_version, force)
            })
            .await?;
            super::update::finish(call, written).map(|mut r| {
                *r.status_mut() = StatusCode::OK;
                r
            })
        }
    }
}

fn merge(
    def: &rkube_api::ResourceDef,
    old: &Value,
    applied: &Value,
    manager: &str,
    api_version: &str,
    force: bool,
) -> ApiResult<Value> {
    let mut entries: Vec<Value> = old
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mine = |e: &Value| {
        e.get("manager").and_then(Value::as_str) == Some(manager)
            && e.get("operation").and_then(Value::as_str) == Some("Apply")
    };
    let previous: BTreeSet<FieldPath> = entries
        .iter()
        .find(|e| mine(e))
        .map(|e| paths_of(e.get("fieldsV1").unwrap_or(&Value::Null)))
        .unwrap_or_default();
    let now_owned = field_set(applied);

    // Conflicts: fields another manager owns that this apply would change.
    let mut conflicts = Vec::new();
    for e in entries.iter_mut().filter(|e| !mine(e)) {
        let theirs = paths_of(e.get("fieldsV1").unwrap_or(&Value::Null));
        let mut taken = BTreeSet::new();
        for p in now_owned.intersection(&theirs) {
            if value_at(old, p) != value_at(applied, p) {
                if force {
                    taken.insert(p.clone());
                } else {
                    conflicts.push((
                        e.get("manager")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        p.clone(),
                    ));
                }
            }
        }
        if !taken.is_empty() {
            let left: BTreeSet<FieldPath> = theirs.difference(&taken).cloned().collect();
            e["fieldsV1"] = to_fields_v1(&left);
        }
    }
    if !conflicts.is_empty() {
        return Err(conflict_error(def, &conflicts));
    }
    let others: BTreeSet<FieldPath> = entries
        .iter()
        .filter(|e| !mine(e))
        .flat_map(|e| paths_of(e.get("fieldsV1").unwrap_or(&Value::Null)))
        .collect();

    let patch = serde_json::to_vec(applied).expect("serializes");
    let mut merged =
        rkube_api::patch::apply_patch(def, rkube_api::patch::PatchType::Strategic, old, &patch)
            .map_err(|e| ApiError::new(422, "Invalid", e.to_string()))?;
    // Fields this manager stopped applying, and nobody else owns, go.
    for p in previous.difference(&now_owned) {
        if !others.contains(p) {
            remove_at(&mut merged, p);
        }
    }
    entries.retain(|e| !mine(e));
    entries.retain(|e| {
        e.get("fieldsV1")
            .is_some_and(|f| f.as_object().is_some_and(|o| !o.is_empty()))
    });
    entries.push(entry(manager, api_version, &now_owned));
    set_managed(&mut merged, &entries);
    Ok(merged)
}

fn conflict_error(def: &rkube_api::ResourceDef, conflicts: &[(String, FieldPath)]) -> ApiError {
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(m, p)| {
            json!({"reason": "FieldManagerConflict", "message": format!("conflict with {m:?}"), "field": dotted(p)})
        })
        .collect();
    let lines: Vec<String> = conflicts
        .iter()
        .map(|(m, p)| format!("- {m}: {}", dotted(p)))
        .collect();
    let n = conflicts.len();
    let message = if n == 1 {
        format!(
            "Apply failed with 1 conflict: conflict with {:?}: {}",
            conflicts[0].0,
            dotted(&conflicts[0].1)
        )
    } else {
        format!(
            "Apply failed with {n} conflicts: conflicts with \n{}",
            lines.join("\n")
        )
    };
    let mut e = ApiError::new(409, "Conflict", message);
    e.details = Some(json!({"group": def.group, "kind": def.plural, "causes": causes}));
    e
}

fn dotted(p: &FieldPath) -> String {
    p.iter().map(|s| format!(".{s}")).collect()
}

fn entry(manager: &str, api_version: &str, fields: &BTreeSet<FieldPath>) -> Value {
    json!({
        "manager": manager,
        "operation": "Apply",
        "apiVersion": api_version,
        "time": now(),
        "fieldsType": "FieldsV1",
        "fieldsV1": to_fields_v1(fields),
    })
}

fn set_managed(obj: &mut Value, entries: &[Value]) {
    crate::object::meta_mut(obj).insert("managedFields".into(), Value::Array(entries.to_vec()));
}

/// The leaf fields an applied configuration sets (maps recursed, lists and scalars leaves),
/// without the identity fields every object has.
fn field_set(applied: &Value) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    fn walk(v: &Value, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
        match v.as_object() {
            Some(o) if !o.is_empty() => {
                for (k, child) in o {
                    path.push(k.clone());
                    walk(child, path, out);
                    path.pop();
                }
            }
            _ => {
                out.insert(path.clone());
            }
        }
    }
    if let Some(o) = applied.as_object() {
        for (k, v) in o {
            if matches!(k.as_str(), "apiVersion" | "kind" | "status") {
                continue;
            }
            let mut path = vec![k.clone()];
            if k == "metadata" {
                for (mk, mv) in v.as_object().into_iter().flatten() {
                    if matches!(
                        mk.as_str(),
                        "name"
                            | "namespace"
                            | "managedFields"
                            | "resourceVersion"
                            | "uid"
                            | "creationTimestamp"
                    ) {
                        continue;
                    }
                    path.push(mk.clone());
                    walk(mv, &mut path, &mut out);
                    path.pop();
                }
                continue;
            }
            walk(v, &mut path, &mut out);
        }
    }
    out
}

fn to_fields_v1(paths: &BTreeSet<FieldPath>) -> Value {
    let mut root = Map::new();
    for p in paths {
        let mut node = &mut root;
        for seg in p {
            node = node
                .entry(format!("f:{seg}"))
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("an object");
        }
    }
    Value::Object(root)
}

fn paths_of(fields: &Value) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    fn walk(v: &Value, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
        let children: Vec<(&String, &Value)> = v
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| k.starts_with("f:"))
            .collect();
        if children.is_empty() {
            if !path.is_empty() {
                out.insert(path.clone());
            }
            return;
        }
        for (k, child) in children {
            path.push(k[2..].to_string());
            walk(child, path, out);
            path.pop();
        }
    }
    walk(fields, &mut Vec::new(), &mut out);
    out
}

fn value_at<'a>(v: &'a Value, p: &FieldPath) -> Option<&'a Value> {
    p.iter().try_fold(v, |cur, seg| cur.get(seg))
}

fn remove_at(v: &mut Value, p: &FieldPath) {
    let Some((last, parents)) = p.split_last() else {
        return;
    };
    let mut cur = v;
    for seg in parents {
        match cur.get_mut(seg) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Some(o) = cur.as_object_mut() {
        o.remove(last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_sets_round_trip_through_fields_v1() {
        let applied = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {"x": "1"}}, "data": {"k": "v"}});
        let set = field_set(&applied);
        assert!(set.contains(&vec!["data".to_string(), "k".to_string()]));
        assert!(set.contains(&vec![
            "metadata".to_string(),
            "labels".to_string(),
            "x".to_string()
        ]));
        assert_eq!(paths_of(&to_fields_v1(&set)), set);
        assert_eq!(to_fields_v1(&set)["f:data"]["f:k"], json!({}));
    }
}
