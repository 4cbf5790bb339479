//! The connect subresources: pods/log, pods/exec, pods/attach, pods/portforward and nodes/proxy,
//! answered by the pod's node's kubelet. Requests are validated here with upstream's messages,
//! then passed through: bodies stream (no buffering of whole responses), and when the kubelet
//! switches protocols (exec, port-forward) both connections are spliced byte for byte.

use std::net::{IpAddr, SocketAddr};

use axum::{
    body::Body,
    extract::Request,
    http::{header, HeaderMap, HeaderName, Method, StatusCode},
    response::{IntoResponse, Response},
};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tracing::debug;

use super::Api;
use crate::{
    proxy::{kubelet::KubeletClient, Target},
    status::{ApiError, ApiResult},
};

/// Upstream kubelets listen here when a Node does not say otherwise.
const DEFAULT_KUBELET_PORT: u16 = 10250;
/// How much of a kubelet's error body becomes the Status message.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// The splice's buffer per direction: tokio's default (8 KiB) costs a TLS record, a syscall and
/// a wakeup per 8 KiB on each side, the bulk of a port-forward's cost here.
const SPLICE_BUFFER: usize = 256 * 1024;

pub async fn serve(
    api: &Api,
    kubelet: Option<&KubeletClient>,
    target: Target,
    req: Request,
) -> ApiResult<Response> {
    let query = req.uri().query().map(str::to_string);
    let params = query_pairs(query.as_deref());
    let with_query = |path: String| match &query {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path,
    };
    match target {
        Target::PodLog { namespace, name } => {
            if req.method() != Method::GET {
                return Err(ApiError::method_not_supported(
                    "pods/log",
                    req.method().as_str(),
                ));
            }
            let pod = read_pod(api, &namespace, &name).await?;
            let container = pick_container(&pod, &name, param(&params, "container"))?;
            let Some(node) = node_name(&pod) else {
                // Upstream's LogLocation: no host yet, so an empty log.
                return Ok(
                    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], "").into_response()
                );
            };
            let previous = matches!(
                param(&params, "previous"),
                Some("true" | "1" | "t" | "True")
            );
            if let Some(msg) = not_started(&pod, &name, &container, previous) {
                return Err(ApiError::bad_request(msg));
            }
            let addr = node_address(api, node, None).await?;
            let path = with_query(format!("/containerLogs/{namespace}/{name}/{container}"));
            let kubelet = client(kubelet)?;
            let resp = kubelet
                .send(
                    addr,
                    forward_request(&req, &path, addr, Body::empty(), false)?,
                )
                .await
                .map_err(|e| ApiError::internal(format!("Get \"https://{addr}{path}\": {e}")))?;
            if !resp.status().is_success() {
                return Err(kubelet_error(resp).await);
            }
            Ok(relay(resp))
        }
        Target::PodExec {
            namespace,
            name,
            attach,
        } => {
            connect_method(&req, if attach { "pods/attach" } else { "pods/exec" })?;
            let pod = read_pod(api, &namespace, &name).await?;
            let container = pick_container(&pod, &name, param(&params, "container"))?;
            let node = node_name(&pod).ok_or_else(|| no_host(&name))?;
            let addr = node_address(api, node, None).await?;
            let op = if attach { "attach" } else { "exec" };
            let path = with_query(format!("/{op}/{namespace}/{name}/{container}"));
            upgrade_aware(client(kubelet)?, addr, &path, req, true).await
        }
        Target::PodPortForward { namespace, name } => {
            connect_method(&req, "pods/portforward")?;
            let pod = read_pod(api, &namespace, &name).await?;
            let node = node_name(&pod).ok_or_else(|| no_host(&name))?;
            let addr = node_address(api, node, None).await?;
            let path = with_query(format!("/portForward/{namespace}/{name}"));
            upgrade_aware(client(kubelet)?, addr, &path, req, true).await
        }
        Target::NodeProxy { name, port, path } => {
            let addr = node_address(api, &name, port).await?;
            upgrade_aware(client(kubelet)?, addr, &with_query(path), req, false).await
        }
    }
}

fn client(kubelet: Option<&KubeletClient>) -> ApiResult<&KubeletClient> {
    kubelet.ok_or_else(|| {
        ApiError::service_unavailable("this API server has no kubelet client credentials")
    })
}

fn connect_method(req: &Request, what: &str) -> ApiResult<()> {
    match *req.method() {
        Method::GET | Method::POST => Ok(()),
        ref m => Err(ApiError::method_not_supported(what, m.as_str())),
    }
}

fn no_host(pod: &str) -> ApiError {
    ApiError::bad_request(format!("pod {pod} does not have a host assigned"))
}

fn query_pairs(q: Option<&str>) -> Vec<(String, String)> {
    q.and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default()
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

async fn read_pod(api: &Api, namespace: &str, name: &str) -> ApiResult<Value> {
    let def = rkube_api::registry::find("", "v1", "pods").ok_or_else(ApiError::path_not_found)?;
    Ok(api.read(def, Some(namespace), name).await?.0)
}

fn node_name(pod: &Value) -> Option<&str> {
    pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty())
}

fn names(pod: &Value, field: &str) -> Vec<String> {
    pod["spec"][field]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

/// Upstream's validateContainer: the named container must exist; without a name the pod must
/// have exactly one container.
pub(crate) fn pick_container(
    pod: &Value,
    pod_name: &str,
    wanted: Option<&str>,
) -> ApiResult<String> {
    let containers = names(pod, "containers");
    // Upstream's VisitContainers order: init, regular, ephemeral.
    let mut all = names(pod, "initContainers");
    all.extend(containers.iter().cloned());
    all.extend(names(pod, "ephemeralContainers"));
    match wanted {
        Some(c) if all.iter().any(|n| n == c) => Ok(c.to_string()),
        Some(c) => Err(ApiError::bad_request(format!(
            "container {c} is not valid for pod {pod_name}"
        ))),
        None => match containers.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err(ApiError::bad_request(format!(
                "pod {pod_name} does not have a container"
            ))),
            _ => Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                all.join(" ")
            ))),
        },
    }
}

/// The kubelet's refusal for a container whose log does not exist yet, from the pod's status.
pub(crate) fn not_started(
    pod: &Value,
    pod_name: &str,
    container: &str,
    previous: bool,
) -> Option<String> {
    let status = [
        "containerStatuses",
        "initContainerStatuses",
        "ephemeralContainerStatuses",
    ]
    .iter()
    .flat_map(|f| pod["status"][*f].as_array().into_iter().flatten())
    .find(|s| s["name"].as_str() == Some(container));
    let Some(status) = status else {
        return (!previous).then(|| {
            format!("container {container:?} in pod {pod_name:?} is waiting to start: ContainerCreating")
        });
    };
    if previous {
        return status["lastState"]["terminated"].is_null().then(|| {
            format!("previous terminated container {container:?} in pod {pod_name:?} not found")
        });
    }
    let waiting = &status["state"]["waiting"];
    let never_ran = status["lastState"]["terminated"].is_null();
    if waiting.is_object() && never_ran {
        let reason = waiting["reason"].as_str().unwrap_or("ContainerCreating");
        return Some(format!(
            "container {container:?} in pod {pod_name:?} is waiting to start: {reason}"
        ));
    }
    None
}

/// The kubelet's address: the Node's InternalIP (else ExternalIP) and its kubelet port.
async fn node_address(api: &Api, name: &str, port: Option<u16>) -> ApiResult<SocketAddr> {
    let def = rkube_api::registry::find("", "v1", "nodes").ok_or_else(ApiError::path_not_found)?;
    let (node, _) = api.read(def, None, name).await?;
    kubelet_address(&node, port)
        .ok_or_else(|| ApiError::internal(format!("node {name:?} has no usable address")))
}

pub(crate) fn kubelet_address(node: &Value, port: Option<u16>) -> Option<SocketAddr> {
    let addrs = node["status"]["addresses"].as_array()?;
    let ip: IpAddr = ["InternalIP", "ExternalIP"].iter().find_map(|t| {
        addrs
            .iter()
            .filter(|a| a["type"].as_str() == Some(*t))
            .find_map(|a| a["address"].as_str()?.parse().ok())
    })?;
    let port = port.unwrap_or_else(|| {
        node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
            .unwrap_or(DEFAULT_KUBELET_PORT)
    });
    Some(SocketAddr::new(ip, port))
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

/// The request to send to the kubelet: same method and end-to-end headers (the caller's
/// credentials stay here), plus the upgrade headers when switching protocols.
fn forward_request(
    req: &Request,
    path: &str,
    addr: SocketAddr,
    body: Body,
    upgrade: bool,
) -> ApiResult<hyper::Request<Body>> {
    let mut out = hyper::Request::builder()
        .method(req.method().clone())
        .uri(path);
    for (k, v) in req.headers() {
        let keep = upgrade && (k == header::CONNECTION || k == header::UPGRADE);
        if keep || !(is_hop_by_hop(k) || k == header::HOST || k == header::AUTHORIZATION) {
            out = out.header(k, v);
        }
    }
    out.header(header::HOST, addr.to_string())
        .body(body)
        .map_err(|e| ApiError::internal(format!("building the kubelet request: {e}")))
}

/// The kubelet's response as ours, body streamed as it arrives.
fn relay(resp: hyper::Response<hyper::body::Incoming>) -> Response {
    let (parts, body) = resp.into_parts();
    let mut out = Response::new(Body::new(body));
    *out.status_mut() = parts.status;
    for (k, v) in &parts.headers {
        if !is_hop_by_hop(k) {
            out.headers_mut().append(k, v.clone());
        }
    }
    out
}

/// A kubelet error (plain text) as a Status, as upstream's GenericHttpResponseChecker does.
async fn kubelet_error(resp: hyper::Response<hyper::body::Incoming>) -> ApiError {
    let code = resp.status().as_u16();
    let body = http_body_util::Limited::new(resp.into_body(), MAX_ERROR_BODY)
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).trim().to_string())
        .unwrap_or_default();
    let reason = match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        _ => "InternalError",
    };
    ApiError::new(code, reason, body)
}

/// Passes a request through to the kubelet; a 101 answer is relayed and both connections are
/// then spliced until either side closes. With `status_errors`, a kubelet refusal (plain text)
/// becomes a Status: kubectl's upgrade clients decode error bodies as Status objects (YAML
/// included, so a bare "x: y" sentence would decode into an empty one).
async fn upgrade_aware(
    kubelet: &KubeletClient,
    addr: SocketAddr,
    path: &str,
    mut req: Request,
    status_errors: bool,
) -> ApiResult<Response> {
    let upgrade = is_upgrade(req.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let out = if upgrade {
        forward_request(&req, path, addr, Body::empty(), true)?
    } else {
        let (parts, body) = req.into_parts();
        forward_request(
            &Request::from_parts(parts, Body::empty()),
            path,
            addr,
            body,
            false,
        )?
    };
    let resp = kubelet
        .send(addr, out)
        .await
        .map_err(|e| ApiError::internal(format!("error dialing backend: {e}")))?;
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        if status_errors && !resp.status().is_success() {
            return Err(kubelet_error(resp).await);
        }
        return Ok(relay(resp));
    }
    let Some(client_upgrade) = client_upgrade else {
        return Err(ApiError::internal(
            "the kubelet switched protocols for a request that did not ask to",
        ));
    };
    let mut out = Response::new(Body::empty());
    *out.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    *out.headers_mut() = resp.headers().clone();
    let kubelet_upgrade = hyper::upgrade::on(resp);
    tokio::spawn(async move {
        let (client, backend) = tokio::join!(client_upgrade, kubelet_upgrade);
        match (client, backend) {
            (Ok(c), Ok(b)) => {
                let (up, down) = splice(TokioIo::new(c), TokioIo::new(b)).await;
                debug!(%addr, up, down, "upgraded stream closed");
            }
            (c, b) => debug!(
                %addr,
                client = c.err().map(|e| e.to_string()),
                kubelet = b.err().map(|e| e.to_string()),
                "upgrade failed"
            ),
        }
    });
    Ok(out)
}

/// Copies both ways until each direction has ended; returns the bytes (client to kubelet,
/// kubelet to client). Unlike `copy_bidirectional`, one direction failing (a peer that closed
/// first, e.g. its reply to a WebSocket close arriving at a closed socket) does not cut off the
/// other: what the kubelet sent before it closed still reaches the client.
async fn splice<C, B>(client: C, backend: B) -> (u64, u64)
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite,
    B: tokio::io::AsyncRead + tokio::io::AsyncWrite,
{
    let (cr, cw) = tokio::io::split(client);
    let (br, bw) = tokio::io::split(backend);
    tokio::join!(one_way(cr, bw), one_way(br, cw))
}

async fn one_way<R, W>(r: R, mut w: W) -> u64
where
    R: tokio::io::AsyncRead,
    W: tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::AsyncWriteExt;
    let mut r = std::pin::pin!(tokio::io::BufReader::with_capacity(SPLICE_BUFFER, r));
    let n = tokio::io::copy_buf(&mut r, &mut w).await;
    let _ = w.shutdown().await;
    n.unwrap_or_else(|e| {
        debug!(error = %e, "upgraded stream: one direction ended with an error");
        0
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The kubelet writes its last bytes and closes while the client is still sending: the
    /// client still gets every byte (copy_bidirectional gave up on the first write error).
    #[tokio::test]
    async fn splice_delivers_what_the_backend_sent_before_closing() {
        let (client, client_far) = tokio::io::duplex(64 * 1024);
        let (backend, mut kubelet) = tokio::io::duplex(64 * 1024);
        let spliced = tokio::spawn(splice(client_far, backend));
        let (mut client_r, mut client_w) = tokio::io::split(client);
        let sender =
            tokio::spawn(async move { while client_w.write_all(&[7u8; 4096]).await.is_ok() {} });
        let payload: Vec<u8> = (0..3 << 20).map(|i| (i % 251) as u8).collect();
        let want = payload.clone();
        tokio::spawn(async move {
            let mut sink = [0u8; 4096];
            // Take a little of the client's data, so that writes to us are in flight.
            let _ = kubelet.read(&mut sink).await;
            kubelet.write_all(&payload).await.unwrap();
            drop(kubelet);
        });
        let mut got = Vec::new();
        client_r.read_to_end(&mut got).await.unwrap();
        assert_eq!(got.len(), want.len());
        assert!(got == want);
        sender.abort();
        drop(client_r);
        let _ = spliced.await;
    }

    fn pod() -> Value {
        json!({
            "spec": {
                "nodeName": "n1",
                "initContainers": [{"name": "init"}],
                "containers": [{"name": "a"}, {"name": "b"}],
            },
            "status": {
                "containerStatuses": [
                    {"name": "a", "state": {"running": {}}, "lastState": {}},
                    {"name": "b", "state": {"waiting": {"reason": "ImagePullBackOff"}}, "lastState": {}},
                ]
            }
        })
    }

    #[test]
    fn container_choice_in_upstream_words() {
        let p = pod();
        assert_eq!(
            pick_container(&p, "web", None).unwrap_err().message,
            "a container name must be specified for pod web, choose one of: [init a b]"
        );
        assert_eq!(
            pick_container(&p, "web", Some("y")).unwrap_err().message,
            "container y is not valid for pod web"
        );
        assert_eq!(pick_container(&p, "web", Some("init")).unwrap(), "init");
        let one = json!({"spec": {"containers": [{"name": "only"}]}});
        assert_eq!(pick_container(&one, "x", None).unwrap(), "only");
    }

    #[test]
    fn waiting_containers_have_no_log() {
        let p = pod();
        assert_eq!(not_started(&p, "web", "a", false), None);
        assert_eq!(
            not_started(&p, "web", "b", false).unwrap(),
            "container \"b\" in pod \"web\" is waiting to start: ImagePullBackOff"
        );
        assert_eq!(
            not_started(&p, "web", "init", false).unwrap(),
            "container \"init\" in pod \"web\" is waiting to start: ContainerCreating"
        );
        assert_eq!(
            not_started(&p, "web", "a", true).unwrap(),
            "previous terminated container \"a\" in pod \"web\" not found"
        );
    }

    #[test]
    fn kubelet_address_from_node_status() {
        let node = json!({"status": {
            "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "192.0.2.7"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10251}},
        }});
        assert_eq!(
            kubelet_address(&node, None).unwrap(),
            "192.0.2.7:10251".parse().unwrap()
        );
        assert_eq!(
            kubelet_address(&node, Some(1)).unwrap(),
            "192.0.2.7:1".parse().unwrap()
        );
        let no_port = json!({"status": {"addresses": [{"type": "ExternalIP", "address": "::1"}]}});
        assert_eq!(
            kubelet_address(&no_port, None).unwrap(),
            "[::1]:10250".parse().unwrap()
        );
        assert!(kubelet_address(&json!({}), None).is_none());
    }
}
