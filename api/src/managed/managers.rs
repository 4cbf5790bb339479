//! `metadata.managedFields`: who owns which fields, and how Apply and Update operations move
//! ownership, as upstream's field manager (k8s.io/apimachinery managedfields) over
//! structured-merge-diff's `merge.Updater`.
//!
//! - Update (create, update, patch, subresources): the fields the write added or changed go
//!   to the writer, away from everyone else; removed fields leave every set. Never conflicts.
//! - Apply: the applier owns exactly the fields of its configuration; fields it owned before
//!   and nobody owns now are removed from the object; changing a field another manager owns
//!   is a conflict unless forced, which takes it over.

use serde_json::{json, Map, Value};

use super::{
    fieldsv1::{from_fields_v1, to_fields_v1},
    path::{display, Path, PathElement},
    schema::Schema,
    set::Set,
    typed::{compare, merge, remove_items, to_field_set, Comparison},
    Error,
};

/// Upstream's cap on Update entries; older ones are merged into `ancient-changes`.
pub const MAX_UPDATE_MANAGERS: usize = 10;
const ANCIENT_CHANGES: &str = "ancient-changes";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// Who writes: entries are merged per (manager, operation, apiVersion for Update,
/// subresource).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writer {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    /// "" for the main resource.
    pub subresource: String,
}

impl Writer {
    fn same(&self, e: &Entry) -> bool {
        self.manager == e.manager
            && self.operation == e.operation
            && self.subresource == e.subresource
            && (self.operation == Operation::Apply || self.api_version == e.api_version)
    }

    /// As upstream prints a manager in conflicts: `"alice"`, `"kubectl-edit" using apps/v1`,
    /// `"kubelet" with subresource "status" using v1`.
    pub fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == Operation::Update {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub subresource: String,
    pub time: Option<String>,
    pub fields: Set,
}

impl Entry {
    fn writer(&self) -> Writer {
        Writer {
            manager: self.manager.clone(),
            operation: self.operation,
            api_version: self.api_version.clone(),
            subresource: self.subresource.clone(),
        }
    }
}

/// A field another manager owns that a write would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub manager: Writer,
    pub path: Path,
}

impl Conflict {
    /// The cause's `field`: `.spec.template.spec.containers[name="c"].image`.
    pub fn field(&self) -> String {
        display(&self.path)
    }

    /// The cause's `message`: `conflict with "alice"`.
    pub fn message(&self) -> String {
        format!("conflict with {}", self.manager.describe())
    }
}

/// Upstream's message for an apply that conflicts.
pub fn conflicts_message(conflicts: &[Conflict]) -> String {
    if let [c] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            c.manager.describe(),
            c.field()
        );
    }
    let mut by: Vec<(String, Vec<String>)> = Vec::new();
    for c in conflicts {
        let m = c.manager.describe();
        match by.iter_mut().find(|(k, _)| *k == m) {
            Some((_, v)) => v.push(c.field()),
            None => by.push((m, vec![c.field()])),
        }
    }
    by.sort_by(|a, b| a.0.cmp(&b.0));
    let mut lines = Vec::new();
    for (m, paths) in by {
        lines.push(format!("conflicts with {m}:"));
        lines.extend(paths.into_iter().map(|p| format!("- {p}")));
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// The decoded `managedFields` of an object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Managed {
    pub entries: Vec<Entry>,
}

impl Managed {
    /// Decodes `metadata.managedFields` (absent or null: none), validating each entry as
    /// upstream does: operation Apply or Update, an apiVersion, fieldsType FieldsV1.
    pub fn decode(v: Option<&Value>) -> Result<Self, Error> {
        let invalid = |m: String| Error::InvalidManagedFields(m);
        let list = match v {
            None | Some(Value::Null) => return Ok(Managed::default()),
            Some(Value::Array(a)) => a,
            Some(_) => return Err(invalid("managedFields must be a list".into())),
        };
        let mut out = Managed::default();
        for (i, e) in list.iter().enumerate() {
            let s = |k: &str| {
                e.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let operation = match s("operation").as_str() {
                "Apply" => Operation::Apply,
                "Update" => Operation::Update,
                _ => return Err(invalid("operation must be `Apply` or `Update`".into())),
            };
            if s("apiVersion").is_empty() {
                return Err(invalid("apiVersion must not be empty".into()));
            }
            match s("fieldsType").as_str() {
                "FieldsV1" => {}
                "" => {
                    return Err(invalid(format!(
                        "missing fieldsType in managed fields entry {i}"
                    )))
                }
                t => {
                    return Err(invalid(format!(
                        "invalid fieldsType {t:?} in managed fields entry {i}"
                    )))
                }
            }
            let fields = match e.get("fieldsV1") {
                None | Some(Value::Null) => Set::new(),
                Some(f) => from_fields_v1(f).map_err(|m| {
                    invalid(format!("error decoding versioned set of entry {i}: {m}"))
                })?,
            };
            let entry = Entry {
                manager: s("manager"),
                operation,
                api_version: s("apiVersion"),
                subresource: s("subresource"),
                time: e.get("time").and_then(Value::as_str).map(str::to_string),
                fields,
            };
            // The last entry of a writer wins, as upstream's map.
            let w = entry.writer();
            out.entries.retain(|x| !w.same(x));
            out.entries.push(entry);
        }
        Ok(out)
    }

    /// `managedFields` as upstream writes it: Apply entries first, then by time, manager,
    /// apiVersion and subresource. Empty when nobody owns anything.
    pub fn encode(&self) -> Value {
        let mut entries: Vec<&Entry> = self.entries.iter().collect();
        entries.sort_by(|p, q| {
            (
                p.operation,
                p.time.as_deref().unwrap_or_default(),
                &p.manager,
                &p.api_version,
                &p.subresource,
            )
                .cmp(&(
                    q.operation,
                    q.time.as_deref().unwrap_or_default(),
                    &q.manager,
                    &q.api_version,
                    &q.subresource,
                ))
        });
        Value::Array(
            entries
                .into_iter()
                .map(|e| {
                    let mut m = Map::new();
                    m.insert("manager".into(), json!(e.manager));
                    m.insert("operation".into(), json!(e.operation.as_str()));
                    m.insert("apiVersion".into(), json!(e.api_version));
                    if let Some(t) = &e.time {
                        m.insert("time".into(), json!(t));
                    }
                    m.insert("fieldsType".into(), json!("FieldsV1"));
                    m.insert("fieldsV1".into(), to_fields_v1(&e.fields));
                    if !e.subresource.is_empty() {
                        m.insert("subresource".into(), json!(e.subresource));
                    }
                    Value::Object(m)
                })
                .collect(),
        )
    }

    pub fn get(&self, w: &Writer) -> Option<&Entry> {
        self.entries.iter().find(|e| w.same(e))
    }

    fn take(&mut self, w: &Writer) -> Option<Entry> {
        let i = self.entries.iter().position(|e| w.same(e))?;
        Some(self.entries.remove(i))
    }

    /// Upstream's cap: with more than [`MAX_UPDATE_MANAGERS`] Update entries, the oldest are
    /// merged, per apiVersion, into an `ancient-changes` entry.
    fn cap_update_managers(&mut self) {
        let mut updaters: Vec<usize> = (0..self.entries.len())
            .filter(|&i| self.entries[i].operation == Operation::Update)
            .collect();
        if updaters.len() <= MAX_UPDATE_MANAGERS {
            return;
        }
        updaters.sort_by(|&a, &b| {
            let (a, b) = (&self.entries[a], &self.entries[b]);
            (a.time.as_deref().unwrap_or_default(), &a.manager)
                .cmp(&(b.time.as_deref().unwrap_or_default(), &b.manager))
        });
        let mut length = updaters.len();
        let mut first_of_version: Vec<(String, usize)> = Vec::new();
        let mut gone = vec![false; self.entries.len()];
        for &i in &updaters {
            if length <= MAX_UPDATE_MANAGERS {
                break;
            }
            let version = self.entries[i].api_version.clone();
            match first_of_version.iter().find(|(v, _)| *v == version) {
                Some(&(_, first)) => {
                    let (fields, time) =
                        (self.entries[i].fields.clone(), self.entries[i].time.clone());
                    let bucket = &mut self.entries[first];
                    bucket.manager = ANCIENT_CHANGES.into();
                    bucket.subresource.clear();
                    bucket.fields.union_in_place(&fields);
                    bucket.time = time;
                    gone[i] = true;
                    length -= 1;
                }
                None => first_of_version.push((version, i)),
            }
        }
        let mut i = 0;
        self.entries.retain(|_| {
            i += 1;
            !gone[i - 1]
        });
    }
}

/// What field management leaves out of every set: identity and bookkeeping (upstream's
/// stripMeta).
fn stripped() -> Set {
    let mut s = Set::new();
    for p in [
        &["apiVersion"][..],
        &["kind"],
        &["metadata"],
        &["metadata", "name"],
        &["metadata", "namespace"],
        &["metadata", "creationTimestamp"],
        &["metadata", "selfLink"],
        &["metadata", "uid"],
        &["metadata", "clusterName"],
        &["metadata", "generation"],
        &["metadata", "managedFields"],
        &["metadata", "resourceVersion"],
    ] {
        let path: Path = p.iter().map(|f| PathElement::field(f)).collect();
        s.insert(&path);
    }
    s
}

/// The object without `metadata.managedFields`, which no set ever holds.
/// `v` without its managedFields; borrowed (no copy of the object) when it has none.
fn without_managed(v: &Value) -> std::borrow::Cow<'_, Value> {
    if v.pointer("/metadata/managedFields").is_none() {
        return std::borrow::Cow::Borrowed(v);
    }
    let mut v = v.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    std::borrow::Cow::Owned(v)
}

/// The fields under the members of `reset` are the other endpoint's (`status` for the main
/// resource, the rest for `/status`): nobody gains or loses them here.
pub struct Context<'s, 'r> {
    pub schema: Schema<'s>,
    pub reset: &'r Set,
    /// The time an entry that changed gets (RFC 3339, seconds).
    pub now: &'r str,
}

/// Moves ownership of what changed from `live` to `new` away from every entry of `managed`
/// (the writer's own is taken out before): changed fields are conflicts (returned unless
/// `force`, else taken away), removed fields leave every set. Returns the comparison.
fn update_managers(
    cx: &Context<'_, '_>,
    live: &Value,
    new: &Value,
    managed: &mut Managed,
    force: bool,
) -> Result<Comparison, Error> {
    let cmp = compare(cx.schema, live, new)?.filter(cx.reset);
    let changed = cmp.modified.union(&cmp.added);
    if !force {
        let mut conflicts = Vec::new();
        for e in &managed.entries {
            for path in e.fields.intersection(&changed).paths() {
                conflicts.push(Conflict {
                    manager: e.writer(),
                    path,
                });
            }
        }
        if !conflicts.is_empty() {
            conflicts
                .sort_by(|a, b| (&a.manager.manager, &a.path).cmp(&(&b.manager.manager, &b.path)));
            return Err(Error::Conflicts(conflicts));
        }
    }
    take_from_others(managed, &changed, &cmp.removed);
    Ok(cmp)
}

/// What a write changed or removed is no longer anyone else's.
fn take_from_others(managed: &mut Managed, changed: &Set, removed: &Set) {
    for e in &mut managed.entries {
        if !changed.is_empty() {
            e.fields = e.fields.difference(changed);
        }
        if !removed.is_empty() {
            e.fields = e.fields.difference(removed);
        }
    }
    managed.entries.retain(|e| !e.fields.is_empty());
}

/// Records a non-apply write of `live` into `new` by `who`: what it added or changed is
/// the writer's, taken from everyone else. Returns false when the write changed nothing
/// field management sees (`managed` untouched then).
pub fn update(
    cx: &Context<'_, '_>,
    live: &Value,
    new: &Value,
    managed: &mut Managed,
    who: &Writer,
) -> Result<bool, Error> {
    // `compare` leaves managedFields out: no copy of either object to drop them. It is the
    // only step that can fail, so `managed` is changed in place (not copied) after it.
    let cmp = compare(cx.schema, live, new)?.filter(cx.reset);
    if cmp.is_empty() {
        return Ok(false);
    }
    // The writer's previous fields are treated like anyone else's, then united with what
    // this write took (upstream's "current-operation").
    let changed = cmp.modified.union(&cmp.added);
    take_from_others(managed, &changed, &cmp.removed);
    let mut mine = managed.take(who);
    let took = changed.difference(&stripped());
    if !took.is_empty() {
        let e = mine.get_or_insert_with(|| Entry {
            manager: who.manager.clone(),
            operation: who.operation,
            api_version: who.api_version.clone(),
            subresource: who.subresource.clone(),
            time: None,
            fields: Set::new(),
        });
        e.fields.union_in_place(&took);
        e.time = Some(cx.now.to_string());
    }
    if let Some(e) = mine.filter(|e| !e.fields.is_empty()) {
        managed.entries.push(e);
    }
    managed.cap_update_managers();
    Ok(true)
}

/// Server-side apply of `config` (already checked: no managedFields, the right kind) onto
/// `live` by `who`. Returns the new object with its managedFields set; Conflicts unless
/// `force`.
pub fn apply(
    cx: &Context<'_, '_>,
    live: &Value,
    config: &Value,
    managed: &mut Managed,
    who: &Writer,
    force: bool,
) -> Result<Value, Error> {
    let live = without_managed(live);
    let merged = merge(cx.schema, &live, config)?;
    let last = managed.take(who);
    let set = to_field_set(cx.schema, config)?.recursive_difference(cx.reset);
    // Fields the applier owned and nobody (the applier included) owns now go.
    let mut owned = set.clone();
    for e in &managed.entries {
        owned.union_in_place(&e.fields);
    }
    let pruned = match &last {
        Some(l) => remove_items(cx.schema, &merged, &l.fields.difference(&owned))?,
        None => merged,
    };
    let time = last.as_ref().and_then(|l| l.time.clone());
    let mut mine = Entry {
        manager: who.manager.clone(),
        operation: Operation::Apply,
        api_version: who.api_version.clone(),
        subresource: who.subresource.clone(),
        time,
        fields: set.difference(&stripped()),
    };
    let cmp = update_managers(cx, &live, &pruned, managed, force)?;
    if !cmp.is_empty() || last.is_none() {
        mine.time = Some(cx.now.to_string());
    }
    if !mine.fields.is_empty() {
        managed.entries.push(mine);
    }
    managed.cap_update_managers();
    Ok(pruned)
}

/// The object as a create sees it before the write: Go's zero value of the kind, which has
/// its non-pointer structs (`metadata`, `spec`, `status`, a template and its parts, a
/// strategy) present but empty and its required (non-omitempty) lists and maps null, so
/// that a create owns their fields but not them.
pub fn zero_value(cx: &Context<'_, '_>, obj: &Value) -> Value {
    let mut zero = skeleton(cx.schema, obj);
    for k in ["apiVersion", "kind"] {
        if let Some(v) = obj.get(k) {
            zero[k] = v.clone();
        }
    }
    zero
}

/// Go's zero value of the struct at `schema` that `v` fills (see [`zero_value`]).
pub(super) fn skeleton(schema: Schema<'_>, v: &Value) -> Value {
    let mut out = Map::new();
    let required = schema.required();
    if let Value::Object(m) = v {
        for (k, child) in m {
            match zero_child(schema, &required, k, child) {
                Some(ZeroChild::Struct(s)) => drop(out.insert(k.clone(), skeleton(s, child))),
                Some(ZeroChild::Null) => drop(out.insert(k.clone(), Value::Null)),
                None => {}
            }
        }
    }
    Value::Object(out)
}

/// What the zero value of a struct holds for its field `k` that the object sets to `child`.
pub(super) enum ZeroChild<'a> {
    /// A non-pointer struct, present but empty (its own zero value, of this schema).
    Struct(Schema<'a>),
    /// A required (non-omitempty) list or map: null.
    Null,
}

pub(super) fn zero_child<'a>(
    schema: Schema<'a>,
    required: &[&str],
    k: &str,
    child: &Value,
) -> Option<ZeroChild<'a>> {
    let s = schema.field(k).filter(|_| schema.declares(k))?;
    let non_pointer = matches!(
        k,
        "metadata" | "spec" | "status" | "template" | "strategy" | "updateStrategy" | "jobTemplate"
    );
    if non_pointer && child.is_object() {
        Some(ZeroChild::Struct(s))
    } else if required.contains(&k) && (child.is_array() || child.is_object()) {
        Some(ZeroChild::Null)
    } else {
        None
    }
}
