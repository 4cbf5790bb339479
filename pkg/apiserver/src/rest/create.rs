//! POST: create, with generateName, defaulting, validation and the namespace checks.

use axum::{http::StatusCode, response::Response};
use rkube_api::ResourceDef;
use rkube_store::{Compare, Op, OpResponse, StoreExt, Txn};
use serde_json::Value;
use tracing::debug;

use super::{
    namespace::{check_namespace_open, namespace_found, open_namespace, OpenNamespace},
    respond, Call,
};
use crate::{
    alloc,
    object::{
        generate_name, meta_mut, new_uid, now, set_resource_version, set_type_meta, to_stored,
    },
    status::{ApiError, ApiResult},
    strategy,
};

pub async fn create(call: &Call<'_>) -> ApiResult<Response> {
    let def = call.def();
    if let Some(sub) = &call.req.subresource {
        return super::update::create_subresource(call, sub).await;
    }
    let mut obj = decode_checked(call)?;
    set_type_meta(def, &mut obj);
    let ns = call.ns().map(str::to_string);
    {
        let m = meta_mut(&mut obj);
        if def.namespaced {
            match m.get("namespace").and_then(Value::as_str) {
                Some(n) if !n.is_empty() && Some(n) != ns.as_deref() => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ))
                }
                _ => drop(m.insert("namespace".into(), Value::String(ns.clone().unwrap_or_default()))),
            }
        } else {
            m.remove("namespace");
        }
        let has_name = m
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        if !has_name {
            if let Some(prefix) = m
                .get("generateName")
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty())
            {
                let generated = generate_name(prefix);
                m.insert("name".into(), Value::String(generated));
            }
        }
        for f in [
            "uid",
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
            "generation",
        ] {
            m.remove(f);
        }
        m.insert("uid".into(), Value::String(new_uid()));
        m.insert("creationTimestamp".into(), Value::String(now()));
    }
    let namespace = if def.namespaced {
        let (ns, name) = (ns.as_deref().unwrap_or_default(), crate::object::name(&obj));
        // Only a plain create commits with the namespace's compare; the others read it now.
        Some(if !call.params.dry_run && def.kind != "Service" {
            open_namespace(call.api, def, ns, name).await?
        } else {
            check_namespace_open(call.api, def, ns, name).await?
        })
    } else {
        None
    };
    rkube_api::defaults::apply(def, &mut obj);
    strategy::prepare_for_create(def, &mut obj);
    // A create owns what it sets (server-side apply's create records its own entry).
    if call.req.verb == crate::request::Verb::Create {
        crate::managed::record_create(call, &mut obj);
    }
    // Mutating admission comes after managedFields, as upstream's create handler: what
    // admission adds (the kube-api-access volume) belongs to no manager.
    if def.kind == "Pod" && def.group.is_empty() && call.api.service_account_admission {
        let ns = ns.as_deref().unwrap_or_default();
        crate::admission::serviceaccount::admit(call.api, ns, &mut obj).await?;
    }
    let name = crate::object::name(&obj).to_string();
    let errs = if def.kind == "Service" {
        // As upstream, whose allocation comes first: a Service is validated with what it
        // will be given (a LoadBalancer with externalTrafficPolicy Local needs its
        // healthCheckNodePort); the commit picks its own values.
        let mut allocated = obj.clone();
        alloc::assign(&mut allocated, &call.api.ranges, 0, 0)?;
        rkube_api::validation::validate(def, &allocated, None)
    } else {
        rkube_api::validation::validate(def, &obj, None)
    };
    if !errs.is_empty() {
        return Err(ApiError::invalid(def, &name, &errs));
    }
    crate::authz::check_escalation(call, &obj, None)?;
    let key = def.key(ns.as_deref(), &name);
    if call.params.dry_run {
        if call.api.store.get(key.as_bytes()).await?.is_some() {
            return Err(ApiError::already_exists(def, &name));
        }
        if def.kind == "Service" {
            dry_run_service(call, &mut obj).await?;
        }
        return respond(call, StatusCode::CREATED, obj);
    }
    if def.kind == "Service" {
        let rev = create_service(call, &key, &mut obj).await?;
        debug!(resource = def.plural, namespace = ns.as_deref(), name = %name, revision = rev, "created");
        set_resource_version(&mut obj, rev);
        return respond(call, StatusCode::CREATED, obj);
    }
    let stored = to_stored(&super::convert::to_storage(def, &obj));
    let rev = commit_create(call, &key, &stored, &name, namespace).await?;
    debug!(resource = def.plural, namespace = ns.as_deref(), name = %name, revision = rev, "created");
    // The stored bytes are the object served, but for its resourceVersion: no second encoding.
    if let Some(r) = super::output::respond_stored(call, StatusCode::CREATED, &stored, rev) {
        return Ok(r);
    }
    set_resource_version(&mut obj, rev);
    respond(call, StatusCode::CREATED, obj)
}

/// Stores a new object at `key`, only while its namespace is still as found (when it has
/// one): 409 when the key exists; when the namespace changed meanwhile, it is looked at
/// again (404, 403, or a retry with its new revision).
async fn commit_create(
    call: &Call<'_>,
    key: &str,
    stored: &[u8],
    name: &str,
    mut namespace: Option<OpenNamespace>,
) -> ApiResult<i64> {
    let def = call.def();
    let ns = call.ns().unwrap_or_default();
    // Each retry follows a change of the namespace itself: a handful is plenty.
    for _ in 0..8 {
        let mut when = vec![Compare::mod_revision_eq(key.as_bytes(), 0)];
        let mut otherwise = vec![Op::get(key.as_bytes())];
        if let Some(n) = &namespace {
            when.push(n.compare());
            otherwise.push(Op::get(n.key.as_bytes()));
        }
        let txn = Txn::new()
            .when(when)
            .and_then([Op::put(key.as_bytes(), stored)])
            .or_else(otherwise);
        let resp = call.api.store.txn(txn).await?;
        if resp.succeeded {
            return Ok(resp.revision);
        }
        let mut found = resp.responses.into_iter().map(|r| match r {
            OpResponse::Range(r) => r.kvs.into_iter().next(),
            _ => None,
        });
        let existing = found.next().flatten();
        if let Some(n) = namespace.take() {
            let now = found.next().flatten();
            if now.as_ref().map(|kv| kv.mod_revision) != Some(n.revision) {
                // As upstream, whose admission runs before storage: the namespace first.
                namespace = Some(namespace_found(
                    call.api,
                    def,
                    ns,
                    name,
                    n.key,
                    now.as_ref(),
                )?);
                if existing.is_none() {
                    continue;
                }
            }
        }
        if existing.is_some() {
            return Err(ApiError::already_exists(def, name));
        }
    }
    Err(ApiError::conflict(
        def,
        name,
        "its namespace kept changing during the create; please retry",
    ))
}

/// Creates a Service together with the keys of the cluster IP and node ports it takes, in one
/// transaction; a collision on a randomly chosen one retries with another.
pub async fn create_service(call: &Call<'_>, key: &str, obj: &mut Value) -> ApiResult<i64> {
    let def = call.def();
    let name = crate::object::name(obj).to_string();
    let owner = format!("{}/{name}", call.ns().unwrap_or_default());
    let seed = uuid::Uuid::new_v4().as_u128() as u64;
    for attempt in 0..32 {
        let mut candidate = obj.clone();
        alloc::assign(&mut candidate, &call.api.ranges, seed, attempt)?;
        let resp = call
            .api
            .store
            .txn(alloc::create_holding(key, &candidate, &owner))
            .await?;
        if resp.succeeded {
            *obj = candidate;
            return Ok(resp.revision);
        }
        if call.api.store.get(key.as_bytes()).await?.is_some() {
            return Err(ApiError::already_exists(def, &name));
        }
        // A picked value that was taken makes the next attempt pick others.
        all_free(call, obj, &candidate).await?;
    }
    Err(ApiError::internal(
        "failed to allocate a cluster IP: the service range is full",
    ))
}

/// Whether every value `candidate` would hold is free now; a value the request `asked` for
/// and another Service holds is its 422 (`provided IP/port is already allocated`).
async fn all_free(call: &Call<'_>, asked: &Value, candidate: &Value) -> ApiResult<bool> {
    let mut free = true;
    for k in alloc::held_keys(candidate) {
        if call.api.store.get(k.as_bytes()).await?.is_some() {
            if let Some(err) = alloc::refused(asked, &k) {
                return Err(err);
            }
            free = false;
        }
    }
    Ok(free)
}

/// What a Service created now would be given, written nowhere: values free at this moment, as
/// upstream's dry-run allocators pick them (`kubectl create --dry-run=server` shows the
/// cluster IP and node ports); one asked for and held elsewhere is refused as a create would.
async fn dry_run_service(call: &Call<'_>, obj: &mut Value) -> ApiResult<()> {
    let seed = uuid::Uuid::new_v4().as_u128() as u64;
    for attempt in 0..32 {
        let mut candidate = obj.clone();
        alloc::assign(&mut candidate, &call.api.ranges, seed, attempt)?;
        if all_free(call, obj, &candidate).await? {
            *obj = candidate;
            return Ok(());
        }
    }
    Err(ApiError::internal(
        "failed to allocate a cluster IP: the service range is full",
    ))
}

/// A body's apiVersion and kind, when given, must be the endpoint's.
/// The body of a create of the call's kind: decoded, its apiVersion and kind checked, and
/// through field validation (fieldValidation=Strict|Warn|Ignore: unknown and duplicate fields
/// fail the request or become warnings; unknown ones are pruned, openapi/fields.rs).
pub(crate) fn decode_checked(call: &Call<'_>) -> ApiResult<Value> {
    let def = call.def();
    let mut obj = super::decode_body(call.content_type.as_deref(), &call.body)?;
    check_type_meta(def, &obj)?;
    super::output::add_warnings(crate::openapi::fields::check(
        &call.params,
        def,
        None,
        &call.body,
        &mut obj,
    )?);
    Ok(obj)
}

pub fn check_type_meta(def: &ResourceDef, obj: &Value) -> ApiResult<()> {
    let want = def.api_version();
    if let Some(v) = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
    {
        if v != want {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({want})"
            )));
        }
    }
    if let Some(k) = obj
        .get("kind")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
    {
        if k != def.kind {
            return Err(ApiError::bad_request(format!(
                "{k} in version {:?} cannot be handled as a {}: the object kind does not match",
                def.version, def.kind
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "create_tests.rs"]
mod tests;
