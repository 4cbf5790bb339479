//! port-forward over SPDY/3.1 (`portforward.k8s.io`): per forwarded connection the client opens an
//! error stream and a data stream carrying `port` and `requestID` headers; data is relayed to the
//! port inside the pod's network namespace. Also used for the WebSocket tunnel
//! (`SPDY/3.1+portforward.k8s.io`, kubectl 1.31+), where `io` is the WebSocket as a byte stream.

use std::{collections::HashMap, future::Future, sync::Arc, time::Duration};

use rkube_spdy::{rst, Connection, Headers, Stream};
use tokio::{
    io::{AsyncRead, AsyncWrite, AsyncWriteExt},
    net::TcpStream,
    task::JoinSet,
    time::Instant,
};
use tracing::debug;

/// How long the second stream of a pair may take (upstream's streamCreationTimeout).
const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);
/// Once one direction of a forwarded connection ends, how long the other gets to finish
/// (containerd's port-forward waits the same second).
const CLOSE_GRACE: Duration = Duration::from_secs(1);

pub(crate) async fn serve_port_forward<T>(
    io: T,
    runtime: rkube_runtime::Runtime,
    sandbox: rkube_runtime::Sandbox,
) -> crate::Result<()>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    // Upstream names the pod by its sandbox id here, with an empty uid.
    let pod = sandbox.id.clone();
    let dialer = SandboxDialer { runtime, sandbox };
    serve(io, Arc::new(dialer), pod, STREAM_CREATION_TIMEOUT).await
}

/// Connects to a port inside the pod (tests dial a local listener instead).
pub(crate) trait Dialer: Send + Sync + 'static {
    fn dial(&self, port: u16) -> impl Future<Output = rkube_runtime::Result<TcpStream>> + Send;
}

struct SandboxDialer {
    runtime: rkube_runtime::Runtime,
    sandbox: rkube_runtime::Sandbox,
}

impl Dialer for SandboxDialer {
    fn dial(&self, port: u16) -> impl Future<Output = rkube_runtime::Result<TcpStream>> + Send {
        self.runtime.dial(&self.sandbox, port)
    }
}

/// The two streams of one forwarded connection, as they arrive.
struct Pair {
    port: u16,
    data: Option<Stream>,
    error: Option<Stream>,
    deadline: Instant,
}

pub(crate) async fn serve<T, D: Dialer>(
    io: T,
    dialer: Arc<D>,
    pod: String,
    creation_timeout: Duration,
) -> crate::Result<()>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (conn, mut incoming) = Connection::server(io);
    let mut pending: HashMap<String, Pair> = HashMap::new();
    let mut forwards = JoinSet::new();
    loop {
        let next_deadline = pending.values().map(|p| p.deadline).min();
        tokio::select! {
            stream = incoming.accept() => {
                let Some(stream) = stream else { break };
                let Some((request_id, port, kind)) = classify(&stream) else {
                    stream.reset(rst::CANCEL);
                    continue;
                };
                if stream.reply(Headers::new()).is_err() {
                    continue;
                }
                let pair = pending.entry(request_id.clone()).or_insert_with(|| Pair {
                    port,
                    data: None,
                    error: None,
                    deadline: Instant::now() + creation_timeout,
                });
                let slot = if kind == Kind::Data { &mut pair.data } else { &mut pair.error };
                if slot.is_some() {
                    debug!(request_id, ?kind, "port-forward: duplicate stream");
                    stream.reset(rst::CANCEL);
                    continue;
                }
                *slot = Some(stream);
                if pair.data.is_some() && pair.error.is_some() {
                    let Some(Pair { port, data: Some(data), error: Some(error), .. }) =
                        pending.remove(&request_id)
                    else {
                        continue;
                    };
                    let (dialer, pod) = (dialer.clone(), pod.clone());
                    forwards.spawn(forward(dialer, pod, port, data, error));
                }
            }
            () = sleep_until(next_deadline) => {
                let now = Instant::now();
                let expired: Vec<String> =
                    pending.iter().filter(|(_, p)| p.deadline <= now).map(|(k, _)| k.clone()).collect();
                for request_id in expired {
                    let Some(pair) = pending.remove(&request_id) else { continue };
                    debug!(request_id, "port-forward: timed out waiting for streams");
                    if let Some(mut error) = pair.error {
                        let msg = format!("(request={request_id}) timed out waiting for streams");
                        let _ = error.write_all(msg.as_bytes()).await;
                    }
                }
            }
            Some(_) = forwards.join_next(), if !forwards.is_empty() => {}
        }
    }
    // The client closed the connection: whatever is still being forwarded has nowhere to go.
    forwards.shutdown().await;
    drop(pending);
    conn.close().await;
    Ok(())
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Data,
    Error,
}

/// The stream's (requestID, port, type), or `None` when upstream would reject it.
fn classify(stream: &Stream) -> Option<(String, u16, Kind)> {
    let h = stream.headers();
    let port = match h.get("port").map(str::parse::<u16>) {
        Some(Ok(p)) if p > 0 => p,
        other => {
            debug!(port = ?other, "port-forward: stream without a valid port header");
            return None;
        }
    };
    let kind = match h.get("streamType") {
        Some("data") => Kind::Data,
        Some("error") => Kind::Error,
        other => {
            debug!(stream_type = ?other, "port-forward: invalid stream type");
            return None;
        }
    };
    let request_id = match h.get("requestID") {
        Some(id) if !id.is_empty() => id.to_string(),
        // Clients before requestID: the error stream comes first, data right after it.
        _ => match kind {
            Kind::Error => stream.id().to_string(),
            Kind::Data => stream.id().saturating_sub(2).to_string(),
        },
    };
    Some((request_id, port, kind))
}

/// Read size of the relay between a forwarded connection and its data stream.
const COPY_BUFFER: usize = 128 * 1024;

/// One forwarded connection: dial, relay both ways, report a dial failure on the error stream.
/// Both streams are half-closed when it returns (dropping them sends FIN).
async fn forward<D: Dialer>(
    dialer: Arc<D>,
    pod: String,
    port: u16,
    data: Stream,
    mut error: Stream,
) {
    let tcp = match dialer.dial(port).await {
        Ok(tcp) => tcp,
        Err(e) => {
            let msg = format!("error forwarding port {port} to pod {pod}, uid : {e}");
            debug!(port, error = %e, "port-forward: dial failed");
            let _ = error.write_all(msg.as_bytes()).await;
            return;
        }
    };
    let _ = tcp.set_nodelay(true);
    let (tcp_r, mut tcp_w) = tcp.into_split();
    let (from_client, mut to_client) = data.split();
    // Bigger reads than io::copy's 8 KiB: fewer, larger DATA frames and syscalls.
    let mut tcp_r = tokio::io::BufReader::with_capacity(COPY_BUFFER, tcp_r);
    let mut from_client = tokio::io::BufReader::with_capacity(COPY_BUFFER, from_client);
    let up = async {
        let _ = tokio::io::copy_buf(&mut from_client, &mut tcp_w).await;
        let _ = tcp_w.shutdown().await;
    };
    let down = async {
        let _ = tokio::io::copy_buf(&mut tcp_r, &mut to_client).await;
        to_client.close_write();
    };
    tokio::pin!(up, down);
    tokio::select! {
        () = &mut up => { let _ = tokio::time::timeout(CLOSE_GRACE, &mut down).await; }
        () = &mut down => { let _ = tokio::time::timeout(CLOSE_GRACE, &mut up).await; }
    }
}

#[cfg(test)]
pub(crate) mod test_dial {
    /// Dials 127.0.0.1 instead of the pod's loopback.
    pub(crate) struct LocalDialer;

    impl super::Dialer for LocalDialer {
        async fn dial(&self, port: u16) -> rkube_runtime::Result<tokio::net::TcpStream> {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .map_err(|e| {
                    rkube_runtime::Error::Other(format!(
                        "failed to connect to localhost:{port} inside the pod: {e}"
                    ))
                })
        }
    }

    /// A TCP echo server on an ephemeral port; returns the port.
    pub(crate) async fn echo_server() -> u16 {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.into_split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        port
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    async fn within<T>(f: impl Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(30), f)
            .await
            .expect("timed out")
    }

    /// Opens one forwarded connection's streams as client-go's portforward does: the error
    /// stream (half-closed at once), then the data stream.
    async fn open_pair(client: &Connection, port: u16, request_id: usize) -> (Stream, Stream) {
        let mut h = Headers::new();
        h.set("streamType", "error")
            .set("port", port.to_string())
            .set("requestID", request_id.to_string());
        let mut error = client.open_stream(h.clone(), false).unwrap();
        error.wait_reply().await.unwrap();
        error.close_write();
        h.set("streamType", "data");
        let mut data = client.open_stream(h, false).unwrap();
        data.wait_reply().await.unwrap();
        (error, data)
    }

    #[tokio::test]
    async fn twenty_parallel_connections_relay_both_ways() {
        within(async {
            let port = test_dial::echo_server().await;
            let (a, b) = tokio::io::duplex(64 * 1024);
            let server = tokio::spawn(serve(
                b,
                Arc::new(test_dial::LocalDialer),
                "sandbox-1".into(),
                STREAM_CREATION_TIMEOUT,
            ));
            let (client, _ci) = Connection::client(a);
            let mut tasks = Vec::new();
            for i in 0..20 {
                let (mut error, data) = open_pair(&client, port, i).await;
                tasks.push(tokio::spawn(async move {
                    let payload: Vec<u8> = (0..200_000 + i).map(|j| (j % 251) as u8).collect();
                    let (mut r, mut w) = data.split();
                    let sent = payload.clone();
                    let writer = tokio::spawn(async move {
                        w.write_all(&sent).await.unwrap();
                        w.close_write();
                    });
                    let mut back = Vec::new();
                    r.read_to_end(&mut back).await.unwrap();
                    writer.await.unwrap();
                    assert!(back == payload, "connection {i} echoed different bytes");
                    let mut err = String::new();
                    error.read_to_string(&mut err).await.unwrap();
                    assert_eq!(err, "");
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            client.close().await;
            server.await.unwrap().unwrap();
        })
        .await
    }

    #[tokio::test]
    async fn dial_errors_go_on_the_error_stream() {
        within(async {
            // A port nothing listens on: bind, note it, close.
            let port = {
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                l.local_addr().unwrap().port()
            };
            let (a, b) = tokio::io::duplex(64 * 1024);
            tokio::spawn(serve(
                b,
                Arc::new(test_dial::LocalDialer),
                "sandbox-1".into(),
                STREAM_CREATION_TIMEOUT,
            ));
            let (client, _ci) = Connection::client(a);
            let (mut error, mut data) = open_pair(&client, port, 0).await;
            let mut err = String::new();
            error.read_to_string(&mut err).await.unwrap();
            assert!(
                err.starts_with(&format!(
                    "error forwarding port {port} to pod sandbox-1, uid : "
                )),
                "{err}"
            );
            let mut rest = Vec::new();
            data.read_to_end(&mut rest).await.unwrap();
            assert!(rest.is_empty());

            // A stream without a port is refused.
            let mut h = Headers::new();
            h.set("streamType", "data");
            let mut bad = client.open_stream(h, false).unwrap();
            assert!(bad.wait_reply().await.is_err());
        })
        .await
    }

    #[tokio::test]
    async fn pairs_by_stream_id_without_request_ids_and_times_out_lone_streams() {
        within(async {
            let port = test_dial::echo_server().await;
            let (a, b) = tokio::io::duplex(64 * 1024);
            tokio::spawn(serve(
                b,
                Arc::new(test_dial::LocalDialer),
                "sandbox-1".into(),
                Duration::from_millis(300),
            ));
            let (client, _ci) = Connection::client(a);
            let mut h = Headers::new();
            h.set("streamType", "error").set("port", port.to_string());
            let mut error = client.open_stream(h.clone(), true).unwrap();
            error.wait_reply().await.unwrap();
            h.set("streamType", "data");
            let mut data = client.open_stream(h.clone(), false).unwrap();
            data.wait_reply().await.unwrap();
            data.write_all(b"ping").await.unwrap();
            let mut buf = [0u8; 4];
            data.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"ping");

            // An error stream whose data stream never comes.
            h.set("streamType", "error").set("requestID", "lonely");
            let mut lone = client.open_stream(h, true).unwrap();
            lone.wait_reply().await.unwrap();
            let mut msg = String::new();
            lone.read_to_string(&mut msg).await.unwrap();
            assert!(msg.contains("timed out waiting for streams"), "{msg}");
        })
        .await
    }
}
