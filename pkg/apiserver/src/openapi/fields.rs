//! Field validation (`fieldValidation=Strict|Warn|Ignore` on create, update and patch): the
//! fields of a request body that the kind's schema does not have, and the keys a JSON body
//! repeats, as kube-apiserver's strict decoding reports them (`unknown field
//! "spec.containers[0].imagePullPolcy"`, `duplicate field "spec.replicas"`).
//!
//! Driven by the OpenAPI definitions the server publishes (schemas.rs): a struct's fields are
//! its `properties`; maps (`additionalProperties`), `x-kubernetes-preserve-unknown-fields`
//! and free-form objects (RawExtension, FieldsV1) take anything. Unknown fields never reach
//! storage: whatever the directive, they are pruned, as decoding into Go types drops them.
//!
//! With `Strict` the request fails with all problems in one message; with `Warn` (upstream's
//! default when the parameter is absent) each becomes a `Warning` header; with `Ignore` they
//! are dropped silently.

use std::{borrow::Cow, cell::RefCell, collections::HashMap};

use rkube_api::{patch::PatchType, ResourceDef};
use serde_json::{Map, Value};

use super::{
    paths::definition_name,
    schemas,
    types::{self, Decoder},
};
use crate::{
    params::Params,
    status::{ApiError, ApiResult},
};

/// What `fieldValidation` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Directive {
    Ignore,
    Warn,
    Strict,
}

impl Directive {
    /// Upstream's default, when the parameter is absent, is `Warn`.
    pub fn of(params: &Params) -> Self {
        match params.field_validation.as_deref() {
            Some("Ignore") => Self::Ignore,
            Some("Strict") => Self::Strict,
            _ => Self::Warn,
        }
    }
}

/// One strict-decoding problem, displayed as upstream's `strictError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Unknown(String),
    Duplicate(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (what, path) = match self {
            Problem::Unknown(p) => ("unknown", p),
            Problem::Duplicate(p) => ("duplicate", p),
        };
        write!(f, "{what} field {}", rkube_api::validation::go_quote(path))
    }
}

/// `strict decoding error: unknown field "a", duplicate field "b"`.
pub fn strict_message(problems: &[Problem]) -> String {
    let all: Vec<String> = problems.iter().map(Problem::to_string).collect();
    format!("strict decoding error: {}", all.join(", "))
}

// ---- The schema, as a walk needs it ----

/// What a schema allows at one place in an object.
#[derive(Clone, Copy)]
enum Shape {
    /// A struct: these fields and no others.
    Struct(&'static Map<String, Value>),
    /// A map: any key, each value of this schema.
    Map(&'static Value),
    /// A list whose items have this schema (absent: anything).
    List(Option<&'static Value>),
    /// Anything goes (free-form objects, preserved unknown fields).
    Free,
    /// A scalar (or a string-or-int): nothing below it.
    Leaf,
}

fn resolve(mut schema: &'static Value) -> &'static Value {
    for _ in 0..16 {
        match schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/definitions/"))
            .and_then(schemas::get)
        {
            Some(target) => schema = target,
            None => break,
        }
    }
    schema
}

fn shape(schema: &'static Value) -> Shape {
    let s = resolve(schema);
    if s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return Shape::Free;
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        return Shape::Struct(props);
    }
    match s.get("additionalProperties") {
        Some(v @ Value::Object(_)) => return Shape::Map(v),
        Some(_) => return Shape::Free,
        None => {}
    }
    match s.get("type").and_then(Value::as_str) {
        Some("array") => Shape::List(s.get("items")),
        Some("object") => Shape::Free,
        _ => Shape::Leaf,
    }
}

/// The definition a request body of `def` (or of its subresource `sub`) is decoded into.
pub fn body_schema(def: &'static ResourceDef, sub: Option<&str>) -> Option<&'static Value> {
    // Asked several times per write: each thread remembers the answer per definition (the
    // registry's and its subresources' entries are statics, so their addresses are keys).
    thread_local! {
        static SEEN: RefCell<HashMap<usize, Option<&'static Value>>> = RefCell::new(HashMap::new());
    }
    let sub = sub.and_then(|s| def.subresource(s));
    let id = match sub {
        Some(s) => s as *const _ as usize,
        None => def as *const _ as usize,
    };
    if let Some(hit) = SEEN.with(|m| m.borrow().get(&id).copied()) {
        return hit;
    }
    let name = match sub {
        Some(s) => definition_name(s.group, s.version, s.kind),
        None => definition_name(def.group, def.version, def.kind),
    };
    let found = schemas::get(&name);
    SEEN.with(|m| m.borrow_mut().insert(id, found));
    found
}

fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

// ---- Over a decoded object ----

/// The unknown fields of `obj` (an object of `def`'s kind), in upstream's dotted form with
/// list indices (`spec.containers[0].imagePullPolcy`), in key order.
#[cfg_attr(not(test), allow(dead_code))]
pub fn unknown_fields(def: &'static ResourceDef, obj: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(schema) = body_schema(def, None) {
        walk(schema, obj, String::new(), &mut |p| out.push(p));
    }
    out
}

/// Removes the unknown fields of `obj` (an object of `def`'s kind).
#[cfg_attr(not(test), allow(dead_code))]
pub fn prune_unknown(def: &'static ResourceDef, obj: &mut Value) {
    if let Some(schema) = body_schema(def, None) {
        prune(schema, obj);
    }
}

fn walk(schema: &'static Value, v: &Value, path: String, found: &mut impl FnMut(String)) {
    match (shape(schema), v) {
        (Shape::Struct(props), Value::Object(m)) => {
            for (k, x) in m {
                let p = child_path(&path, k);
                match props.get(k) {
                    Some(s) => walk(s, x, p, found),
                    None => found(p),
                }
            }
        }
        (Shape::Map(s), Value::Object(m)) => {
            for (k, x) in m {
                walk(s, x, child_path(&path, k), found);
            }
        }
        (Shape::List(Some(s)), Value::Array(a)) => {
            for (i, x) in a.iter().enumerate() {
                walk(s, x, format!("{path}[{i}]"), found);
            }
        }
        _ => {}
    }
}

/// Whether `walk` would find anything: the same traversal without building a path per
/// field. Most writes hold no unknown field, so they skip `walk` (a `String` per field)
/// and `prune` (a no-op for them).
fn has_unknown(schema: &'static Value, v: &Value) -> bool {
    match (shape(schema), v) {
        (Shape::Struct(props), Value::Object(m)) => m.iter().any(|(k, x)| match props.get(k) {
            Some(s) => has_unknown(s, x),
            None => true,
        }),
        (Shape::Map(s), Value::Object(m)) => m.values().any(|x| has_unknown(s, x)),
        (Shape::List(Some(s)), Value::Array(a)) => a.iter().any(|x| has_unknown(s, x)),
        _ => false,
    }
}

fn prune(schema: &'static Value, v: &mut Value) {
    match (shape(schema), v) {
        (Shape::Struct(props), Value::Object(m)) => {
            m.retain(|k, _| props.contains_key(k));
            for (k, x) in m.iter_mut() {
                if let Some(s) = props.get(k) {
                    prune(s, x);
                }
            }
        }
        (Shape::Map(s), Value::Object(m)) => m.values_mut().for_each(|x| prune(s, x)),
        (Shape::List(Some(s)), Value::Array(a)) => a.iter_mut().for_each(|x| prune(s, x)),
        _ => {}
    }
}

// ---- Over a raw JSON body: unknown and duplicate fields in document order ----

/// Scans a JSON document (already known to parse) against a schema, noting unknown fields and
/// repeated keys as Go's strict decoder meets them.
struct Scan<'a> {
    b: &'a [u8],
    i: usize,
    found: Vec<Problem>,
    /// The dotted path of the value being scanned (`spec.containers[0]`), extended and cut
    /// back as the scan descends and returns: a path is only copied for a problem.
    path: String,
}

impl<'a> Scan<'a> {
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    /// A string token (at `"`), unescaped.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let start = self.i;
        self.i += 1;
        let mut escaped = false;
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'\\' => {
                    escaped = true;
                    self.i += 2;
                }
                b'"' => {
                    self.i += 1;
                    let raw = &self.b[start..self.i];
                    return if escaped {
                        serde_json::from_slice::<String>(raw).ok().map(Cow::Owned)
                    } else {
                        std::str::from_utf8(&raw[1..raw.len() - 1])
                            .ok()
                            .map(Cow::Borrowed)
                    };
                }
                _ => self.i += 1,
            }
        }
        None
    }

    /// One value at `self.path`; `schema` None: no schema below (only duplicates are noted).
    fn value(&mut self, schema: Option<&'static Value>) -> Option<()> {
        match self.peek()? {
            b'{' => {
                self.i += 1;
                let shape = schema.map(shape).unwrap_or(Shape::Free);
                let mut seen: Vec<Cow<'a, str>> = Vec::new();
                if self.peek()? == b'}' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    if self.peek()? != b'"' {
                        return None;
                    }
                    let key = self.string()?;
                    if self.peek()? != b':' {
                        return None;
                    }
                    self.i += 1;
                    let parent = self.path.len();
                    if parent > 0 {
                        self.path.push('.');
                    }
                    self.path.push_str(&key);
                    if seen.contains(&key) {
                        self.found.push(Problem::Duplicate(self.path.clone()));
                    }
                    let child = match shape {
                        Shape::Struct(props) => match props.get(key.as_ref()) {
                            Some(s) => Some(s),
                            None => {
                                self.found.push(Problem::Unknown(self.path.clone()));
                                None
                            }
                        },
                        Shape::Map(s) => Some(s),
                        _ => None,
                    };
                    seen.push(key);
                    self.value(child)?;
                    self.path.truncate(parent);
                    match self.peek()? {
                        b',' => self.i += 1,
                        b'}' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let items = match schema.map(shape) {
                    Some(Shape::List(items)) => items,
                    _ => None,
                };
                if self.peek()? == b']' {
                    self.i += 1;
                    return Some(());
                }
                let parent = self.path.len();
                for n in 0.. {
                    use std::fmt::Write;
                    let _ = write!(self.path, "[{n}]");
                    self.value(items)?;
                    self.path.truncate(parent);
                    match self.peek()? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            break;
                        }
                        _ => return None,
                    }
                }
                Some(())
            }
            b'"' => self.string().map(drop),
            _ => {
                while self.i < self.b.len()
                    && !matches!(
                        self.b[self.i],
                        b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'
                    )
                {
                    self.i += 1;
                }
                Some(())
            }
        }
    }
}

/// The unknown and repeated fields of a JSON document decoded into `schema` (None: only
/// repeated keys), in the order a decoder meets them.
pub fn scan_json(schema: Option<&'static Value>, body: &[u8]) -> Vec<Problem> {
    scan_json_complete(schema, body).0
}

/// As [`scan_json`], and whether the scan got through the whole document (it stops at
/// what does not parse).
fn scan_json_complete(schema: Option<&'static Value>, body: &[u8]) -> (Vec<Problem>, bool) {
    let mut s = Scan {
        b: body,
        i: 0,
        found: Vec::new(),
        path: String::new(),
    };
    let complete = s.value(schema).is_some();
    (s.found, complete)
}

fn is_json(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{')
}

// ---- What the handlers call ----

/// Checks a create or update body: `obj` is the decoded body of `def` (or of subresource
/// `sub`), `raw` the bytes it came from. Unknown fields are pruned from `obj`. Strict: 400
/// with every problem, as upstream's decoder words it; Warn: the problems, each to become a
/// `Warning` header; Ignore: nothing.
pub fn check(
    params: &Params,
    def: &'static ResourceDef,
    sub: Option<&str>,
    raw: &[u8],
    obj: &mut Value,
) -> ApiResult<Vec<String>> {
    let Some(schema) = body_schema(def, sub) else {
        return Ok(Vec::new());
    };
    // A value of the wrong type fails the decoding whatever the directive, before
    // anything strict decoding finds (openapi/types.rs).
    if let Err(m) = types::check(schema, root_kind(def, sub), obj, Decoder::Json) {
        return Err(ApiError::bad_request(cannot_handle(
            def,
            sub,
            obj,
            raw,
            &m.json_message(),
        )));
    }
    let directive = Directive::of(params);
    // Whether the object is known to hold no unknown field, so pruning would change nothing:
    // the scan went over every field of it (the JSON scan over every key, a repeated one's
    // values included) against the schema that `prune` follows.
    let (problems, all_known) = if directive == Directive::Ignore {
        (Vec::new(), false)
    } else if is_json(raw) {
        let (found, complete) = scan_json_complete(Some(schema), raw);
        let known = complete && !found.iter().any(|p| matches!(p, Problem::Unknown(_)));
        (found, known)
    } else if has_unknown(schema, obj) {
        let mut found = Vec::new();
        walk(schema, obj, String::new(), &mut |p| {
            found.push(Problem::Unknown(p))
        });
        (found, false)
    } else {
        (Vec::new(), true)
    };
    if !all_known {
        prune(schema, obj);
    }
    if problems.is_empty() {
        return Ok(Vec::new());
    }
    if directive == Directive::Strict {
        return Err(ApiError::bad_request(cannot_handle(
            def,
            sub,
            obj,
            raw,
            &strict_message(&problems),
        )));
    }
    Ok(problems.iter().map(Problem::to_string).collect())
}

/// Upstream's `transformDecodeError`: `Deployment in version "v1" cannot be handled as a
/// Deployment: <err>` when the body names its kind, else `the object provided is
/// unrecognized (must be of type Deployment): <err> (<the body's start>)`.
fn cannot_handle(
    def: &ResourceDef,
    sub: Option<&str>,
    obj: &Value,
    raw: &[u8],
    err: &str,
) -> String {
    let (version, kind) = match sub.and_then(|s| def.subresource(s)) {
        Some(s) => (s.version, s.kind),
        None => (def.version, def.kind),
    };
    let body_kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty());
    match body_kind {
        Some(k) => {
            let v = obj
                .get("apiVersion")
                .and_then(Value::as_str)
                .map(|av| av.rsplit('/').next().unwrap_or(av).to_string())
                .unwrap_or_else(|| version.to_string());
            format!("{k} in version {v:?} cannot be handled as a {kind}: {err}")
        }
        None => format!(
            "the object provided is unrecognized (must be of type {kind}): {err} ({})",
            summarize(raw)
        ),
    }
}

/// Upstream's `summarizeData(body, 30)`.
fn summarize(raw: &[u8]) -> String {
    const MAX: usize = 30;
    if raw.is_empty() {
        return "<empty>".into();
    }
    let cut = &raw[..raw.len().min(MAX)];
    let more = if raw.len() > MAX { " ..." } else { "" };
    if raw[0] == b'{' {
        format!("{}{more}", String::from_utf8_lossy(cut))
    } else {
        let hex: String = cut.iter().map(|b| format!("{b:02x}")).collect();
        format!("{hex}{more}")
    }
}

/// Checks a patched object: `patched` is the result of applying `patch` (of type `kind`) to
/// the stored object of `def` (or of subresource `sub`). Repeated keys of merge and strategic
/// patches and the unknown fields of the result count, as upstream's patcher reports them;
/// unknown fields are pruned from `patched`. Strict fails with upstream's 422 on field
/// `patch`.
pub fn check_patch(
    params: &Params,
    def: &'static ResourceDef,
    sub: Option<&str>,
    kind: PatchType,
    patch: &[u8],
    patched: &mut Value,
) -> ApiResult<Vec<String>> {
    let Some(schema) = body_schema(def, sub) else {
        return Ok(Vec::new());
    };
    // The patched object decodes into the kind's type: a value of the wrong type fails
    // with upstream's 422 on field `patch`, whatever the directive (openapi/types.rs).
    let decoder = match kind {
        PatchType::Strategic => Decoder::Unstructured,
        _ => Decoder::Json,
    };
    if let Err(m) = types::check(schema, root_kind(def, sub), patched, decoder) {
        let (value, detail) = match kind {
            PatchType::Strategic => (
                serde_json::from_slice::<Value>(patch)
                    .map(|v| go_value(&v))
                    .unwrap_or_default(),
                m.unstructured_message(),
            ),
            _ => (
                serde_json::to_string(&*patched).unwrap_or_default(),
                m.json_message(),
            ),
        };
        return Err(patch_invalid(value, detail));
    }
    let directive = Directive::of(params);
    let mut problems = Vec::new();
    let unknown = has_unknown(schema, patched);
    if directive != Directive::Ignore {
        if kind != PatchType::Json {
            problems.extend(scan_json(None, patch));
        }
        if unknown {
            walk(schema, patched, String::new(), &mut |p| {
                problems.push(Problem::Unknown(p))
            });
        }
    }
    let result_json = (directive == Directive::Strict && !problems.is_empty())
        .then(|| serde_json::to_string(&*patched).unwrap_or_default());
    if unknown {
        prune(schema, patched);
    }
    if problems.is_empty() {
        return Ok(Vec::new());
    }
    if directive == Directive::Strict {
        // The value upstream shows: the patched JSON for JSON and merge patches, Go's `%+v`
        // of the decoded patch for strategic ones.
        let value = match kind {
            PatchType::Strategic => serde_json::from_slice::<Value>(patch)
                .map(|v| go_value(&v))
                .unwrap_or_default(),
            _ => result_json.unwrap_or_default(),
        };
        return Err(patch_invalid(value, strict_message(&problems)));
    }
    Ok(problems.iter().map(Problem::to_string).collect())
}

/// Upstream's 422 for a patched object that does not decode: `Invalid value: <value>:
/// <detail>` on field `patch`.
fn patch_invalid(value: String, detail: String) -> ApiError {
    let err = rkube_api::patch::PatchError::InvalidResult { value, detail };
    let mut api = ApiError::new(err.http_code(), err.reason(), err.to_string());
    api.details = err.details();
    api
}

/// The Go type name of the body of `def` (or of its subresource `sub`): `Deployment`.
fn root_kind(def: &'static ResourceDef, sub: Option<&str>) -> &'static str {
    match sub.and_then(|s| def.subresource(s)) {
        Some(s) => s.kind,
        None => def.kind,
    }
}

/// Server-side apply: the applied configuration must fit the schema whatever the directive
/// (upstream's structured-merge-diff refuses unknown fields with a 500); repeated keys are
/// not checked (YAML). Returns nothing to warn about.
pub fn check_apply(
    def: &'static ResourceDef,
    namespace: Option<&str>,
    applied: &Value,
) -> ApiResult<()> {
    let Some(schema) = body_schema(def, None) else {
        return Ok(());
    };
    let mut found = Vec::new();
    walk_smd(schema, applied, String::new(), &mut found);
    let mut errs: Vec<String> = found
        .iter()
        .map(|p| format!("{p}: field not declared in schema"))
        .collect();
    // Values of the wrong type, as structured-merge-diff's typed conversion refuses them.
    if let Err(m) = types::check(schema, def.kind, applied, Decoder::Smd) {
        errs.insert(0, m.smd_message());
    }
    if errs.is_empty() {
        return Ok(());
    }
    let errs = if errs.len() == 1 {
        errs[0].clone()
    } else {
        format!("errors:\n  {}", errs.join("\n  "))
    };
    Err(ApiError::new(
        500,
        "",
        format!(
            "failed to create typed patch object ({}): {errs}",
            gvknn(def, namespace, applied)
        ),
    ))
}

/// Server-side apply's merged result must decode into the kind's type (a whole number
/// where an int goes, timestamps and quantities that parse): upstream's 500 when the
/// converter refuses it.
pub fn check_apply_result(
    def: &'static ResourceDef,
    namespace: Option<&str>,
    merged: &Value,
) -> ApiResult<()> {
    let Some(schema) = body_schema(def, None) else {
        return Ok(());
    };
    let Err(m) = types::check(schema, def.kind, merged, Decoder::Unstructured) else {
        return Ok(());
    };
    Err(ApiError::new(
        500,
        "",
        format!(
            "failed to convert new object ({}) to proper version: unable to convert unstructured object to {}: {}",
            gvknn(def, namespace, merged),
            gvk(def),
            m.unstructured_message()
        ),
    ))
}

/// `apps/v1, Kind=Deployment` (Go's GroupVersionKind.String()).
fn gvk(def: &ResourceDef) -> String {
    let gv = if def.group.is_empty() {
        format!("/{}", def.version)
    } else {
        format!("{}/{}", def.group, def.version)
    };
    format!("{gv}, Kind={}", def.kind)
}

/// `default/web; apps/v1, Kind=Deployment` (the field manager's objectGVKNN).
fn gvknn(def: &ResourceDef, namespace: Option<&str>, obj: &Value) -> String {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    format!("{}/{name}; {}", namespace.unwrap_or_default(), gvk(def))
}

/// Unknown fields in structured-merge-diff's path form: `.spec.template.spec
/// .containers[name="web"].foo` (associative lists by key, others by index).
fn walk_smd(schema: &'static Value, v: &Value, path: String, found: &mut Vec<String>) {
    match (shape(schema), v) {
        (Shape::Struct(props), Value::Object(m)) => {
            for (k, x) in m {
                let p = format!("{path}.{k}");
                match props.get(k) {
                    Some(s) => walk_smd(s, x, p, found),
                    None => found.push(p),
                }
            }
        }
        (Shape::Map(s), Value::Object(m)) => {
            for (k, x) in m {
                walk_smd(s, x, format!("{path}.{k}"), found);
            }
        }
        (Shape::List(Some(s)), Value::Array(a)) => {
            let keys: Vec<&str> = resolve(schema)
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|k| k.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for (i, x) in a.iter().enumerate() {
                let element = if keys.is_empty() {
                    format!("[{i}]")
                } else {
                    let parts: Vec<String> = keys
                        .iter()
                        .filter_map(|k| x.get(*k).map(|val| format!("{k}={val}")))
                        .collect();
                    format!("[{}]", parts.join(","))
                };
                walk_smd(s, x, format!("{path}{element}"), found);
            }
        }
        _ => {}
    }
}

/// Go's `%v`/`%+v` of a decoded JSON value: `map[a:1 b:[x y]]`, `<nil>`.
fn go_value(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(go_value).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, x)| format!("{k}:{}", go_value(x)))
                .collect();
            format!("map[{}]", items.join(" "))
        }
    }
}

#[cfg(test)]
mod tests;
