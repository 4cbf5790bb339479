use thiserror::Error;

/// Errors of the store contract. The API server maps them to Kubernetes Status objects:
/// `Compacted` becomes 410 Gone, `Unavailable` 503, the rest 500.
#[derive(Debug, Error)]
pub enum Error {
    /// The requested revision is older than the retained history.
    #[error(
        "required revision {requested} has been compacted (compact revision {compact_revision})"
    )]
    Compacted {
        requested: i64,
        compact_revision: i64,
    },
    /// The requested revision is newer than the store's current revision.
    #[error("required revision {requested} is a future revision (current revision {current})")]
    FutureRevision { requested: i64, current: i64 },
    /// The request itself is malformed (e.g. a key given twice in one transaction).
    #[error("invalid request: {0}")]
    InvalidArgument(String),
    /// The backend cannot serve right now (etcd unreachable); retrying may succeed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// `close` was called: nothing more will be served.
    #[error("store closed")]
    Closed,
    #[error("embedded store: {0}")]
    Embedded(String),
    #[error("etcd: {0}")]
    Etcd(#[from] etcd_client::Error),
    #[error("corrupt record at revision {revision}: {reason}")]
    Corrupt { revision: i64, reason: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! embedded_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::Embedded(e.to_string())
            }
        }
    )*};
}
embedded_from!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
