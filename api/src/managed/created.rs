//! The managedFields entry of a plain create, built straight from the object: what
//! [`update`](super::update) records for a write from the kind's zero value to the object
//! (its [`zero_value`](super::managers::zero_value)) by a writer nobody else shares the object
//! with, without building field sets and diffing them. The same walk as
//! [`compare`](super::typed::compare) from the zero value, emitting FieldsV1 as it goes.
//!
//! Anything this does not cover (field errors, reset fields below the top level) returns
//! `None`, and the caller takes the general path, which then reports the same thing.

use serde_json::{Map, Value};

use super::{
    managers::{skeleton, zero_child, ZeroChild},
    schema::Schema,
    set::Set,
    typed::{field_schema, index_items, shape, Shape},
    PathElement, Writer,
};

/// The object's `metadata.managedFields` after its create by `who` at `now` (`Some(None)`:
/// none, as when the create sets nothing a manager owns), with `reset` (the fields another
/// endpoint owns) top-level fields only. `obj` has no managedFields of its own.
/// `None`: not a case this covers; use [`update`](super::update).
pub fn create_managed_fields(
    schema: Schema<'_>,
    reset: &Set,
    now: &str,
    obj: &Value,
    who: &Writer,
) -> Option<Option<Value>> {
    let reset = top_level_fields(reset)?;
    let Value::Object(m) = obj else {
        return None;
    };
    if !matches!(shape(schema, Some(obj)), Shape::Map) {
        return None;
    }
    if m.get("metadata")
        .and_then(|md| md.get("managedFields"))
        .is_some()
    {
        return None;
    }
    let mut root = Map::new();
    let required = schema.required();
    for (k, child) in m {
        if matches!(k.as_str(), "apiVersion" | "kind") {
            // The zero value carries the object's own apiVersion and kind: unchanged.
            continue;
        }
        let node = from_zero(schema, &required, k, field_schema(schema, k), child)?;
        // Reset fields are walked all the same: a field error there fails the general
        // comparison too.
        if let Some(n) = node.filter(|_| !reset.contains(&k.as_str())) {
            root.insert(format!("f:{k}"), n);
        }
    }
    strip(&mut root);
    if root.is_empty() {
        return Some(None);
    }
    let mut e = Map::new();
    e.insert("manager".into(), Value::String(who.manager.clone()));
    e.insert(
        "operation".into(),
        Value::String(who.operation.as_str().into()),
    );
    e.insert("apiVersion".into(), Value::String(who.api_version.clone()));
    e.insert("time".into(), Value::String(now.to_string()));
    e.insert("fieldsType".into(), Value::String("FieldsV1".into()));
    e.insert("fieldsV1".into(), Value::Object(root));
    if !who.subresource.is_empty() {
        e.insert("subresource".into(), Value::String(who.subresource.clone()));
    }
    Some(Some(Value::Array(vec![Value::Object(e)])))
}

/// The members of `reset`, when they are all top-level fields.
fn top_level_fields(reset: &Set) -> Option<Vec<&str>> {
    if !reset.children().is_empty() {
        return None;
    }
    reset
        .members()
        .iter()
        .map(|pe| match pe {
            PathElement::Field(f) => Some(f.as_str()),
            _ => None,
        })
        .collect()
}

/// The FieldsV1 of a path: `{}` for a member alone, its children (with `.` when it is a
/// member too), or nothing.
fn node(member: bool, mut children: Map<String, Value>) -> Option<Value> {
    if children.is_empty() {
        return member.then(|| Value::Object(Map::new()));
    }
    if member {
        children.insert(".".into(), Value::Object(Map::new()));
    }
    Some(Value::Object(children))
}

/// Field `k` of a struct whose zero value is present (`parent` with its `required` fields).
fn from_zero(
    parent: Schema<'_>,
    required: &[&str],
    k: &str,
    s: Schema<'_>,
    child: &Value,
) -> Option<Option<Value>> {
    match zero_child(parent, required, k, child) {
        Some(ZeroChild::Struct(s)) => from_struct(s, child),
        Some(ZeroChild::Null) => from_null(s, child),
        None => added(s, child),
    }
}

/// A non-pointer struct: `v` (an object) against its own zero value. Only what differs.
fn from_struct(schema: Schema<'_>, v: &Value) -> Option<Option<Value>> {
    let Value::Object(m) = v else {
        return None;
    };
    if !matches!(shape(schema, Some(v)), Shape::Map) {
        // Compared whole, as a leaf: changed unless it is its own zero value.
        return Some(node(skeleton(schema, v) != *v, Map::new()));
    }
    let required = schema.required();
    let mut out = Map::new();
    for (k, child) in m {
        if let Some(n) = from_zero(schema, &required, k, field_schema(schema, k), child)? {
            out.insert(format!("f:{k}"), n);
        }
    }
    // Present in the zero value: never a member of its own.
    Some(node(false, out))
}

/// A required list or map, null in the zero value: its contents are the writer's, the field
/// itself is not (unless it is set to something empty or of another shape).
fn from_null(schema: Schema<'_>, v: &Value) -> Option<Option<Value>> {
    match (shape(schema, Some(v)), v) {
        (_, Value::Null) => Some(None),
        (Shape::Map, Value::Object(m)) if !m.is_empty() => {
            let mut out = Map::new();
            for (k, child) in m {
                if let Some(n) = added(field_schema(schema, k), child)? {
                    out.insert(format!("f:{k}"), n);
                }
            }
            Some(node(false, out))
        }
        (Shape::List(list), Value::Array(a)) if !a.is_empty() => {
            Some(node(false, items(schema, list, a)?))
        }
        _ => Some(node(true, Map::new())),
    }
}

/// A value the zero value lacks: it and everything below it are the writer's.
fn added(schema: Schema<'_>, v: &Value) -> Option<Option<Value>> {
    let children = match (shape(schema, Some(v)), v) {
        (Shape::Map, Value::Object(m)) if !m.is_empty() => {
            let mut out = Map::new();
            for (k, child) in m {
                if let Some(n) = added(field_schema(schema, k), child)? {
                    out.insert(format!("f:{k}"), n);
                }
            }
            out
        }
        (Shape::List(list), Value::Array(a)) if !a.is_empty() => items(schema, list, a)?,
        _ => Map::new(),
    };
    Some(node(true, children))
}

/// The items of a granular list, each added.
fn items(
    schema: Schema<'_>,
    list: super::schema::ListKind<'_>,
    a: &[Value],
) -> Option<Map<String, Value>> {
    let items = schema.items();
    let mut out = Map::new();
    // Errors (duplicate or missing keys) are the general path's to report.
    for (pe, item) in index_items(list, items, a, &[]).ok()? {
        if let Some(n) = added(items, item)? {
            out.insert(pe.to_fields_v1(), n);
        }
    }
    Some(out)
}

/// What a manager never owns: apiVersion, kind and metadata themselves and metadata's
/// server-set fields (upstream's stripped fields).
fn strip(root: &mut Map<String, Value>) {
    for f in ["f:apiVersion", "f:kind"] {
        demote(root, f);
    }
    if let Some(Value::Object(meta)) = root.get_mut("f:metadata") {
        for f in [
            "f:name",
            "f:namespace",
            "f:creationTimestamp",
            "f:selfLink",
            "f:uid",
            "f:clusterName",
            "f:generation",
            "f:managedFields",
            "f:resourceVersion",
        ] {
            demote(meta, f);
        }
    }
    demote(root, "f:metadata");
}

/// `key` is no longer a member of its own; gone when nothing below it is one either.
fn demote(m: &mut Map<String, Value>, key: &str) {
    let Some(Value::Object(n)) = m.get_mut(key) else {
        return;
    };
    n.remove(".");
    if n.is_empty() {
        m.remove(key);
    }
}
