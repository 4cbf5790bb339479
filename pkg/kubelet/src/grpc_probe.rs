//! The one gRPC call a grpc probe makes: grpc.health.v1.Health/Check over HTTP/2 (prior
//! knowledge, no TLS, as upstream), hand-encoded since both messages have one field.

use bytes::{Buf, Bytes};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};

/// HealthCheckResponse.ServingStatus.SERVING.
const SERVING: u64 = 1;

/// Ok when the server answers SERVING for `service`; Err in upstream's probe wording.
pub async fn check<S>(io: S, authority: &str, service: &str) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .map_err(|e| format!("failed to connect service {authority:?} within 1s: {e}"))?;
    let driver = tokio::spawn(conn);
    let req = hyper::Request::post(format!("http://{authority}/grpc.health.v1.Health/Check"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("user-agent", "kube-probe/1.33")
        .body(Full::new(frame(&request(service))))
        .map_err(|e| e.to_string())?;
    let result = async {
        let resp = send.send_request(req).await.map_err(|e| e.to_string())?;
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?;
        let trailers = body.trailers().cloned().unwrap_or_default();
        let status = trailers
            .get("grpc-status")
            .or_else(|| headers.get("grpc-status"))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("0")
            .to_string();
        if status != "0" {
            let msg = trailers
                .get("grpc-message")
                .or_else(|| headers.get("grpc-message"))
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            return Err(format!(
                "health rpc probe failed: rpc error: code = {} desc = {msg}",
                code_name(&status)
            ));
        }
        let msg = unframe(body.to_bytes()).ok_or("malformed gRPC response")?;
        match serving_status(&msg) {
            Some(SERVING) => Ok(()),
            s => Err(format!(
                "service unhealthy (responded with {:?})",
                status_name(s.unwrap_or(0))
            )),
        }
    }
    .await;
    driver.abort();
    result
}

fn code_name(code: &str) -> &str {
    match code {
        "5" => "NotFound",
        "12" => "Unimplemented",
        "14" => "Unavailable",
        "4" => "DeadlineExceeded",
        _ => "Unknown",
    }
}

fn status_name(s: u64) -> &'static str {
    match s {
        1 => "SERVING",
        2 => "NOT_SERVING",
        3 => "SERVICE_UNKNOWN",
        _ => "UNKNOWN",
    }
}

/// HealthCheckRequest{service = 1: string}.
pub fn request(service: &str) -> Vec<u8> {
    if service.is_empty() {
        return Vec::new();
    }
    let mut out = vec![0x0a];
    varint(service.len() as u64, &mut out);
    out.extend_from_slice(service.as_bytes());
    out
}

/// A gRPC length-prefixed message (uncompressed).
pub fn frame(msg: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(5 + msg.len());
    out.push(0);
    out.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    out.extend_from_slice(msg);
    out.into()
}

pub fn unframe(mut b: Bytes) -> Option<Bytes> {
    if b.len() < 5 || b[0] != 0 {
        return None;
    }
    b.advance(1);
    let len = b.get_u32() as usize;
    (b.len() >= len).then(|| b.slice(..len))
}

/// HealthCheckResponse{status = 1: enum}; an empty message is status 0 (UNKNOWN).
pub fn serving_status(msg: &[u8]) -> Option<u64> {
    let mut i = 0;
    let mut status = 0;
    while i < msg.len() {
        let (key, n) = read_varint(&msg[i..])?;
        i += n;
        match key & 7 {
            0 => {
                let (v, n) = read_varint(&msg[i..])?;
                i += n;
                if key >> 3 == 1 {
                    status = v;
                }
            }
            2 => {
                let (len, n) = read_varint(&msg[i..])?;
                i += n + len as usize;
            }
            _ => return None,
        }
    }
    Some(status)
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn read_varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use hyper::{body::Incoming, service::service_fn, Request, Response};

    use super::*;

    /// A grpc.health.v1 server on HTTP/2: SERVING for "", NOT_SERVING for "db", NotFound else.
    async fn server() -> std::net::SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (s, _) = l.accept().await.unwrap();
                tokio::spawn(async move {
                    let svc = service_fn(|req: Request<Incoming>| async move {
                        assert_eq!(req.uri().path(), "/grpc.health.v1.Health/Check");
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let msg = unframe(body).unwrap();
                        let service = if msg.is_empty() {
                            String::new()
                        } else {
                            String::from_utf8(msg[2..].to_vec()).unwrap()
                        };
                        let mut trailers = hyper::HeaderMap::new();
                        let payload = match service.as_str() {
                            "" => frame(&[0x08, 0x01]),
                            "db" => frame(&[0x08, 0x02]),
                            _ => Bytes::new(),
                        };
                        let code = if service.is_empty() || service == "db" {
                            "0"
                        } else {
                            "5"
                        };
                        trailers.insert("grpc-status", code.parse().unwrap());
                        let body = http_body_util::StreamBody::new(futures_util::stream::iter([
                            Ok::<_, Infallible>(hyper::body::Frame::data(payload)),
                            Ok(hyper::body::Frame::trailers(trailers)),
                        ]));
                        Ok::<_, Infallible>(
                            Response::builder()
                                .header("content-type", "application/grpc")
                                .body(body)
                                .unwrap(),
                        )
                    });
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(s), svc)
                        .await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn health_check_over_h2() {
        let addr = server().await;
        let dial = || tokio::net::TcpStream::connect(addr);
        assert_eq!(check(dial().await.unwrap(), "localhost", "").await, Ok(()));
        let e = check(dial().await.unwrap(), "localhost", "db")
            .await
            .unwrap_err();
        assert!(e.contains("NOT_SERVING"), "{e}");
        let e = check(dial().await.unwrap(), "localhost", "nope")
            .await
            .unwrap_err();
        assert!(e.contains("NotFound"), "{e}");
    }

    #[test]
    fn messages() {
        assert_eq!(request("db"), [0x0a, 2, b'd', b'b']);
        assert_eq!(serving_status(&[0x08, 0x01]), Some(1));
        assert_eq!(serving_status(&[]), Some(0));
        assert_eq!(unframe(frame(&[1, 2])).unwrap().as_ref(), &[1, 2]);
    }
}
