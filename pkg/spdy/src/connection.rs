//! The connection: shared state, the reader task (frames in, dispatched to streams) and the
//! writer task (frames out, in queue order, so the outgoing zlib context sees them in wire order).

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
    task::Waker,
    time::{Duration, Instant},
};

use bytes::{Bytes, BytesMut};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    sync::{mpsc, oneshot, watch, Notify},
};

use crate::{
    error::{Error, Result},
    frame::{goaway, rst, Frame, FrameDecoder, FrameEncoder, StreamId},
    headers::Headers,
    stream::Stream,
};

/// Bytes buffered per stream before the reader stops taking frames off the connection.
pub(crate) const RECV_BUFFER: usize = 256 * 1024;
/// DATA bytes queued for the writer before stream writes wait.
pub(crate) const SEND_QUEUE: usize = 512 * 1024;
/// The largest DATA frame written (Go reads any size; this keeps streams interleaved while
/// costing Go one allocation and channel send per 128 KiB, not per 32 KiB).
pub(crate) const MAX_DATA_CHUNK: usize = 128 * 1024;
/// After our side is flushed and shut down, how long to keep reading (and discarding) so that
/// closing the socket does not RST data the peer has not read yet.
const LINGER: Duration = Duration::from_secs(5);

pub(crate) struct StreamState {
    pub(crate) recv: VecDeque<Bytes>,
    pub(crate) recv_len: usize,
    pub(crate) remote_fin: bool,
    pub(crate) reset: Option<u32>,
    pub(crate) local_fin: bool,
    /// Opened by the peer and not replied to yet.
    pub(crate) needs_reply: bool,
    pub(crate) read_waker: Option<Waker>,
    pub(crate) reply_tx: Option<oneshot::Sender<Result<Headers>>>,
}

impl StreamState {
    fn new() -> Self {
        Self {
            recv: VecDeque::new(),
            recv_len: 0,
            remote_fin: false,
            reset: None,
            local_fin: false,
            needs_reply: false,
            read_waker: None,
            reply_tx: None,
        }
    }

    pub(crate) fn wake_reader(&mut self) {
        if let Some(w) = self.read_waker.take() {
            w.wake();
        }
    }
}

pub(crate) struct State {
    queue: VecDeque<Frame>,
    pub(crate) queued_data: usize,
    pub(crate) write_wakers: Vec<Waker>,
    pub(crate) streams: HashMap<StreamId, StreamState>,
    next_stream_id: StreamId,
    next_ping_id: u32,
    last_remote_id: StreamId,
    pings: HashMap<u32, oneshot::Sender<()>>,
    sent_goaway: bool,
    /// The writer drains the queue, shuts the socket's write side and stops.
    closing: bool,
    /// Nothing more can be written (the writer stopped or failed).
    pub(crate) write_dead: bool,
    /// Nothing more will be read (EOF, error, or the reader was stopped).
    read_dead: bool,
    is_server: bool,
}

impl State {
    pub(crate) fn push(&mut self, frame: Frame) {
        if let Frame::Data { data, .. } = &frame {
            self.queued_data += data.len();
        }
        self.queue.push_back(frame);
    }

    pub(crate) fn wake_writers(&mut self) {
        for w in self.write_wakers.drain(..) {
            w.wake();
        }
    }

    fn our_parity(&self) -> u32 {
        // Servers open even streams and pings, clients odd ones.
        if self.is_server {
            0
        } else {
            1
        }
    }
}

pub(crate) struct Shared {
    state: Mutex<State>,
    /// Frames were queued (or the connection is closing).
    writer_wake: Notify,
    /// A stream's receive buffer drained below `RECV_BUFFER`.
    pub(crate) recv_space: Notify,
    /// Set once the writer has finished (everything queued before close is on the wire).
    written: watch::Sender<bool>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent-enough state for shutdown.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn notify_writer(&self) {
        self.writer_wake.notify_one();
    }

    fn begin_close(&self) {
        let mut st = self.lock();
        if !st.sent_goaway && !st.write_dead {
            st.sent_goaway = true;
            let last_good_stream_id = st.last_remote_id;
            st.push(Frame::GoAway {
                last_good_stream_id,
                status: goaway::OK,
            });
        }
        st.closing = true;
        drop(st);
        self.notify_writer();
    }
}

/// Closes the connection (GOAWAY, flush, shut down) when the last `Connection` handle goes.
struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.begin_close();
    }
}

/// A SPDY/3.1 connection. Cheap to clone; dropping the last clone closes it.
#[derive(Clone)]
pub struct Connection {
    shared: Arc<Shared>,
    _owner: Arc<Owner>,
}

/// Streams the peer opens, in the order their SYN_STREAMs arrived.
pub struct Incoming {
    rx: mpsc::UnboundedReceiver<Stream>,
}

impl Incoming {
    /// The next stream; `None` once the peer sent GOAWAY or the connection ended.
    pub async fn accept(&mut self) -> Option<Stream> {
        self.rx.recv().await
    }
}

impl Connection {
    /// The server side (answers SYN_STREAMs with odd ids; its own streams and pings are even).
    pub fn server<T>(io: T) -> (Connection, Incoming)
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        Self::start(io, true)
    }

    /// The client side (opens odd streams).
    pub fn client<T>(io: T) -> (Connection, Incoming)
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        Self::start(io, false)
    }

    fn start<T>(io: T, is_server: bool) -> (Connection, Incoming)
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (written, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                queued_data: 0,
                write_wakers: Vec::new(),
                streams: HashMap::new(),
                next_stream_id: if is_server { 2 } else { 1 },
                next_ping_id: if is_server { 2 } else { 1 },
                last_remote_id: 0,
                pings: HashMap::new(),
                sent_goaway: false,
                closing: false,
                write_dead: false,
                read_dead: false,
                is_server,
            }),
            writer_wake: Notify::new(),
            recv_space: Notify::new(),
            written,
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let (r, w) = tokio::io::split(io);
        let task_shared = shared.clone();
        tokio::spawn(async move {
            let mut reader = tokio::spawn(read_loop(task_shared.clone(), r, tx));
            write_loop(&task_shared, w).await;
            let _ = task_shared.written.send(true);
            if tokio::time::timeout(LINGER, &mut reader).await.is_err() {
                reader.abort();
                task_shared.reader_gone();
            }
        });
        let owner = Arc::new(Owner(shared.clone()));
        (
            Connection {
                shared,
                _owner: owner,
            },
            Incoming { rx },
        )
    }

    /// Opens a stream (SYN_STREAM); `fin` half-closes our side at once. Await
    /// [`Stream::wait_reply`] before relying on the peer having accepted it.
    pub fn open_stream(&self, headers: Headers, fin: bool) -> Result<Stream> {
        let mut st = self.shared.lock();
        if st.sent_goaway || st.write_dead || st.read_dead {
            return Err(Error::Closed);
        }
        let stream_id = st.next_stream_id;
        if stream_id > 0x7fff_ffff {
            return Err(Error::Protocol("stream ids exhausted".into()));
        }
        st.next_stream_id += 2;
        let (reply_tx, reply_rx) = oneshot::channel();
        let mut state = StreamState::new();
        state.local_fin = fin;
        state.reply_tx = Some(reply_tx);
        st.streams.insert(stream_id, state);
        st.push(Frame::SynStream {
            stream_id,
            associated_to: 0,
            priority: 0,
            slot: 0,
            fin,
            unidirectional: false,
            headers: headers.clone(),
        });
        drop(st);
        self.shared.notify_writer();
        Ok(Stream::new(
            self.shared.clone(),
            stream_id,
            headers,
            Some(reply_rx),
        ))
    }

    /// Sends a PING and waits for its echo.
    pub async fn ping(&self) -> Result<Duration> {
        let (tx, rx) = oneshot::channel();
        {
            let mut st = self.shared.lock();
            if st.write_dead || st.read_dead {
                return Err(Error::Closed);
            }
            let id = st.next_ping_id;
            st.next_ping_id = if id > 0x7fff_fffd {
                id - 0x7fff_fffc
            } else {
                id + 2
            };
            st.pings.insert(id, tx);
            st.push(Frame::Ping { id });
        }
        self.shared.notify_writer();
        let start = Instant::now();
        rx.await.map_err(|_| Error::Closed)?;
        Ok(start.elapsed())
    }

    /// Sends GOAWAY, writes out everything queued (stream data included), shuts our write side
    /// and returns. The socket is dropped once the peer closes its side (or after a linger).
    pub async fn close(&self) {
        self.shared.begin_close();
        let mut written = self.shared.written.subscribe();
        let _ = written.wait_for(|w| *w).await;
    }

    /// Streams currently open (not yet dropped by their handles).
    pub fn open_streams(&self) -> usize {
        self.shared.lock().streams.len()
    }
}

impl Shared {
    /// The reader stopped: every stream sees the end of its input, waiters fail.
    fn reader_gone(&self) {
        let mut st = self.lock();
        st.read_dead = true;
        for s in st.streams.values_mut() {
            s.remote_fin = true;
            if let Some(tx) = s.reply_tx.take() {
                let _ = tx.send(Err(Error::Closed));
            }
            s.wake_reader();
        }
        st.pings.clear();
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(shared: &Shared, mut w: W) {
    let mut encoder = FrameEncoder::new();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let result: Result<()> = async {
        loop {
            let (frames, closing): (Vec<Frame>, bool) = {
                let mut st = shared.lock();
                (st.queue.drain(..).collect(), st.closing)
            };
            if frames.is_empty() {
                if closing {
                    break;
                }
                // notify_one keeps a permit, so a frame queued since the check is not missed.
                shared.writer_wake.notified().await;
                continue;
            }
            let mut data_bytes = 0;
            for f in &frames {
                if let Frame::Data { data, .. } = f {
                    data_bytes += data.len();
                }
                encoder.encode(f, &mut buf)?;
            }
            w.write_all(&buf).await?;
            w.flush().await?;
            buf.clear();
            let mut st = shared.lock();
            st.queued_data -= data_bytes;
            st.wake_writers();
        }
        w.shutdown().await?;
        Ok(())
    }
    .await;
    if let Err(e) = &result {
        tracing::debug!(error = %e, "SPDY writer stopped");
    }
    let mut st = shared.lock();
    st.write_dead = true;
    st.queue.clear();
    st.queued_data = 0;
    st.wake_writers();
    for s in st.streams.values_mut() {
        s.wake_reader();
    }
}

async fn read_loop<R: AsyncRead>(
    shared: Arc<Shared>,
    r: R,
    incoming: mpsc::UnboundedSender<Stream>,
) {
    let mut incoming = Some(incoming);
    let result = read_frames(&shared, r, &mut incoming).await;
    match &result {
        Ok(()) => tracing::debug!("SPDY peer closed the connection"),
        Err(e) => tracing::debug!(error = %e, "SPDY reader stopped"),
    }
    if let Err(Error::Protocol(_) | Error::Compression(_)) = &result {
        let mut st = shared.lock();
        if !st.sent_goaway && !st.write_dead {
            st.sent_goaway = true;
            let last_good_stream_id = st.last_remote_id;
            st.push(Frame::GoAway {
                last_good_stream_id,
                status: goaway::PROTOCOL_ERROR,
            });
        }
        drop(st);
        shared.notify_writer();
    }
    shared.reader_gone();
}

async fn read_frames<R: AsyncRead>(
    shared: &Arc<Shared>,
    r: R,
    incoming: &mut Option<mpsc::UnboundedSender<Stream>>,
) -> Result<()> {
    tokio::pin!(r);
    let mut decoder = FrameDecoder::new();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        while let Some(frame) = decoder.decode(&mut buf)? {
            handle_frame(shared, frame, incoming).await;
        }
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(64 * 1024);
        }
        if r.read_buf(&mut buf).await? == 0 {
            if !buf.is_empty() {
                return Err(Error::Protocol("connection ended inside a frame".into()));
            }
            return Ok(());
        }
    }
}

async fn handle_frame(
    shared: &Arc<Shared>,
    frame: Frame,
    incoming: &mut Option<mpsc::UnboundedSender<Stream>>,
) {
    match frame {
        Frame::SynStream {
            stream_id,
            fin,
            unidirectional,
            headers,
            ..
        } => {
            let mut st = shared.lock();
            let refuse = if stream_id % 2 == st.our_parity() || stream_id <= st.last_remote_id {
                Some(rst::PROTOCOL_ERROR)
            } else if st.sent_goaway || incoming.as_ref().is_none_or(|tx| tx.is_closed()) {
                Some(rst::REFUSED_STREAM)
            } else {
                None
            };
            if let Some(status) = refuse {
                tracing::debug!(stream_id, status, "refusing SPDY stream");
                st.push(Frame::RstStream { stream_id, status });
                drop(st);
                shared.notify_writer();
                return;
            }
            st.last_remote_id = stream_id;
            let mut state = StreamState::new();
            state.remote_fin = fin;
            state.local_fin = unidirectional;
            state.needs_reply = true;
            st.streams.insert(stream_id, state);
            drop(st);
            let stream = Stream::new(shared.clone(), stream_id, headers, None);
            if let Some(tx) = incoming.as_ref() {
                // A send failure drops the stream, which half-closes it.
                let _ = tx.send(stream);
            }
        }
        Frame::SynReply {
            stream_id,
            fin,
            headers,
            ..
        } => {
            let mut st = shared.lock();
            if let Some(s) = st.streams.get_mut(&stream_id) {
                if let Some(tx) = s.reply_tx.take() {
                    let _ = tx.send(Ok(headers));
                }
                if fin {
                    s.remote_fin = true;
                    s.wake_reader();
                }
            }
        }
        Frame::Headers { stream_id, fin, .. } => {
            if fin {
                let mut st = shared.lock();
                if let Some(s) = st.streams.get_mut(&stream_id) {
                    s.remote_fin = true;
                    s.wake_reader();
                }
            }
        }
        Frame::Data {
            stream_id,
            fin,
            data,
        } => loop {
            // Register for a wake-up before looking, so a drain in between is not missed.
            let space = shared.recv_space.notified();
            {
                let mut st = shared.lock();
                let Some(s) = st.streams.get_mut(&stream_id) else {
                    // Spdystream ignores data for streams it no longer knows.
                    return;
                };
                if s.remote_fin || s.reset.is_some() {
                    return;
                }
                if s.recv_len < RECV_BUFFER || data.is_empty() {
                    if !data.is_empty() {
                        s.recv_len += data.len();
                        s.recv.push_back(data);
                    }
                    s.remote_fin |= fin;
                    s.wake_reader();
                    return;
                }
            }
            space.await;
        },
        Frame::RstStream { stream_id, status } => {
            let mut st = shared.lock();
            if let Some(s) = st.streams.get_mut(&stream_id) {
                s.reset.get_or_insert(status);
                if let Some(tx) = s.reply_tx.take() {
                    let _ = tx.send(Err(Error::Reset {
                        id: stream_id,
                        status,
                    }));
                }
                s.wake_reader();
                st.wake_writers();
            }
        }
        Frame::Ping { id } => {
            let mut st = shared.lock();
            if id % 2 != st.our_parity() {
                st.push(Frame::Ping { id });
                drop(st);
                shared.notify_writer();
            } else if let Some(tx) = st.pings.remove(&id) {
                let _ = tx.send(());
            }
        }
        Frame::GoAway {
            last_good_stream_id,
            status,
        } => {
            tracing::debug!(last_good_stream_id, status, "SPDY peer sent GOAWAY");
            // No new streams from the peer; the open ones carry on.
            incoming.take();
        }
        Frame::Settings { .. } | Frame::WindowUpdate { .. } => {
            // spdystream does no flow control: nothing to honour.
        }
    }
}
