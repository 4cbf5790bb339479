//! The crate's one error type.

use crate::frame::StreamId;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent something SPDY/3 does not allow (or that this implementation refuses).
    #[error("SPDY protocol error: {0}")]
    Protocol(String),
    #[error("SPDY header compression: {0}")]
    Compression(String),
    #[error("stream {id} was reset (status {status})")]
    Reset { id: StreamId, status: u32 },
    #[error("stream {0} was already replied to")]
    AlreadyReplied(StreamId),
    #[error("SPDY connection closed")]
    Closed,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
