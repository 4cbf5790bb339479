//! DELETE and deletecollection: preconditions, graceful deletion (pods), finalizers and the
//! propagation policy's finalizers (foregroundDeletion, orphan), as kube-apiserver does.

use axum::{http::StatusCode, response::Response};
use rkube_store::{Compare, Op, StoreExt, Txn};
use serde_json::{json, Value};

use super::{list::Filter, respond, Call};
use crate::{
    object::{finalizers, meta_mut, now_plus, set_type_meta},
    status::{ApiError, ApiResult},
};

/// Kinds whose delete returns the object rather than a Status, as upstream.
fn returns_object(kind: &str) -> bool {
    matches!(
        kind,
        "Pod" | "Service" | "Namespace" | "Deployment" | "ReplicaSet" | "Node"
    )
}

pub async fn delete(call: &Call<'_>) -> ApiResult<Response> {
    let opts = delete_options(call)?;
    let (obj, now_gone) = delete_object(call, &opts).await?;
    // Upstream answers 202 only for a pending delete that asked orphanDependents=false; a
    // graceful or finalized delete is a 200 with the object (changing it would break clients).
    let orphan = call
        .params
        .orphan_dependents
        .or_else(|| opts.get("orphanDependents").and_then(Value::as_bool));
    let code = if !now_gone && orphan == Some(false) {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let def = call.def();
    if now_gone && !returns_object(def.kind) {
        let status = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": call.name(), "group": def.group, "kind": def.plural,
                        "uid": obj.pointer("/metadata/uid")},
        });
        return respond(call, StatusCode::OK, status);
    }
    respond(call, code, obj)
}

/// The DeleteOptions a DELETE carries in its body (none: all defaults).
fn delete_options(call: &Call<'_>) -> ApiResult<Value> {
    if call.body.is_empty() {
        return Ok(json!({}));
    }
    super::decode_body(call.content_type.as_deref(), &call.body)
}

/// Deletes or starts deleting one object; returns its last state and whether it is gone.
pub async fn delete_object(call: &Call<'_>, opts: &Value) -> ApiResult<(Value, bool)> {
    let def = call.def();
    let name = call.name().to_string();
    let grace_param = call
        .params
        .grace_period_seconds
        .or_else(|| opts.get("gracePeriodSeconds").and_then(Value::as_i64));
    let policy = call.params.propagation_policy.clone().or_else(|| {
        opts.get("propagationPolicy")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let orphan = call
        .params
        .orphan_dependents
        .or_else(|| opts.get("orphanDependents").and_then(Value::as_bool));
    let policy_finalizer = match (policy.as_deref(), orphan) {
        (Some("Foreground"), _) => Some("foregroundDeletion"),
        (Some("Orphan"), _) | (None, Some(true)) => Some("orphan"),
        (Some("Background") | None, _) => None,
        (Some(p), _) => {
            return Err(ApiError::bad_request(format!(
                "propagationPolicy: Unsupported value: {p:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
            )))
        }
    };
    // kubectl sends --dry-run=server in the body's DeleteOptions, not as a query parameter.
    let dry_run = call.params.dry_run || body_dry_run(opts)?;
    let pre_uid = opts
        .pointer("/preconditions/uid")
        .and_then(Value::as_str)
        .map(str::to_string);
    let pre_rv = opts
        .pointer("/preconditions/resourceVersion")
        .and_then(Value::as_str)
        .map(str::to_string);

    let key = def.key(call.ns(), &name);
    for _ in 0..16 {
        let (mut obj, rev) = call.api.read(def, call.ns(), &name).await?;
        set_type_meta(def, &mut obj);
        let uid = obj
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        // Upstream's BeforeDelete wording, whose conflict names the kind, not the resource.
        if let Some(p) = pre_uid.as_ref().filter(|p| **p != uid) {
            return Err(ApiError::conflict_on_kind(def, &name, &format!(
                "the UID in the precondition ({p}) does not match the UID in record ({uid}). The object might have been deleted and then recreated"
            )));
        }
        if let Some(p) = pre_rv.as_ref().filter(|p| **p != rev.to_string()) {
            return Err(ApiError::conflict_on_kind(def, &name, &format!(
                "the ResourceVersion in the precondition ({p}) does not match the ResourceVersion in record ({rev}). The object might have been modified"
            )));
        }
        let grace = grace_period(def.kind, &obj, grace_param);
        let mut fins = finalizers(&obj);
        if let Some(f) = policy_finalizer {
            if !fins.iter().any(|x| x == f) {
                fins.push(f.to_string());
            }
        }
        let spec_fins = def.kind == "Namespace"
            && obj
                .pointer("/spec/finalizers")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
        let already = obj.pointer("/metadata/deletionTimestamp").is_some();
        if fins.is_empty() && grace == 0 && !spec_fins {
            if dry_run {
                return Ok((obj, true));
            }
            if remove(call, &key, rev, &obj).await? {
                return Ok((obj, true));
            }
            continue;
        }
        let current = obj
            .pointer("/metadata/deletionGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if already && fins == finalizers(&obj) && grace >= current {
            // Deletion is under way; only a shorter grace period changes it.
            return Ok((obj, false));
        }
        // Deletion metadata is the server's to set: written directly, compare-and-swap on `rev`.
        let m = meta_mut(&mut obj);
        // As upstream, deletionTimestamp is when the grace period ends; a shorter one moves it
        // earlier by the difference.
        let until = match m.get("deletionTimestamp").and_then(Value::as_str) {
            None => Some(now_plus(grace)),
            Some(t) if grace < current => Some(shifted(t, grace - current)),
            Some(_) => None,
        };
        if let Some(t) = until {
            m.insert("deletionTimestamp".into(), json!(t));
        }
        if !already || grace < current {
            m.insert("deletionGracePeriodSeconds".into(), json!(grace));
        }
        if !fins.is_empty() {
            m.insert("finalizers".into(), json!(fins));
        }
        if def.kind == "Namespace" {
            obj["status"]["phase"] = json!("Terminating");
        }
        if dry_run {
            return Ok((obj, false));
        }
        match call
            .api
            .store
            .update(
                key.as_bytes(),
                rev,
                &crate::object::to_stored(&super::convert::to_storage(def, &obj)),
            )
            .await?
        {
            Ok(new_rev) => {
                crate::object::set_resource_version(&mut obj, new_rev);
                return Ok((obj, false));
            }
            Err(None) => return Err(ApiError::not_found(def, &name)),
            Err(Some(_)) => continue,
        }
    }
    Err(ApiError::new(
        409,
        "Conflict",
        "too many concurrent writers; try again",
    ))
}

/// Deletes the object at `rev`, with what it holds (a Service's IP and ports); false when it
/// changed meanwhile.
pub async fn remove(call: &Call<'_>, key: &str, rev: i64, obj: &Value) -> ApiResult<bool> {
    let (mut when, mut ops) = (Vec::new(), Vec::new());
    if call.def().kind == "Service" {
        // Only what this Service holds: a key recorded for another stays with it.
        let owner = format!("{}/{}", call.ns().unwrap_or_default(), call.name());
        let held = crate::alloc::held_keys(obj);
        (when, ops) = crate::alloc::release(&*call.api.store, &held, &owner).await?;
    }
    when.push(Compare::mod_revision_eq(key, rev));
    ops.push(Op::delete(key));
    let txn = Txn::new().when(when).and_then(ops);
    Ok(call.api.store.txn(txn).await?.succeeded)
}

/// A DeleteOptions body's `dryRun`: `["All"]` or nothing.
fn body_dry_run(opts: &Value) -> ApiResult<bool> {
    let Some(values) = opts.get("dryRun").filter(|v| !v.is_null()) else {
        return Ok(false);
    };
    let values = values
        .as_array()
        .ok_or_else(|| ApiError::bad_request("dryRun: must be a list of strings"))?;
    for v in values {
        if v.as_str() != Some("All") {
            return Err(ApiError::bad_request(format!(
                "dryRun: Unsupported value: {v}: supported values: \"All\""
            )));
        }
    }
    Ok(!values.is_empty())
}

/// `t` (RFC 3339) moved by `secs`; `t` itself when it does not parse.
fn shifted(t: &str, secs: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    match time::OffsetDateTime::parse(t, &Rfc3339) {
        Ok(at) => crate::object::rfc3339(at + time::Duration::seconds(secs)),
        Err(_) => t.to_string(),
    }
}

/// Pods are deleted gracefully once scheduled; everything else at once (finalizers aside).
fn grace_period(kind: &str, obj: &Value, requested: Option<i64>) -> i64 {
    if kind != "Pod" {
        return 0;
    }
    let scheduled = obj
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let finished = matches!(
        obj.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    );
    if !scheduled || finished {
        return 0;
    }
    let grace = requested.unwrap_or_else(|| {
        obj.pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(30)
    });
    // Upstream turns a negative grace period into 1 second.
    if grace < 0 {
        1
    } else {
        grace
    }
}

pub async fn delete_collection(call: &Call<'_>) -> ApiResult<Response> {
    let def = call.def();
    let opts = delete_options(call)?;
    let filter = Filter::new(def, &call.params)?;
    let listed = super::list::read_list(call, &filter).await?;
    let mut deleted = Vec::new();
    for item in listed.items {
        let name = crate::object::name(&item).to_string();
        let ns = crate::object::meta_str(&item, "namespace").map(str::to_string);
        let mut req = call.req.clone();
        req.name = Some(name);
        req.namespace = ns.or(req.namespace);
        let one = Call {
            api: call.api,
            user: call.user,
            trusted: call.trusted,
            req,
            params: call.params.clone(),
            output: call.output,
            content_type: call.content_type.clone(),
            body: call.body.clone(),
        };
        match delete_object(&one, &opts).await {
            Ok((obj, _)) => deleted.push(obj),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let list = json!({
        "kind": def.list_kind(),
        "apiVersion": def.api_version(),
        "metadata": {"resourceVersion": listed.revision.to_string()},
        "items": deleted,
    });
    respond(call, StatusCode::OK, list)
}

#[cfg(test)]
#[path = "delete_tests.rs"]
mod tests;
