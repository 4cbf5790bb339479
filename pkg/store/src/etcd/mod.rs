//! The etcd backend: the [`Store`] contract is etcd v3's own, so this is a thin mapping of
//! shapes and errors onto `etcd-client`. The one thing etcd 3.4 does not report directly, the
//! compact revision, is tracked locally and, when stale, found by probing (see
//! [`EtcdStore::find_compacted`]).

mod watch;

use std::{
    future::Future,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc,
    },
    time::Duration,
};

use async_trait::async_trait;
use etcd_client as ec;
use tokio::sync::watch as signal;
use tracing::{debug, info, warn};

use crate::{
    CompareResult, CompareTarget, Error, KeyValue, Op, OpResponse, RangeRequest, RangeResponse,
    Result, Revisions, Store, Txn, TxnResponse, WatchRequest, WatchStream,
};

/// How to reach etcd: k3s' `--datastore-endpoint` and `--datastore-{cafile,certfile,keyfile}`.
#[derive(Debug, Clone, Default)]
pub struct EtcdConfig {
    pub endpoints: Vec<String>,
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

/// Bounds the TCP/TLS connect (and the first request) so a dead endpoint fails fast.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// HTTP/2 pings, as kube-apiserver's etcd client (30 s / 10 s), to notice silently dead peers;
/// above etcd's default `--grpc-keepalive-min-time` (5 s) so etcd does not refuse them.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound on one unary call, so a black-holed etcd surfaces as `Unavailable`.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Physical compaction of a large database takes a while.
const COMPACT_TIMEOUT: Duration = Duration::from_secs(300);
/// Large lists exceed tonic's 4 MiB default; kube-apiserver allows `math.MaxInt32` too.
const MAX_RECV_MESSAGE: usize = i32::MAX as usize;

/// A store served by a real etcd.
pub struct EtcdStore {
    kv: ec::KvClient,
    watch: ec::WatchClient,
    /// For error messages and logs.
    endpoints: String,
    /// The highest compact revision known: compactions by this client and revisions learned from
    /// `Compacted` answers (etcd 3.4 has no API that reports it; it only grows, so it is a lower
    /// bound that `find_compacted` corrects when etcd says a read at it is compacted).
    compacted: Arc<AtomicI64>,
    /// `true` once closed: pending calls return `Unavailable` and open watch streams end.
    closed: signal::Sender<bool>,
    /// Owns the endpoint set of the shared channel the clients above use.
    _client: ec::Client,
}

impl EtcdStore {
    /// Connects and checks that etcd answers, so a wrong endpoint fails here, not later.
    pub async fn connect(cfg: &EtcdConfig) -> Result<Self> {
        if cfg.endpoints.is_empty() {
            return Err(Error::InvalidArgument("no etcd endpoints given".into()));
        }
        let endpoints = cfg.endpoints.join(",");
        let mut opts = ec::ConnectOptions::new()
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_keep_alive(KEEP_ALIVE_INTERVAL, KEEP_ALIVE_TIMEOUT)
            // Fail (and so re-establish) watches on a member that lost its leader, as kube does.
            .with_require_leader(true);
        if let Some(tls) = tls_options(cfg)? {
            opts = opts.with_tls(tls);
        }
        let unavailable =
            |e: String| Error::Unavailable(format!("cannot reach etcd at {endpoints}: {e}"));
        let client = match ec::Client::connect(&cfg.endpoints, Some(opts)).await {
            Ok(c) => c,
            Err(ec::Error::InvalidArgs(m)) => return Err(Error::InvalidArgument(m)),
            Err(ec::Error::InvalidUri(e)) => {
                return Err(Error::InvalidArgument(format!(
                    "etcd endpoint {endpoints}: {e}"
                )))
            }
            Err(e) => return Err(unavailable(e.to_string())),
        };
        let (closed, _) = signal::channel(false);
        let store = Self {
            kv: client
                .kv_client()
                .max_decoding_message_size(MAX_RECV_MESSAGE),
            watch: client
                .watch_client()
                .max_decoding_message_size(MAX_RECV_MESSAGE),
            endpoints: endpoints.clone(),
            compacted: Arc::new(AtomicI64::new(0)),
            closed,
            _client: client,
        };
        // The channel connects lazily; one cheap read proves the endpoints work.
        let current = match tokio::time::timeout(
            CONNECT_TIMEOUT,
            store.kv.clone().get(PROBE_KEY, Some(probe_options(0))),
        )
        .await
        {
            Ok(Ok(resp)) => resp.header().map_or(0, |h| h.revision()),
            Ok(Err(e)) => return Err(unavailable(e.to_string())),
            Err(_) => return Err(unavailable(format!("no answer within {CONNECT_TIMEOUT:?}"))),
        };
        info!(endpoints = %endpoints, revision = current, "connected to etcd");
        Ok(store)
    }

    fn check_open(&self) -> Result<()> {
        if *self.closed.borrow() {
            return Err(closed_error());
        }
        Ok(())
    }

    /// Runs one etcd call, bounded by `limit` and cut short by [`Store::close`].
    async fn call<T>(
        &self,
        what: &'static str,
        limit: Duration,
        fut: impl Future<Output = Result<T, ec::Error>>,
    ) -> Result<T, Failure> {
        self.check_open().map_err(Failure::Other)?;
        let mut closed = self.closed.subscribe();
        tokio::select! {
            biased;
            () = wait_closed(&mut closed) => Err(Failure::Other(closed_error())),
            r = tokio::time::timeout(limit, fut) => match r {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(e)) => Err(classify(e, &self.endpoints)),
                Err(_) => Err(Failure::Other(Error::Unavailable(format!(
                    "etcd {what} got no answer within {limit:?} from {}",
                    self.endpoints
                )))),
            },
        }
    }

    /// Turns a failure into the contract's error, asking etcd for the revisions it must name.
    async fn resolve(&self, f: Failure, requested: i64) -> Error {
        match f {
            Failure::Other(e) => e,
            Failure::Compacted => {
                // etcd refuses reads below its compact revision and compactions at or below it,
                // so in both cases a read at `requested - 1` would be refused.
                let compact_revision = match self.find_compacted(requested - 1).await {
                    Ok(r) => r.compacted,
                    Err(_) => self.compacted.load(Ordering::Acquire),
                };
                Error::Compacted {
                    requested,
                    compact_revision,
                }
            }
            Failure::FutureRevision => {
                let current = self.probe(0).await.unwrap_or(0);
                Error::FutureRevision { requested, current }
            }
        }
    }

    /// The header revision of a count-only read of one key at `revision` (0: the latest); fails
    /// with `Failure::Compacted` exactly when `revision` is below etcd's compact revision.
    async fn probe(&self, revision: i64) -> Result<i64, Failure> {
        let resp = self
            .call(
                "range",
                REQUEST_TIMEOUT,
                self.kv
                    .clone()
                    .get(PROBE_KEY, Some(probe_options(revision))),
            )
            .await?;
        Ok(resp.header().map_or(0, |h| h.revision()))
    }

    /// etcd 3.4 reports its compact revision nowhere but in canceled watches, yet serves a read at
    /// revision `r` exactly when `r >= compact revision`; so the compact revision is the lowest
    /// readable revision, found by binary search. The search starts above `refused`, a revision
    /// known to be refused (or 0), and above the tracked value, which is a lower bound. A few
    /// dozen tiny reads at worst, and only when etcd said the tracker is stale.
    async fn find_compacted(&self, refused: i64) -> Result<Revisions> {
        let current = match self.probe(0).await {
            Ok(c) => c,
            Err(Failure::Other(e)) => return Err(e),
            Err(_) => {
                return Err(Error::Unavailable(
                    "etcd refused a read at its current revision".into(),
                ))
            }
        };
        // Invariant: a read at `lo` is refused (0 stands for "below every revision"), one at `hi`
        // is served (the current revision always is).
        let known = self.compacted.load(Ordering::Acquire);
        let (mut lo, mut hi) = (refused.max(known - 1).clamp(0, current), current);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            match self.probe(mid).await {
                Ok(_) => hi = mid,
                Err(Failure::Other(e)) => return Err(e),
                Err(_) => lo = mid,
            }
        }
        let compacted = self.compacted.fetch_max(hi, Ordering::AcqRel).max(hi);
        debug!(compacted, current, "found etcd's compact revision");
        Ok(Revisions { current, compacted })
    }
}

#[async_trait]
impl Store for EtcdStore {
    fn backend(&self) -> &'static str {
        "etcd"
    }

    async fn range(&self, req: RangeRequest) -> Result<RangeResponse> {
        debug!(
            key = %req.key.escape_ascii(),
            range_end = %req.range_end.escape_ascii(),
            revision = req.revision,
            limit = req.limit,
            "etcd range"
        );
        let (key, opts) = get_options(&req);
        match self
            .call(
                "range",
                REQUEST_TIMEOUT,
                self.kv.clone().get(key, Some(opts)),
            )
            .await
        {
            Ok(resp) => Ok(range_response(resp, 0)),
            Err(f) => Err(self.resolve(f, req.revision).await),
        }
    }

    async fn txn(&self, txn: Txn) -> Result<TxnResponse> {
        self.check_open()?;
        txn.validate()?;
        let etcd_txn = ec::Txn::new()
            .when(txn.compare.iter().map(compare).collect::<Vec<_>>())
            .and_then(txn.success.iter().map(txn_op).collect::<Vec<_>>())
            .or_else(txn.failure.iter().map(txn_op).collect::<Vec<_>>());
        let mut resp = match self
            .call("txn", REQUEST_TIMEOUT, self.kv.clone().txn(etcd_txn))
            .await
        {
            Ok(r) => r,
            // Only a `Range` op reads at a revision; name the oldest one.
            Err(f) => {
                let requested = txn
                    .success
                    .iter()
                    .chain(&txn.failure)
                    .filter_map(|op| match op {
                        Op::Range(r) if r.revision > 0 => Some(r.revision),
                        _ => None,
                    })
                    .min()
                    .unwrap_or(0);
                return Err(self.resolve(f, requested).await);
            }
        };
        let revision = resp.take_header().map_or(0, |h| h.revision());
        let responses = resp
            .op_responses()
            .into_iter()
            .map(|r| match r {
                ec::TxnOpResponse::Put(mut p) => Ok(OpResponse::Put {
                    prev_kv: p.take_prev_key().map(key_value),
                }),
                ec::TxnOpResponse::Delete(mut d) => Ok(OpResponse::Delete {
                    deleted: d.deleted(),
                    prev_kv: d.take_prev_kvs().into_iter().next().map(key_value),
                }),
                ec::TxnOpResponse::Get(g) => Ok(OpResponse::Range(range_response(g, revision))),
                ec::TxnOpResponse::Txn(_) => Err(Error::Etcd(ec::Error::Internal(
                    "nested txn response to a flat txn".into(),
                ))),
            })
            .collect::<Result<Vec<_>>>()?;
        debug!(
            succeeded = resp.succeeded(),
            revision,
            ops = responses.len(),
            "etcd txn"
        );
        Ok(TxnResponse {
            succeeded: resp.succeeded(),
            revision,
            responses,
        })
    }

    async fn watch(&self, req: WatchRequest) -> Result<WatchStream> {
        debug!(
            key = %req.key.escape_ascii(),
            range_end = %req.range_end.escape_ascii(),
            start_revision = req.start_revision,
            "etcd watch"
        );
        let (key, range_end) = normalize_range(&req.key, &req.range_end);
        let mut opts = ec::WatchOptions::new().with_prev_key();
        if !range_end.is_empty() {
            opts = opts.with_range(range_end);
        }
        if req.start_revision > 0 {
            opts = opts.with_start_revision(req.start_revision);
        }
        let mut stream = match self
            .call(
                "watch",
                REQUEST_TIMEOUT,
                self.watch.clone().watch(key, Some(opts)),
            )
            .await
        {
            Ok(s) => s,
            Err(f) => return Err(self.resolve(f, req.start_revision).await),
        };
        // etcd registers the watcher before it acknowledges it, so once `created` is here no
        // write made after `watch` returns can be missed (the contract's "changes after now").
        let first = match self.call("watch", REQUEST_TIMEOUT, stream.message()).await {
            Ok(Some(resp)) => resp,
            Ok(None) => {
                return Err(Error::Unavailable(format!(
                    "etcd at {} ended the watch",
                    self.endpoints
                )))
            }
            Err(f) => return Err(self.resolve(f, req.start_revision).await),
        };
        // A refused creation (e.g. range_end before key) is the request's fault.
        if first.created() && first.canceled() && first.compact_revision() == 0 {
            return Err(Error::InvalidArgument(format!(
                "etcd refused the watch: {}",
                first.cancel_reason()
            )));
        }
        let state = watch::Watch::new(
            stream,
            req.start_revision,
            self.closed.subscribe(),
            self.compacted.clone(),
            self.endpoints.clone(),
        );
        Ok(state.into_stream(first))
    }

    async fn compact(&self, revision: i64) -> Result<()> {
        let opts = ec::CompactionOptions::new().with_physical();
        match self
            .call(
                "compact",
                COMPACT_TIMEOUT,
                self.kv.clone().compact(revision, Some(opts)),
            )
            .await
        {
            Ok(_) => {
                self.compacted.fetch_max(revision, Ordering::AcqRel);
                debug!(revision, "etcd compacted");
                Ok(())
            }
            // etcd says "required revision has been compacted" when `revision` <= its compact
            // revision, and "future revision" past the current one: the contract's errors.
            Err(f) => Err(self.resolve(f, revision).await),
        }
    }

    async fn revisions(&self) -> Result<Revisions> {
        let known = self.compacted.load(Ordering::Acquire);
        // A read at the known compact revision succeeds exactly when nobody compacted further
        // (revision 1 always exists, so `known == 0` probes 1), and its header is the current one.
        match self.probe(known.max(1)).await {
            Ok(current) => Ok(Revisions {
                current,
                compacted: known,
            }),
            Err(Failure::Compacted) => self.find_compacted(known.max(1)).await,
            Err(f) => Err(self.resolve(f, known).await),
        }
    }

    async fn close(&self) -> Result<()> {
        if !self.closed.send_replace(true) {
            info!(endpoints = %self.endpoints, "etcd store closed");
        }
        Ok(())
    }
}

/// What an etcd error means for the contract, before the revisions it must name are known.
enum Failure {
    Compacted,
    FutureRevision,
    Other(Error),
}

/// gRPC status codes (tonic's `Code` discriminants), which etcd uses as its error classes.
mod code {
    pub const CANCELLED: i32 = 1;
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const DEADLINE_EXCEEDED: i32 = 4;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const FAILED_PRECONDITION: i32 = 9;
    pub const ABORTED: i32 = 10;
    pub const UNAVAILABLE: i32 = 14;
}

fn classify(e: ec::Error, endpoints: &str) -> Failure {
    let err = match e {
        ec::Error::GRpcStatus(s) => {
            let msg = s.message();
            if msg.contains("required revision has been compacted") {
                return Failure::Compacted;
            }
            if msg.contains("required revision is a future revision") {
                return Failure::FutureRevision;
            }
            // A status carrying a local cause was made here from a broken connection (e.g. "h2
            // protocol error" as `Unknown` when etcd dies mid-watch), not sent by etcd.
            let local = std::error::Error::source(&s).is_some();
            match s.code() as i32 {
                _ if local => Error::Unavailable(format!("etcd at {endpoints}: {msg}")),
                // No leader, timeouts, too many requests, connection refused or reset.
                code::CANCELLED
                | code::DEADLINE_EXCEEDED
                | code::RESOURCE_EXHAUSTED
                | code::ABORTED
                | code::UNAVAILABLE => Error::Unavailable(format!("etcd at {endpoints}: {msg}")),
                // Duplicate key in txn, empty key, too many ops, request too large.
                code::INVALID_ARGUMENT | code::FAILED_PRECONDITION => {
                    Error::InvalidArgument(msg.to_owned())
                }
                _ => Error::Etcd(ec::Error::GRpcStatus(s)),
            }
        }
        ec::Error::TransportError(_) | ec::Error::IoError(_) | ec::Error::WatchError(_) => {
            Error::Unavailable(format!("etcd at {endpoints}: {e}"))
        }
        ec::Error::InvalidArgs(m) => Error::InvalidArgument(m),
        e => Error::Etcd(e),
    };
    Failure::Other(err)
}

fn closed_error() -> Error {
    Error::Closed
}

/// Resolves once the store is closed (or dropped).
async fn wait_closed(closed: &mut signal::Receiver<bool>) {
    let _ = closed.wait_for(|c| *c).await;
}

/// A key nobody writes: probes read it to learn revisions without moving data.
const PROBE_KEY: &[u8] = b"\0";

fn probe_options(revision: i64) -> ec::GetOptions {
    ec::GetOptions::new()
        .with_count_only()
        .with_revision(revision)
}

/// etcd rejects an empty key; with a range end, "from the empty key" is "from `\0`" (no key
/// sorts between them), as etcdctl spells `--from-key ""`.
fn normalize_range(key: &[u8], range_end: &[u8]) -> (Vec<u8>, Vec<u8>) {
    if key.is_empty() && !range_end.is_empty() {
        (vec![0], range_end.to_vec())
    } else {
        (key.to_vec(), range_end.to_vec())
    }
}

fn get_options(req: &RangeRequest) -> (Vec<u8>, ec::GetOptions) {
    let (key, range_end) = normalize_range(&req.key, &req.range_end);
    let mut opts = ec::GetOptions::new()
        .with_limit(req.limit)
        .with_revision(req.revision);
    // `[0]` passes through as etcd's own "to the end of the keyspace".
    if !range_end.is_empty() {
        opts = opts.with_range(range_end);
    }
    if req.keys_only {
        opts = opts.with_keys_only();
    }
    if req.count_only {
        opts = opts.with_count_only();
    }
    (key, opts)
}

/// `revision` stands in when etcd sent no header (sub-responses of a txn may lack one).
fn range_response(mut resp: ec::GetResponse, revision: i64) -> RangeResponse {
    let revision = resp
        .take_header()
        .map(|h| h.revision())
        .filter(|&r| r > 0)
        .unwrap_or(revision);
    RangeResponse {
        kvs: resp.take_kvs().into_iter().map(key_value).collect(),
        more: resp.more(),
        count: resp.count(),
        revision,
    }
}

fn key_value(kv: ec::KeyValue) -> KeyValue {
    let (create_revision, mod_revision, version) =
        (kv.create_revision(), kv.mod_revision(), kv.version());
    let (key, value) = kv.into_key_value();
    KeyValue {
        key,
        value,
        create_revision,
        mod_revision,
        version,
    }
}

fn compare(c: &crate::Compare) -> ec::Compare {
    let op = match c.result {
        CompareResult::Equal => ec::CompareOp::Equal,
        CompareResult::NotEqual => ec::CompareOp::NotEqual,
        CompareResult::Greater => ec::CompareOp::Greater,
        CompareResult::Less => ec::CompareOp::Less,
    };
    let key = c.key.clone();
    match &c.target {
        CompareTarget::ModRevision(r) => ec::Compare::mod_revision(key, op, *r),
        CompareTarget::CreateRevision(r) => ec::Compare::create_revision(key, op, *r),
        CompareTarget::Version(v) => ec::Compare::version(key, op, *v),
        CompareTarget::Value(v) => ec::Compare::value(key, op, v.clone()),
    }
}

fn txn_op(op: &Op) -> ec::TxnOp {
    match op {
        Op::Put { key, value } => ec::TxnOp::put(
            key.clone(),
            value.clone(),
            Some(ec::PutOptions::new().with_prev_key()),
        ),
        Op::Delete { key } => {
            ec::TxnOp::delete(key.clone(), Some(ec::DeleteOptions::new().with_prev_key()))
        }
        Op::Range(req) => {
            let (key, opts) = get_options(req);
            ec::TxnOp::get(key, Some(opts))
        }
    }
}

/// TLS when an endpoint is `https://`: the CA to trust and, optionally, a client identity.
fn tls_options(cfg: &EtcdConfig) -> Result<Option<ec::TlsOptions>> {
    let files = [&cfg.ca_file, &cfg.cert_file, &cfg.key_file];
    if !cfg.endpoints.iter().any(|e| e.starts_with("https://")) {
        if files.iter().any(|f| f.is_some()) {
            warn!(
                endpoints = ?cfg.endpoints,
                "etcd TLS files given but no https:// endpoint; ignoring them"
            );
        }
        return Ok(None);
    }
    let mut tls = ec::TlsOptions::new();
    if let Some(ca) = &cfg.ca_file {
        tls = tls.ca_certificate(ec::Certificate::from_pem(read_pem(ca, "CA")?));
    }
    match (&cfg.cert_file, &cfg.key_file) {
        (Some(cert), Some(key)) => {
            tls = tls.identity(ec::Identity::from_pem(
                read_pem(cert, "certificate")?,
                read_pem(key, "key")?,
            ));
        }
        (None, None) => {}
        _ => {
            return Err(Error::InvalidArgument(
                "etcd client certificate and key files must be given together".into(),
            ))
        }
    }
    Ok(Some(tls))
}

fn read_pem(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        Error::InvalidArgument(format!("reading etcd {what} file {}: {e}", path.display()))
    })
}
