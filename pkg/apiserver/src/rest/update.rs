//! PUT on an object and its subresources (status, scale, finalize), and the subresources that
//! are created (pods/binding, pods/eviction). All writes go through `guaranteed_update`:
//! read, transform, compare-and-swap on the revision read, retry on a lost race.

use axum::{http::StatusCode, response::Response};
use rkube_api::ResourceDef;
use rkube_store::StoreExt;
use serde_json::{json, Value};

use super::{create::check_type_meta, respond, Call};
use crate::{
    object::{meta_mut, set_resource_version, set_type_meta, to_stored},
    status::{ApiError, ApiResult},
    strategy,
};

/// What a write did.
pub enum Written {
    /// Stored at this revision (or unchanged, or a dry run).
    Updated(Value),
    /// Stored: the object and the bytes written for it (without its resourceVersion), from
    /// which a JSON response is spliced instead of encoding the object again.
    Stored(Value, Vec<u8>),
    /// The last finalizer of an object being deleted went: it is gone.
    Deleted(Value),
}

impl Written {
    pub fn into_object(self) -> Value {
        match self {
            Written::Updated(obj) | Written::Stored(obj, _) | Written::Deleted(obj) => obj,
        }
    }
}

/// The bytes stored for `obj` (served form, with a resourceVersion): `to_stored` of its
/// storage form. Kinds stored as served take the resourceVersion out and write the object
/// in place instead of copying it; `splice` says whether a response can be spliced from the
/// bytes (false when `obj` holds a selfLink, which is served but not stored).
pub(super) fn stored_bytes(def: &ResourceDef, obj: &mut Value) -> (Vec<u8>, bool) {
    if super::convert::converts(def) || meta_mut(obj).contains_key("selfLink") {
        return (to_stored(&super::convert::to_storage(def, obj)), false);
    }
    let rv = meta_mut(obj).remove("resourceVersion");
    let bytes = to_stored(obj);
    if let Some(rv) = rv {
        meta_mut(obj).insert("resourceVersion".into(), rv);
    }
    (bytes, true)
}

/// A cluster-scoped object has no namespace; Go's omitempty: empty metadata lists and maps
/// are not stored.
fn normalize_meta(def: &ResourceDef, obj: &mut Value) {
    let meta = meta_mut(obj);
    if !def.namespaced {
        meta.remove("namespace");
    }
    meta.retain(|k, v| {
        let empty = v.as_array().is_some_and(Vec::is_empty)
            || v.as_object().is_some_and(serde_json::Map::is_empty);
        let omitempty = matches!(
            k.as_str(),
            "labels" | "annotations" | "finalizers" | "ownerReferences" | "managedFields"
        );
        !(empty && omitempty)
    });
}

/// pods/binding on the stored pod `pod`, in place: what `guaranteed_update` stores for a
/// binding whose mutation copies the pod and sets `spec.nodeName`, without the copy. With
/// the new pod equal to the stored one but for `spec.nodeName`, the steps left out change
/// nothing: `apply_update` and `prepare_for_update` copy the stored pod's own metadata and
/// status onto it (pod defaulting writes only `spec`; pods track no generation), bindings
/// skip validation and field management, a pod without a deletionTimestamp is never deleted
/// by the write, and setting a node where there was none always changes the pod.
fn bind_in_place(def: &ResourceDef, name: &str, pod: &mut Value, node: &str) -> ApiResult<()> {
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        return Err(ApiError::conflict(
            def,
            name,
            "pod is being deleted, cannot be assigned to a host",
        ));
    }
    if let Some(n) = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    {
        return Err(ApiError::conflict(
            def,
            name,
            &format!("pod {name} is already assigned to node {n:?}"),
        ));
    }
    set_type_meta(def, pod);
    pod["spec"]["nodeName"] = json!(node);
    normalize_meta(def, pod);
    rkube_api::defaults::apply(def, pod);
    Ok(())
}

/// POST pods/NAME/binding: sets the node of a pod that has none (`bind_in_place`), retrying
/// from a fresh read when another writer came first.
async fn bind(call: &Call<'_>, node: &str) -> ApiResult<()> {
    let def = call.def();
    let key = def.key(call.ns(), call.name());
    for _ in 0..16 {
        let (mut pod, rev) = call.api.read(def, call.ns(), call.name()).await?;
        bind_in_place(def, call.name(), &mut pod, node)?;
        if call.params.dry_run {
            return Ok(());
        }
        let (bytes, _) = stored_bytes(def, &mut pod);
        match call.api.store.update(key.as_bytes(), rev, &bytes).await? {
            Ok(_) => return Ok(()),
            Err(None) => return Err(ApiError::not_found(def, call.name())),
            Err(Some(_)) => continue,
        }
    }
    Err(ApiError::new(
        409,
        "Conflict",
        "too many concurrent writers; try again",
    ))
}

/// Reads the object, applies `mutate`, validates, and stores it if the object is still at the
/// revision read; retries from a fresh read when another writer came first, unless `expected`
/// (the client's resourceVersion precondition) pins the revision.
pub async fn guaranteed_update(
    call: &Call<'_>,
    expected: Option<i64>,
    mut mutate: impl FnMut(&Value) -> ApiResult<Value>,
) -> ApiResult<Written> {
    let def = call.def();
    let (ns, name) = (call.ns(), call.name());
    let key = def.key(ns, name);
    for _ in 0..16 {
        let (mut old, rev) = call.api.read(def, ns, name).await?;
        if let Some(want) = expected {
            if want != rev {
                return Err(ApiError::modified(def, name));
            }
        }
        set_type_meta(def, &mut old);
        let mut new = mutate(&old)?;
        set_type_meta(def, &mut new);
        // Updates and patches record who changed what (managed/); the client's
        // managedFields (edits, or a reset) are taken out before they look empty.
        let records = crate::managed::records_update(call);
        let sent = records
            .then(|| crate::managed::take_sent(&mut new))
            .flatten();
        normalize_meta(def, &mut new);
        rkube_api::defaults::apply_update(def, &mut new, &old);
        strategy::prepare_for_update(def, call.req.subresource.as_deref(), &mut new, &old);
        if records {
            crate::managed::record_update(call, &old, &mut new, sent);
        }
        // A Service's cluster IP and node ports, before validation as upstream; attempt 0
        // of what `update_service::commit` stores.
        let service =
            (def.kind == "Service" && def.group.is_empty() && call.req.subresource.is_none())
                .then(|| (new.clone(), super::update_service::seed()));
        if let Some((_, seed)) = &service {
            crate::alloc::update::assign_update(&mut new, &old, &call.api.ranges, *seed, 0)?;
        }
        // pods/binding only sets spec.nodeName, which a pod update may not change: upstream's
        // binding storage skips update validation too.
        let errs = if call.req.subresource.as_deref() == Some("binding") {
            Vec::new()
        } else {
            rkube_api::validation::validate(def, &new, Some(&old))
        };
        if !errs.is_empty() {
            return Err(ApiError::invalid(def, name, &errs));
        }
        crate::authz::check_escalation(call, &new, Some(&old))?;
        set_resource_version(&mut new, rev);
        if should_delete_during_update(def, &old, &new) {
            if call.params.dry_run {
                return Ok(Written::Deleted(new));
            }
            match super::delete::remove(call, &key, rev, &new).await? {
                true => return Ok(Written::Deleted(new)),
                false if expected.is_none() => continue,
                false => return Err(ApiError::modified(def, name)),
            }
        }
        if new == old || call.params.dry_run {
            return Ok(Written::Updated(new));
        }
        if let Some((base, seed)) = &service {
            match super::update_service::commit(call, &key, rev, &old, base, *seed).await? {
                Some(written) => return Ok(written),
                None if expected.is_none() => continue,
                None => return Err(ApiError::modified(def, name)),
            }
        }
        let (bytes, splice) = stored_bytes(def, &mut new);
        match call.api.store.update(key.as_bytes(), rev, &bytes).await? {
            Ok(new_rev) => {
                set_resource_version(&mut new, new_rev);
                return Ok(match splice {
                    true => Written::Stored(new, bytes),
                    false => Written::Updated(new),
                });
            }
            Err(None) => return Err(ApiError::not_found(def, name)),
            Err(Some(_)) if expected.is_none() => continue,
            Err(Some(_)) => return Err(ApiError::modified(def, name)),
        }
    }
    Err(ApiError::new(
        409,
        "Conflict",
        "too many concurrent writers; try again",
    ))
}

/// The write removed the last finalizer of an object whose deletion waits only on finalizers
/// (as upstream's shouldDeleteDuringUpdate); a namespace goes once its spec finalizers are done.
fn should_delete_during_update(def: &ResourceDef, old: &Value, new: &Value) -> bool {
    if new.pointer("/metadata/deletionTimestamp").is_none()
        || !crate::object::finalizers(new).is_empty()
    {
        return false;
    }
    if def.kind == "Namespace" {
        return new
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_none_or(|a| a.is_empty());
    }
    let grace = new
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    !crate::object::finalizers(old).is_empty() && grace == 0
}

fn precondition(obj: &Value) -> ApiResult<Option<i64>> {
    match obj
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            ApiError::bad_request(format!("metadata.resourceVersion: Invalid value: {v:?}"))
        }),
    }
}

pub async fn update(call: &Call<'_>) -> ApiResult<Response> {
    let def = call.def();
    let mut body = super::decode_body(call.content_type.as_deref(), &call.body)?;
    let sub = call.req.subresource.as_deref();
    // Field validation (fieldValidation=Strict|Warn|Ignore): unknown and duplicate fields
    // fail the request or become warnings; unknown ones are pruned (openapi/fields.rs).
    super::output::add_warnings(crate::openapi::fields::check(
        &call.params,
        def,
        sub,
        &call.body,
        &mut body,
    )?);
    if sub == Some("scale") {
        return update_scale(call, body).await;
    }
    check_type_meta(def, &body)?;
    let body_name = crate::object::name(&body);
    if !body_name.is_empty() && body_name != call.name() {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({})",
            call.name()
        )));
    }
    if let (Some(url_ns), Some(n)) = (call.ns(), crate::object::meta_str(&body, "namespace")) {
        if !n.is_empty() && n != url_ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    let expected = precondition(&body)?;
    let blind = expected.is_none() && !def.allow_unconditional_update();
    if sub.is_none() && (blind || def.allow_create_on_update()) {
        let exists = call
            .api
            .store
            .get(def.key(call.ns(), call.name()).as_bytes())
            .await?;
        match exists {
            None if def.allow_create_on_update() => return create_on_update(call, body).await,
            Some(_) if blind => {
                let err = rkube_api::FieldError {
                    kind: rkube_api::FieldErrorKind::Invalid(json!(0)),
                    field: "metadata.resourceVersion".into(),
                    detail: "must be specified for an update".into(),
                };
                return Err(ApiError::invalid(def, call.name(), &[err]));
            }
            _ => {}
        }
    }
    let ns = call.ns().map(str::to_string);
    let written = guaranteed_update(call, expected, |_old| {
        let mut new = body.clone();
        let m = meta_mut(&mut new);
        m.insert("name".into(), json!(call.name()));
        if let Some(ns) = &ns {
            m.insert("namespace".into(), json!(ns));
        }
        Ok(new)
    })
    .await?;
    finish(call, written)
}

/// A PUT of a missing Endpoints, Lease or Event creates it (201), as upstream; one created
/// meanwhile by someone else is updated instead.
async fn create_on_update(call: &Call<'_>, mut body: Value) -> ApiResult<Response> {
    meta_mut(&mut body).insert("name".into(), json!(call.name()));
    let create = Call {
        api: call.api,
        user: call.user,
        trusted: call.trusted,
        req: crate::request::ResourceRequest {
            verb: crate::request::Verb::Create,
            ..call.req.clone()
        },
        params: call.params.clone(),
        output: call.output,
        content_type: Some("application/json".into()),
        body: serde_json::to_vec(&body)
            .map_err(|e| ApiError::internal(e.to_string()))?
            .into(),
    };
    match super::create::create(&create).await {
        Err(e) if e.code == 409 && e.reason == "AlreadyExists" => {
            let written = guaranteed_update(call, None, |_old| Ok(body.clone())).await?;
            finish(call, written)
        }
        r => r,
    }
}

pub fn finish(call: &Call<'_>, written: Written) -> ApiResult<Response> {
    if let Written::Stored(obj, bytes) = &written {
        if let Some(rev) =
            crate::object::meta_str(obj, "resourceVersion").and_then(|v| v.parse().ok())
        {
            if let Some(r) = super::output::respond_stored(call, StatusCode::OK, bytes, rev) {
                return Ok(r);
            }
        }
    }
    respond(call, StatusCode::OK, written.into_object())
}

/// autoscaling/v1 Scale for a Deployment or ReplicaSet.
pub fn to_scale(obj: &Value) -> Value {
    let selector = obj
        .pointer("/spec/selector")
        .and_then(|s| rkube_api::selectors::LabelSelector::from_json(s).ok())
        .map(|s| s.to_string())
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": obj.pointer("/metadata/name"),
            "namespace": obj.pointer("/metadata/namespace"),
            "uid": obj.pointer("/metadata/uid"),
            "resourceVersion": obj.pointer("/metadata/resourceVersion"),
            "creationTimestamp": obj.pointer("/metadata/creationTimestamp"),
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {
            "replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    })
}

async fn update_scale(call: &Call<'_>, body: Value) -> ApiResult<Response> {
    let def = call.def();
    let replicas = body
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    check_scale(call.name(), replicas)?;
    let expected = precondition(&body)?;
    let written = guaranteed_update(call, expected, |old| {
        let mut new = old.clone();
        new["spec"]["replicas"] = json!(replicas);
        Ok(new)
    })
    .await?;
    respond(call, StatusCode::OK, to_scale(&written.into_object()))
        .inspect(|_| tracing::debug!(resource = def.plural, replicas, "scaled"))
}

/// A Scale's replicas, refused as upstream's scale storage does: about the Scale, not the
/// object scaled.
pub(super) fn check_scale(name: &str, replicas: i64) -> ApiResult<()> {
    if replicas >= 0 {
        return Ok(());
    }
    let err = rkube_api::FieldError {
        kind: rkube_api::FieldErrorKind::Invalid(json!(replicas)),
        field: "spec.replicas".into(),
        detail: "must be greater than or equal to 0".into(),
    };
    Err(ApiError::invalid(&SCALE, name, &[err]))
}

/// The autoscaling/v1 Scale kind: for patches of /scale and errors about Scale objects.
pub(super) static SCALE: ResourceDef =
    ResourceDef::named("autoscaling", "v1", "Scale", "scale", "scale");

/// POST on a subresource: pods/binding assigns a node, pods/eviction deletes the pod.
pub async fn create_subresource(call: &Call<'_>, sub: &str) -> ApiResult<Response> {
    let mut body = super::decode_body(call.content_type.as_deref(), &call.body)?;
    // Field validation (fieldValidation=Strict|Warn|Ignore), as for any body (openapi/fields.rs).
    super::output::add_warnings(crate::openapi::fields::check(
        &call.params,
        call.def(),
        Some(sub),
        &call.body,
        &mut body,
    )?);
    match sub {
        "binding" => {
            let node = body
                .pointer("/target/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if node.is_empty() {
                let err = rkube_api::FieldError {
                    kind: rkube_api::FieldErrorKind::Required,
                    field: "target.name".into(),
                    detail: String::new(),
                };
                return Err(ApiError::invalid(call.def(), call.name(), &[err]));
            }
            bind(call, &node).await?;
            Ok(super::output::json_response(
                StatusCode::CREATED,
                &success_status(),
            ))
        }
        "token" => crate::serviceaccount::token_request::create(call, body).await,
        "eviction" => {
            super::delete::delete_object(call, &json!({})).await?;
            Ok(super::output::json_response(
                StatusCode::CREATED,
                &success_status(),
            ))
        }
        _ => Err(ApiError::method_not_supported(call.def().kind, "create")),
    }
}

pub fn success_status() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pods() -> &'static ResourceDef {
        rkube_api::registry::find("", "v1", "pods").unwrap()
    }

    /// The response spliced from the stored bytes is the one encoding the object gives.
    #[test]
    fn stored_bytes_splice_to_the_encoded_object() {
        let def = pods();
        let mut obj = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "resourceVersion": "7",
                         "labels": {"b": "2", "a": "1"}, "uid": "u"},
            "spec": {"nodeName": "n", "containers": [{"name": "c", "image": "i"}]},
            "status": {"phase": "Running", "podIP": "10.0.0.1"},
        });
        let before = obj.clone();
        let (bytes, splice) = stored_bytes(def, &mut obj);
        assert!(splice);
        // Put back as it was; what is stored has no resourceVersion.
        assert_eq!(obj, before);
        let stored: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(stored.pointer("/metadata/resourceVersion").is_none());
        assert_eq!(bytes, to_stored(&obj));
        set_resource_version(&mut obj, 9);
        let spliced = crate::rest::splice::object(&bytes, 9, &def.api_version(), def.kind).unwrap();
        assert_eq!(spliced, serde_json::to_vec(&obj).unwrap());
    }

    /// What the generic update stores for a binding (a copy of the stored pod with
    /// spec.nodeName set, through every step of `guaranteed_update` a binding takes).
    fn generic_binding(def: &'static ResourceDef, stored: &Value, node: &str) -> Value {
        let mut old = stored.clone();
        set_type_meta(def, &mut old);
        let mut new = old.clone();
        new["spec"]["nodeName"] = json!(node);
        set_type_meta(def, &mut new);
        normalize_meta(def, &mut new);
        rkube_api::defaults::apply_update(def, &mut new, &old);
        strategy::prepare_for_update(def, Some("binding"), &mut new, &old);
        assert!(!should_delete_during_update(def, &old, &new));
        assert_ne!(new, old, "a binding always changes the pod");
        new
    }

    #[test]
    fn binding_in_place_stores_what_the_generic_update_stores() {
        let def = pods();
        // Stored pods as create leaves them (defaulted) and as older writers may have left
        // them (not defaulted, empty omitempty metadata, no kind): both paths agree.
        let raw = json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u", "resourceVersion": "5",
                         "creationTimestamp": "2026-11-27T10:00:00Z", "labels": {"app": "a"},
                         "annotations": {}, "finalizers": [],
                         "managedFields": [{"manager": "m", "operation": "Update",
                                            "apiVersion": "v1", "fieldsType": "FieldsV1",
                                            "fieldsV1": {"f:spec": {}}}]},
            "spec": {
                "schedulerName": "s", "hostNetwork": true, "nodeName": "",
                "initContainers": [{"name": "i", "image": "busybox",
                                    "resources": {"limits": {"cpu": "1"}}}],
                "containers": [{"name": "c", "image": "busybox:1",
                                "ports": [{"containerPort": 80}],
                                "resources": {"limits": {"cpu": "100m", "memory": "500Mi"}}}],
                "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute"}],
            },
            "status": {"phase": "Pending", "qosClass": "Burstable",
                       "conditions": [{"type": "PodScheduled", "status": "False"}]},
        });
        let mut defaulted = raw.clone();
        set_type_meta(def, &mut defaulted);
        rkube_api::defaults::apply(def, &mut defaulted);
        for stored in [raw, defaulted] {
            let mut generic = generic_binding(def, &stored, "sim-1");
            let mut fast = stored.clone();
            bind_in_place(def, "p", &mut fast, "sim-1").unwrap();
            assert_eq!(fast, generic);
            assert_eq!(
                stored_bytes(def, &mut fast).0,
                stored_bytes(def, &mut generic).0
            );
        }
    }

    #[test]
    fn binding_refuses_bound_and_deleted_pods() {
        let def = pods();
        let mut bound = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n"}});
        let err = bind_in_place(def, "p", &mut bound, "m").unwrap_err();
        assert_eq!(err.code, 409);
        assert!(err
            .message
            .contains("pod p is already assigned to node \"n\""));
        let mut deleted = json!({"metadata": {"name": "p", "deletionTimestamp": "x"},
                                 "spec": {}});
        let err = bind_in_place(def, "p", &mut deleted, "m").unwrap_err();
        assert_eq!(err.code, 409);
        assert!(err.message.contains("pod is being deleted"));
    }

    /// A selfLink is served but not stored: no splicing then.
    #[test]
    fn self_link_is_not_spliced() {
        let mut obj = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "resourceVersion": "7", "selfLink": "/x"}});
        let (bytes, splice) = stored_bytes(pods(), &mut obj);
        assert!(!splice);
        assert_eq!(bytes, to_stored(&obj));
        assert_eq!(obj["metadata"]["selfLink"], "/x");
    }
}

#[cfg(test)]
#[path = "put_tests.rs"]
mod put_tests;
