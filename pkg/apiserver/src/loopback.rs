//! The in-process transport: the server's own controllers, scheduler and simulated nodes send
//! their requests straight to the router, as a fixed identity, with no socket, TLS or HTTP
//! framing. Wrapped in a `kube::Client` they are ordinary clients; every request still goes
//! through the same dispatch, validation, admission and watch fan-out as a remote one.
//! Over real loopback TLS each informer's watch held its own connection and every write paid
//! for encryption and framing twice.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use axum::{
    body::{Body, HttpBody},
    http::{header, HeaderValue, Request, Response},
    Router,
};
use bytes::Bytes;
use tower::{BoxError, Service, ServiceExt};

use crate::authn::Identity;

/// A `tower::Service` for `kube::Client::new`: each request is served by the router as
/// `identity`. The identity rides in the request's extensions, which no remote peer can set.
#[derive(Clone)]
pub struct Loopback {
    app: Router,
    identity: Identity,
    user_agent: HeaderValue,
    trusted: bool,
}

/// Marks a request from an in-process component, which authorization lets through (see
/// authz/mod.rs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Trusted;

impl Loopback {
    pub(crate) fn new(
        app: Router,
        user: &str,
        groups: &[&str],
        user_agent: &str,
        trusted: bool,
    ) -> Self {
        let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        Self {
            app,
            trusted,
            identity: Identity::new(user, groups),
            // The field manager of writes without ?fieldManager is named after it, as upstream.
            user_agent: HeaderValue::from_str(user_agent)
                .unwrap_or_else(|_| HeaderValue::from_static("rkube")),
        }
    }
}

impl<B> Service<Request<B>> for Loopback
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(Some(self.identity.clone()));
        if self.trusted {
            req.extensions_mut().insert(Trusted);
        }
        req.headers_mut()
            .entry(header::USER_AGENT)
            .or_insert_with(|| self.user_agent.clone());
        Box::pin(self.app.clone().oneshot(req))
    }
}

#[cfg(test)]
#[path = "loopback_tests.rs"]
mod tests;
