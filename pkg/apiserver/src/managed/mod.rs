//! Field management of every write (rkube-api's `managed`, over the served OpenAPI schema):
//! creates, updates and non-apply patches record an `Update` entry for the request's field
//! manager, server-side apply (rest/apply.rs) an `Apply` entry.

use rkube_api::{
    managed::{self, Context, Managed, Operation, Schema, Set, Writer},
    ResourceDef,
};
use serde_json::Value;

use crate::{object::now, rest::Call};

/// `$ref` lookups in the served definitions.
fn resolve(name: &str) -> Option<&'static Value> {
    crate::openapi::schemas::get(name)
}

/// The schema of `def`'s kind (the parent's for subresources: field management works on the
/// stored object).
pub fn schema(def: &'static ResourceDef) -> Schema<'static> {
    static RESOLVE: fn(&str) -> Option<&'static Value> = resolve;
    match crate::openapi::fields::body_schema(def, None) {
        Some(root) => Schema::new(root, &RESOLVE),
        None => Schema::deduced(&RESOLVE),
    }
}

/// The fields another endpoint owns (upstream's reset fields): the main resource does not
/// write `status` of a kind with a status subresource; `/status` writes nothing but it.
pub fn reset_fields(def: &ResourceDef, subresource: Option<&str>) -> Set {
    let mut s = Set::new();
    let field = |f: &str| vec![managed::PathElement::field(f)];
    match subresource {
        None if def.subresource("status").is_some() => s.insert(&field("status")),
        Some("status") => s.insert(&field("spec")),
        _ => {}
    }
    s
}

/// The request's field manager: `fieldManager`, else the user agent up to its first `/`
/// (`kubectl/v1.33.0 (linux/amd64) ...` is `kubectl`), as upstream.
pub fn manager(call: &Call<'_>) -> String {
    if let Some(m) = call
        .params
        .field_manager
        .as_deref()
        .filter(|m| !m.is_empty())
    {
        return m.to_string();
    }
    let ua = call.params.user_agent.as_deref().unwrap_or_default();
    ua.split('/').next().unwrap_or_default().to_string()
}

fn writer(call: &Call<'_>, operation: Operation) -> Writer {
    Writer {
        manager: manager(call),
        operation,
        api_version: call.def().api_version(),
        subresource: call.req.subresource.clone().unwrap_or_default(),
    }
}

/// Whether this write records an Update entry: creates, updates and patches other than
/// server-side apply (which records its own), of the object or its status/scale.
pub fn records_update(call: &Call<'_>) -> bool {
    use crate::request::Verb;
    let apply = call
        .content_type
        .as_deref()
        .is_some_and(|c| c.trim_start().starts_with("application/apply-patch"));
    matches!(call.req.verb, Verb::Update | Verb::Patch)
        && !apply
        && !matches!(
            call.req.subresource.as_deref(),
            Some("binding" | "eviction")
        )
}

/// Takes the client's `metadata.managedFields` out of the written object (`None` when
/// absent or null).
pub fn take_sent(obj: &mut Value) -> Option<Value> {
    obj.get_mut("metadata")
        .and_then(Value::as_object_mut)
        .and_then(|m| m.remove("managedFields"))
        .filter(|v| !v.is_null())
}

/// `[]` or `[{}]`: the client resets managedFields (upstream's isResetManagedFields).
fn is_reset(sent: &Value) -> bool {
    match sent.as_array().map(Vec::as_slice) {
        Some([]) => true,
        Some([e]) => e.as_object().is_some_and(serde_json::Map::is_empty),
        _ => false,
    }
}

/// The managedFields a write starts from: the client's when it sent valid ones (that is
/// how they are edited), none when it reset them, else the stored object's. Subresource
/// writes never change them directly.
fn base(call: &Call<'_>, live: Option<&Value>, sent: Option<&Value>) -> Managed {
    let live_managed = || {
        live.and_then(|l| Managed::decode(l.pointer("/metadata/managedFields")).ok())
            .unwrap_or_default()
    };
    if call.req.subresource.is_some() {
        return live_managed();
    }
    match sent {
        Some(s) if is_reset(s) => Managed::default(),
        Some(s) => match Managed::decode(Some(s)) {
            Ok(m) if !m.entries.is_empty() => m,
            _ => live_managed(),
        },
        None => live_managed(),
    }
}

fn set_managed(obj: &mut Value, managed: &Managed) {
    let meta = crate::object::meta_mut(obj);
    if managed.entries.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), managed.encode());
    }
}

/// Records a create: the creator owns every field it set.
pub fn record_create(call: &Call<'_>, obj: &mut Value) {
    let sent = take_sent(obj);
    let mut m = base(call, None, sent.as_ref());
    let reset = reset_fields(call.def(), None);
    let now = now();
    let cx = Context {
        schema: schema(call.def()),
        reset: &reset,
        now: &now,
    };
    let who = writer(call, Operation::Update);
    if m.entries.is_empty() {
        // The common create, nobody else's fields to move: the entry straight from the
        // object (the same as the general path below; see its tests).
        if let Some(fields) = managed::create_managed_fields(cx.schema, &reset, &now, obj, &who) {
            let meta = crate::object::meta_mut(obj);
            match fields {
                Some(f) => meta.insert("managedFields".into(), f),
                None => meta.remove("managedFields"),
            };
            return;
        }
    }
    let zero = managed::managers::zero_value(&cx, obj);
    if let Err(e) = managed::update(&cx, &zero, obj, &mut m, &who) {
        // As upstream's UpdateNoErrors: the write goes on, without field management.
        tracing::warn!(resource = call.def().plural, error = %e, "managedFields not updated");
        m = Managed::default();
    }
    set_managed(obj, &m);
}

/// Records an update or patch of `live` into `new`, whose client-sent managedFields were
/// taken out before (`sent`).
pub fn record_update(call: &Call<'_>, live: &Value, new: &mut Value, sent: Option<Value>) {
    let mut m = base(call, Some(live), sent.as_ref());
    let sub = call.req.subresource.as_deref();
    let reset = reset_fields(call.def(), sub);
    let now = now();
    let cx = Context {
        schema: schema(call.def()),
        reset: &reset,
        now: &now,
    };
    if let Err(e) = managed::update(&cx, live, new, &mut m, &writer(call, Operation::Update)) {
        // As upstream's UpdateNoErrors: keep the stored object's managedFields.
        tracing::warn!(resource = call.def().plural, error = %e, "managedFields not updated");
        m = Managed::decode(live.pointer("/metadata/managedFields")).unwrap_or_default();
    }
    set_managed(new, &m);
}

/// The writer of a server-side apply.
pub fn applier(call: &Call<'_>) -> Writer {
    writer(call, Operation::Apply)
}

#[cfg(test)]
mod tests;
