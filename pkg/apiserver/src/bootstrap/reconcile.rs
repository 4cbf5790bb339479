//! What a stored bootstrap role or binding needs to match the policy, as upstream's
//! `computeReconciledRole` / `computeReconciledRoleBinding` (pkg/registry/rbac/
//! reconciliation) with the post-start hook's options: add, never remove.

use serde_json::{json, Value};

use crate::authz::covers;
use crate::object::{meta_mut, meta_str};

/// Set to "false" on a stored object, it opts out of reconciliation.
pub const AUTOUPDATE: &str = "rbac.authorization.kubernetes.io/autoupdate";

#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Already grants (binds) everything the policy does.
    Unchanged,
    /// The user opted it out: left as it is.
    Protected,
    /// Store this instead (the stored object with what it lacked added).
    Update(Value),
    /// The binding refers to another role, which cannot be updated: delete it and create
    /// the policy's.
    Recreate,
}

fn protected(existing: &Value) -> bool {
    existing
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(AUTOUPDATE))
        .and_then(Value::as_str)
        == Some("false")
}

fn list<'a>(obj: &'a Value, pointer: &str) -> &'a [Value] {
    obj.pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Appends `items` to the array at `field` of `obj` (created when absent or null).
fn append(obj: &mut Value, field: &str, items: Vec<Value>) {
    if !obj.get(field).is_some_and(Value::is_array) {
        obj[field] = json!([]);
    }
    obj[field]
        .as_array_mut()
        .expect("an array was just ensured")
        .extend(items);
}

/// Adds the labels and annotations of `expected` that `new` lacks; values already
/// stored win. Whether anything was added.
fn union_metadata(new: &mut Value, expected: &Value) -> bool {
    let mut changed = false;
    for field in ["labels", "annotations"] {
        let Some(want) = expected
            .pointer(&format!("/metadata/{field}"))
            .and_then(Value::as_object)
        else {
            continue;
        };
        let m = meta_mut(new);
        if !m.get(field).is_some_and(Value::is_object) {
            m.insert(field.into(), json!({}));
        }
        let have = m[field]
            .as_object_mut()
            .expect("an object was just ensured");
        for (k, v) in want {
            if !have.contains_key(k) {
                have.insert(k.clone(), v.clone());
                changed = true;
            }
        }
    }
    changed
}

/// A Role or ClusterRole: the policy's labels and annotations, the permissions it lacks
/// (appended broken down, as upstream, after the user's own rules), and the aggregation
/// selectors it lacks.
pub fn role(existing: &Value, expected: &Value) -> Outcome {
    if protected(existing) {
        return Outcome::Protected;
    }
    let mut new = existing.clone();
    let mut changed = union_metadata(&mut new, expected);
    let missing = covers::missing(list(existing, "/rules"), list(expected, "/rules"));
    if !missing.is_empty() {
        append(&mut new, "rules", missing);
        changed = true;
    }
    let have = list(existing, "/aggregationRule/clusterRoleSelectors");
    let missing: Vec<Value> = list(expected, "/aggregationRule/clusterRoleSelectors")
        .iter()
        .filter(|s| !have.contains(s))
        .cloned()
        .collect();
    if !missing.is_empty() {
        if !new.get("aggregationRule").is_some_and(Value::is_object) {
            new["aggregationRule"] = json!({});
        }
        append(&mut new["aggregationRule"], "clusterRoleSelectors", missing);
        changed = true;
    }
    if changed {
        Outcome::Update(new)
    } else {
        Outcome::Unchanged
    }
}

/// A subject or roleRef's identity; an unset field is "" as in Go's structs.
fn key<'a>(v: &'a Value, fields: &[&str]) -> Vec<&'a str> {
    fields
        .iter()
        .map(|f| v.get(*f).and_then(Value::as_str).unwrap_or_default())
        .collect()
}

/// A RoleBinding or ClusterRoleBinding: recreated when its roleRef differs (immutable),
/// else the policy's labels, annotations and the subjects it lacks.
pub fn binding(existing: &Value, expected: &Value) -> Outcome {
    if protected(existing) {
        return Outcome::Protected;
    }
    const REF: &[&str] = &["apiGroup", "kind", "name"];
    let null = Value::Null;
    if key(existing.get("roleRef").unwrap_or(&null), REF)
        != key(expected.get("roleRef").unwrap_or(&null), REF)
    {
        return Outcome::Recreate;
    }
    const SUBJECT: &[&str] = &["kind", "apiGroup", "name", "namespace"];
    let mut new = existing.clone();
    let mut changed = union_metadata(&mut new, expected);
    let have: Vec<_> = list(existing, "/subjects")
        .iter()
        .map(|s| key(s, SUBJECT))
        .collect();
    let missing: Vec<Value> = list(expected, "/subjects")
        .iter()
        .filter(|s| !have.contains(&key(s, SUBJECT)))
        .cloned()
        .collect();
    if !missing.is_empty() {
        append(&mut new, "subjects", missing);
        changed = true;
    }
    if changed {
        Outcome::Update(new)
    } else {
        Outcome::Unchanged
    }
}

/// The name of `obj`, namespaced when it has one: for log lines.
pub fn display(obj: &Value) -> String {
    match meta_str(obj, "namespace") {
        Some(ns) => format!("{ns}/{}", crate::object::name(obj)),
        None => crate::object::name(obj).to_string(),
    }
}
