//! Field paths as structured-merge-diff names them: a path is a list of elements, each a
//! struct/map field, the key of an item in a keyed list (`x-kubernetes-list-type: map`), the
//! value of an item in a set list, or an index.

use std::fmt;

use serde_json::Value;

/// One step of a path. Values are kept as compact JSON text (serde_json's maps are sorted,
/// so the text is canonical), which gives them an order and makes them cheap to print.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    /// `f:<name>`, printed `.name`.
    Field(String),
    /// `k:{"name":"c"}`, printed `[name="c"]`: the key fields, sorted by name, with their
    /// values as JSON.
    Key(Vec<(String, String)>),
    /// `v:"x"`, printed `[="x"]`.
    Value(String),
    /// `i:0`, printed `[0]`.
    Index(usize),
}

pub type Path = Vec<PathElement>;

impl PathElement {
    pub fn field(name: &str) -> Self {
        PathElement::Field(name.to_string())
    }

    /// The key element of an item from its key fields and their values.
    pub fn key<'a>(fields: impl IntoIterator<Item = (&'a str, &'a Value)>) -> Self {
        let mut k: Vec<(String, String)> = fields
            .into_iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        k.sort();
        PathElement::Key(k)
    }

    pub fn value(v: &Value) -> Self {
        PathElement::Value(v.to_string())
    }

    /// The FieldsV1 form: `f:spec`, `k:{"containerPort":80,"protocol":"TCP"}`, `v:"x"`, `i:0`.
    pub fn to_fields_v1(&self) -> String {
        match self {
            PathElement::Field(n) => format!("f:{n}"),
            PathElement::Key(k) => {
                let inner: Vec<String> = k
                    .iter()
                    .map(|(n, v)| format!("{}:{v}", Value::String(n.clone())))
                    .collect();
                format!("k:{{{}}}", inner.join(","))
            }
            PathElement::Value(v) => format!("v:{v}"),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses the FieldsV1 form; None for a prefix this version does not know (upstream
    /// skips those), an error for a malformed one.
    pub fn from_fields_v1(s: &str) -> Result<Option<Self>, String> {
        let Some((kind, rest)) = s.split_once(':') else {
            return Err(format!("missing colon: {s}"));
        };
        if kind.len() != 1 {
            return Err(format!("missing colon: {s}"));
        }
        let json = |t: &str| -> Result<Value, String> {
            serde_json::from_str(t).map_err(|e| format!("parsing {s:?}: {e}"))
        };
        Ok(Some(match kind {
            "f" => PathElement::Field(rest.to_string()),
            "v" => PathElement::value(&json(rest)?),
            "k" => match json(rest)? {
                Value::Object(m) => PathElement::key(m.iter().map(|(k, v)| (k.as_str(), v))),
                _ => return Err(format!("parsing {s:?}: a key must be a JSON object")),
            },
            "i" => PathElement::Index(rest.parse().map_err(|e| format!("parsing {s:?}: {e}"))?),
            _ => return Ok(None),
        }))
    }
}

impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(n) => write!(f, ".{n}"),
            PathElement::Key(k) => {
                let inner: Vec<String> = k.iter().map(|(n, v)| format!("{n}={v}")).collect();
                write!(f, "[{}]", inner.join(","))
            }
            PathElement::Value(v) => write!(f, "[={v}]"),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A path as upstream prints it in conflicts: `.spec.template.spec.containers[name="c"].image`.
pub fn display(path: &[PathElement]) -> String {
    path.iter().map(ToString::to_string).collect()
}
