//! PATCH: JSON patch, merge patch and strategic merge patch applied to the stored object (or
//! its status/scale), then stored like an update; server-side apply lives in `apply.rs`.

use axum::{http::StatusCode, response::Response};
use rkube_api::patch::{PatchError, PatchType};
use serde_json::Value;

use super::{
    respond,
    update::{finish, guaranteed_update, to_scale},
    Call,
};
use crate::status::{ApiError, ApiResult};

pub async fn patch(call: &Call<'_>) -> ApiResult<Response> {
    let media = call
        .content_type
        .as_deref()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    if media == "application/apply-patch+yaml" || media == "application/apply-patch+cbor" {
        return super::apply::apply(call).await;
    }
    let kind = PatchType::from_content_type(&media).ok_or_else(|| {
        ApiError::unsupported_media_type(&media).with_message(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {media:?})"
        ))
    })?;
    if call.body.len() > super::MAX_BODY {
        return Err(ApiError::too_large());
    }
    let def = call.def();
    let scale = call.req.subresource.as_deref() == Some("scale");
    let body = call.body.clone();
    let written = guaranteed_update(call, None, |old| {
        // A scale patch applies to the Scale view and maps back to spec.replicas.
        if scale {
            let mut patched =
                rkube_api::patch::apply_patch(&super::update::SCALE, kind, &to_scale(old), &body)
                    .map_err(to_api)?;
            // Field validation of the patched Scale (openapi/fields.rs).
            super::output::add_warnings(crate::openapi::fields::check_patch(
                &call.params,
                def,
                Some("scale"),
                kind,
                &body,
                &mut patched,
            )?);
            let replicas = patched
                .pointer("/spec/replicas")
                .cloned()
                .unwrap_or(Value::Null);
            if let Some(n) = replicas.as_i64() {
                super::update::check_scale(crate::object::name(old), n)?;
            }
            let mut new = old.clone();
            new["spec"]["replicas"] = replicas;
            return Ok(new);
        }
        let mut new = rkube_api::patch::apply_patch(def, kind, old, &body).map_err(to_api)?;
        // Field validation (fieldValidation=Strict|Warn|Ignore) of the patch and the patched
        // object: fail, or warn; unknown fields are pruned (openapi/fields.rs).
        super::output::add_warnings(crate::openapi::fields::check_patch(
            &call.params,
            def,
            call.req.subresource.as_deref(),
            kind,
            &body,
            &mut new,
        )?);
        // A resourceVersion in the patch is a precondition, as upstream.
        let want = new
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str);
        let have = old
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str);
        if want.is_some() && want != have {
            return Err(ApiError::modified(def, crate::object::name(old)));
        }
        Ok(new)
    })
    .await?;
    if scale {
        return respond(call, StatusCode::OK, to_scale(&written.into_object()));
    }
    finish(call, written)
}

fn to_api(e: PatchError) -> ApiError {
    let mut err = ApiError::new(e.http_code(), e.reason(), e.to_string());
    err.details = e.details();
    err
}
