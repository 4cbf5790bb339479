//! exec over WebSocket (`v5.channel.k8s.io` .. `channel.k8s.io`): channel 0 stdin, 1 stdout,
//! 2 stderr, 3 the error channel (the exit status), 4 terminal resizes; v5 clients close their
//! stdin with `[255, 0]`. Everything runs inside the connection's task: when the client goes away
//! the process's pipes are dropped with it, so nothing outlives the connection.

use futures_util::{
    stream::{SplitStream, StreamExt},
    SinkExt,
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    sync::mpsc,
};
use tokio_tungstenite::{tungstenite::Message, WebSocketStream};
use tracing::debug;

use super::{
    exec_request::ExecRequest,
    exec_status::{ExecOutcome, KillOnDrop},
    idle::Activity,
    wsstream::{decode, encode, normal_close, Frame, Proto},
};

pub(crate) const STDIN: u8 = 0;
pub(crate) const STDOUT: u8 = 1;
pub(crate) const STDERR: u8 = 2;
pub(crate) const ERROR: u8 = 3;
pub(crate) const RESIZE: u8 = 4;

const CHUNK: usize = 32 * 1024;

/// A terminal size as the resize channel carries it.
#[derive(Debug, serde::Deserialize, PartialEq, Eq)]
pub(crate) struct TerminalSize {
    #[serde(rename = "Width")]
    pub width: u16,
    #[serde(rename = "Height")]
    pub height: u16,
}

/// The sizes in one resize message (clients may send several JSON objects back to back).
pub(crate) fn parse_sizes(data: &[u8]) -> Vec<TerminalSize> {
    serde_json::Deserializer::from_slice(data)
        .into_iter::<TerminalSize>()
        .map_while(Result::ok)
        .collect()
}

/// Runs one exec to completion (or until the client disconnects).
pub(crate) async fn serve<S>(
    ws: WebSocketStream<S>,
    proto: Proto,
    runtime: rkube_runtime::Runtime,
    req: ExecRequest,
    idle_timeout: std::time::Duration,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let (mut sink, incoming) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Message>(32);
    let writer = async move {
        while let Some(m) = rx.recv().await {
            if sink.send(m).await.is_err() {
                break;
            }
        }
        let _ = sink.send(normal_close()).await;
        let _ = sink.close().await;
    };
    let activity = Activity::new();
    let session = session(incoming, tx, proto, runtime, req, &activity);
    tokio::select! {
        _ = async { tokio::join!(writer, session) } => {}
        () = activity.idle(idle_timeout) => debug!("exec stream idle: closing it"),
    }
}

async fn session<S>(
    incoming: SplitStream<WebSocketStream<S>>,
    tx: mpsc::Sender<Message>,
    proto: Proto,
    runtime: rkube_runtime::Runtime,
    req: ExecRequest,
    activity: &Activity,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    // Upstream writes an empty message on the lowest writable channel: "connected".
    let first = if req.stdout {
        STDOUT
    } else if req.stderr {
        STDERR
    } else {
        ERROR
    };
    if tx.send(encode(proto, first, &[])).await.is_err() {
        return;
    }
    let spec = rkube_runtime::ExecSpec {
        args: req.command.clone(),
        env: Vec::new(),
        tty: req.tty,
        stdin: req.stdin,
    };
    let process = if req.attach {
        runtime.attach_with(&req.container_id, req.stdin).await
    } else {
        runtime.exec(&req.container_id, spec).await
    };
    let process = match process {
        Ok(p) => p,
        Err(e) => {
            report(&tx, proto, &ExecOutcome::start_failed(&req, e)).await;
            return;
        }
    };
    let rkube_runtime::ExecProcess {
        stdin,
        stdout,
        stderr,
        resize,
        exit,
        kill,
    } = process;
    // Dropped when the session ends for any reason (client gone, idle timeout, shutdown): an
    // exec'd process does not outlive its client. Attach has no kill handle.
    let _kill = KillOnDrop(kill);
    let output = async {
        tokio::join!(
            pump(stdout, req.stdout.then_some(STDOUT), &tx, proto, activity),
            pump(stderr, req.stderr.then_some(STDERR), &tx, proto, activity),
        );
        exit.await
    };
    let input = read_client(
        incoming,
        stdin.filter(|_| req.stdin),
        resize,
        proto,
        activity,
    );
    tokio::select! {
        exit = output => {
            let outcome = match exit {
                Ok(info) => ExecOutcome::Exited(info.exit_code),
                Err(_) => ExecOutcome::Failed("the exec'd process's exit status was lost".into()),
            };
            debug!(container = %req.container_id, ?outcome, "exec finished");
            report(&tx, proto, &outcome).await;
        }
        () = input => debug!(container = %req.container_id, "exec client went away"),
    }
}

async fn report(tx: &mpsc::Sender<Message>, proto: Proto, outcome: &ExecOutcome) {
    if let Some(bytes) = outcome.error_channel_bytes(proto.status_errors) {
        let _ = tx.send(encode(proto, ERROR, &bytes)).await;
    }
}

/// Copies a process output to `channel` until EOF; without a channel (not requested) the output
/// is drained so the process never blocks on it.
async fn pump(
    out: Option<Box<dyn AsyncRead + Send + Unpin>>,
    channel: Option<u8>,
    tx: &mpsc::Sender<Message>,
    proto: Proto,
    activity: &Activity,
) {
    let Some(mut out) = out else { return };
    let mut buf = vec![0u8; CHUNK];
    loop {
        match out.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                activity.touch();
                if let Some(ch) = channel {
                    if tx.send(encode(proto, ch, &buf[..n])).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// Feeds stdin and resizes from the client; returns when the client closes the WebSocket.
async fn read_client<S>(
    mut incoming: SplitStream<WebSocketStream<S>>,
    mut stdin: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    resize: Option<rkube_runtime::ResizeFn>,
    proto: Proto,
    activity: &Activity,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    while let Some(Ok(msg)) = incoming.next().await {
        activity.touch();
        match decode(proto, msg) {
            Ok(Frame::Data(STDIN, data)) => {
                if let Some(w) = stdin.as_mut() {
                    if w.write_all(&data).await.is_err() || w.flush().await.is_err() {
                        stdin = None;
                    }
                }
            }
            Ok(Frame::Close(STDIN)) => {
                if let Some(mut w) = stdin.take() {
                    let _ = w.shutdown().await;
                }
            }
            Ok(Frame::Data(RESIZE, data)) => {
                for size in parse_sizes(&data) {
                    if let Some(r) = &resize {
                        if let Err(e) = r(size.width, size.height) {
                            debug!(error = %e, "resizing the terminal failed");
                        }
                    }
                }
            }
            Ok(Frame::End) => return,
            Ok(_) => {}
            Err(e) => {
                debug!(error = %e, "invalid exec stream message");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_messages() {
        assert_eq!(
            parse_sizes(br#"{"Width":80,"Height":24}{"Width":100,"Height":40}"#),
            [
                TerminalSize {
                    width: 80,
                    height: 24
                },
                TerminalSize {
                    width: 100,
                    height: 40
                }
            ]
        );
        assert!(parse_sizes(b"garbage").is_empty());
    }
}
