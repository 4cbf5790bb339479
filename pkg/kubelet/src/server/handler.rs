//! One request of the kubelet API: authorize the peer, route, and for exec/attach/port-forward
//! negotiate the upgrade and hand the upgraded connection to its protocol.

use std::{convert::Infallible, sync::Arc, time::Duration};

use hyper::{body::Incoming, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::{tungstenite::protocol::Role, WebSocketStream};
use tracing::{debug, info_span, Instrument};

use super::{
    exec_request::ExecRequest,
    exec_ws, logs, portforward_ws,
    response::{text, Resp},
    router::{self, Route},
    spdy_exec, spdy_portforward,
    tasks::Tasks,
    tls::Peer,
    upgrade, ws_io, wsstream, Lookup, PodLookup,
};

pub(crate) struct State {
    pub runtime: rkube_runtime::Runtime,
    pub pods: Arc<dyn PodLookup>,
    pub tasks: Tasks,
    /// streamingConnectionIdleTimeout for the WebSocket streams.
    pub idle_timeout: Duration,
}

pub(crate) async fn handle(
    state: Arc<State>,
    peer: Option<Peer>,
    req: Request<Incoming>,
) -> Result<Resp, Infallible> {
    let span = info_span!(
        "kubelet_api",
        method = %req.method(),
        path = %req.uri().path(),
        user = peer.as_ref().map(|p| p.user.as_str()).unwrap_or("system:anonymous"),
    );
    let resp = route(&state, peer, req).instrument(span.clone()).await;
    span.in_scope(|| debug!(code = resp.status().as_u16(), "served"));
    Ok(resp)
}

async fn route(state: &Arc<State>, peer: Option<Peer>, req: Request<Incoming>) -> Resp {
    let Some(peer) = peer else {
        return text(StatusCode::UNAUTHORIZED, "Unauthorized");
    };
    let Some(route) = router::parse(req.uri().path()) else {
        return text(StatusCode::NOT_FOUND, "404 page not found");
    };
    if !peer.may_use_kubelet_api() {
        let (verb, sub) = match (&route, req.method()) {
            (Route::Logs { .. }, _) => ("get", "log"),
            (_, &Method::GET) => ("get", "proxy"),
            _ => ("create", "proxy"),
        };
        return text(
            StatusCode::FORBIDDEN,
            format!(
                "Forbidden (user={}, verb={verb}, resource=nodes, subresource(s)=[{sub}])",
                peer.user
            ),
        );
    }
    match route {
        Route::Healthz => text(StatusCode::OK, "ok"),
        Route::Logs {
            namespace,
            pod,
            container,
        } => {
            if req.method() != Method::GET {
                return text(StatusCode::METHOD_NOT_ALLOWED, "405: Method Not Allowed");
            }
            logs::serve(
                state.pods.as_ref(),
                &namespace,
                &pod,
                &container,
                req.uri().query(),
            )
        }
        Route::Exec {
            namespace,
            pod,
            container,
            attach,
        } => exec(state, req, &namespace, &pod, &container, attach),
        Route::PortForward { namespace, pod } => port_forward(state, req, &namespace, &pod),
    }
}

fn exec(
    state: &Arc<State>,
    mut req: Request<Incoming>,
    namespace: &str,
    pod: &str,
    container: &str,
    attach: bool,
) -> Resp {
    if !matches!(*req.method(), Method::GET | Method::POST) {
        return text(StatusCode::METHOD_NOT_ALLOWED, "405: Method Not Allowed");
    }
    let mut request: ExecRequest =
        match router::exec_request(&router::query_pairs(req.uri().query())) {
            Ok(r) => r,
            Err(e) => return text(StatusCode::BAD_REQUEST, e),
        };
    let found = match state.pods.lookup(namespace, pod, Some(container)) {
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
    let Some(id) = found.container_id.filter(|_| found.running) else {
        return text(
            StatusCode::BAD_REQUEST,
            format!("container {container:?} in pod {pod:?} is not running"),
        );
    };
    request.container_id = id;
    request.attach = attach;
    let runtime = state.runtime.clone();
    let idle = state.idle_timeout;
    if wsstream::is_websocket(req.headers()) {
        let (resp, protocol) = match upgrade::websocket(req.headers(), wsstream::EXEC_PROTOCOLS) {
            Ok(r) => r,
            Err(resp) => return *resp,
        };
        return upgrade_then(state, &mut req, resp, move |io| async move {
            let ws = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
            exec_ws::serve(ws, wsstream::Proto::of(protocol), runtime, request, idle).await;
        });
    }
    if upgrade::is_spdy(req.headers()) {
        let (resp, protocol) = match upgrade::spdy(req.headers(), upgrade::SPDY_EXEC_PROTOCOLS) {
            Ok(r) => r,
            Err(resp) => return *resp,
        };
        return upgrade_then(state, &mut req, resp, move |io| async move {
            if let Err(e) = spdy_exec::serve_exec(io, protocol, runtime, request).await {
                debug!(error = %e, "exec over SPDY ended with an error");
            }
        });
    }
    text(StatusCode::BAD_REQUEST, "Upgrade request required")
}

fn port_forward(
    state: &Arc<State>,
    mut req: Request<Incoming>,
    namespace: &str,
    pod: &str,
) -> Resp {
    if !matches!(*req.method(), Method::GET | Method::POST) {
        return text(StatusCode::METHOD_NOT_ALLOWED, "405: Method Not Allowed");
    }
    let sandbox = match state.pods.lookup(namespace, pod, None) {
        Lookup::Found(c) => c.sandbox,
        _ => None,
    };
    let Some(sandbox) = sandbox else {
        return text(
            StatusCode::NOT_FOUND,
            format!("pod {pod:?} not found or has no sandbox"),
        );
    };
    let runtime = state.runtime.clone();
    let idle = state.idle_timeout;
    if wsstream::is_websocket(req.headers()) {
        let mut supported = vec![wsstream::TUNNEL_PROTOCOL];
        supported.extend_from_slice(wsstream::PORT_FORWARD_PROTOCOLS);
        let (resp, protocol) = match upgrade::websocket(req.headers(), &supported) {
            Ok(r) => r,
            Err(resp) => return *resp,
        };
        let ports = if protocol == wsstream::TUNNEL_PROTOCOL {
            Vec::new()
        } else {
            match router::ports(&router::query_pairs(req.uri().query())) {
                Ok(p) => p,
                Err(e) => return text(StatusCode::BAD_REQUEST, e),
            }
        };
        let pod = pod.to_string();
        return upgrade_then(state, &mut req, resp, move |io| async move {
            let ws = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
            if protocol == wsstream::TUNNEL_PROTOCOL {
                let io = ws_io::WsIo::new(ws);
                if let Err(e) = spdy_portforward::serve_port_forward(io, runtime, sandbox).await {
                    debug!(error = %e, "tunneled port-forward ended with an error");
                }
            } else {
                let proto = wsstream::Proto::of(protocol);
                portforward_ws::serve(ws, proto, runtime, sandbox, pod, ports, idle).await;
            }
        });
    }
    if upgrade::is_spdy(req.headers()) {
        let (resp, _) = match upgrade::spdy(req.headers(), upgrade::SPDY_PORT_FORWARD_PROTOCOLS) {
            Ok(r) => r,
            Err(resp) => return *resp,
        };
        return upgrade_then(state, &mut req, resp, move |io| async move {
            if let Err(e) = spdy_portforward::serve_port_forward(io, runtime, sandbox).await {
                debug!(error = %e, "port-forward over SPDY ended with an error");
            }
        });
    }
    text(StatusCode::BAD_REQUEST, "Upgrade request required")
}

/// Answers with `resp` (the 101) and, once the client's connection is upgraded, runs `serve` on
/// it as one of the server's tracked tasks; a client that never completes the upgrade costs
/// nothing more.
fn upgrade_then<F, Fut>(state: &State, req: &mut Request<Incoming>, resp: Resp, serve: F) -> Resp
where
    F: FnOnce(TokioIo<hyper::upgrade::Upgraded>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let on_upgrade = hyper::upgrade::on(req);
    state.tasks.spawn(
        async move {
            if let Ok(upgraded) = on_upgrade.await {
                serve(TokioIo::new(upgraded)).await;
            }
        }
        .in_current_span(),
    );
    resp
}
