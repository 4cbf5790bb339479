//! Response bodies of the kubelet API: plain text (upstream's kubelet answers errors as text) or
//! a stream.

use bytes::Bytes;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full};
use hyper::{header, StatusCode};

pub(crate) type Body = UnsyncBoxBody<Bytes, std::io::Error>;
pub(crate) type Resp = hyper::Response<Body>;

pub(crate) fn text(status: StatusCode, msg: impl Into<String>) -> Resp {
    let body = Full::new(Bytes::from(msg.into()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut resp = hyper::Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}
