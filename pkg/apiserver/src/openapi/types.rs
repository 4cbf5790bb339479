//! Type checking of request bodies against the kind's schema, as decoding into upstream's Go
//! types does: a string where an int32 goes (`"replicas": "7"`), a number in a
//! `map[string]string`, `"hostNetwork": "true"`, a timestamp that is not RFC 3339. Upstream
//! never stores such an object, and clients that decode into types (kubectl's describe,
//! kube-rs watchers, client-go informers) fail on it, so every write path refuses it.
//!
//! One walk over the decoded object, following the same schemas as field validation
//! (`fields.rs`); nothing is allocated unless a value is wrong. The first mismatch is
//! reported, worded as the decoder of that write path words it ([`Decoder`]).

use serde_json::{Map, Number, Value};

use super::{go_time, schemas};
use rkube_api::validation::quantity::{Quantity, QUANTITY_FORMAT_ERR};

/// Which of upstream's decoders the write path goes through, for its error wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoder {
    /// `encoding/json` (create, update, JSON and merge patches): `json: cannot unmarshal
    /// string into Go struct field DeploymentSpec.spec.replicas of type int32`.
    Json,
    /// The unstructured converter (strategic merge patch results, server-side apply
    /// results): `unrecognized type: int32`, `cannot convert int64 to string`.
    Unstructured,
    /// structured-merge-diff's typed values (server-side apply's configuration): only the
    /// scalar classes (numeric, string, boolean) and map/list shapes count.
    Smd,
}

/// What the schema wants at one place.
#[derive(Clone, Copy)]
enum Want {
    Struct(&'static Map<String, Value>),
    Map(&'static Value),
    List(Option<&'static Value>),
    Str,
    Bytes,
    Int(u8),
    Float,
    Bool,
    Time { micro: bool },
    Quantity,
    IntOrString,
    Any,
}

fn want(schema: &'static Value) -> (Want, Option<&'static str>) {
    let (s, name) = resolve_named(schema);
    let w = match name {
        Some(n) if n.ends_with("meta.v1.Time") => Want::Time { micro: false },
        Some(n) if n.ends_with("meta.v1.MicroTime") => Want::Time { micro: true },
        Some("io.k8s.apimachinery.pkg.api.resource.Quantity") => Want::Quantity,
        Some("io.k8s.apimachinery.pkg.util.intstr.IntOrString") => Want::IntOrString,
        _ => classify(s),
    };
    (w, name)
}

fn classify(s: &'static Value) -> Want {
    if s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return Want::Any;
    }
    if s.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        return Want::IntOrString;
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        return Want::Struct(props);
    }
    match s.get("additionalProperties") {
        Some(v @ Value::Object(_)) => return Want::Map(v),
        Some(_) => return Want::Any,
        None => {}
    }
    let format = s.get("format").and_then(Value::as_str);
    match s.get("type").and_then(Value::as_str) {
        Some("array") => Want::List(s.get("items")),
        Some("string") => match format {
            Some("byte") => Want::Bytes,
            Some("date-time") => Want::Time { micro: false },
            Some("int-or-string") => Want::IntOrString,
            _ => Want::Str,
        },
        Some("integer") => match format {
            Some("int32") => Want::Int(32),
            _ => Want::Int(64),
        },
        Some("number") => Want::Float,
        Some("boolean") => Want::Bool,
        _ => Want::Any,
    }
}

/// Follows `$ref`s, keeping the name of the last definition reached (for Go type names).
fn resolve_named(mut schema: &'static Value) -> (&'static Value, Option<&'static str>) {
    let mut name: Option<&'static str> = None;
    for _ in 0..16 {
        let Some(r) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/definitions/"))
        else {
            break;
        };
        match schemas::get(r) {
            Some(target) => {
                schema = target;
                name = Some(r);
            }
            None => break,
        }
    }
    (schema, name)
}

/// One segment of the path to a mismatch, outermost first once built.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Field(String),
    Key(String),
    /// A list element: its index, and structured-merge-diff's key form (`[name="web"]`)
    /// when the list is keyed.
    Elem(usize, Option<String>),
}

/// Why a value does not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fault {
    /// The value's JSON kind (or a number that does not fit) is not what the type takes.
    Type,
    /// A timestamp that does not parse; Go's error text.
    Time(String),
    /// A quantity that does not parse.
    Quantity,
    /// An int-or-string that is neither (Go decodes it as an int32).
    IntOrString,
    /// A `[]byte` string that is not standard base64; Go's error text.
    Base64(String),
}

/// The first value of an object that does not fit its schema.
#[derive(Debug, Clone)]
pub struct Mismatch {
    fault: Fault,
    /// The offending value.
    found: Value,
    /// The schema it was checked against.
    schema: &'static Value,
    path: Vec<Seg>,
    /// The Go struct that holds the innermost field of the path (Go's `Struct.field` form).
    owner: Option<&'static str>,
}

/// Checks `v` against `schema` (a definition, as `fields::body_schema` returns it, whose Go
/// type is named `root`), as `decoder` would.
pub fn check(
    schema: &'static Value,
    root: &'static str,
    v: &Value,
    decoder: Decoder,
) -> Result<(), Box<Mismatch>> {
    let props = schema.get("properties").and_then(Value::as_object);
    match (props, v) {
        (Some(props), Value::Object(m)) => walk_struct(props, Some(root), m, decoder),
        _ => walk(schema, v, decoder),
    }
}

fn walk(schema: &'static Value, v: &Value, decoder: Decoder) -> Result<(), Box<Mismatch>> {
    if v.is_null() {
        // Go leaves a null's target unset, whatever its type.
        return Ok(());
    }
    let (w, name) = want(schema);
    let fail = |fault: Fault| {
        Err(Box::new(Mismatch {
            fault,
            found: v.clone(),
            schema,
            path: Vec::new(),
            owner: None,
        }))
    };
    let type_ok = match (w, v) {
        (Want::Any, _) => true,
        (Want::Struct(props), Value::Object(m)) => {
            return walk_struct(props, short_name(name), m, decoder)
        }
        (Want::Map(s), Value::Object(m)) => {
            for (k, x) in m {
                walk(s, x, decoder).map_err(|e| outer(e, Seg::Key(k.clone())))?;
            }
            return Ok(());
        }
        (Want::List(items), Value::Array(a)) => {
            let Some(items) = items else { return Ok(()) };
            for (i, x) in a.iter().enumerate() {
                walk(items, x, decoder).map_err(|e| outer(e, Seg::Elem(i, smd_key(schema, x))))?;
            }
            return Ok(());
        }
        (Want::Struct(_) | Want::Map(_) | Want::List(_), _) => false,
        (Want::Str, Value::String(_)) => true,
        (Want::Str, _) => false,
        (Want::Bytes, Value::String(_)) if decoder == Decoder::Smd => true,
        (Want::Bytes, Value::String(s)) => {
            return match rkube_api::validation::base64::decode(s) {
                Ok(_) => Ok(()),
                Err(e) => fail(Fault::Base64(e)),
            }
        }
        (Want::Bytes, _) => false,
        (Want::Bool, Value::Bool(_)) => true,
        (Want::Bool, _) => false,
        (Want::Float, Value::Number(_)) => true,
        (Want::Float, _) => false,
        (Want::Int(bits), Value::Number(n)) => int_fits(n, bits, decoder),
        (Want::Int(_), _) => false,
        (Want::Time { micro }, _) => {
            if decoder == Decoder::Smd {
                v.is_string()
            } else {
                return match v {
                    Value::String(s) if rkube_api::table::Timestamp::parse(s).is_some() => Ok(()),
                    Value::String(s) => {
                        let layout = if micro {
                            go_time::RFC3339_MICRO
                        } else {
                            go_time::RFC3339
                        };
                        fail(Fault::Time(go_time::parse_error(layout, s)))
                    }
                    _ => fail(Fault::Type),
                };
            }
        }
        // structured-merge-diff takes these as any scalar; the merged result is checked as
        // the Go types decode it.
        (Want::Quantity | Want::IntOrString, _) if decoder == Decoder::Smd => true,
        (Want::Quantity, Value::String(s)) => {
            return match Quantity::parse(s.trim()) {
                Some(_) => Ok(()),
                None => fail(Fault::Quantity),
            }
        }
        (Want::Quantity, Value::Number(n)) => {
            return match Quantity::parse(&n.to_string()) {
                Some(_) => Ok(()),
                None => fail(Fault::Quantity),
            }
        }
        (Want::Quantity, _) => return fail(Fault::Quantity),
        (Want::IntOrString, Value::String(_)) => true,
        (Want::IntOrString, Value::Number(n)) => {
            if int_fits(n, 32, Decoder::Json) || whole_float(n, decoder) {
                true
            } else {
                return fail(Fault::IntOrString);
            }
        }
        (Want::IntOrString, _) => return fail(Fault::IntOrString),
    };
    if type_ok {
        Ok(())
    } else {
        fail(Fault::Type)
    }
}

fn walk_struct(
    props: &'static Map<String, Value>,
    name: Option<&'static str>,
    m: &Map<String, Value>,
    decoder: Decoder,
) -> Result<(), Box<Mismatch>> {
    for (k, x) in m {
        // Unknown fields are field validation's (fields.rs); decoding drops them.
        if let Some(s) = props.get(k) {
            walk(s, x, decoder).map_err(|mut e| {
                if e.owner.is_none() {
                    e.owner = name;
                }
                outer(e, Seg::Field(k.clone()))
            })?;
        }
    }
    Ok(())
}

fn outer(mut e: Box<Mismatch>, seg: Seg) -> Box<Mismatch> {
    // Built innermost first; reversed when worded.
    e.path.push(seg);
    e
}

/// Whether the number fits an int of `bits`: Go's JSON decoder takes only integer
/// literals in range; the unstructured converter also takes whole floats (and wraps).
fn int_fits(n: &Number, bits: u8, decoder: Decoder) -> bool {
    match decoder {
        Decoder::Smd => true,
        Decoder::Unstructured => n.is_i64() || n.is_u64() || whole_float(n, decoder),
        Decoder::Json => match (n.as_i64(), bits) {
            (Some(i), 32) => i32::try_from(i).is_ok(),
            (Some(_), _) => true,
            (None, _) => false,
        },
    }
}

fn whole_float(n: &Number, decoder: Decoder) -> bool {
    decoder != Decoder::Json && n.as_f64().is_some_and(|f| f.fract() == 0.0)
}

/// `PodSpec` of `io.k8s.api.core.v1.PodSpec`.
fn short_name(name: Option<&'static str>) -> Option<&'static str> {
    name.map(|n| n.rsplit('.').next().unwrap_or(n))
}

/// structured-merge-diff's element form for keyed lists (`[name="web"]`); None for others.
fn smd_key(list: &'static Value, item: &Value) -> Option<String> {
    let keys = resolve_named(list)
        .0
        .get("x-kubernetes-list-map-keys")?
        .as_array()?;
    let parts: Vec<String> = keys
        .iter()
        .filter_map(Value::as_str)
        .filter_map(|k| item.get(k).map(|v| format!("{k}={v}")))
        .collect();
    Some(format!("[{}]", parts.join(",")))
}

// ---- Wording ----

/// Go's `%v` of a decoded JSON value, as structured-merge-diff's errors print it.
fn go_v(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(go_v).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(m) => {
            let items: Vec<String> = m.iter().map(|(k, x)| format!("{k}:{}", go_v(x))).collect();
            format!("map[{}]", items.join(" "))
        }
        other => other.to_string(),
    }
}

/// The Go type upstream declares for `schema` (`int32`, `[]v1.Container`,
/// `map[string]string`). Named scalar types (`v1.Protocol`) read as their underlying type:
/// the schema does not carry their names.
fn go_type(schema: &'static Value) -> String {
    let (w, name) = want(schema);
    let named = |n: Option<&str>| {
        let n = n.unwrap_or_default();
        let mut parts = n.rsplit('.');
        let ty = parts.next().unwrap_or(n);
        match parts.next() {
            Some(pkg) => format!("{pkg}.{ty}"),
            None => ty.to_string(),
        }
    };
    match w {
        Want::Struct(_) => named(name),
        Want::Map(s) => format!("map[string]{}", go_type(s)),
        Want::List(Some(s)) => format!("[]{}", go_type(s)),
        Want::List(None) => "[]interface {}".into(),
        Want::Str => "string".into(),
        Want::Bytes => "[]uint8".into(),
        Want::Int(32) => "int32".into(),
        Want::Int(_) => "int64".into(),
        Want::Float => "float64".into(),
        Want::Bool => "bool".into(),
        Want::Time { micro: false } => "v1.Time".into(),
        Want::Time { micro: true } => "v1.MicroTime".into(),
        Want::Quantity => "resource.Quantity".into(),
        Want::IntOrString => "intstr.IntOrString".into(),
        Want::Any if name.is_some() => named(name),
        Want::Any => "interface {}".into(),
    }
}

/// What `encoding/json` calls a JSON value in its errors (`number 7.5` for a number that
/// does not fit an int).
fn json_kind(v: &Value, int_target: bool) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(n) if int_target => format!("number {n}"),
        Value::Number(_) => "number".into(),
        Value::String(_) => "string".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
    }
}

/// The Go type a decoded JSON value has in an unstructured map (ints kept as int64).
fn unstructured_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "invalid",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

impl Mismatch {
    fn segs(&self) -> impl Iterator<Item = &Seg> {
        self.path.iter().rev()
    }

    /// `encoding/json`'s error, as create, update and JSON/merge patches report it.
    pub fn json_message(&self) -> String {
        match &self.fault {
            Fault::Time(e) | Fault::Base64(e) => return e.clone(),
            Fault::Quantity => return QUANTITY_FORMAT_ERR.into(),
            // metav1.Time and IntOrString decode with their own `json.Unmarshal`: no field
            // context in the error.
            Fault::Type if matches!(want(self.schema).0, Want::Time { .. }) => {
                return format!(
                    "json: cannot unmarshal {} into Go value of type string",
                    json_kind(&self.found, false)
                )
            }
            Fault::IntOrString => {
                return format!(
                    "json: cannot unmarshal {} into Go value of type int32",
                    json_kind(&self.found, true)
                )
            }
            Fault::Type => {}
        }
        let int_target = matches!(want(self.schema).0, Want::Int(_)) && self.found.is_number();
        let found = json_kind(&self.found, int_target);
        let ty = go_type(self.schema);
        let fields: Vec<&str> = self
            .segs()
            .filter_map(|s| match s {
                Seg::Field(f) => Some(f.as_str()),
                _ => None,
            })
            .collect();
        match self.owner {
            Some(owner) if !fields.is_empty() => format!(
                "json: cannot unmarshal {found} into Go struct field {owner}.{} of type {ty}",
                fields.join(".")
            ),
            _ => format!("json: cannot unmarshal {found} into Go value of type {ty}"),
        }
    }

    /// The unstructured converter's error, as strategic merge patches report it.
    pub fn unstructured_message(&self) -> String {
        match &self.fault {
            Fault::Time(e) | Fault::Base64(e) => return e.clone(),
            Fault::Quantity => return QUANTITY_FORMAT_ERR.into(),
            Fault::IntOrString => return self.json_message(),
            Fault::Type => {}
        }
        let (w, _) = want(self.schema);
        let st = unstructured_type(&self.found);
        let kind = match &self.found {
            Value::Array(_) => "slice",
            Value::Object(_) => "map",
            _ => st,
        };
        match w {
            Want::Time { .. } => format!(
                "json: cannot unmarshal {} into Go value of type string",
                json_kind(&self.found, false)
            ),
            Want::Struct(_) => format!("cannot restore struct from: {kind}"),
            Want::Map(_) => format!("cannot restore map from {kind}"),
            Want::List(_) | Want::Bytes => format!("cannot restore slice from {kind}"),
            _ => {
                let dt = go_type(self.schema);
                // Go converts ints to strings and floats to ints only as JSON would.
                let convertible = match w {
                    Want::Str => st == "int64",
                    Want::Int(_) => st == "float64",
                    _ => false,
                };
                if convertible {
                    format!("cannot convert {st} to {dt}")
                } else {
                    format!("unrecognized type: {dt}")
                }
            }
        }
    }

    /// structured-merge-diff's error (`.spec.replicas: expected numeric (int or float), got
    /// string`), as server-side apply reports a configuration that does not fit.
    pub fn smd_message(&self) -> String {
        let mut path = String::new();
        for s in self.segs() {
            match s {
                Seg::Field(f) | Seg::Key(f) => {
                    path.push('.');
                    path.push_str(f);
                }
                Seg::Elem(_, Some(k)) => path.push_str(k),
                Seg::Elem(i, None) => path.push_str(&format!("[{i}]")),
            }
        }
        let boxed = format!("&{{{}}}", go_v(&self.found));
        let what = match want(self.schema).0 {
            Want::Int(_) | Want::Float => format!(
                "expected numeric (int or float), got {}",
                unstructured_type(&self.found)
            ),
            Want::Bool => format!("expected boolean, got {boxed}"),
            Want::Struct(_) | Want::Map(_) => format!("expected map, got {boxed}"),
            Want::List(_) => format!("expected list, got {boxed}"),
            _ => format!(
                "expected string, got &value.valueUnstructured{{Value:{}}}",
                go_sharp_v(&self.found)
            ),
        };
        format!("{path}: {what}")
    }
}

/// Go's `%#v` of a decoded scalar (what structured-merge-diff shows for a non-string).
fn go_sharp_v(v: &Value) -> String {
    match v {
        Value::String(s) => rkube_api::validation::go_quote(s),
        Value::Number(n) if n.is_f64() => n.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => go_v(other),
    }
}

#[cfg(test)]
mod tests;
