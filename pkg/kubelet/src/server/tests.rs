//! The kubelet API served for real (TLS, client certificates, HTTP upgrades) with a fake
//! PodLookup and the real runtime: authentication, logs from a CRI file, WebSocket exec's error
//! channel, and WebSocket port-forward to a TCP server on this host (a hostNetwork sandbox).

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper::{header, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rkube_pki::{ClusterPki, San, ServingSans};
use rustls_pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::{
    tungstenite::{protocol::Role, Message},
    WebSocketStream,
};

use super::{ContainerRef, KubeletServer, Lookup, PodLookup, StreamingConfig};

const DEADLINE: Duration = Duration::from_secs(20);

struct FakePods {
    log: PathBuf,
}

impl PodLookup for FakePods {
    fn lookup(&self, namespace: &str, pod: &str, container: Option<&str>) -> Lookup {
        if namespace != "default" {
            return Lookup::PodNotFound;
        }
        let sandbox = rkube_runtime::Sandbox {
            id: "uid-1".into(),
            netns: None,
            ipc_ns: PathBuf::from("/proc/self/ns/ipc"),
            uts_ns: None,
            hosts_file: PathBuf::from("/etc/hosts"),
            resolv_conf: PathBuf::from("/etc/resolv.conf"),
        };
        match (pod, container) {
            ("web", None | Some("c")) => Lookup::Found(ContainerRef {
                container_id: Some("no-such-container".into()),
                sandbox: Some(sandbox),
                log_path: Some(self.log.clone()),
                previous_log_path: None,
                running: true,
            }),
            ("web", Some("waiting")) => Lookup::Found(ContainerRef {
                container_id: None,
                sandbox: Some(sandbox),
                log_path: None,
                previous_log_path: None,
                running: false,
            }),
            ("web", Some(_)) => Lookup::ContainerNotFound {
                valid: vec!["c".into(), "waiting".into()],
            },
            _ => Lookup::PodNotFound,
        }
    }
}

struct Harness {
    addr: SocketAddr,
    ca_pem: String,
    /// (cert, key) of the API server's identity and of a node's.
    apiserver: (String, String),
    node: (String, String),
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<crate::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Harness {
        Self::start_with_idle_timeout(Duration::from_secs(60)).await
    }

    async fn start_with_idle_timeout(idle_timeout: Duration) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let sans = ServingSans {
            hostname: "node-a".into(),
            ips: vec!["127.0.0.1".parse().unwrap()],
            dns: vec![],
            extra: vec![],
        };
        let pki = ClusterPki::load_or_create(&dir.path().join("tls"), &sans).unwrap();
        let (serving_cert, serving_key) = pki
            .issue_serving_cert("node-a", &[San::parse("127.0.0.1").unwrap()])
            .unwrap();
        let node = pki
            .issue_client_cert("system:node:node-a", &["system:nodes"], 1)
            .unwrap();
        let apiserver = (
            pki.kubelet_client_cert_pem().to_string(),
            pki.kubelet_client_key_pem().to_string(),
        );
        let log = dir.path().join("c.log");
        std::fs::write(
            &log,
            "2024-01-01T00:00:00.000000000Z stdout F hello\n\
             2024-01-01T00:00:01.000000000Z stderr F world\n",
        )
        .unwrap();
        let runtime = rkube_runtime::Runtime::new(rkube_runtime::RuntimeConfig {
            root: dir.path().join("containers"),
            helper_exe: PathBuf::from("/nonexistent/rkube"),
            cgroup_parent: "/rkube-kubelet-api-test".into(),
        })
        .unwrap();
        let cfg = StreamingConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            serving_cert_pem: serving_cert,
            serving_key_pem: serving_key,
            client_ca_pem: pki.ca_cert_pem().to_string(),
            idle_timeout,
        };
        let server = KubeletServer::bind(cfg, runtime, Arc::new(FakePods { log }))
            .await
            .unwrap();
        let addr = server.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(server.serve(async {
            let _ = stopped.await;
        }));
        Harness {
            addr,
            ca_pem: pki.ca_cert_pem().to_string(),
            apiserver,
            node,
            stop: Some(stop),
            served,
            _dir: dir,
        }
    }

    /// An HTTP/1.1 connection presenting `identity` (or no certificate).
    async fn connect(
        &self,
        identity: Option<&(String, String)>,
    ) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(self.ca_pem.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
        let cfg = match identity {
            Some((cert, key)) => builder
                .with_client_auth_cert(
                    CertificateDer::pem_slice_iter(cert.as_bytes())
                        .collect::<Result<Vec<_>, _>>()
                        .unwrap(),
                    PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
                )
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        let tcp = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
            .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
            .await
            .unwrap();
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(conn.with_upgrades());
        sender
    }

    async fn get(&self, identity: Option<&(String, String)>, path: &str) -> (StatusCode, String) {
        let mut s = self.connect(identity).await;
        let resp = s
            .send_request(Request::get(path).body(Empty::new()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// Opens a WebSocket on `path` offering `protocol`; returns it and the chosen protocol.
    async fn websocket(
        &self,
        path: &str,
        protocol: &str,
    ) -> (WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>, String) {
        let mut s = self.connect(Some(&self.apiserver)).await;
        let req = Request::get(path)
            .header(header::HOST, self.addr.to_string())
            .header(header::CONNECTION, "Upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_VERSION, "13")
            .header(header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
            .header(header::SEC_WEBSOCKET_PROTOCOL, protocol)
            .body(Empty::new())
            .unwrap();
        let resp = s.send_request(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(
            resp.headers()[header::SEC_WEBSOCKET_ACCEPT],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        let chosen = resp.headers()[header::SEC_WEBSOCKET_PROTOCOL]
            .to_str()
            .unwrap()
            .to_string();
        let upgraded = hyper::upgrade::on(resp).await.unwrap();
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Client, None).await;
        (ws, chosen)
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(DEADLINE, &mut self.served)
            .await
            .expect("the server stops")
            .unwrap()
            .unwrap();
    }
}

async fn next_binary<S>(ws: &mut WebSocketStream<S>) -> Vec<u8>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let msg = tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("a message before the deadline")
            .expect("the stream is open")
            .unwrap();
        match msg {
            Message::Binary(b) => return b.to_vec(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected message {other:?}"),
        }
    }
}

#[tokio::test]
async fn only_the_api_server_identity_gets_in() {
    let h = Harness::start().await;
    assert_eq!(
        h.get(None, "/healthz").await,
        (StatusCode::UNAUTHORIZED, "Unauthorized".into())
    );
    let (code, body) = h.get(Some(&h.node), "/containerLogs/default/web/c").await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        "Forbidden (user=system:node:node-a, verb=get, resource=nodes, subresource(s)=[log])"
    );
    assert_eq!(
        h.get(Some(&h.apiserver), "/healthz").await,
        (StatusCode::OK, "ok".into())
    );
    assert_eq!(
        h.get(Some(&h.apiserver), "/nope").await.0,
        StatusCode::NOT_FOUND
    );
    h.stop().await;
}

#[tokio::test]
async fn logs_come_from_the_cri_file() {
    let h = Harness::start().await;
    let me = Some(&h.apiserver);
    assert_eq!(
        h.get(me, "/containerLogs/default/web/c").await,
        (StatusCode::OK, "hello\nworld\n".into())
    );
    assert_eq!(
        h.get(
            me,
            "/containerLogs/default/web/c?timestamps=true&tailLines=1"
        )
        .await,
        (StatusCode::OK, "2024-01-01T00:00:01Z world\n".into())
    );
    assert_eq!(
        h.get(me, "/containerLogs/default/web/waiting").await,
        (
            StatusCode::BAD_REQUEST,
            "container \"waiting\" in pod \"web\" is waiting to start: ContainerCreating".into()
        )
    );
    assert_eq!(
        h.get(me, "/containerLogs/default/nope/c").await,
        (StatusCode::NOT_FOUND, "pod \"nope\" not found".into())
    );
    assert_eq!(
        h.get(me, "/containerLogs/default/web/c?previous=true")
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    h.stop().await;
}

#[tokio::test]
async fn websocket_exec_reports_on_the_error_channel() {
    let h = Harness::start().await;
    let (code, body) = h
        .get(
            Some(&h.apiserver),
            "/exec/default/web/c?command=true&stdout=1",
        )
        .await;
    assert_eq!(
        (code, body.as_str()),
        (StatusCode::BAD_REQUEST, "Upgrade request required")
    );
    let (mut ws, protocol) = h
        .websocket(
            "/exec/default/web/c?command=sh&command=-c&command=exit+3&stdin=1&stdout=1&stderr=1",
            "v5.channel.k8s.io, v4.channel.k8s.io",
        )
        .await;
    assert_eq!(protocol, "v5.channel.k8s.io");
    // The "connected" signal: an empty message on stdout.
    assert_eq!(next_binary(&mut ws).await, [1]);
    // The container does not exist in this runtime: a Failure Status, then the close.
    let err = next_binary(&mut ws).await;
    assert_eq!(err[0], 3);
    let status: serde_json::Value = serde_json::from_slice(&err[1..]).unwrap();
    assert_eq!(status["status"], "Failure", "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("no-such-container"),
        "{status}"
    );
    let end = tokio::time::timeout(DEADLINE, ws.next()).await.unwrap();
    assert!(
        matches!(end, None | Some(Ok(Message::Close(_))) | Some(Err(_))),
        "{end:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn websocket_port_forward_relays_a_tcp_connection() {
    let h = Harness::start().await;
    // A hostNetwork sandbox: the runtime dials 127.0.0.1:<port> on this host.
    let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = echo.local_addr().unwrap().port();
    let echo_task = tokio::spawn(async move {
        let (mut c, _) = echo.accept().await.unwrap();
        let mut buf = [0u8; 64];
        loop {
            let n = c.read(&mut buf).await.unwrap();
            if n == 0 {
                return;
            }
            c.write_all(&buf[..n]).await.unwrap();
        }
    });
    let (mut ws, protocol) = h
        .websocket(
            &format!("/portForward/default/web?ports={port}"),
            "portforward.k8s.io",
        )
        .await;
    assert_eq!(protocol, "portforward.k8s.io");
    let le = port.to_le_bytes();
    assert_eq!(next_binary(&mut ws).await, [0, le[0], le[1]]);
    assert_eq!(next_binary(&mut ws).await, [1, le[0], le[1]]);
    ws.send(Message::binary(b"\x00ping".to_vec()))
        .await
        .unwrap();
    let mut got = Vec::new();
    while got.len() < 4 {
        let m = next_binary(&mut ws).await;
        assert_eq!(m[0], 0);
        got.extend_from_slice(&m[1..]);
    }
    assert_eq!(got, b"ping");
    ws.close(None).await.unwrap();
    tokio::time::timeout(DEADLINE, echo_task)
        .await
        .expect("the pod-side connection closes with the WebSocket")
        .unwrap();
    h.stop().await;
}

#[tokio::test]
async fn idle_streams_are_closed() {
    let h = Harness::start_with_idle_timeout(Duration::from_millis(300)).await;
    let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = echo.local_addr().unwrap().port();
    let (mut ws, _) = h
        .websocket(
            &format!("/portForward/default/web?ports={port}"),
            "portforward.k8s.io",
        )
        .await;
    let (_conn, _) = echo.accept().await.unwrap();
    next_binary(&mut ws).await;
    next_binary(&mut ws).await;
    // Nothing flows either way: the kubelet ends the stream.
    loop {
        match tokio::time::timeout(DEADLINE, ws.next())
            .await
            .expect("the idle stream is closed before the deadline")
        {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
            Some(Ok(_)) => continue,
        }
    }
    h.stop().await;
}
