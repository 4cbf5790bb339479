//! Strategic merge patch (`application/strategic-merge-patch+json`), as
//! k8s.io/apimachinery/pkg/util/strategicpatch applies it server side (`StrategicMergeMapPatch`
//! with `MergeParallelList` and `IgnoreUnmatchedNulls`): a JSON merge patch whose lists merge
//! by the field's tags from `patch_meta`, with the directives `$patch`
//! (`replace`/`delete` on maps and list items), `$retainKeys`, `$setElementOrder/<list>` and
//! `$deleteFromPrimitiveList/<list>`. Errors carry upstream's texts and HTTP codes
//! (`interpretStrategicMergePatchError`): 400 for malformed directives, 422 for lists of
//! lists, 500 for everything else (upstream returns those as plain errors).

use serde_json::{Map, Value};

use super::go_fmt;
use super::order::{deduplicate_scalars, extract_to_delete_items, normalize_element_order};
use super::patch_meta::Schema;
use super::PatchError;

pub(super) const DIRECTIVE_MARKER: &str = "$patch";
pub(super) const DELETE: &str = "delete";
const REPLACE: &str = "replace";
const MERGE: &str = "merge";
const RETAIN_KEYS_STRATEGY: &str = "retainKeys";
const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";

type Result<T> = std::result::Result<T, PatchError>;

/// Applies a strategic merge patch body to `original`, whose metadata is looked up from the
/// root type of `group`/`kind`.
pub(super) fn apply(group: &str, kind: &str, original: &Value, body: &[u8]) -> Result<Value> {
    let patch = match super::go_json::decode(body).map_err(PatchError::BadRequest)? {
        Value::Object(m) => m,
        // Go leaves the map empty: nothing changes.
        Value::Null => Map::new(),
        other => {
            return Err(PatchError::BadRequest(super::go_json::type_error(
                &other,
                "map[string]interface {}",
            )))
        }
    };
    let original = original.as_object().cloned().unwrap_or_default();
    let mut merged = merge_map(original, patch, Schema::root(group, kind))?;
    strip_directives(&mut merged);
    Ok(Value::Object(merged))
}

// Upstream's error texts (k8s.io/apimachinery/pkg/util/mergepatch).

/// `ErrNoMergeKey`: a list item lacks its merge key (500).
pub(super) fn no_merge_key(m: &Map<String, Value>, key: &str) -> PatchError {
    PatchError::Internal(format!(
        "map: {} does not contain declared merge key: {key}",
        go_fmt::v_map(m)
    ))
}

/// `ErrBadArgType`: a value of the wrong JSON type where a map or list is needed (500).
pub(super) fn bad_arg_type(expected: &str, actual: &Value) -> PatchError {
    PatchError::Internal(format!(
        "expected a {expected}, but received a {}",
        go_fmt::type_name(actual)
    ))
}

/// `ErrBadPatchType`: an unknown `$patch` value (500).
fn bad_patch_type(directive: &Value, m: &Map<String, Value>) -> PatchError {
    PatchError::Internal(format!(
        "unknown patch type: {} in map: {}",
        go_fmt::s(directive),
        go_fmt::v_map(m)
    ))
}

fn bad_primitive_list_format() -> PatchError {
    PatchError::BadRequest("invalid patch format of primitive list".into())
}

fn bad_retain_keys_format() -> PatchError {
    PatchError::BadRequest("invalid patch format of retainKeys".into())
}

fn bad_set_element_order_format() -> PatchError {
    PatchError::BadRequest("invalid patch format of setElementOrder list".into())
}

/// Go's dynamic type of a decoded JSON value (`reflect.TypeOf`): int64 and float64 differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GoType {
    Nil,
    Bool,
    Int,
    Float,
    String,
    Slice,
    Map,
}

fn go_type(v: &Value) -> GoType {
    match v {
        Value::Null => GoType::Nil,
        Value::Bool(_) => GoType::Bool,
        Value::Number(n) if n.as_i64().is_some() => GoType::Int,
        Value::Number(_) => GoType::Float,
        Value::String(_) => GoType::String,
        Value::Array(_) => GoType::Slice,
        Value::Object(_) => GoType::Map,
    }
}

/// `mergeMap`: merges `patch` into `original` at a struct of type `schema`.
fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    schema: Schema,
) -> Result<Map<String, Value>> {
    if let Some(directive) = patch.get(DIRECTIVE_MARKER).cloned() {
        return handle_directive_in_merge_map(&directive, patch);
    }
    apply_retain_keys_directive(&mut original, &mut patch)?;
    merge_patch_into_original(&mut original, &mut patch, schema)?;

    // Upstream walks the patch in Go's random map order; deletion lists go last here, as
    // they do there whenever the list also has a `$setElementOrder` (what clients send), so
    // an item both added and deleted ends up deleted.
    let (deletions, rest): (Vec<_>, Vec<_>) = patch
        .into_iter()
        .partition(|(k, _)| k.starts_with(DELETE_FROM_PRIMITIVE_LIST));
    for (key, patch_v) in rest.into_iter().chain(deletions) {
        let (key, is_delete_list) = if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            (
                extract_key(&key, DELETE_FROM_PRIMITIVE_LIST)?.to_string(),
                true,
            )
        } else {
            (key, false)
        };
        // null deletes the field; unmatched nulls are ignored.
        if patch_v.is_null() {
            original.remove(&key);
            continue;
        }
        let Some(original_v) = original.remove(&key) else {
            if !is_delete_list {
                insert_patch_value(&mut original, key, patch_v);
            }
            continue;
        };
        if go_type(&original_v) != go_type(&patch_v) {
            if is_delete_list {
                original.insert(key, original_v);
            } else {
                insert_patch_value(&mut original, key, patch_v);
            }
            continue;
        }
        let merged = match (original_v, patch_v) {
            (Value::Object(o), Value::Object(p)) => {
                let (sub, meta) = schema.lookup(&key);
                if retain_keys_free_strategy(meta.strategies)? == REPLACE {
                    Value::Object(p)
                } else {
                    Value::Object(merge_map(o, p, sub)?)
                }
            }
            (Value::Array(mut o), Value::Array(p)) => {
                let (sub, meta) = schema.lookup(&key);
                let strategy = retain_keys_free_strategy(meta.strategies)?;
                Value::Array(merge_slice_handler(
                    &mut o,
                    p,
                    sub,
                    strategy,
                    meta.merge_key,
                    is_delete_list,
                )?)
            }
            (_, p) => match remove_directives(p) {
                Some(v) => v,
                None => continue,
            },
        };
        original.insert(key, merged);
    }
    Ok(original)
}

/// A patch value for a key the original lacks (or holds with another type): nulls inside are
/// dropped, and a `$patch` map drops out entirely.
fn insert_patch_value(original: &mut Map<String, Value>, key: String, mut patch_v: Value) {
    discard_null_values(&mut patch_v);
    if let Some(v) = remove_directives(patch_v) {
        original.insert(key, v);
    }
}

/// `$patch` in a map: `replace` takes the patch as is, `delete` empties the map.
fn handle_directive_in_merge_map(
    directive: &Value,
    mut patch: Map<String, Value>,
) -> Result<Map<String, Value>> {
    match directive.as_str() {
        Some(REPLACE) => {
            patch.remove(DIRECTIVE_MARKER);
            Ok(patch)
        }
        Some(DELETE) => Ok(Map::new()),
        _ => Err(bad_patch_type(directive, &patch)),
    }
}

/// `$retainKeys`: keys of the original not listed are cleared; every non-null key of the
/// patch must be listed.
fn apply_retain_keys_directive(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<()> {
    let Some(retain) = patch.remove(RETAIN_KEYS_DIRECTIVE) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(bad_retain_keys_format());
    };
    let listed = |k: &str| retain.iter().any(|v| v.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null()
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || k.starts_with(SET_ELEMENT_ORDER)
        {
            continue;
        }
        if !listed(k) {
            return Err(bad_retain_keys_format());
        }
    }
    original.retain(|k, _| listed(k));
    Ok(())
}

/// `$setElementOrder/<list>`: merges the list with its patch (if any) and orders the result
/// by the directive, server-only items interleaved by their live order.
fn merge_patch_into_original(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    schema: Schema,
) -> Result<()> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for key in keys {
        let Some(directive) = patch.remove(&key) else {
            continue;
        };
        let Value::Array(set_order) = directive else {
            return Err(bad_arg_type("[]interface {}", &directive));
        };
        let field = extract_key(&key, SET_ELEMENT_ORDER)?.to_string();
        let mut original_list = list_at(original, &field)?;
        let patch_list = list_at(patch, &field)?;
        let (sub, meta) = schema.lookup(&field);
        let strategy = retain_keys_free_strategy(meta.strategies)?;
        validate_patch_with_set_order_list(
            patch_list.as_deref().unwrap_or_default(),
            &set_order,
            meta.merge_key,
        )?;

        let merged = match (&mut original_list, &patch_list) {
            (Some(o), None) => o.clone(),
            (None, Some(p)) => p.iter().cloned().filter_map(remove_directives).collect(),
            (Some(o), Some(p)) => {
                merge_slice_handler(o, p.clone(), sub, strategy, meta.merge_key, false)?
            }
            (None, None) => continue,
        };

        let (patch_items, server_only) = if meta.merge_key.is_empty() {
            partition_primitives(merged, &set_order)?
        } else {
            partition_maps(merged, &set_order, meta.merge_key)?
        };
        let original_list = original_list.unwrap_or_default();
        let kind =
            slice_element_type(&[&original_list, patch_list.as_deref().unwrap_or_default()])?;
        let both = normalize_element_order(
            patch_items,
            server_only,
            &set_order,
            &original_list,
            meta.merge_key,
            kind == GoType::Map,
        )?;
        original.insert(field.clone(), Value::Array(both));
        patch.remove(&field);
    }
    Ok(())
}

/// The list under `key`, if any (a non-list there is an error, as upstream's type assertion).
fn list_at(m: &Map<String, Value>, key: &str) -> Result<Option<Vec<Value>>> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::Array(l)) => Ok(Some(l.clone())),
        Some(other) => Err(bad_arg_type("[]interface {}", other)),
    }
}

/// The items of the patch list (deletions aside) appear in the `$setElementOrder` list, in
/// the same relative order.
fn validate_patch_with_set_order_list(
    patch_list: &[Value],
    set_order: &[Value],
    merge_key: &str,
) -> Result<()> {
    if set_order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let non_delete = if merge_key.is_empty() {
        patch_list.to_vec()
    } else {
        extract_to_delete_items(patch_list.to_vec())?.0
    };
    let (mut pi, mut si) = (0, 0);
    while pi < non_delete.len() && si < set_order.len() {
        if contains_directive_marker(&non_delete[pi]) {
            pi += 1;
            continue;
        }
        if merge_key_value_equal(&non_delete[pi], &set_order[si], merge_key)? {
            pi += 1;
        }
        si += 1;
    }
    if pi < non_delete.len() && si >= set_order.len() {
        return Err(PatchError::Internal(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
            go_fmt::v(&Value::Array(patch_list.to_vec())),
            go_fmt::v(&Value::Array(set_order.to_vec())),
        )));
    }
    Ok(())
}

fn contains_directive_marker(item: &Value) -> bool {
    item.as_object()
        .is_some_and(|m| m.contains_key(DIRECTIVE_MARKER))
}

fn merge_key_value_equal(left: &Value, right: &Value, merge_key: &str) -> Result<bool> {
    if merge_key.is_empty() {
        return Ok(left == right);
    }
    let l = left
        .as_object()
        .ok_or_else(|| bad_arg_type("map[string]interface {}", left))?;
    let r = right
        .as_object()
        .ok_or_else(|| bad_arg_type("map[string]interface {}", right))?;
    let lv = l.get(merge_key).ok_or_else(|| no_merge_key(l, merge_key))?;
    let rv = r.get(merge_key).ok_or_else(|| no_merge_key(r, merge_key))?;
    Ok(lv == rv)
}

/// `<prefix>/<field>` -> `<field>`.
fn extract_key<'a>(key: &'a str, prefix: &str) -> Result<&'a str> {
    match key.split_once('/') {
        Some((p, rest)) if p == prefix => Ok(rest),
        _ if prefix == DELETE_FROM_PRIMITIVE_LIST => Err(bad_primitive_list_format()),
        _ => Err(bad_set_element_order_format()),
    }
}

/// The field's strategy with `retainKeys` set aside (`extractRetainKeysPatchStrategy`);
/// `retainKeys` itself acts only through the `$retainKeys` directive.
fn retain_keys_free_strategy(strategies: &[&'static str]) -> Result<&'static str> {
    match strategies {
        [] => Ok(""),
        [RETAIN_KEYS_STRATEGY] => Ok(""),
        [s] => Ok(s),
        [RETAIN_KEYS_STRATEGY, s] | [s, RETAIN_KEYS_STRATEGY] => Ok(s),
        _ => Err(PatchError::Internal(format!(
            "unexpected patch strategy: [{}]",
            strategies.join(" ")
        ))),
    }
}

/// Lists merge only with strategy `merge` (or as a `$deleteFromPrimitiveList`); otherwise the
/// patch's list replaces the original, as sent. `original` is the caller's view of the list,
/// which the merge may rewrite as Go's shared slice (see [`merge_slice`]).
fn merge_slice_handler(
    original: &mut Vec<Value>,
    patch: Vec<Value>,
    schema: Schema,
    strategy: &str,
    merge_key: &str,
    is_delete_list: bool,
) -> Result<Vec<Value>> {
    if strategy == MERGE || is_delete_list {
        merge_slice(original, patch, schema, merge_key, is_delete_list)
    } else {
        Ok(patch)
    }
}

/// `mergeSlice`: scalars are unioned (or deleted, for a deletion list); maps are matched by
/// merge key, honouring `$patch: delete`/`replace` items; then the order is normalized.
///
/// With an empty patch list Go's `append(original, patch...)` is `original` itself, so the
/// in-place deduplication rewrites the caller's list, which then orders the result (a list
/// with repeated scalars comes out in that rewritten order): reproduced through `original`.
/// (Upstream aliases the same way whenever the stored list has spare capacity, which depends
/// on how it was decoded; a fresh, exactly sized list is assumed.)
fn merge_slice(
    original: &mut Vec<Value>,
    patch: Vec<Value>,
    schema: Schema,
    merge_key: &str,
    is_delete_list: bool,
) -> Result<Vec<Value>> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original.clone());
    }
    let kind = slice_element_type(&[original, &patch])?;
    let (merged, patch, server_order) = if kind != GoType::Map {
        if is_delete_list {
            return Ok(original
                .iter()
                .filter(|v| !patch.contains(v))
                .cloned()
                .collect());
        }
        let mut both = original.clone();
        both.extend(patch.iter().cloned());
        let len = deduplicate_scalars(&mut both);
        if patch.is_empty() {
            original.clone_from(&both);
        }
        both.truncate(len);
        (both, patch, original.clone())
    } else {
        if merge_key.is_empty() {
            return Err(PatchError::Internal(format!(
                "cannot merge lists without merge key for {}",
                schema.name()
            )));
        }
        let (original, patch) =
            merge_slice_with_special_elements(original.clone(), patch, merge_key)?;
        let merged =
            merge_slice_without_special_elements(original.clone(), &patch, merge_key, schema)?;
        (merged, patch, original)
    };
    let (patch_items, server_only) = if merge_key.is_empty() {
        partition_primitives(merged, &patch)?
    } else {
        partition_maps(merged, &patch, merge_key)?
    };
    normalize_element_order(
        patch_items,
        server_only,
        &patch,
        &server_order,
        merge_key,
        kind == GoType::Map,
    )
}

/// Applies `$patch` items of a list of maps: `delete` drops the items with that merge key,
/// `replace` makes the patch's other items the whole list.
fn merge_slice_with_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for v in patch {
        let Some(m) = v.as_object() else {
            return Err(bad_arg_type("map[string]interface {}", &v));
        };
        let Some(directive) = m.get(DIRECTIVE_MARKER) else {
            plain.push(v);
            continue;
        };
        match directive.as_str() {
            Some(DELETE) => {
                let Some(value) = m.get(merge_key) else {
                    return Err(no_merge_key(m, merge_key));
                };
                // Every item is a map: the element type was checked.
                original.retain(|item| item.get(merge_key) != Some(value));
            }
            Some(REPLACE) => replace = true,
            Some(MERGE) => {
                return Err(PatchError::Internal(
                    "merging lists cannot yet be specified in the patch".into(),
                ))
            }
            _ => return Err(bad_patch_type(directive, m)),
        }
    }
    if replace {
        Ok((plain, Vec::new()))
    } else {
        Ok((original, plain))
    }
}

/// Merges each patch item into the original item with its merge key, or appends it.
fn merge_slice_without_special_elements(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    schema: Schema,
) -> Result<Vec<Value>> {
    for v in patch {
        let Some(m) = v.as_object() else {
            return Err(bad_arg_type("map[string]interface {}", v));
        };
        let Some(value) = m.get(merge_key) else {
            return Err(no_merge_key(m, merge_key));
        };
        match find_map_in_slice(&original, merge_key, value)? {
            Some(i) => {
                let existing = match std::mem::take(&mut original[i]) {
                    Value::Object(o) => o,
                    _ => Map::new(),
                };
                original[i] = Value::Object(merge_map(existing, m.clone(), schema)?);
            }
            None => original.push(v.clone()),
        }
    }
    Ok(original)
}

/// The index of the map whose `key` equals `value`.
fn find_map_in_slice(list: &[Value], key: &str, value: &Value) -> Result<Option<usize>> {
    for (i, item) in list.iter().enumerate() {
        let Some(m) = item.as_object() else {
            return Err(PatchError::Internal(format!(
                "value for key {i} is not a map"
            )));
        };
        if m.get(key) == Some(value) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// Splits scalars into those present in `by` and the rest.
fn partition_primitives(list: Vec<Value>, by: &[Value]) -> Result<(Vec<Value>, Vec<Value>)> {
    // Go keys a map by these values: maps and lists cannot be keys.
    if let Some(bad) = by
        .iter()
        .chain(list.iter())
        .find(|v| v.is_object() || v.is_array())
    {
        return Err(PatchError::Internal(format!(
            "runtime error: hash of unhashable type {}",
            go_fmt::type_name(bad)
        )));
    }
    Ok(list.into_iter().partition(|v| by.contains(v)))
}

/// Splits maps into those whose merge key appears in `by` and the rest.
fn partition_maps(
    list: Vec<Value>,
    by: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut in_patch = Vec::new();
    let mut server_only = Vec::new();
    for v in list {
        let Some(m) = v.as_object() else {
            return Err(bad_arg_type("map[string]interface {}", &v));
        };
        let Some(value) = m.get(merge_key) else {
            return Err(no_merge_key(m, merge_key));
        };
        if find_map_in_slice(by, merge_key, value)?.is_some() {
            in_patch.push(v);
        } else {
            server_only.push(v);
        }
    }
    Ok((in_patch, server_only))
}

/// The one element type of the lists (`sliceElementType`).
fn slice_element_type(lists: &[&[Value]]) -> Result<GoType> {
    let mut prev = None;
    for v in lists.iter().flat_map(|l| l.iter()) {
        let t = go_type(v);
        match prev {
            None if t == GoType::Nil => {
                // Go dereferences the nil type here and panics.
                return Err(PatchError::Internal(
                    "runtime error: invalid memory address or nil pointer dereference".into(),
                ));
            }
            None if t == GoType::Slice => {
                return Err(PatchError::Invalid(
                    "lists of lists are not supported".into(),
                ))
            }
            None => prev = Some(t),
            Some(p) if p != t => {
                return Err(PatchError::Internal(format!(
                    "list element types are not identical: {}",
                    go_fmt::v_lists(lists)
                )))
            }
            Some(_) => {}
        }
    }
    prev.ok_or_else(|| PatchError::Internal("no elements in any of the given slices".into()))
}

/// Drops maps holding `$patch` (None: the value itself is one).
fn remove_directives(v: Value) -> Option<Value> {
    match v {
        Value::Object(m) => {
            if m.contains_key(DIRECTIVE_MARKER) {
                return None;
            }
            Some(Value::Object(
                m.into_iter()
                    .filter_map(|(k, v)| remove_directives(v).map(|v| (k, v)))
                    .collect(),
            ))
        }
        Value::Array(l) => Some(Value::Array(
            l.into_iter().filter_map(remove_directives).collect(),
        )),
        v => Some(v),
    }
}

/// Drops null-valued keys at every depth.
fn discard_null_values(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(discard_null_values);
        }
        Value::Array(l) => l.iter_mut().for_each(discard_null_values),
        _ => {}
    }
}

/// Drops directive keys left in the result (upstream leaves them in a list it replaces
/// wholesale or an item it appends): its decoding into the typed object discards them, no
/// field of any kind being named so.
fn strip_directives(m: &mut Map<String, Value>) {
    m.retain(|k, _| !is_directive(k));
    for v in m.values_mut() {
        strip_value(v);
    }
}

fn is_directive(key: &str) -> bool {
    key == DIRECTIVE_MARKER
        || key == RETAIN_KEYS_DIRECTIVE
        || key.starts_with(SET_ELEMENT_ORDER)
        || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
}

fn strip_value(v: &mut Value) {
    match v {
        Value::Object(m) => strip_directives(m),
        Value::Array(l) => l.iter_mut().for_each(strip_value),
        _ => {}
    }
}
