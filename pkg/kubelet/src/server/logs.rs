//! `GET /containerLogs/{ns}/{pod}/{container}`: the container's CRI log as `kubectl logs` prints
//! it, streamed chunk by chunk (and kept open with `follow`).

use std::time::SystemTime;

use futures_util::StreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::{body::Frame, header, StatusCode};

use super::{
    response::{text, Resp},
    router, Lookup, PodLookup,
};

pub(crate) fn serve(
    pods: &dyn PodLookup,
    namespace: &str,
    pod: &str,
    container: &str,
    query: Option<&str>,
) -> Resp {
    let q = router::query_pairs(query);
    let (opts, previous) = match router::log_options(&q, SystemTime::now()) {
        Ok(o) => o,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    let found = match pods.lookup(namespace, pod, Some(container)) {
        Lookup::Found(c) => c,
        Lookup::PodNotFound => {
            return text(StatusCode::NOT_FOUND, format!("pod {pod:?} not found"));
        }
        Lookup::ContainerNotFound { .. } => {
            return text(
                StatusCode::NOT_FOUND,
                format!("container {container:?} not found in pod {pod:?}"),
            );
        }
    };
    let path = if previous {
        found.previous_log_path.ok_or_else(|| {
            format!("previous terminated container {container:?} in pod {pod:?} not found")
        })
    } else {
        found.log_path.ok_or_else(|| {
            format!("container {container:?} in pod {pod:?} is waiting to start: ContainerCreating")
        })
    };
    let path = match path {
        Ok(p) => p,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    tracing::debug!(%namespace, %pod, %container, follow = opts.follow, "streaming logs");
    let stream = rkube_runtime::read_logs(&path, opts).map(|chunk| {
        chunk
            .map(Frame::data)
            .map_err(|e| std::io::Error::other(e.to_string()))
    });
    let mut resp = hyper::Response::new(StreamBody::new(stream).boxed_unsync());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    resp
}
