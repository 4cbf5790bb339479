//! Walks over an object and its schema, as structured-merge-diff's typed values: the set of
//! fields an object sets (`ToFieldSet`), the difference of two objects (`Compare`), the merge
//! of an applied configuration into an object (`Merge`) and the removal of a set of fields
//! (`RemoveItems`). Keyed list items are indexed once per list, so a walk is O(n log n) in
//! the object's size.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::{
    path::{display, Path, PathElement},
    schema::{Kind, ListKind, Schema},
    set::Set,
    Error,
};

/// What a write changed, as field paths. Maps and list items that appeared or went are
/// members too (so their owner owns their existence); leaves that changed are `modified`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub added: Set,
    pub removed: Set,
    pub modified: Set,
}

impl Comparison {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.modified.is_empty()
    }

    /// Without the paths in or below `ignored`'s members.
    pub fn filter(self, ignored: &Set) -> Self {
        if ignored.is_empty() {
            return self;
        }
        Comparison {
            added: self.added.recursive_difference(ignored),
            removed: self.removed.recursive_difference(ignored),
            modified: self.modified.recursive_difference(ignored),
        }
    }
}

/// The shape at a place, with deduced shapes resolved from the value there.
pub(super) enum Shape<'a> {
    Leaf,
    Map,
    List(ListKind<'a>),
}

pub(super) fn shape<'a>(schema: Schema<'a>, v: Option<&Value>) -> Shape<'a> {
    match schema.kind() {
        Kind::Scalar | Kind::Map { atomic: true } | Kind::List(ListKind::Atomic) => Shape::Leaf,
        Kind::Map { atomic: false } => Shape::Map,
        Kind::List(l) => Shape::List(l),
        Kind::Deduced => match v {
            Some(Value::Object(_)) => Shape::Map,
            _ => Shape::Leaf,
        },
    }
}

/// The child schema of a map's entry; an undeclared struct field has none (deduced).
pub(super) fn field_schema<'a>(schema: Schema<'a>, key: &str) -> Schema<'a> {
    schema.field(key).unwrap_or_else(|| schema.untyped())
}

/// The path element of a list item: its key fields (or their schema defaults) for a keyed
/// list, its value for a set.
pub fn item_element(
    list: ListKind<'_>,
    items: Schema<'_>,
    item: &Value,
    path: &[PathElement],
) -> Result<PathElement, Error> {
    let at = || display(path);
    match list {
        ListKind::Map(keys) if !keys.is_empty() => {
            let Value::Object(m) = item else {
                return Err(Error::Schema(format!(
                    "{}: associative list with keys may not have non-map elements",
                    at()
                )));
            };
            let mut fields = Vec::with_capacity(keys.len());
            for k in keys {
                let k = k.as_str().unwrap_or_default();
                let v = m
                    .get(k)
                    .filter(|v| !v.is_null())
                    .or_else(|| items.field(k).and_then(Schema::default_value));
                match v {
                    Some(v) => fields.push((k, v)),
                    None => {
                        return Err(Error::Schema(format!(
                            "{}: associative list with keys has an element that omits key field {k:?} (and doesn't have default value)",
                            at()
                        )))
                    }
                }
            }
            Ok(PathElement::key(fields))
        }
        _ => match item {
            Value::Object(_) | Value::Array(_) => Err(Error::Schema(format!(
                "{}: associative list without keys has an element that's a map type",
                at()
            ))),
            v => Ok(PathElement::value(v)),
        },
    }
}

/// The items of a list by their path element, in order; a duplicate is an error.
pub(super) fn index_items<'v>(
    list: ListKind<'_>,
    items: Schema<'_>,
    a: &'v [Value],
    path: &[PathElement],
) -> Result<Vec<(PathElement, &'v Value)>, Error> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(a.len());
    for item in a {
        let pe = item_element(list, items, item, path)?;
        if !seen.insert(pe.clone()) {
            return Err(Error::Schema(format!(
                "{}: duplicate entries for key {pe}",
                display(path)
            )));
        }
        out.push((pe, item));
    }
    Ok(out)
}

// ---- ToFieldSet ----

/// The fields `v` sets: leaves, atomic values, list items, and map entries that are empty,
/// null or not declared struct fields.
pub fn to_field_set(schema: Schema<'_>, v: &Value) -> Result<Set, Error> {
    let mut out = Set::new();
    field_set(schema, v, &mut Vec::new(), &mut out)?;
    Ok(out)
}

fn field_set(schema: Schema<'_>, v: &Value, path: &mut Path, out: &mut Set) -> Result<(), Error> {
    match (shape(schema, Some(v)), v) {
        (Shape::Map, Value::Object(m)) => {
            for (k, child) in m {
                path.push(PathElement::Field(k.clone()));
                field_set(field_schema(schema, k), child, path, out)?;
                let empty = child.is_null() || child.as_object().is_some_and(Map::is_empty);
                if empty || !schema.declares(k) {
                    out.insert(path);
                }
                path.pop();
            }
        }
        (Shape::List(l), Value::Array(a)) => {
            let items = schema.items();
            for (pe, item) in index_items(l, items, a, path)? {
                path.push(pe);
                field_set(items, item, path, out)?;
                out.insert(path);
                path.pop();
            }
        }
        (Shape::Map | Shape::List(_), Value::Null) => {}
        _ => out.insert(path),
    }
    Ok(())
}

// ---- Compare ----

/// What changed from `old` to `new`. `metadata.managedFields`, which no field set holds, is
/// left out, as if neither object had it: callers need not copy objects to drop it.
pub fn compare(schema: Schema<'_>, old: &Value, new: &Value) -> Result<Comparison, Error> {
    let mut c = Comparison::default();
    compare_at(schema, Some(old), Some(new), &mut Vec::new(), &mut c)?;
    Ok(c)
}

/// `v`, an object taken as empty.
fn strip<'a>(v: Option<&'a Value>, bare: &'a Value) -> Option<&'a Value> {
    v.map(|v| if v.is_object() { bare } else { v })
}

/// Whether `path` is the object's `metadata`.
fn is_metadata(path: &[PathElement]) -> bool {
    matches!(path, [PathElement::Field(f)] if f == "metadata")
}

fn compare_at(
    schema: Schema<'_>,
    l: Option<&Value>,
    r: Option<&Value>,
    path: &mut Path,
    c: &mut Comparison,
) -> Result<(), Error> {
    // An unchanged subtree holds no change: it is not walked (no path element per field,
    // no index per list), which for a status write is the whole spec. What goes unreported
    // are its errors, such as duplicate list keys, which upstream's structured-merge-diff
    // also tolerates in what an update leaves alone.
    if let (Some(a), Some(b)) = (l, r) {
        if a == b {
            return Ok(());
        }
    }
    let leaf = |c: &mut Comparison, path: &Path| match (l, r) {
        (None, Some(_)) => c.added.insert(path),
        (Some(_), None) => c.removed.insert(path),
        (Some(a), Some(b)) if a != b => c.modified.insert(path),
        _ => {}
    };
    match shape(schema, r.or(l)) {
        Shape::Leaf => {
            leaf(c, path);
            return Ok(());
        }
        Shape::Map => {
            let (lm, rm) = (l.and_then(Value::as_object), r.and_then(Value::as_object));
            let mismatched = l.is_some_and(|v| !v.is_null() && lm.is_none())
                || r.is_some_and(|v| !v.is_null() && rm.is_none());
            // Empty or null on both sides: a leaf, which keeps {} and null apart.
            if mismatched || (lm.is_none_or(Map::is_empty) && rm.is_none_or(Map::is_empty)) {
                leaf(c, path);
                return Ok(());
            }
            let empty = Map::new();
            let (lm, rm) = (lm.unwrap_or(&empty), rm.unwrap_or(&empty));
            let at_metadata = is_metadata(path);
            let managed = |k: &str| at_metadata && k == "managedFields";
            if lm.keys().chain(rm.keys()).all(|k| managed(k)) {
                // Empty on both sides once managedFields is left out: the leaf above, over
                // the objects without it.
                let bare = Value::Object(Map::new());
                match (strip(l, &bare), strip(r, &bare)) {
                    (None, Some(_)) => c.added.insert(path),
                    (Some(_), None) => c.removed.insert(path),
                    (Some(a), Some(b)) if a != b => c.modified.insert(path),
                    _ => {}
                }
                return Ok(());
            }
            for (k, lv) in lm {
                if managed(k) {
                    continue;
                }
                path.push(PathElement::Field(k.clone()));
                compare_at(field_schema(schema, k), Some(lv), rm.get(k), path, c)?;
                path.pop();
            }
            for (k, rv) in rm {
                if !lm.contains_key(k) && !managed(k) {
                    path.push(PathElement::Field(k.clone()));
                    compare_at(field_schema(schema, k), None, Some(rv), path, c)?;
                    path.pop();
                }
            }
        }
        Shape::List(list) => {
            let (la, ra) = (l.and_then(Value::as_array), r.and_then(Value::as_array));
            let mismatched = l.is_some_and(|v| !v.is_null() && la.is_none())
                || r.is_some_and(|v| !v.is_null() && ra.is_none());
            if mismatched || (la.is_none_or(Vec::is_empty) && ra.is_none_or(Vec::is_empty)) {
                leaf(c, path);
                return Ok(());
            }
            let items = schema.items();
            let li = index_items(list, items, la.map(Vec::as_slice).unwrap_or_default(), path)?;
            let ri = index_items(list, items, ra.map(Vec::as_slice).unwrap_or_default(), path)?;
            let rmap: BTreeMap<&PathElement, &Value> = ri.iter().map(|(p, v)| (p, *v)).collect();
            let lmap: BTreeMap<&PathElement, &Value> = li.iter().map(|(p, v)| (p, *v)).collect();
            for (pe, lv) in &li {
                path.push(pe.clone());
                compare_at(items, Some(lv), rmap.get(pe).copied(), path, c)?;
                path.pop();
            }
            for (pe, rv) in &ri {
                if !lmap.contains_key(pe) {
                    path.push(pe.clone());
                    compare_at(items, None, Some(rv), path, c)?;
                    path.pop();
                }
            }
        }
    }
    // A map or list item that appeared or went is a member of its own.
    match (l, r) {
        (None, Some(_)) => c.added.insert(path),
        (Some(_), None) => c.removed.insert(path),
        _ => {}
    }
    Ok(())
}

// ---- Merge ----

/// `applied` merged into `live`: granular maps and keyed/set lists merge, everything else is
/// replaced. A null in `applied` removes the field.
pub fn merge(schema: Schema<'_>, live: &Value, applied: &Value) -> Result<Value, Error> {
    merge_at(schema, Some(live), applied, &mut Vec::new())
}

fn merge_at(
    schema: Schema<'_>,
    l: Option<&Value>,
    r: &Value,
    path: &mut Path,
) -> Result<Value, Error> {
    let Some(l) = l else {
        return Ok(r.clone());
    };
    match (shape(schema, Some(r)), l, r) {
        (Shape::Map, Value::Object(lm), Value::Object(rm)) => {
            let mut out = lm.clone();
            for (k, rv) in rm {
                if rv.is_null() {
                    out.remove(k);
                    continue;
                }
                path.push(PathElement::Field(k.clone()));
                let merged = merge_at(field_schema(schema, k), lm.get(k), rv, path)?;
                path.pop();
                out.insert(k.clone(), merged);
            }
            Ok(Value::Object(out))
        }
        (Shape::List(list), Value::Array(la), Value::Array(ra)) => {
            let items = schema.items();
            let li = index_items(list, items, la, path)?;
            let ri = index_items(list, items, ra, path)?;
            let lmap: BTreeMap<&PathElement, &Value> = li.iter().map(|(p, v)| (p, *v)).collect();
            let rpos: BTreeMap<&PathElement, usize> =
                ri.iter().enumerate().map(|(i, (p, _))| (p, i)).collect();
            // Live items keep their places; applied items come in the applied order, the
            // ones live lacks just before the next item both have.
            let mut out = Vec::with_capacity(la.len().max(ra.len()));
            let mut next = 0;
            let mut take = |upto: usize, next: &mut usize, out: &mut Vec<Value>| {
                while *next <= upto && *next < ri.len() {
                    let (pe, rv) = &ri[*next];
                    path.push(pe.clone());
                    let merged = merge_at(items, lmap.get(pe).copied(), rv, path);
                    path.pop();
                    out.push(merged?);
                    *next += 1;
                }
                Ok::<(), Error>(())
            };
            for (pe, lv) in &li {
                match rpos.get(pe) {
                    Some(&i) if i >= next => take(i, &mut next, &mut out)?,
                    Some(_) => {}
                    None => out.push((*lv).clone()),
                }
            }
            take(usize::MAX, &mut next, &mut out)?;
            Ok(Value::Array(out))
        }
        _ => Ok(r.clone()),
    }
}

// ---- RemoveItems ----

/// `v` without the members of `set` (a member takes its whole value with it).
pub fn remove_items(schema: Schema<'_>, v: &Value, set: &Set) -> Result<Value, Error> {
    remove_at(schema, v, set, &mut Vec::new())
}

fn remove_at(schema: Schema<'_>, v: &Value, set: &Set, path: &mut Path) -> Result<Value, Error> {
    if set.is_empty() {
        return Ok(v.clone());
    }
    match (shape(schema, Some(v)), v) {
        (Shape::Map, Value::Object(m)) => {
            let mut out = Map::new();
            for (k, child) in m {
                let pe = PathElement::Field(k.clone());
                if set.is_member(&pe) {
                    continue;
                }
                let kept = match set.child(&pe) {
                    Some(sub) => {
                        path.push(pe);
                        let r = remove_at(field_schema(schema, k), child, sub, path)?;
                        path.pop();
                        r
                    }
                    None => child.clone(),
                };
                out.insert(k.clone(), kept);
            }
            Ok(Value::Object(out))
        }
        (Shape::List(list), Value::Array(a)) => {
            let items = schema.items();
            let mut out = Vec::with_capacity(a.len());
            for (pe, item) in index_items(list, items, a, path)? {
                if set.is_member(&pe) {
                    continue;
                }
                out.push(match set.child(&pe) {
                    Some(sub) => {
                        path.push(pe);
                        let r = remove_at(items, item, sub, path)?;
                        path.pop();
                        r
                    }
                    None => item.clone(),
                });
            }
            Ok(Value::Array(out))
        }
        _ => Ok(v.clone()),
    }
}
