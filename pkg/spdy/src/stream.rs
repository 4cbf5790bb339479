//! A stream: the headers it was opened with, SYN_REPLY, and DATA frames as AsyncRead/AsyncWrite.
//! Shutting down the write side sends FIN; dropping the last handle half-closes too (unless the
//! stream was reset) and discards whatever the peer still sends.

use std::{
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    sync::oneshot,
};

use crate::{
    connection::{Shared, MAX_DATA_CHUNK, RECV_BUFFER, SEND_QUEUE},
    error::{Error, Result},
    frame::{Frame, StreamId},
    headers::Headers,
};

struct Inner {
    shared: Arc<Shared>,
    id: StreamId,
}

pub struct Stream {
    inner: Arc<Inner>,
    headers: Headers,
    reply_rx: Option<oneshot::Receiver<Result<Headers>>>,
}

/// The reading half of a [`Stream::split`].
pub struct RecvHalf {
    inner: Arc<Inner>,
}

/// The writing half of a [`Stream::split`].
pub struct SendHalf {
    inner: Arc<Inner>,
}

impl Stream {
    pub(crate) fn new(
        shared: Arc<Shared>,
        id: StreamId,
        headers: Headers,
        reply_rx: Option<oneshot::Receiver<Result<Headers>>>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner { shared, id }),
            headers,
            reply_rx,
        }
    }

    pub fn id(&self) -> StreamId {
        self.inner.id
    }

    /// The SYN_STREAM headers (received, or sent for streams we opened).
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// Accepts a stream the peer opened (SYN_REPLY). Writing first replies with no headers.
    pub fn reply(&self, headers: Headers) -> Result<()> {
        self.inner.reply(headers)
    }

    /// For a stream we opened: waits for the peer's SYN_REPLY (or its RST_STREAM).
    pub async fn wait_reply(&mut self) -> Result<Headers> {
        match self.reply_rx.take() {
            Some(rx) => rx.await.unwrap_or(Err(Error::Closed)),
            None => Err(Error::Protocol(
                "only streams we opened wait for a reply, once".into(),
            )),
        }
    }

    /// Sends RST_STREAM: both directions end at once.
    pub fn reset(&self, status: u32) {
        self.inner.reset(status)
    }

    /// Half-closes our side (an empty DATA frame with FIN); reads go on.
    pub fn close_write(&self) {
        self.inner.close_write()
    }

    pub fn split(self) -> (RecvHalf, SendHalf) {
        (
            RecvHalf {
                inner: self.inner.clone(),
            },
            SendHalf { inner: self.inner },
        )
    }
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("id", &self.inner.id)
            .field("headers", &self.headers)
            .finish()
    }
}

impl SendHalf {
    pub fn close_write(&self) {
        self.inner.close_write()
    }

    pub fn reset(&self, status: u32) {
        self.inner.reset(status)
    }
}

impl RecvHalf {
    pub fn reset(&self, status: u32) {
        self.inner.reset(status)
    }
}

impl Inner {
    fn reply(&self, headers: Headers) -> Result<()> {
        let mut st = self.shared.lock();
        let Some(s) = st.streams.get_mut(&self.id) else {
            return Err(Error::Closed);
        };
        if !s.needs_reply {
            return Err(Error::AlreadyReplied(self.id));
        }
        s.needs_reply = false;
        st.push(Frame::SynReply {
            stream_id: self.id,
            fin: false,
            headers,
        });
        drop(st);
        self.shared.notify_writer();
        Ok(())
    }

    fn reset(&self, status: u32) {
        let mut st = self.shared.lock();
        let Some(s) = st.streams.get_mut(&self.id) else {
            return;
        };
        if s.reset.is_some() {
            return;
        }
        s.reset = Some(status);
        s.recv.clear();
        s.recv_len = 0;
        s.wake_reader();
        st.push(Frame::RstStream {
            stream_id: self.id,
            status,
        });
        st.wake_writers();
        drop(st);
        self.shared.notify_writer();
        self.shared.recv_space.notify_one();
    }

    fn close_write(&self) {
        let mut st = self.shared.lock();
        let Some(s) = st.streams.get_mut(&self.id) else {
            return;
        };
        if s.local_fin || s.reset.is_some() {
            return;
        }
        s.local_fin = true;
        if std::mem::take(&mut s.needs_reply) {
            st.push(Frame::SynReply {
                stream_id: self.id,
                fin: true,
                headers: Headers::new(),
            });
        } else {
            st.push(Frame::Data {
                stream_id: self.id,
                fin: true,
                data: Bytes::new(),
            });
        }
        drop(st);
        self.shared.notify_writer();
    }

    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let mut st = self.shared.lock();
        let Some(s) = st.streams.get_mut(&self.id) else {
            return Poll::Ready(Ok(()));
        };
        if s.recv.is_empty() {
            if let Some(status) = s.reset {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    Error::Reset {
                        id: self.id,
                        status,
                    },
                )));
            }
            if s.remote_fin {
                return Poll::Ready(Ok(()));
            }
            s.read_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let was_full = s.recv_len >= RECV_BUFFER;
        while buf.remaining() > 0 {
            let Some(front) = s.recv.front_mut() else {
                break;
            };
            let n = front.len().min(buf.remaining());
            buf.put_slice(&front.split_to(n));
            s.recv_len -= n;
            if front.is_empty() {
                s.recv.pop_front();
            }
        }
        let now_has_space = s.recv_len < RECV_BUFFER;
        drop(st);
        if was_full && now_has_space {
            self.shared.recv_space.notify_one();
        }
        Poll::Ready(Ok(()))
    }

    fn poll_write(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let mut st = self.shared.lock();
        if st.write_dead {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let queued = st.queued_data;
        let Some(s) = st.streams.get_mut(&self.id) else {
            return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
        };
        if let Some(status) = s.reset {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                Error::Reset {
                    id: self.id,
                    status,
                },
            )));
        }
        if s.local_fin {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after the stream's FIN",
            )));
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if queued >= SEND_QUEUE {
            st.write_wakers.push(cx.waker().clone());
            return Poll::Pending;
        }
        let reply = std::mem::take(&mut s.needs_reply);
        if reply {
            st.push(Frame::SynReply {
                stream_id: self.id,
                fin: false,
                headers: Headers::new(),
            });
        }
        let n = data.len().min(MAX_DATA_CHUNK);
        st.push(Frame::Data {
            stream_id: self.id,
            fin: false,
            data: Bytes::copy_from_slice(&data[..n]),
        });
        drop(st);
        self.shared.notify_writer();
        Poll::Ready(Ok(n))
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        let Some(s) = st.streams.remove(&self.id) else {
            return;
        };
        if s.reset.is_none() && !s.local_fin && !st.write_dead {
            if s.needs_reply {
                st.push(Frame::SynReply {
                    stream_id: self.id,
                    fin: true,
                    headers: Headers::new(),
                });
            } else {
                st.push(Frame::Data {
                    stream_id: self.id,
                    fin: true,
                    data: Bytes::new(),
                });
            }
            drop(st);
            self.shared.notify_writer();
        } else {
            drop(st);
        }
        // The reader may be waiting for this stream's buffer to drain.
        self.shared.recv_space.notify_one();
    }
}

fn read_impl(inner: &Inner, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
    inner.poll_read(cx, buf)
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        read_impl(&self.inner, cx, buf)
    }
}

impl AsyncRead for RecvHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        read_impl(&self.inner, cx, buf)
    }
}

macro_rules! impl_write {
    ($t:ty) => {
        impl AsyncWrite for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                data: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.inner.poll_write(cx, data)
            }

            /// Frames are queued in order and the writer flushes them; nothing to wait for.
            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.inner.close_write();
                Poll::Ready(Ok(()))
            }
        }
    };
}

impl_write!(Stream);
impl_write!(SendHalf);
