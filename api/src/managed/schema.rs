//! The shape of an object as field management needs it, read from the kind's OpenAPI schema
//! (the definitions the API server serves, with their `x-kubernetes-*` extensions), as
//! upstream converts OpenAPI models for structured-merge-diff (kube-openapi's schemaconv):
//! structs and maps are granular unless `x-kubernetes-map-type: atomic`; a list is atomic
//! unless `x-kubernetes-list-type` says `set` or `map` (keyed by `x-kubernetes-list-map-keys`)
//! or, without a list type, its patch strategy is `merge` (keyed by the patch merge key, a
//! set without one). Where there is no schema the shape is deduced from the value: objects
//! are granular maps, lists atomic.

use serde_json::Value;

/// Looks a definition up by its `$ref` (`#/definitions/<name>`).
pub type Resolver<'a> = &'a (dyn Fn(&str) -> Option<&'a Value> + Sync);

/// One place in a schema: the field's own schema (whose extensions describe lists) and the
/// definition it refers to.
#[derive(Clone, Copy)]
pub struct Schema<'a> {
    node: Option<&'a Value>,
    resolve: Resolver<'a>,
}

/// How values at a place merge and are owned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind<'a> {
    Scalar,
    /// A struct (declared fields) or a map (any key); atomic ones are owned as one value.
    Map {
        atomic: bool,
    },
    List(ListKind<'a>),
    /// No schema here: deduced from the value.
    Deduced,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind<'a> {
    Atomic,
    /// Items are scalars, identified by value.
    Set,
    /// Items are objects, identified by these fields.
    Map(&'a [Value]),
}

impl<'a> Schema<'a> {
    pub fn new(root: &'a Value, resolve: Resolver<'a>) -> Self {
        Schema {
            node: Some(root),
            resolve,
        }
    }

    /// No schema: everything deduced.
    pub fn deduced(resolve: Resolver<'a>) -> Self {
        Schema {
            node: None,
            resolve,
        }
    }

    /// The same resolver, no schema.
    pub fn untyped(self) -> Self {
        self.with(None)
    }

    fn with(self, node: Option<&'a Value>) -> Self {
        Schema { node, ..self }
    }

    /// The definition behind `$ref`s (a field's schema may be just a `$ref`, or `allOf` with
    /// one, as OpenAPI v3 writes a field with its own description).
    fn target(self) -> Option<&'a Value> {
        let mut s = self.node?;
        for _ in 0..16 {
            let r = s.get("$ref").and_then(Value::as_str).or_else(|| {
                s.get("allOf")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                    .and_then(|x| x.get("$ref"))
                    .and_then(Value::as_str)
            });
            let Some(r) = r else { break };
            let name = r
                .strip_prefix("#/definitions/")
                .or_else(|| r.strip_prefix("#/components/schemas/"))
                .unwrap_or(r);
            match (self.resolve)(name) {
                Some(t) => s = t,
                None => return None,
            }
        }
        Some(s)
    }

    /// An extension of the field itself, else of its definition.
    fn ext(self, name: &str) -> Option<&'a Value> {
        self.node
            .and_then(|n| n.get(name))
            .or_else(|| self.target().and_then(|t| t.get(name)))
    }

    pub fn kind(self) -> Kind<'a> {
        let Some(t) = self.target() else {
            return Kind::Deduced;
        };
        if t.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
            && t.get("properties").is_none()
        {
            return Kind::Deduced;
        }
        let atomic = self.ext("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic");
        if t.get("properties").is_some()
            || t.get("additionalProperties").is_some_and(Value::is_object)
        {
            return Kind::Map { atomic };
        }
        match t.get("type").and_then(Value::as_str) {
            Some("array") => Kind::List(self.list_kind()),
            Some("object") => Kind::Deduced,
            None if t.get("x-kubernetes-int-or-string").is_none() => Kind::Deduced,
            _ => Kind::Scalar,
        }
    }

    fn list_kind(self) -> ListKind<'a> {
        let keys = || {
            self.ext("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
        };
        match self.ext("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => return ListKind::Set,
            Some("map") => return ListKind::Map(keys()),
            Some(_) => return ListKind::Atomic,
            None => {}
        }
        let strategy = self
            .ext("x-kubernetes-patch-strategy")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !strategy.split(',').any(|s| s == "merge") {
            return ListKind::Atomic;
        }
        match self.ext("x-kubernetes-patch-merge-key") {
            Some(k) => ListKind::Map(std::slice::from_ref(k)),
            None => ListKind::Set,
        }
    }

    /// The schema of field `name` of a struct, or of any value of a map. None: the struct
    /// declares no such field.
    pub fn field(self, name: &str) -> Option<Schema<'a>> {
        let Some(t) = self.target() else {
            return Some(self.with(None));
        };
        if let Some(p) = t.get("properties").and_then(|p| p.get(name)) {
            return Some(self.with(Some(p)));
        }
        match t.get("additionalProperties") {
            Some(a @ Value::Object(_)) => Some(self.with(Some(a))),
            _ if t.get("properties").is_some() => None,
            _ => Some(self.with(None)),
        }
    }

    /// Whether `name` is a declared struct field (not a map entry).
    pub fn declares(self, name: &str) -> bool {
        self.target()
            .and_then(|t| t.get("properties"))
            .is_some_and(|p| p.get(name).is_some())
    }

    /// The struct's required fields.
    pub fn required(self) -> Vec<&'a str> {
        self.target()
            .and_then(|t| t.get("required"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// The schema of the items of a list.
    pub fn items(self) -> Schema<'a> {
        self.with(self.target().and_then(|t| t.get("items")))
    }

    /// The field's `default`, if the schema gives one.
    pub fn default_value(self) -> Option<&'a Value> {
        self.ext("default")
    }
}
