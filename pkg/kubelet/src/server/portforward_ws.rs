//! port-forward over WebSocket channels (`portforward.k8s.io`, `?ports=a,b`): port i gets data
//! channel 2i and error channel 2i+1, and the first message of each carries the port as two
//! little-endian bytes, as upstream's kubelet writes it. One TCP connection into the pod per port
//! for the life of the WebSocket.

use futures_util::{
    stream::{FuturesUnordered, StreamExt},
    SinkExt,
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::tcp::{OwnedReadHalf, OwnedWriteHalf},
    sync::mpsc,
};
use tokio_tungstenite::{tungstenite::Message, WebSocketStream};
use tracing::debug;

use super::idle::Activity;
use super::wsstream::{decode, encode, normal_close, Frame, Proto};

/// Read size from the pod connection: one message per read, so bigger reads mean fewer frames.
const CHUNK: usize = 128 * 1024;

pub(crate) fn data_channel(i: usize) -> u8 {
    (2 * i) as u8
}

pub(crate) fn error_channel(i: usize) -> u8 {
    (2 * i + 1) as u8
}

/// Serves the ports until the client closes the WebSocket or every connection has ended.
pub(crate) async fn serve<S>(
    ws: WebSocketStream<S>,
    proto: Proto,
    runtime: rkube_runtime::Runtime,
    sandbox: rkube_runtime::Sandbox,
    pod: String,
    ports: Vec<u16>,
    idle_timeout: std::time::Duration,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let (mut sink, mut incoming) = ws.split();
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
    let activity = &activity;
    let session = async move {
        for (i, port) in ports.iter().enumerate() {
            let le = port.to_le_bytes();
            let _ = tx.send(encode(proto, data_channel(i), &le)).await;
            let _ = tx.send(encode(proto, error_channel(i), &le)).await;
        }
        let mut writers: Vec<Option<OwnedWriteHalf>> = Vec::with_capacity(ports.len());
        let mut pumps = FuturesUnordered::new();
        for (i, port) in ports.iter().enumerate() {
            match runtime.dial(&sandbox, *port).await {
                Ok(conn) => {
                    let (r, w) = conn.into_split();
                    writers.push(Some(w));
                    pumps.push(pump(r, data_channel(i), tx.clone(), proto, activity));
                }
                Err(e) => {
                    let msg = format!(
                        "error forwarding port {port} to pod {pod}, uid {}: {e}",
                        sandbox.id
                    );
                    let _ = tx
                        .send(encode(proto, error_channel(i), msg.as_bytes()))
                        .await;
                    writers.push(None);
                }
            }
        }
        if pumps.is_empty() {
            return;
        }
        loop {
            tokio::select! {
                msg = incoming.next() => {
                    let Some(Ok(msg)) = msg else { return };
                    activity.touch();
                    match decode(proto, msg) {
                        Ok(Frame::Data(ch, data)) if ch % 2 == 0 => {
                            let i = usize::from(ch / 2);
                            if let Some(Some(w)) = writers.get_mut(i) {
                                if w.write_all(&data).await.is_err() {
                                    writers[i] = None;
                                }
                            }
                        }
                        Ok(Frame::Close(ch)) if ch % 2 == 0 => {
                            if let Some(slot) = writers.get_mut(usize::from(ch / 2)) {
                                if let Some(mut w) = slot.take() {
                                    let _ = w.shutdown().await;
                                }
                            }
                        }
                        Ok(Frame::End) => return,
                        Ok(_) => {}
                        Err(e) => {
                            debug!(error = %e, "invalid port-forward message");
                            return;
                        }
                    }
                }
                done = pumps.next() => {
                    if done.is_none() {
                        return;
                    }
                }
            }
        }
    };
    tokio::select! {
        _ = async { tokio::join!(writer, session) } => {}
        () = activity.idle(idle_timeout) => debug!("port-forward stream idle: closing it"),
    }
}

async fn pump(
    mut r: OwnedReadHalf,
    channel: u8,
    tx: mpsc::Sender<Message>,
    proto: Proto,
    activity: &Activity,
) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                activity.touch();
                if tx.send(encode(proto, channel, &buf[..n])).await.is_err() {
                    return;
                }
            }
        }
    }
}
