//! The embedded backend: etcd's contract in-process over redb (a copy-on-write B-tree with
//! checksummed, fsynced commits). A write is acknowledged only once committed with
//! `Durability::Immediate`; after kill -9 the file reopens at the last acknowledged commit.

mod read;
mod tables;
mod watch;
mod writer;

use std::{
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, AtomicI64, Ordering},
        mpsc, Arc, Mutex,
    },
    thread::JoinHandle,
};

use async_trait::async_trait;
use redb::{Database, ReadableDatabase};
use tokio::sync::{broadcast, oneshot};
use tracing::info;

use self::{
    read::Tables,
    tables::{meta, CUR, HIST, LOG, META, META_COMPACTED, META_REVISION},
    watch::Batch,
    writer::Request,
};
use crate::{
    Error, RangeRequest, RangeResponse, Result, Revisions, Store, Txn, TxnResponse, WatchRequest,
    WatchStream,
};

/// Committed groups kept in memory for watchers; one further behind reads the log instead.
const BROADCAST_CAPACITY: usize = 1024;
/// redb's page cache: an upper bound, filled lazily.
const CACHE_BYTES: usize = 64 << 20;

pub(crate) struct Inner {
    db: Database,
    current: AtomicI64,
    compacted: AtomicI64,
    /// Taken on close, which ends every watch.
    events: std::sync::RwLock<Option<broadcast::Sender<Arc<Batch>>>>,
}

pub struct EmbeddedStore {
    inner: Arc<Inner>,
    path: PathBuf,
    writer_tx: Mutex<Option<mpsc::Sender<Request>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `dir` (the file `dir/store.redb`).
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Embedded(format!("creating {}: {e}", dir.display())))?;
        let path = dir.join("store.redb");
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(&path)?;
        // Make sure every table exists so readers never see "table does not exist".
        let wtx = db.begin_write()?;
        {
            wtx.open_table(LOG)?;
            wtx.open_table(HIST)?;
            wtx.open_table(CUR)?;
            wtx.open_table(META)?;
        }
        wtx.commit()?;
        let (current, compacted) = {
            let rtx = db.begin_read()?;
            let m = rtx.open_table(META)?;
            (meta(&m, META_REVISION)?, meta(&m, META_COMPACTED)?)
        };
        // etcd starts at revision 1; so do we, so that 0 can mean "absent" everywhere.
        let current = current.max(1);
        info!(path = %path.display(), revision = current, compacted, "embedded store opened");
        let (events, _) = broadcast::channel(BROADCAST_CAPACITY);
        let inner = Arc::new(Inner {
            db,
            current: AtomicI64::new(current),
            compacted: AtomicI64::new(compacted),
            events: std::sync::RwLock::new(Some(events)),
        });
        let (tx, rx) = mpsc::channel();
        let w = Arc::clone(&inner);
        let writer = std::thread::Builder::new()
            .name("rkube-store-writer".into())
            .spawn(move || writer::run(w, rx))
            .map_err(|e| Error::Embedded(format!("spawning the writer: {e}")))?;
        Ok(Self {
            inner,
            path,
            writer_tx: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
            closed: AtomicBool::new(false),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    async fn submit<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T>>) -> Request,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        {
            let guard = self.writer_tx.lock().expect("writer_tx lock");
            let sender = guard.as_ref().ok_or_else(|| Error::Closed)?;
            sender.send(make(tx)).map_err(|_| Error::Closed)?;
        }
        rx.await
            .map_err(|_| Error::Unavailable("store writer stopped".into()))?
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    async fn range(&self, req: RangeRequest) -> Result<RangeResponse> {
        self.check_open()?;
        let rtx = self.inner.db.begin_read()?;
        let m = rtx.open_table(META)?;
        let current = meta(&m, META_REVISION)?.max(1);
        let compacted = meta(&m, META_COMPACTED)?;
        let (cur, hist, log) = (
            rtx.open_table(CUR)?,
            rtx.open_table(HIST)?,
            rtx.open_table(LOG)?,
        );
        Tables {
            cur: &cur,
            hist: &hist,
            log: &log,
        }
        .range(&req, current, compacted)
    }

    async fn txn(&self, txn: Txn) -> Result<TxnResponse> {
        self.check_open()?;
        txn.validate()?;
        self.submit(|tx| Request::Txn(txn, tx)).await
    }

    async fn watch(&self, req: WatchRequest) -> Result<WatchStream> {
        self.check_open()?;
        watch::start(&self.inner, req).ok_or_else(|| Error::Closed)
    }

    async fn compact(&self, revision: i64) -> Result<()> {
        self.check_open()?;
        self.submit(|tx| Request::Compact(revision, tx)).await
    }

    async fn revisions(&self) -> Result<Revisions> {
        self.check_open()?;
        Ok(Revisions {
            current: self.inner.current.load(Ordering::Acquire),
            compacted: self.inner.compacted.load(Ordering::Acquire),
        })
    }

    async fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        // Dropping the sender lets the writer drain what is queued, then stop.
        drop(self.writer_tx.lock().expect("writer_tx lock").take());
        let handle = self.writer.lock().expect("writer lock").take();
        if let Some(h) = handle {
            tokio::task::spawn_blocking(move || h.join())
                .await
                .map_err(|e| Error::Embedded(e.to_string()))?
                .map_err(|_| Error::Embedded("writer thread panicked".into()))?;
        }
        self.inner.events.write().expect("events lock").take();
        info!(path = %self.path.display(), "embedded store closed");
        Ok(())
    }
}
