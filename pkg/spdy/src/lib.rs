//! rkube-spdy: SPDY/3.1 as Kubernetes speaks it between kubectl, the API server and the kubelet
//! (exec/attach for kubectl before 1.30, and port-forward, which kubectl 1.31+ tunnels through a
//! WebSocket). Matches moby/spdystream, the Go implementation every Kubernetes client links:
//!
//! - header blocks are zlib-compressed with the SPDY/3 dictionary, one context per direction for
//!   the whole connection;
//! - no flow control: spdystream neither sends nor honours WINDOW_UPDATE or SETTINGS (they are
//!   accepted and ignored here too). Back-pressure comes from TCP: a stream whose reader falls
//!   behind stops the connection's frame reader once its buffer is full, as spdystream's
//!   unbuffered per-stream channels do;
//! - PINGs with the peer's parity are echoed; GOAWAY ends the accepting of new streams.
//!
//! `Connection::server(io)` / `Connection::client(io)` spawn a reader and a writer task on the
//! current tokio runtime; streams are `AsyncRead + AsyncWrite` over DATA frames.

mod connection;
mod dictionary;
mod error;
mod frame;
mod headers;
mod stream;
mod zlib;

pub use connection::{Connection, Incoming};
pub use dictionary::DICTIONARY;
pub use error::{Error, Result};
pub use frame::{
    goaway, rst, Frame, FrameDecoder, FrameEncoder, Setting, StreamId, FLAG_FIN,
    FLAG_UNIDIRECTIONAL, MAX_FRAME_LENGTH, VERSION,
};
pub use headers::Headers;
pub use stream::{RecvHalf, SendHalf, Stream};
pub use zlib::{HeaderCompressor, HeaderDecompressor};
