//! GET one object, or its status or scale subresource.

use axum::{http::StatusCode, response::Response};

use super::{respond, Call};
use crate::{object::set_type_meta, status::ApiResult};

pub async fn get(call: &Call<'_>) -> ApiResult<Response> {
    let def = call.def();
    let (mut obj, _) = call.api.read(def, call.ns(), call.name()).await?;
    set_type_meta(def, &mut obj);
    match call.req.subresource.as_deref() {
        Some("scale") => respond(call, StatusCode::OK, super::update::to_scale(&obj)),
        _ => respond(call, StatusCode::OK, obj),
    }
}
