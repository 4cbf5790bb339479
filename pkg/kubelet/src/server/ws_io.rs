//! A WebSocket as a byte stream, for the `SPDY/3.1+portforward.k8s.io` tunnel (kubectl >= 1.31):
//! each binary message is a piece of the SPDY connection, in both directions (upstream's
//! TunnelingConnection; no channel byte).

use std::{
    pin::Pin,
    task::{ready, Context, Poll},
};

use bytes::{Buf, Bytes};
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::{
    tungstenite::{self, Message},
    WebSocketStream,
};

pub(crate) struct WsIo<S> {
    ws: WebSocketStream<S>,
    /// The unread rest of the last binary message.
    pending: Bytes,
    eof: bool,
}

impl<S> WsIo<S> {
    pub(crate) fn new(ws: WebSocketStream<S>) -> Self {
        Self {
            ws,
            pending: Bytes::new(),
            eof: false,
        }
    }
}

fn io_err(e: tungstenite::Error) -> std::io::Error {
    match e {
        tungstenite::Error::Io(e) => e,
        e => std::io::Error::other(e),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        loop {
            if !self.pending.is_empty() {
                let n = self.pending.len().min(buf.remaining());
                buf.put_slice(&self.pending[..n]);
                self.pending.advance(n);
                return Poll::Ready(Ok(()));
            }
            if self.eof {
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut self.ws).poll_next(cx)) {
                Some(Ok(Message::Binary(b))) => self.pending = b,
                Some(Ok(Message::Close(_))) | None => self.eof = true,
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "invalid message type received",
                    )))
                }
                Some(Ok(_)) => {}
                // The peer vanishing without a close frame ends the stream like a TCP reset.
                Some(Err(
                    tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed,
                )) => self.eof = true,
                Some(Err(e)) => return Poll::Ready(Err(io_err(e))),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let ws = Pin::new(&mut self.ws);
        ready!(Sink::<Message>::poll_ready(ws, cx)).map_err(io_err)?;
        Pin::new(&mut self.ws)
            .start_send(Message::binary(buf.to_vec()))
            .map_err(io_err)?;
        // Push it out now: callers that never flush (io::copy does only at the end) would
        // otherwise leave it buffered. A pending flush is retried by the next write or flush.
        match Sink::<Message>::poll_flush(Pin::new(&mut self.ws), cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(io_err(e))),
            _ => Poll::Ready(Ok(buf.len())),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Sink::<Message>::poll_flush(Pin::new(&mut self.ws), cx).map_err(io_err)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match ready!(Sink::<Message>::poll_close(Pin::new(&mut self.ws), cx)) {
            Ok(()) | Err(tungstenite::Error::ConnectionClosed) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(io_err(e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{SinkExt, StreamExt};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::tungstenite::protocol::Role;

    #[tokio::test]
    async fn bytes_cross_as_binary_messages() {
        let (a, b) = tokio::io::duplex(1024);
        let server = WebSocketStream::from_raw_socket(a, Role::Server, None).await;
        let mut client = WebSocketStream::from_raw_socket(b, Role::Client, None).await;
        let mut io = WsIo::new(server);

        client
            .send(Message::binary(b"hello ".to_vec()))
            .await
            .unwrap();
        client
            .send(Message::binary(b"world".to_vec()))
            .await
            .unwrap();
        let mut got = [0u8; 11];
        io.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello world");

        io.write_all(b"back").await.unwrap();
        let m = client.next().await.unwrap().unwrap();
        assert_eq!(m, Message::binary(b"back".to_vec()));

        client.close(None).await.unwrap();
        let mut rest = Vec::new();
        io.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    }
}
