//! GET one object, or its status or scale subresource.

use axum::{http::StatusCode, response::Response};

use rkube_store::StoreExt;

use super::{respond, Call};
use crate::{object::set_type_meta, status::ApiResult};

pub async fn get(call: &Call<'_>) -> ApiResult<Response> {
    let def = call.def();
    if call.req.subresource.as_deref() != Some("scale") {
        // The object (or its status, served whole) as JSON straight from the stored bytes.
        let key = def.key(call.ns(), call.name());
        if let Some(kv) = call.api.store.get(key.as_bytes()).await? {
            if let Some(r) =
                super::output::respond_stored(call, StatusCode::OK, &kv.value, kv.mod_revision)
            {
                return Ok(r);
            }
        }
    }
    let (mut obj, _) = call.api.read(def, call.ns(), call.name()).await?;
    set_type_meta(def, &mut obj);
    match call.req.subresource.as_deref() {
        Some("scale") => respond(call, StatusCode::OK, super::update::to_scale(&obj)),
        _ => respond(call, StatusCode::OK, obj),
    }
}
