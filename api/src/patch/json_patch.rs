//! JSON patch (RFC 6902, `application/json-patch+json`) with the semantics kube-apiserver
//! has through gopkg.in/evanphx/json-patch.v4, which differs from the RFC in ways clients
//! can see: `replace` of a missing object key adds it, negative array indices count from the
//! end, `test` of a missing key passes against `null`, a missing `value` means `null`, an
//! unknown `op` fails when applied (422) rather than when decoded (400), and `add` at the
//! root is refused. Each operation's target is resolved as v4's `findObject` does (with its
//! error texts); the canonical operation is then applied with the `json-patch` crate.

use json_patch::jsonptr::PointerBuf;
use json_patch::{
    AddOperation, CopyOperation, PatchErrorKind, PatchOperation, RemoveOperation, ReplaceOperation,
    TestOperation,
};
use serde_json::{Map, Value};

use super::{go_fmt, go_json, PatchError};

/// kube-apiserver's `maxJSONPatchOperations`.
const MAX_OPERATIONS: usize = 10_000;

/// One operation as v4 holds it: a map of raw members (a `null` item is an empty map).
type Operation = Map<String, Value>;

/// What Go panics with when v4 dereferences an absent `value`.
const NIL_DEREFERENCE: &str = "runtime error: invalid memory address or nil pointer dereference";

pub(super) fn apply(original: &Value, body: &[u8]) -> Result<Value, PatchError> {
    let ops = decode(body)?;
    if ops.len() > MAX_OPERATIONS {
        return Err(PatchError::TooLarge(format!(
            "The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {}",
            ops.len()
        )));
    }
    let mut doc = original.clone();
    for op in &ops {
        apply_op(&mut doc, op)?;
    }
    if !doc.is_object() {
        return Err(PatchError::not_an_object(&doc));
    }
    Ok(doc)
}

/// v4's `DecodePatch`: a JSON array of objects (`null` is an empty patch).
fn decode(body: &[u8]) -> Result<Vec<Operation>, PatchError> {
    match go_json::decode(body).map_err(PatchError::BadRequest)? {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(m) => Ok(m),
                Value::Null => Ok(Map::new()),
                other => Err(PatchError::BadRequest(go_json::type_error(
                    &other,
                    "jsonpatch.Operation",
                ))),
            })
            .collect(),
        other => Err(PatchError::BadRequest(go_json::type_error(
            &other,
            "jsonpatch.Patch",
        ))),
    }
}

fn fail(message: impl Into<String>) -> PatchError {
    PatchError::Invalid(message.into())
}

fn apply_op(doc: &mut Value, op: &Operation) -> Result<(), PatchError> {
    let kind = match op.get("op") {
        Some(Value::String(s)) => s.as_str(),
        _ => "unknown",
    };
    match kind {
        "add" => add(doc, op),
        "remove" => remove(doc, op),
        "replace" => replace(doc, op),
        "move" => move_op(doc, op),
        "test" => test(doc, op),
        "copy" => copy(doc, op),
        _ => Err(fail(format!("Unexpected kind: {kind}"))),
    }
}

/// A string member (`path`, `from`), or v4's error for it.
fn member(op: &Operation, name: &str, missing: &str) -> Result<String, String> {
    match op.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        None | Some(Value::Null) => Err(missing.to_string()),
        Some(other) => Err(go_json::type_error(other, "string")),
    }
}

fn path(op: &Operation) -> Result<String, String> {
    member(op, "path", "operation missing path field: missing value")
}

fn from(op: &Operation) -> Result<String, String> {
    member(op, "from", "operation, missing from field: missing value")
}

/// `value`, absent and `null` alike meaning null.
fn value(op: &Operation) -> Value {
    op.get("value").cloned().unwrap_or(Value::Null)
}

/// The container a path's last token addresses, as v4's `findObject` resolves it.
struct Target {
    /// Canonical tokens of the container (array indices normalized).
    parent: Vec<String>,
    /// `None` for an object, the length for an array.
    array_len: Option<usize>,
    /// The last token, decoded.
    key: String,
}

impl Target {
    fn pointer(&self, last: &str) -> PointerBuf {
        PointerBuf::from_tokens(self.parent.iter().map(String::as_str).chain([last]))
    }
}

fn decode_key(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// v4's `findObject`: every token but the last must name an object or array (`null` and
/// scalars count as missing); a path without '/' finds nothing, and anything before the
/// first '/' is ignored.
fn find_object(doc: &Value, path: &str) -> Option<Target> {
    let split: Vec<&str> = path.split('/').collect();
    if split.len() < 2 {
        return None;
    }
    let mut cur = doc;
    let mut parent = Vec::new();
    for part in &split[1..split.len() - 1] {
        let key = decode_key(part);
        let (next, token) = match cur {
            Value::Object(m) => (m.get(&key)?, key),
            Value::Array(items) => {
                let i = existing_index(items.len(), &key).ok()?;
                (&items[i], i.to_string())
            }
            _ => return None,
        };
        if !(next.is_object() || next.is_array()) {
            return None;
        }
        parent.push(token);
        cur = next;
    }
    let array_len = match cur {
        Value::Object(_) => None,
        Value::Array(items) => Some(items.len()),
        _ => return None,
    };
    Some(Target {
        parent,
        array_len,
        key: decode_key(split[split.len() - 1]),
    })
}

/// Go's `strconv.Atoi`.
fn atoi(s: &str) -> Result<i64, String> {
    let error = |what: &str| format!("strconv.Atoi: parsing {}: {what}", go_fmt::quote(s));
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(error("invalid syntax"));
    }
    s.parse::<i64>().map_err(|_| error("value out of range"))
}

fn invalid_index(idx: i64) -> String {
    format!("Unable to access invalid index: {idx}: invalid index referenced")
}

/// An index of an existing item (get, replace, remove): negative counts from the end.
fn existing_index(len: usize, key: &str) -> Result<usize, String> {
    let idx = atoi(key)?;
    let len = len as i64;
    let adjusted = if idx < 0 { idx + len } else { idx };
    if adjusted < 0 || adjusted >= len {
        return Err(invalid_index(idx));
    }
    Ok(adjusted as usize)
}

/// Where `add` inserts: "-" appends, negative counts from the end of the grown array.
fn insert_token(len: usize, key: &str) -> Result<String, String> {
    if key == "-" {
        return Ok("-".into());
    }
    let idx = atoi(key).map_err(|e| format!("value was not a proper array index: '{key}': {e}"))?;
    let size = len as i64 + 1;
    let adjusted = if idx < 0 { idx + size } else { idx };
    if adjusted < 0 || adjusted >= size {
        return Err(invalid_index(idx));
    }
    Ok(adjusted.to_string())
}

/// The canonical last token for `add` at the target.
fn add_token(target: &Target) -> Result<String, String> {
    match target.array_len {
        None => Ok(target.key.clone()),
        Some(len) => insert_token(len, &target.key),
    }
}

/// Applies one canonical operation with the `json-patch` crate.
fn run(doc: &mut Value, op: PatchOperation) -> Result<(), json_patch::PatchError> {
    json_patch::patch_unsafe(doc, &[op])
}

fn unexpected(e: json_patch::PatchError) -> PatchError {
    fail(e.to_string())
}

fn add(doc: &mut Value, op: &Operation) -> Result<(), PatchError> {
    let path = path(op).map_err(|_| fail("add operation failed to decode path: missing value"))?;
    let target = find_object(doc, &path).ok_or_else(|| {
        fail(format!(
            "add operation does not apply: doc is missing path: \"{path}\": missing value"
        ))
    })?;
    let token =
        add_token(&target).map_err(|e| fail(format!("error in add for path: '{path}': {e}")))?;
    let path = target.pointer(&token);
    run(
        doc,
        PatchOperation::Add(AddOperation {
            path,
            value: value(op),
        }),
    )
    .map_err(unexpected)
}

fn remove(doc: &mut Value, op: &Operation) -> Result<(), PatchError> {
    let path =
        path(op).map_err(|_| fail("remove operation failed to decode path: missing value"))?;
    let target = find_object(doc, &path).ok_or_else(|| {
        fail(format!(
            "remove operation does not apply: doc is missing path: \"{path}\": missing value"
        ))
    })?;
    let token = remove_token(doc, &target)
        .map_err(|e| fail(format!("error in remove for path: '{path}': {e}")))?;
    let path = target.pointer(&token);
    run(doc, PatchOperation::Remove(RemoveOperation { path })).map_err(unexpected)
}

/// The canonical last token of an existing member to remove.
fn remove_token(doc: &Value, target: &Target) -> Result<String, String> {
    match target.array_len {
        Some(len) => existing_index(len, &target.key).map(|i| i.to_string()),
        None if member_at(doc, target).is_some() => Ok(target.key.clone()),
        None => Err(format!(
            "Unable to remove nonexistent key: {}: missing value",
            target.key
        )),
    }
}

/// The object member a target names (`null` included).
fn member_at<'a>(doc: &'a Value, target: &Target) -> Option<&'a Value> {
    doc.pointer(target.pointer(&target.key).as_str())
}

fn replace(doc: &mut Value, op: &Operation) -> Result<(), PatchError> {
    let path =
        path(op).map_err(|e| fail(format!("replace operation failed to decode path: {e}")))?;
    if path.is_empty() {
        // The whole document: only an object or array replaces it; anything else is
        // silently ignored (v4 wraps a nil error).
        return match op.get("value") {
            None => Err(PatchError::Internal(NIL_DEREFERENCE.into())),
            Some(v @ (Value::Object(_) | Value::Array(_))) => run(
                doc,
                PatchOperation::Replace(ReplaceOperation {
                    path: PointerBuf::root(),
                    value: v.clone(),
                }),
            )
            .map_err(unexpected),
            Some(_) => Ok(()),
        };
    }
    let target = find_object(doc, &path).ok_or_else(|| {
        fail(format!(
            "replace operation does not apply: doc is missing path: {path}: missing value"
        ))
    })?;
    let operation = match target.array_len {
        Some(len) => {
            let idx = existing_index(len, &target.key).map_err(|_| {
                fail(format!(
                    "replace operation does not apply: doc is missing key: {path}: missing value"
                ))
            })?;
            PatchOperation::Replace(ReplaceOperation {
                path: target.pointer(&idx.to_string()),
                value: value(op),
            })
        }
        // v4 sets the key whether or not it exists.
        None if member_at(doc, &target).is_some() => PatchOperation::Replace(ReplaceOperation {
            path: target.pointer(&target.key),
            value: value(op),
        }),
        None => PatchOperation::Add(AddOperation {
            path: target.pointer(&target.key),
            value: value(op),
        }),
    };
    run(doc, operation).map_err(unexpected)
}

/// `move`: v4 removes the source, then resolves the destination in what is left.
fn move_op(doc: &mut Value, op: &Operation) -> Result<(), PatchError> {
    let from = from(op).map_err(|e| fail(format!("move operation failed to decode from: {e}")))?;
    let source = find_object(doc, &from).ok_or_else(|| {
        fail(format!(
            "move operation does not apply: doc is missing from path: {from}: missing value"
        ))
    })?;
    let token = remove_token(doc, &source)
        .map_err(|e| fail(format!("error in move for path: '{}': {e}", source.key)))?;
    let from_pointer = source.pointer(&token);
    let moved = doc
        .pointer(from_pointer.as_str())
        .cloned()
        .unwrap_or(Value::Null);
    run(
        doc,
        PatchOperation::Remove(RemoveOperation { path: from_pointer }),
    )
    .map_err(unexpected)?;

    let path = path(op).map_err(|e| fail(format!("move operation failed to decode path: {e}")))?;
    let target = find_object(doc, &path).ok_or_else(|| {
        fail(format!(
            "move operation does not apply: doc is missing destination path: {path}: missing value"
        ))
    })?;
    let token =
        add_token(&target).map_err(|e| fail(format!("error in move for path: '{path}': {e}")))?;
    let path = target.pointer(&token);
    run(
        doc,
        PatchOperation::Add(AddOperation { path, value: moved }),
    )
    .map_err(unexpected)
}

/// The value a target names for reading (get), `null` counting as absent; array indices
/// out of range are errors.
fn read(doc: &Value, target: &Target) -> Result<Option<PointerBuf>, String> {
    let token = match target.array_len {
        Some(len) => existing_index(len, &target.key)?.to_string(),
        None => target.key.clone(),
    };
    let pointer = target.pointer(&token);
    Ok(doc
        .pointer(pointer.as_str())
        .filter(|v| !v.is_null())
        .map(|_| pointer))
}

fn test(doc: &mut Value, op: &Operation) -> Result<(), PatchError> {
    let path = path(op).map_err(|e| fail(format!("test operation failed to decode path: {e}")))?;
    let failed = || fail(format!("testing value {path} failed: test failed"));
    if path.is_empty() {
        return match op.get("value") {
            None => Err(PatchError::Internal(NIL_DEREFERENCE.into())),
            Some(v) if v == doc => Ok(()),
            Some(_) => Err(failed()),
        };
    }
    let target = find_object(doc, &path).ok_or_else(|| {
        fail(format!(
            "test operation does not apply: is missing path: {path}: missing value"
        ))
    })?;
    let found =
        read(doc, &target).map_err(|e| fail(format!("error in test for path: '{path}': {e}")))?;
    match (found, op.get("value")) {
        (None, None) => Err(PatchError::Internal(NIL_DEREFERENCE.into())),
        (None, Some(Value::Null)) => Ok(()),
        (None, Some(_)) | (Some(_), None) => Err(failed()),
        (Some(pointer), Some(expected)) => run(
            doc,
            PatchOperation::Test(TestOperation {
                path: pointer,
                value: expected.clone(),
            }),
        )
        .map_err(|e| match e.kind {
            PatchErrorKind::TestFailed => failed(),
            _ => unexpected(e),
        }),
    }
}

/// `copy`: a missing source copies `null`.
fn copy(doc: &mut Value, op: &Operation) -> Result<(), PatchError> {
    let from = from(op).map_err(|e| fail(format!("copy operation failed to decode from: {e}")))?;
    let source = find_object(doc, &from).ok_or_else(|| {
        fail(format!(
            "copy operation does not apply: doc is missing from path: {from}: missing value"
        ))
    })?;
    let source =
        read(doc, &source).map_err(|e| fail(format!("error in copy for from: '{from}': {e}")))?;
    let path = path(op).map_err(|_| fail("copy operation failed to decode path: missing value"))?;
    let target = find_object(doc, &path).ok_or_else(|| {
        fail(format!(
            "copy operation does not apply: doc is missing destination path: {path}: missing value"
        ))
    })?;
    let token = add_token(&target)
        .map_err(|e| fail(format!("error while adding value during copy: {e}")))?;
    let path = target.pointer(&token);
    let operation = match source {
        Some(from) => PatchOperation::Copy(CopyOperation { from, path }),
        None => PatchOperation::Add(AddOperation {
            path,
            value: Value::Null,
        }),
    };
    run(doc, operation).map_err(unexpected)
}
