//! JSON merge patch (RFC 7386, `application/merge-patch+json`) as kube-apiserver applies it
//! with gopkg.in/evanphx/json-patch.v4 `MergePatch`: null deletes, objects merge recursively,
//! anything else (arrays included) replaces. Like v4, nulls are also pruned from objects a
//! patch adds wholesale, at any depth, arrays of objects included (the array's own null
//! items stay).

use serde_json::{Map, Value};

use super::PatchError;

/// v4's `ErrBadJSONPatch`, sent as 400 for a body that is not JSON, `null`, or a scalar.
fn bad_patch() -> PatchError {
    PatchError::BadRequest("Invalid JSON Patch".into())
}

pub(super) fn apply(original: &Value, body: &[u8]) -> Result<Value, PatchError> {
    let patch = super::go_json::decode(body).map_err(|_| bad_patch())?;
    match patch {
        Value::Object(patch) => {
            let Value::Object(mut doc) = original.clone() else {
                // Not an object: the patch (nulls pruned) becomes the document.
                let mut doc = Value::Object(patch);
                prune_nulls(&mut doc);
                return Ok(doc);
            };
            merge_docs(&mut doc, patch);
            Ok(Value::Object(doc))
        }
        // An array replaces the whole document, which then fails to decode as an object.
        Value::Array(mut items) => {
            prune_array_nulls(&mut items);
            Err(PatchError::not_an_object(&Value::Array(items)))
        }
        _ => Err(bad_patch()),
    }
}

fn merge_docs(doc: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (k, v) in patch {
        if v.is_null() {
            doc.remove(&k);
            continue;
        }
        match doc.get_mut(&k) {
            Some(cur) if !cur.is_null() => {
                let merged = merge(std::mem::take(cur), v);
                *cur = merged;
            }
            _ => {
                let mut v = v;
                prune_nulls(&mut v);
                doc.insert(k, v);
            }
        }
    }
}

fn merge(cur: Value, patch: Value) -> Value {
    match (cur, patch) {
        (Value::Object(mut cur), Value::Object(patch)) => {
            merge_docs(&mut cur, patch);
            Value::Object(cur)
        }
        // An object replaced by a non-object: taken as is.
        (Value::Object(_), patch) => patch,
        (_, mut patch) => {
            prune_nulls(&mut patch);
            patch
        }
    }
}

fn prune_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(prune_nulls);
        }
        Value::Array(items) => prune_array_nulls(items),
        _ => {}
    }
}

fn prune_array_nulls(items: &mut [Value]) {
    items.iter_mut().for_each(prune_nulls);
}
