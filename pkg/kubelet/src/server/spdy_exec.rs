//! exec over SPDY/3.1 (kubectl before 1.30, and the fallback of newer ones): the client opens
//! streams typed by the `streamType` header (error, stdin, stdout, stderr, resize); the exit status
//! goes on the error stream as a metav1 Status (v4.channel.k8s.io and later).

use std::{future::Future, time::Duration};

use rkube_spdy::{Connection, Headers, Incoming, Stream};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::debug;

use super::{
    exec_request::ExecRequest,
    exec_status::{ExecOutcome, KillOnDrop},
    exec_ws::parse_sizes,
};

/// How long the client has to open the streams it asked for (upstream's streamCreationTimeout).
const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves one exec over an upgraded connection; `protocol` is the negotiated
/// X-Stream-Protocol-Version (v4.channel.k8s.io .. channel.k8s.io).
pub(crate) async fn serve_exec<T>(
    io: T,
    protocol: &str,
    runtime: rkube_runtime::Runtime,
    request: ExecRequest,
) -> crate::Result<()>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    serve(io, protocol, &runtime, request, STREAM_CREATION_TIMEOUT).await
}

/// What exec needs of the runtime (tests run a local process instead of a container).
pub(crate) trait Execer: Send + Sync {
    fn exec(
        &self,
        container_id: &str,
        spec: rkube_runtime::ExecSpec,
    ) -> impl Future<Output = rkube_runtime::Result<rkube_runtime::ExecProcess>> + Send;

    /// The container's own stdio (`kubectl attach`); `stdin`: the client sends stdin.
    fn attach(
        &self,
        container_id: &str,
        stdin: bool,
    ) -> impl Future<Output = rkube_runtime::Result<rkube_runtime::ExecProcess>> + Send;
}

impl Execer for rkube_runtime::Runtime {
    fn exec(
        &self,
        container_id: &str,
        spec: rkube_runtime::ExecSpec,
    ) -> impl Future<Output = rkube_runtime::Result<rkube_runtime::ExecProcess>> + Send {
        rkube_runtime::Runtime::exec(self, container_id, spec)
    }

    fn attach(
        &self,
        container_id: &str,
        stdin: bool,
    ) -> impl Future<Output = rkube_runtime::Result<rkube_runtime::ExecProcess>> + Send {
        rkube_runtime::Runtime::attach_with(self, container_id, stdin)
    }
}

/// The streams of one exec, by `streamType`.
#[derive(Default)]
struct ExecStreams {
    error: Option<Stream>,
    stdin: Option<Stream>,
    stdout: Option<Stream>,
    stderr: Option<Stream>,
    resize: Option<Stream>,
}

pub(crate) async fn serve<T, E>(
    io: T,
    protocol: &str,
    execer: &E,
    req: ExecRequest,
    creation_timeout: Duration,
) -> crate::Result<()>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    E: Execer,
{
    let (conn, mut incoming) = Connection::server(io);
    let mut streams = match collect_streams(&mut incoming, &req, protocol, creation_timeout).await {
        Ok(s) => s,
        Err(e) => {
            conn.close().await;
            return Err(e);
        }
    };
    let mut error = streams.error.take();
    let outcome = tokio::select! {
        outcome = run(execer, &req, streams) => Some(outcome),
        () = refuse_more(&mut incoming) => None,
    };
    match outcome {
        Some(outcome) => {
            debug!(container = %req.container_id, ?outcome, "exec over SPDY finished");
            // v1 (channel.k8s.io) .. v3 carry the error text alone; v4 a metav1 Status.
            let status_errors = protocol.starts_with("v4.") || protocol.starts_with("v5.");
            if let (Some(bytes), Some(s)) = (outcome.error_channel_bytes(status_errors), &mut error)
            {
                let _ = s.write_all(&bytes).await;
            }
        }
        None => debug!(container = %req.container_id, "exec client went away"),
    }
    drop(error);
    conn.close().await;
    Ok(())
}

/// Replies to each stream as it arrives (kubectl waits for each reply before opening the next)
/// until the set the request asked for is there.
async fn collect_streams(
    incoming: &mut Incoming,
    req: &ExecRequest,
    protocol: &str,
    timeout: Duration,
) -> crate::Result<ExecStreams> {
    let resize_supported = protocol.starts_with("v3.") || protocol.starts_with("v4.");
    let want_stderr = req.stderr && !req.tty;
    let expected = 1
        + usize::from(req.stdin)
        + usize::from(req.stdout)
        + usize::from(want_stderr)
        + usize::from(req.tty && resize_supported);
    let deadline = tokio::time::Instant::now() + timeout;
    let mut streams = ExecStreams::default();
    let mut received = 0;
    while received < expected {
        let stream = match tokio::time::timeout_at(deadline, incoming.accept()).await {
            Ok(Some(s)) => s,
            Ok(None) => {
                return Err(crate::Error::Server(
                    "exec: the client closed the connection before creating its streams".into(),
                ))
            }
            Err(_) => {
                return Err(crate::Error::Server(
                    "exec: timed out waiting for client to create streams".into(),
                ))
            }
        };
        let kind = stream.headers().get("streamType").unwrap_or("").to_string();
        let slot = match kind.as_str() {
            "error" => &mut streams.error,
            "stdin" => &mut streams.stdin,
            "stdout" => &mut streams.stdout,
            "stderr" => &mut streams.stderr,
            "resize" => &mut streams.resize,
            other => {
                debug!(stream_type = other, "exec: unexpected stream type");
                let _ = stream.reply(Headers::new());
                continue;
            }
        };
        stream
            .reply(Headers::new())
            .map_err(|e| crate::Error::Server(format!("exec: replying to a stream: {e}")))?;
        if slot.is_none() {
            received += 1;
        }
        *slot = Some(stream);
    }
    Ok(streams)
}

/// Streams opened after the set is complete are refused; returns when the client goes away.
async fn refuse_more(incoming: &mut Incoming) {
    while let Some(s) = incoming.accept().await {
        debug!(headers = ?s.headers(), "exec: refusing an extra stream");
        s.reset(rkube_spdy::rst::REFUSED_STREAM);
    }
}

async fn run<E: Execer>(execer: &E, req: &ExecRequest, mut streams: ExecStreams) -> ExecOutcome {
    let spec = rkube_runtime::ExecSpec {
        args: req.command.clone(),
        env: Vec::new(),
        tty: req.tty,
        stdin: req.stdin,
    };
    let process = if req.attach {
        execer.attach(&req.container_id, req.stdin).await
    } else {
        execer.exec(&req.container_id, spec).await
    };
    let process = match process {
        Ok(p) => p,
        Err(e) => return ExecOutcome::start_failed(req, e),
    };
    let rkube_runtime::ExecProcess {
        stdin,
        stdout,
        stderr,
        resize,
        exit,
        kill,
    } = process;
    // The serving future is dropped when the client goes away: that ends the process too.
    let _kill = KillOnDrop(kill);
    // Input tasks end on their own when the client half-closes; they are stopped at exit.
    let mut input = tokio::task::JoinSet::new();
    if let (Some(stream), Some(mut to_process)) = (streams.stdin.take(), stdin) {
        input.spawn(async move {
            // Only our read side is used; the stream stays open (kubectl watches for its end).
            let (mut from_client, _keep) = stream.split();
            let _ = tokio::io::copy(&mut from_client, &mut to_process).await;
            // EOF from the client closes the process's stdin.
            let _ = to_process.shutdown().await;
            drop(to_process);
            std::future::pending::<()>().await;
        });
    }
    if let (Some(stream), Some(resize)) = (streams.resize.take(), resize) {
        input.spawn(apply_resizes(stream, resize));
    }
    tokio::join!(
        pump(stdout, streams.stdout.take()),
        pump(stderr, streams.stderr.take()),
    );
    let outcome = match exit.await {
        Ok(info) => ExecOutcome::Exited(info.exit_code),
        Err(_) => ExecOutcome::Failed("the exec'd process's exit status was lost".into()),
    };
    input.shutdown().await;
    outcome
}

/// Copies process output to its stream (or drains it when the client did not ask for it), then
/// half-closes the stream.
async fn pump(from: Option<Box<dyn AsyncRead + Send + Unpin>>, to: Option<Stream>) {
    let Some(mut from) = from else {
        return;
    };
    match to {
        Some(mut to) => {
            if tokio::io::copy(&mut from, &mut to).await.is_err() {
                // The client is gone; keep draining so the process is not blocked on a pipe.
                let _ = tokio::io::copy(&mut from, &mut tokio::io::sink()).await;
            }
            let _ = to.shutdown().await;
        }
        None => {
            let _ = tokio::io::copy(&mut from, &mut tokio::io::sink()).await;
        }
    }
}

/// The resize stream carries JSON `{"Width":..,"Height":..}` objects, one per line.
async fn apply_resizes(mut stream: Stream, resize: rkube_runtime::ResizeFn) {
    let mut pending = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            for size in parse_sizes(&line) {
                if let Err(e) = resize(size.width, size.height) {
                    debug!(error = %e, "exec: resizing the terminal failed");
                }
            }
        }
        if pending.len() > 64 * 1024 {
            pending.clear();
        }
    }
    for size in parse_sizes(&pending) {
        let _ = resize(size.width, size.height);
    }
}

/// A local-process stand-in for the runtime's exec, shared with the port-forward tests' kubectl
/// check: `sh -c` with piped stdio, its exit reported through a thread.
#[cfg(test)]
pub(crate) mod test_exec {
    use std::process::{Command, Stdio};

    use tokio::net::unix::pipe;

    pub(crate) struct LocalExec;

    impl super::Execer for LocalExec {
        async fn exec(
            &self,
            _container_id: &str,
            spec: rkube_runtime::ExecSpec,
        ) -> rkube_runtime::Result<rkube_runtime::ExecProcess> {
            let mut child = Command::new(&spec.args[0])
                .args(&spec.args[1..])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| rkube_runtime::Error::Other(e.to_string()))?;
            let stdin = pipe::Sender::from_owned_fd(child.stdin.take().unwrap().into()).unwrap();
            let stdout =
                pipe::Receiver::from_owned_fd(child.stdout.take().unwrap().into()).unwrap();
            let stderr =
                pipe::Receiver::from_owned_fd(child.stderr.take().unwrap().into()).unwrap();
            let (tx, exit) = tokio::sync::oneshot::channel();
            std::thread::spawn(move || {
                let status = child.wait().unwrap();
                let _ = tx.send(rkube_runtime::ExitInfo {
                    exit_code: status.code().unwrap_or(255),
                    signal: None,
                    oom_killed: false,
                    finished_at: std::time::SystemTime::now(),
                });
            });
            Ok(rkube_runtime::ExecProcess {
                stdin: Some(Box::new(stdin)),
                stdout: Some(Box::new(stdout)),
                stderr: Some(Box::new(stderr)),
                resize: None,
                exit,
                kill: None,
            })
        }

        async fn attach(
            &self,
            container_id: &str,
            _stdin: bool,
        ) -> rkube_runtime::Result<rkube_runtime::ExecProcess> {
            Err(rkube_runtime::Error::NotFound(container_id.into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rkube_spdy::Connection;

    async fn within<T>(f: impl Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(20), f)
            .await
            .expect("timed out")
    }

    fn request(script: &str) -> ExecRequest {
        ExecRequest {
            container_id: "c1".into(),
            command: vec!["sh".into(), "-c".into(), script.into()],
            stdin: true,
            stdout: true,
            stderr: true,
            tty: false,
            attach: false,
        }
    }

    /// Opens the streams in kubectl's order, each after the previous reply, as remotecommand's
    /// v2+ createStreams does.
    async fn open(client: &Connection, kinds: &[&str]) -> Vec<Stream> {
        let mut out = Vec::new();
        for kind in kinds {
            let mut h = Headers::new();
            h.set("streamType", *kind);
            let mut s = client.open_stream(h, false).unwrap();
            s.wait_reply().await.unwrap();
            out.push(s);
        }
        out
    }

    async fn read_all(s: &mut Stream) -> String {
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn v4_exec_relays_stdio_and_reports_the_exit_code() {
        within(async {
            let (a, b) = tokio::io::duplex(64 * 1024);
            let server = tokio::spawn(async move {
                let req = request("cat; echo oops >&2; exit 3");
                serve(
                    b,
                    "v4.channel.k8s.io",
                    &test_exec::LocalExec,
                    req,
                    STREAM_CREATION_TIMEOUT,
                )
                .await
            });
            let (client, _ci) = Connection::client(a);
            let mut s = open(&client, &["error", "stdin", "stdout", "stderr"]).await;
            let (mut stderr, mut stdout, mut stdin, mut error) = (
                s.pop().unwrap(),
                s.pop().unwrap(),
                s.pop().unwrap(),
                s.pop().unwrap(),
            );
            stdin.write_all(b"hello over spdy\n").await.unwrap();
            stdin.shutdown().await.unwrap();
            assert_eq!(read_all(&mut stdout).await, "hello over spdy\n");
            assert_eq!(read_all(&mut stderr).await, "oops\n");
            let status: serde_json::Value =
                serde_json::from_str(&read_all(&mut error).await).unwrap();
            assert_eq!(status["status"], "Failure");
            assert_eq!(status["reason"], "NonZeroExitCode");
            assert_eq!(
                status["details"]["causes"],
                serde_json::json!([{"reason": "ExitCode", "message": "3"}])
            );
            server.await.unwrap().unwrap();
        })
        .await
    }

    #[tokio::test]
    async fn streams_in_any_order_and_old_protocols_get_text() {
        within(async {
            let (a, b) = tokio::io::duplex(64 * 1024);
            let server = tokio::spawn(async move {
                let mut req = request("echo out; exit 2");
                req.stdin = false;
                serve(
                    b,
                    "v2.channel.k8s.io",
                    &test_exec::LocalExec,
                    req,
                    STREAM_CREATION_TIMEOUT,
                )
                .await
            });
            let (client, _ci) = Connection::client(a);
            let mut s = open(&client, &["stderr", "stdout", "error"]).await;
            let (mut error, mut stdout, mut stderr) =
                (s.pop().unwrap(), s.pop().unwrap(), s.pop().unwrap());
            assert_eq!(read_all(&mut stdout).await, "out\n");
            assert_eq!(read_all(&mut stderr).await, "");
            assert_eq!(
                read_all(&mut error).await,
                "command terminated with non-zero exit code: exit status 2"
            );
            server.await.unwrap().unwrap();
        })
        .await
    }

    #[tokio::test]
    async fn success_is_a_status_and_a_missing_stream_times_out() {
        within(async {
            let (a, b) = tokio::io::duplex(64 * 1024);
            let server = tokio::spawn(async move {
                let mut req = request("true");
                req.stdin = false;
                req.stderr = false;
                serve(
                    b,
                    "v4.channel.k8s.io",
                    &test_exec::LocalExec,
                    req,
                    STREAM_CREATION_TIMEOUT,
                )
                .await
            });
            let (client, _ci) = Connection::client(a);
            let mut s = open(&client, &["error", "stdout"]).await;
            let (_stdout, mut error) = (s.pop().unwrap(), s.pop().unwrap());
            let status: serde_json::Value =
                serde_json::from_str(&read_all(&mut error).await).unwrap();
            assert_eq!(status["status"], "Success");
            server.await.unwrap().unwrap();

            // The client never opens stdout: the handler gives up after the creation timeout.
            let (a, b) = tokio::io::duplex(64 * 1024);
            let (client, _ci) = Connection::client(a);
            let req = ExecRequest {
                stdin: false,
                stderr: false,
                ..request("true")
            };
            let (_s, result) = tokio::join!(
                open(&client, &["error"]),
                serve(
                    b,
                    "v4.channel.k8s.io",
                    &test_exec::LocalExec,
                    req,
                    Duration::from_millis(200),
                )
            );
            let err = result.unwrap_err();
            assert!(err.to_string().contains("timed out waiting"), "{err}");
        })
        .await
    }
}

/// Real kubectl 1.27 (SPDY only) against a minimal API server that answers discovery and the pod
/// GET, then hands the upgraded exec / port-forward connection to the handlers above (with a
/// local process and a local echo server standing in for the container).
#[cfg(test)]
mod kubectl_tests {
    use std::{process::Stdio, sync::Arc};

    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::{TcpListener, TcpStream},
    };

    use super::*;
    use crate::server::spdy_portforward::{self, test_dial};

    /// kubectl speaks SPDY for exec up to 1.29 and for port-forward up to 1.30.
    const KUBECTLS: [&str; 2] = [
        "/usr/lib/google-cloud-sdk/bin/kubectl.1.27",
        "/usr/lib/google-cloud-sdk/bin/kubectl.1.29",
    ];

    async fn read_head(s: &mut TcpStream) -> Option<String> {
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if s.read(&mut b).await.ok()? == 0 {
                return None;
            }
            head.push(b[0]);
        }
        Some(String::from_utf8_lossy(&head).into_owned())
    }

    fn query_flag(target: &str, name: &str) -> bool {
        target.contains(&format!("{name}=true")) || target.contains(&format!("{name}=1"))
    }

    async fn respond(s: &mut TcpStream, code: &str, body: &str) {
        let resp = format!(
            "HTTP/1.1 {code}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = s.write_all(resp.as_bytes()).await;
    }

    async fn api_server() -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let Some(head) = read_head(&mut s).await else {
                        return;
                    };
                    let target = head.split(' ').nth(1).unwrap_or("").to_string();
                    let path = target.split('?').next().unwrap_or("").to_string();
                    let versions: Vec<String> = head
                        .lines()
                        .filter(|l| {
                            l.to_ascii_lowercase()
                                .starts_with("x-stream-protocol-version:")
                        })
                        .map(|l| l.split_once(':').unwrap().1.trim().to_string())
                        .collect();
                    match path.as_str() {
                        "/api" => respond(&mut s, "200 OK", r#"{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[]}"#).await,
                        "/apis" => respond(&mut s, "200 OK", r#"{"kind":"APIGroupList","apiVersion":"v1","groups":[]}"#).await,
                        "/api/v1" => respond(&mut s, "200 OK", r#"{"kind":"APIResourceList","groupVersion":"v1","resources":[{"name":"pods","singularName":"pod","namespaced":true,"kind":"Pod","verbs":["get","list"],"shortNames":["po"]},{"name":"pods/exec","singularName":"","namespaced":true,"kind":"PodExecOptions","verbs":["create","get"]},{"name":"pods/portforward","singularName":"","namespaced":true,"kind":"PodPortForwardOptions","verbs":["create","get"]}]}"#).await,
                        "/api/v1/namespaces/default/pods/p1" => respond(&mut s, "200 OK", r#"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p1","namespace":"default","uid":"u1"},"spec":{"containers":[{"name":"c1","image":"busybox"}]},"status":{"phase":"Running"}}"#).await,
                        "/api/v1/namespaces/default/pods/p1/exec" => {
                            let proto = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"]
                                .into_iter()
                                .find(|p| versions.iter().any(|v| v.split(',').any(|x| x.trim() == *p)))
                                .unwrap();
                            let resp = format!("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: {proto}\r\n\r\n");
                            s.write_all(resp.as_bytes()).await.unwrap();
                            let cmd: Vec<String> = target
                                .split(['?', '&'])
                                .filter_map(|kv| kv.strip_prefix("command="))
                                .map(|v| v.replace("%20", " ").replace("%3B", ";").replace("%3E", ">").replace("%26", "&").replace('+', " "))
                                .collect();
                            let req = ExecRequest {
                                container_id: "c1".into(),
                                command: cmd,
                                stdin: query_flag(&target, "stdin"),
                                stdout: query_flag(&target, "stdout"),
                                stderr: query_flag(&target, "stderr"),
                                tty: query_flag(&target, "tty"),
                                attach: false,
                            };
                            serve(s, proto, &test_exec::LocalExec, req, STREAM_CREATION_TIMEOUT).await.unwrap();
                        }
                        "/api/v1/namespaces/default/pods/p1/portforward" => {
                            let resp = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n";
                            s.write_all(resp.as_bytes()).await.unwrap();
                            spdy_portforward::serve(s, Arc::new(test_dial::LocalDialer), "p1-sandbox".into(), STREAM_CREATION_TIMEOUT).await.unwrap();
                        }
                        _ => respond(&mut s, "404 Not Found", r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}"#).await,
                    }
                });
            }
        });
        port
    }

    fn kubeconfig(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
        let path = dir.join("kubeconfig");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: t\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: t\n  context:\n    cluster: t\n    user: u\n    namespace: default\ncurrent-context: t\nusers:\n- name: u\n  user: {{}}\n"
            ),
        )
        .unwrap();
        path
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kubectl_1_27_and_1_29_exec_and_port_forward() {
        for kubectl in KUBECTLS {
            if !std::path::Path::new(kubectl).exists() {
                eprintln!("skipping: {kubectl} is not installed");
                continue;
            }
            exec_and_port_forward(kubectl).await;
        }
    }

    async fn exec_and_port_forward(kubectl_path: &'static str) {
        let dir = tempfile::tempdir().unwrap();
        let echo_port = test_dial::echo_server().await;
        let api = api_server().await;
        let kc = kubeconfig(dir.path(), api);
        let home = dir.path().to_path_buf();
        let kubectl = |args: &[&str]| {
            let mut c = std::process::Command::new(kubectl_path);
            c.arg("--kubeconfig").arg(&kc).args(args).env("HOME", &home);
            c
        };

        // exec: stdin in, stdout and stderr out, the exit code back.
        let mut child = kubectl(&[
            "exec",
            "-i",
            "p1",
            "--",
            "sh",
            "-c",
            "cat; echo to-stderr >&2; exit 3",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"hello from kubectl\n")
            .unwrap();
        let guard = KillOnDrop(child.id());
        let out = tokio::time::timeout(
            Duration::from_secs(60),
            tokio::task::spawn_blocking(move || child.wait_with_output()),
        )
        .await
        .expect("kubectl exec hung")
        .unwrap()
        .unwrap();
        drop(guard);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "hello from kubectl\n",
            "{kubectl_path} stderr: {stderr}"
        );
        assert!(stderr.contains("to-stderr"), "{stderr}");
        assert_eq!(out.status.code(), Some(3), "stderr: {stderr}");

        // port-forward: 20 parallel connections through one SPDY connection.
        let local = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut pf = kubectl(&["port-forward", "pod/p1", &format!("{local}:{echo_port}")])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("pf.stderr")).unwrap())
            .spawn()
            .unwrap();
        let _pf_guard = KillOnDrop(pf.id());
        let stdout = pf.stdout.take().unwrap();
        // Keep reading kubectl's stdout ("Handling connection for ..."), or it dies of EPIPE.
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut ready_tx = Some(ready_tx);
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if line.starts_with("Forwarding from") {
                    if let Some(tx) = ready_tx.take() {
                        let _ = tx.send(());
                    }
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(30), ready_rx)
            .await
            .expect("kubectl port-forward not ready")
            .expect("kubectl port-forward exited");
        let mut tasks = Vec::new();
        for i in 0..20usize {
            tasks.push(tokio::spawn(async move {
                let mut c = TcpStream::connect(("127.0.0.1", local)).await.unwrap();
                let payload: Vec<u8> = (0..100_000 + i).map(|j| (j % 253) as u8).collect();
                let (mut r, mut w) = c.split();
                let mut back = Vec::new();
                let ((), read) = tokio::join!(
                    async {
                        w.write_all(&payload).await.unwrap();
                        w.shutdown().await.unwrap();
                    },
                    r.read_to_end(&mut back)
                );
                read.unwrap();
                assert!(back == payload, "connection {i}: {} bytes back", back.len());
            }));
        }
        let all = tokio::time::timeout(Duration::from_secs(60), async {
            let mut failures = 0;
            for t in tasks {
                failures += usize::from(t.await.is_err());
            }
            failures
        });
        let failures = all.await.expect("port-forwarded connections hung");
        assert_eq!(
            failures,
            0,
            "connections failed; kubectl port-forward stderr:\n{}",
            std::fs::read_to_string(dir.path().join("pf.stderr")).unwrap_or_default()
        );
        drop(_pf_guard);
        let _ = pf.wait();
    }

    /// Kills the kubectl this test started, also when an assertion fails.
    struct KillOnDrop(u32);

    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = std::process::Command::new("kill")
                .arg(self.0.to_string())
                .status();
        }
    }
}
