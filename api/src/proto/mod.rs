//! Kubernetes protobuf (`application/vnd.kubernetes.protobuf`) request bodies to JSON.
//!
//! kubectl's typed commands (`create namespace|configmap|secret|deployment|service|...`)
//! send their objects as protobuf: the magic `k8s\0`, then a `runtime.Unknown` whose
//! `typeMeta` names the apiVersion and kind and whose `raw` holds the object's own message
//! (the generated.proto messages of k8s.io/api and k8s.io/apimachinery). [`decode_object`]
//! turns such a body into the JSON kube-apiserver would write for the same object, so the
//! rest of the server only ever sees JSON.
//!
//! The schema (tags, JSON names, kinds) is the generated table in `schema.rs`
//! (`hack/gen-proto-schema.py`); the wire reader and the well-known types' JSON forms
//! (metav1.Time, MicroTime, Duration, FieldsV1, runtime.RawExtension, intstr.IntOrString,
//! resource.Quantity) are here.
//!
//! What appears in the JSON follows what Go's JSON encoder writes for the struct that Go's
//! protobuf decoder would fill: Go's protobuf encoder writes every non-pointer field, so a
//! zero scalar of an optional field is dropped (it is `omitempty` in Go), except for the
//! fields the schema marks `Keep` (pointers, and fields without `omitempty`); a present
//! message is always written (Go never omits a struct: `status: {}`,
//! `creationTimestamp: null`); an empty list or map is omitted.

mod schema;

use serde_json::{Map, Number, Value};

use crate::table::time::Timestamp;
use crate::validation::base64;

/// The four bytes every Kubernetes protobuf body starts with.
pub const MAGIC: &[u8; 4] = b"k8s\x00";

/// The media type of Kubernetes protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Deeper nesting than this is refused (real objects stay far below it).
const MAX_DEPTH: usize = 64;

/// Why a protobuf body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    #[error("the body does not start with the Kubernetes protobuf prefix \"k8s\\x00\"")]
    Magic,
    #[error("malformed protobuf in {message}: {reason}")]
    Malformed {
        message: &'static str,
        reason: &'static str,
    },
    #[error("Object 'Kind' is missing in the protobuf envelope")]
    MissingKind,
    #[error("unsupported protobuf content encoding {0:?}")]
    ContentEncoding(String),
    #[error("unsupported embedded content type {0:?}")]
    ContentType(String),
    #[error("no protobuf schema for {api_version}, Kind={kind}")]
    UnknownKind { api_version: String, kind: String },
    #[error("invalid JSON in {field}: {reason}")]
    Json { field: &'static str, reason: String },
    #[error("{field}: time out of range")]
    TimeRange { field: &'static str },
    #[error("protobuf nesting deeper than {MAX_DEPTH}")]
    TooDeep,
}

/// A field's type: scalars, a message of the table, or a well-known message with its own
/// JSON form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    /// string
    S,
    /// bool
    B,
    I32,
    I64,
    /// double (no field of the generated packages has one today).
    #[allow(dead_code)]
    F64,
    /// bytes: base64 in JSON.
    Bytes,
    /// `MESSAGES[i]`.
    Msg(u16),
    /// metav1.Time: RFC 3339, whole seconds; zero is `null`.
    Time,
    /// metav1.MicroTime: RFC 3339 with microseconds; zero is `null`.
    MicroTime,
    /// metav1.Duration: Go's `time.Duration.String()` (no field of the generated packages
    /// has one today; autoscaling/v2 and others do).
    #[allow(dead_code)]
    Duration,
    /// metav1.FieldsV1: its raw JSON.
    FieldsV1,
    /// runtime.RawExtension: its raw JSON (or embedded protobuf object).
    RawExt,
    /// intstr.IntOrString: a number or a string.
    IntOrString,
    /// resource.Quantity: its string.
    Quantity,
}

/// A field's cardinality and how its zero value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Card {
    /// Singular; a zero scalar is omitted (Go `omitempty` non-pointer).
    One,
    /// Singular; written even when zero (Go pointer, or no `omitempty`).
    Keep,
    Repeated,
    /// `map<string, ty>`: repeated entries (1 key, 2 value).
    Map,
    /// An embedded struct (`json:",inline"`): its fields go into the parent object.
    Inline,
}

#[derive(Debug)]
struct Field {
    tag: u32,
    json: &'static str,
    ty: Ty,
    card: Card,
}

#[derive(Debug)]
struct Message {
    name: &'static str,
    fields: &'static [Field],
}

const fn f(tag: u32, json: &'static str, ty: Ty, card: Card) -> Field {
    Field {
        tag,
        json,
        ty,
        card,
    }
}

/// Decodes a Kubernetes protobuf body (`k8s\0` + runtime.Unknown) into the object's JSON,
/// with `apiVersion` and `kind` first.
pub fn decode_object(body: &[u8]) -> Result<Value, ProtoError> {
    decode_object_at(body, 0)
}

/// Decodes one message of the schema, by its full protobuf name
/// (`k8s.io.api.core.v1.PodSpec`), into JSON.
pub fn decode_message(full_name: &str, raw: &[u8]) -> Result<Value, ProtoError> {
    let idx = find_message(full_name).ok_or_else(|| ProtoError::UnknownKind {
        api_version: String::new(),
        kind: full_name.to_string(),
    })?;
    message_json(idx, raw, 0)
}

fn decode_object_at(body: &[u8], depth: usize) -> Result<Value, ProtoError> {
    let raw_unknown = body.strip_prefix(MAGIC).ok_or(ProtoError::Magic)?;
    let unknown = Unknown::parse(raw_unknown)?;
    if !unknown.content_encoding.is_empty() {
        return Err(ProtoError::ContentEncoding(unknown.content_encoding));
    }
    if unknown.kind.is_empty() {
        return Err(ProtoError::MissingKind);
    }
    let body = match unknown.content_type.as_str() {
        "" | CONTENT_TYPE => {
            let idx = kind_message(&unknown.api_version, &unknown.kind).ok_or_else(|| {
                ProtoError::UnknownKind {
                    api_version: unknown.api_version.clone(),
                    kind: unknown.kind.clone(),
                }
            })?;
            message_json(idx, unknown.raw, depth)?
        }
        "application/json" => parse_json("raw", unknown.raw)?,
        other => return Err(ProtoError::ContentType(other.to_string())),
    };
    let mut out = Map::new();
    out.insert("apiVersion".into(), Value::String(unknown.api_version));
    out.insert("kind".into(), Value::String(unknown.kind));
    if let Value::Object(fields) = body {
        for (k, v) in fields {
            if k != "apiVersion" && k != "kind" {
                out.insert(k, v);
            }
        }
    }
    Ok(Value::Object(out))
}

/// runtime.Unknown: 1 typeMeta {1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding,
/// 4 contentType.
struct Unknown<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    content_encoding: String,
    content_type: String,
}

impl<'a> Unknown<'a> {
    fn parse(buf: &'a [u8]) -> Result<Unknown<'a>, ProtoError> {
        const NAME: &str = "runtime.Unknown";
        let mut u = Unknown {
            api_version: String::new(),
            kind: String::new(),
            raw: &[],
            content_encoding: String::new(),
            content_type: String::new(),
        };
        let mut r = Reader::new(buf, NAME);
        while let Some((tag, wire)) = r.key()? {
            match (tag, wire) {
                (1, LEN) => {
                    let mut tm = Reader::new(r.bytes()?, "runtime.TypeMeta");
                    while let Some((tag, wire)) = tm.key()? {
                        match (tag, wire) {
                            (1, LEN) => u.api_version = tm.string()?,
                            (2, LEN) => u.kind = tm.string()?,
                            _ => tm.skip(wire)?,
                        }
                    }
                }
                (2, LEN) => u.raw = r.bytes()?,
                (3, LEN) => u.content_encoding = r.string()?,
                (4, LEN) => u.content_type = r.string()?,
                _ => r.skip(wire)?,
            }
        }
        Ok(u)
    }
}

fn find_message(full_name: &str) -> Option<u16> {
    schema::MESSAGES
        .binary_search_by(|m| m.name.cmp(full_name))
        .ok()
        .and_then(|i| u16::try_from(i).ok())
}

/// The message of `kind` in the package of `api_version`; meta/v1 kinds (DeleteOptions,
/// Status, ...) are accepted under any apiVersion, as upstream registers them in every
/// group.
fn kind_message(api_version: &str, kind: &str) -> Option<u16> {
    const META: &str = "k8s.io.apimachinery.pkg.apis.meta.v1";
    let package = schema::API_VERSIONS
        .iter()
        .find(|(v, _)| *v == api_version)
        .map(|(_, p)| *p)?;
    find_message(&format!("{package}.{kind}")).or_else(|| find_message(&format!("{META}.{kind}")))
}

// Wire types.
const VARINT: u8 = 0;
const I64_WIRE: u8 = 1;
const LEN: u8 = 2;
const I32_WIRE: u8 = 5;

/// A protobuf wire reader over one message's bytes.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    message: &'static str,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], message: &'static str) -> Self {
        Reader {
            buf,
            pos: 0,
            message,
        }
    }

    fn err(&self, reason: &'static str) -> ProtoError {
        ProtoError::Malformed {
            message: self.message,
            reason,
        }
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn varint(&mut self) -> Result<u64, ProtoError> {
        let mut v: u64 = 0;
        for shift in (0..70).step_by(7) {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or_else(|| self.err("truncated varint"))?;
            self.pos += 1;
            if shift == 63 && b > 1 {
                return Err(self.err("varint overflows 64 bits"));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.err("varint longer than 10 bytes"))
    }

    /// The next field's (tag, wire type), or None at the end.
    fn key(&mut self) -> Result<Option<(u32, u8)>, ProtoError> {
        if self.done() {
            return Ok(None);
        }
        let k = self.varint()?;
        let tag = u32::try_from(k >> 3).map_err(|_| self.err("field number out of range"))?;
        if tag == 0 {
            return Err(self.err("field number 0"));
        }
        Ok(Some((tag, (k & 7) as u8)))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtoError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| self.err("truncated field"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn bytes(&mut self) -> Result<&'a [u8], ProtoError> {
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| self.err("length out of range"))?;
        self.take(n)
    }

    fn string(&mut self) -> Result<String, ProtoError> {
        // Go's JSON encoder writes invalid UTF-8 as U+FFFD, as from_utf8_lossy does.
        Ok(String::from_utf8_lossy(self.bytes()?).into_owned())
    }

    fn fixed64(&mut self) -> Result<u64, ProtoError> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    }

    fn skip(&mut self, wire: u8) -> Result<(), ProtoError> {
        match wire {
            VARINT => self.varint().map(drop),
            I64_WIRE => self.take(8).map(drop),
            LEN => self.bytes().map(drop),
            I32_WIRE => self.take(4).map(drop),
            _ => Err(self.err("unsupported wire type (groups are not used by Kubernetes)")),
        }
    }
}

fn message_json(idx: u16, buf: &[u8], depth: usize) -> Result<Value, ProtoError> {
    let msg = &schema::MESSAGES[usize::from(idx)];
    let mut obj = Map::new();
    decode_fields(msg, buf, depth, &mut obj)?;
    if schema::ARRAY_WRAPPERS.contains(&idx) {
        return Ok(obj.remove("items").unwrap_or(Value::Array(Vec::new())));
    }
    Ok(Value::Object(obj))
}

/// Decodes `buf` as `msg` into `obj` (inline fields land in the same object).
fn decode_fields(
    msg: &'static Message,
    buf: &[u8],
    depth: usize,
    obj: &mut Map<String, Value>,
) -> Result<(), ProtoError> {
    if depth > MAX_DEPTH {
        return Err(ProtoError::TooDeep);
    }
    let mut r = Reader::new(buf, msg.name);
    while let Some((tag, wire)) = r.key()? {
        let Some(field) = msg.fields.iter().find(|f| f.tag == tag) else {
            r.skip(wire)?;
            continue;
        };
        match field.card {
            Card::One | Card::Keep => {
                let v = single(&mut r, field, wire, depth)?;
                let zero = field.card == Card::One && is_zero_scalar(field.ty, &v);
                if zero {
                    obj.remove(field.json);
                } else {
                    obj.insert(field.json.to_string(), v);
                }
            }
            Card::Inline => {
                let Ty::Msg(inner) = field.ty else {
                    return Err(r.err("inline field is not a message"));
                };
                expect_wire(&r, wire, LEN)?;
                let bytes = r.bytes()?;
                decode_fields(&schema::MESSAGES[usize::from(inner)], bytes, depth + 1, obj)?;
            }
            Card::Repeated => {
                let mut items = Vec::new();
                if wire == LEN && is_packable(field.ty) {
                    let mut packed = Reader::new(r.bytes()?, msg.name);
                    let elem_wire = if field.ty == Ty::F64 {
                        I64_WIRE
                    } else {
                        VARINT
                    };
                    while !packed.done() {
                        items.push(single(&mut packed, field, elem_wire, depth)?);
                    }
                } else {
                    items.push(single(&mut r, field, wire, depth)?);
                }
                if items.is_empty() {
                    continue;
                }
                let slot = obj
                    .entry(field.json)
                    .or_insert_with(|| Value::Array(Vec::new()));
                match slot {
                    Value::Array(a) => a.extend(items),
                    other => *other = Value::Array(items),
                }
            }
            Card::Map => {
                expect_wire(&r, wire, LEN)?;
                let mut entry = Reader::new(r.bytes()?, msg.name);
                let mut key = String::new();
                let mut value = None;
                while let Some((tag, wire)) = entry.key()? {
                    match tag {
                        1 => {
                            expect_wire(&entry, wire, LEN)?;
                            key = entry.string()?;
                        }
                        2 => value = Some(single(&mut entry, field, wire, depth)?),
                        _ => entry.skip(wire)?,
                    }
                }
                let value = match value {
                    Some(v) => v,
                    None => zero_value(field, depth)?,
                };
                let slot = obj
                    .entry(field.json)
                    .or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                if let Value::Object(m) = slot {
                    m.insert(key, value);
                }
            }
        }
    }
    Ok(())
}

fn is_packable(ty: Ty) -> bool {
    matches!(ty, Ty::B | Ty::I32 | Ty::I64 | Ty::F64)
}

fn expect_wire(r: &Reader<'_>, wire: u8, want: u8) -> Result<(), ProtoError> {
    if wire == want {
        Ok(())
    } else {
        Err(r.err("wire type does not match the field's type"))
    }
}

fn is_zero_scalar(ty: Ty, v: &Value) -> bool {
    match ty {
        Ty::S | Ty::Bytes => v.as_str() == Some(""),
        Ty::B => v == &Value::Bool(false),
        Ty::I32 | Ty::I64 => v.as_i64() == Some(0),
        Ty::F64 => v.as_f64() == Some(0.0),
        _ => false,
    }
}

/// The JSON of a map value that the entry left out: the type's zero.
fn zero_value(field: &Field, depth: usize) -> Result<Value, ProtoError> {
    Ok(match field.ty {
        Ty::S | Ty::Bytes | Ty::Quantity => Value::String(String::new()),
        Ty::B => Value::Bool(false),
        Ty::I32 | Ty::I64 | Ty::IntOrString => Value::from(0),
        Ty::F64 => Value::from(0.0),
        Ty::Msg(idx) => message_json(idx, &[], depth + 1)?,
        Ty::Time | Ty::MicroTime | Ty::FieldsV1 | Ty::RawExt => Value::Null,
        Ty::Duration => Value::String("0s".into()),
    })
}

/// One value of `field`'s type at the reader.
fn single(r: &mut Reader<'_>, field: &Field, wire: u8, depth: usize) -> Result<Value, ProtoError> {
    Ok(match field.ty {
        Ty::S => {
            expect_wire(r, wire, LEN)?;
            Value::String(r.string()?)
        }
        Ty::Bytes => {
            expect_wire(r, wire, LEN)?;
            Value::String(base64::encode(r.bytes()?))
        }
        Ty::B => {
            expect_wire(r, wire, VARINT)?;
            Value::Bool(r.varint()? != 0)
        }
        // int32 travels sign-extended to 64 bits; truncating is protobuf's own rule.
        Ty::I32 => {
            expect_wire(r, wire, VARINT)?;
            Value::from(r.varint()? as i32)
        }
        Ty::I64 => {
            expect_wire(r, wire, VARINT)?;
            Value::from(r.varint()? as i64)
        }
        Ty::F64 => {
            expect_wire(r, wire, I64_WIRE)?;
            Number::from_f64(f64::from_bits(r.fixed64()?)).map_or(Value::Null, Value::Number)
        }
        ty => {
            expect_wire(r, wire, LEN)?;
            let bytes = r.bytes()?;
            well_known_or_message(ty, field.json, bytes, depth + 1)?
        }
    })
}

fn well_known_or_message(
    ty: Ty,
    field: &'static str,
    buf: &[u8],
    depth: usize,
) -> Result<Value, ProtoError> {
    match ty {
        Ty::Msg(idx) => message_json(idx, buf, depth),
        Ty::Time | Ty::MicroTime => {
            let (mut secs, mut nanos) = (0i64, 0i32);
            let mut r = Reader::new(buf, "meta.v1.Time");
            while let Some((tag, wire)) = r.key()? {
                match (tag, wire) {
                    (1, VARINT) => secs = r.varint()? as i64,
                    (2, VARINT) => nanos = r.varint()? as i32,
                    _ => r.skip(wire)?,
                }
            }
            if secs == 0 && nanos == 0 {
                return Ok(Value::Null);
            }
            format_time(secs, nanos, ty == Ty::MicroTime, field).map(Value::String)
        }
        Ty::Duration => {
            let mut nanos = 0i64;
            let mut r = Reader::new(buf, "meta.v1.Duration");
            while let Some((tag, wire)) = r.key()? {
                match (tag, wire) {
                    (1, VARINT) => nanos = r.varint()? as i64,
                    _ => r.skip(wire)?,
                }
            }
            Ok(Value::String(go_duration(nanos)))
        }
        Ty::FieldsV1 | Ty::RawExt => {
            let mut raw: &[u8] = &[];
            let mut r = Reader::new(buf, "runtime.RawExtension");
            while let Some((tag, wire)) = r.key()? {
                match (tag, wire) {
                    (1, LEN) => raw = r.bytes()?,
                    _ => r.skip(wire)?,
                }
            }
            if raw.is_empty() {
                Ok(Value::Null)
            } else if ty == Ty::RawExt && raw.starts_with(MAGIC) {
                decode_object_at(raw, depth)
            } else {
                parse_json(field, raw)
            }
        }
        Ty::IntOrString => {
            let (mut kind, mut int_val, mut str_val) = (0u64, 0i32, String::new());
            let mut r = Reader::new(buf, "intstr.IntOrString");
            while let Some((tag, wire)) = r.key()? {
                match (tag, wire) {
                    (1, VARINT) => kind = r.varint()?,
                    (2, VARINT) => int_val = r.varint()? as i32,
                    (3, LEN) => str_val = r.string()?,
                    _ => r.skip(wire)?,
                }
            }
            Ok(if kind == 1 {
                Value::String(str_val)
            } else {
                Value::from(int_val)
            })
        }
        Ty::Quantity => {
            let mut s = String::new();
            let mut r = Reader::new(buf, "resource.Quantity");
            while let Some((tag, wire)) = r.key()? {
                match (tag, wire) {
                    (1, LEN) => s = r.string()?,
                    _ => r.skip(wire)?,
                }
            }
            Ok(Value::String(s))
        }
        Ty::S | Ty::B | Ty::I32 | Ty::I64 | Ty::F64 | Ty::Bytes => Err(ProtoError::Malformed {
            message: "schema",
            reason: "scalar decoded as a message",
        }),
    }
}

fn parse_json(field: &'static str, raw: &[u8]) -> Result<Value, ProtoError> {
    serde_json::from_slice(raw).map_err(|e| ProtoError::Json {
        field,
        reason: e.to_string(),
    })
}

/// metav1.Time's JSON (`time.RFC3339` in UTC) or MicroTime's (`RFC3339Micro`).
fn format_time(
    secs: i64,
    nanos: i32,
    micro: bool,
    field: &'static str,
) -> Result<String, ProtoError> {
    // Go's time.Unix normalizes nanoseconds outside [0, 1e9) into the seconds.
    let total = i128::from(secs) * 1_000_000_000 + i128::from(nanos);
    let secs = i64::try_from(total.div_euclid(1_000_000_000))
        .map_err(|_| ProtoError::TimeRange { field })?;
    let nanos = total.rem_euclid(1_000_000_000) as u32;
    // Go's JSON encoding of time.Time refuses years outside [0, 9999].
    const MIN: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
    const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    if !(MIN..=MAX).contains(&secs) {
        return Err(ProtoError::TimeRange { field });
    }
    let s = Timestamp { secs, nanos }.format_rfc3339();
    if !micro {
        return Ok(s);
    }
    let base = s.trim_end_matches('Z');
    Ok(format!("{base}.{:06}Z", nanos / 1000))
}

/// Go's `time.Duration.String()`: "1h2m3.5s", "1.5ms", "0s".
fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let neg = nanos < 0;
    let u = nanos.unsigned_abs();
    let sign = if neg { "-" } else { "" };
    if u < 1_000_000_000 {
        // Sub-second: ns, µs or ms with a fraction.
        let (unit, scale) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{sign}{}{unit}", fraction(u, scale));
    }
    let total_secs = u / 1_000_000_000;
    let frac_nanos = u % 1_000_000_000;
    let h = total_secs / 3600;
    let m = total_secs % 3600 / 60;
    let s = total_secs % 60;
    let secs = fraction(s * 1_000_000_000 + frac_nanos, 1_000_000_000);
    let mut out = String::from(sign);
    if h > 0 {
        out.push_str(&format!("{h}h{m}m"));
    } else if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&secs);
    out.push('s');
    out
}

/// `v / scale` with the fraction's trailing zeros dropped ("1.5", "2").
fn fraction(v: u64, scale: u64) -> String {
    let whole = v / scale;
    let rem = v % scale;
    if rem == 0 {
        return whole.to_string();
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{rem:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests;
