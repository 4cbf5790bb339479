//! Opens each backend for the shared conformance cases.
#![allow(dead_code)]

use std::sync::{
    atomic::{AtomicU32, Ordering},
    Arc,
};

use futures_util::StreamExt;
use rkube_store::{etcd::EtcdConfig, Store, WatchEvent, WatchStream};
use tokio::sync::{Mutex, MutexGuard};

/// etcd cases share one etcd: they run one at a time so revision arithmetic stays exact.
static ETCD_LOCK: Mutex<()> = Mutex::const_new(());
static SEQ: AtomicU32 = AtomicU32::new(0);

pub struct Harness {
    pub store: Arc<dyn Store>,
    /// A key prefix of this case's own, ending in '/'.
    pub prefix: String,
    _dir: Option<tempfile::TempDir>,
    _lock: Option<MutexGuard<'static, ()>>,
}

impl Harness {
    pub fn key(&self, name: &str) -> Vec<u8> {
        format!("{}{name}", self.prefix).into_bytes()
    }
}

fn unique_prefix() -> String {
    format!(
        "/conformance/{}-{}/",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

pub async fn embedded() -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = rkube_store::embedded::EmbeddedStore::open(dir.path()).expect("open embedded");
    Harness {
        store: Arc::new(store),
        prefix: unique_prefix(),
        _dir: Some(dir),
        _lock: None,
    }
}

/// The etcd named by RKUBE_TEST_ETCD (hack/test.sh starts one). Without it the case is
/// skipped locally, and fails under CI, where skipping would hide a broken backend.
pub async fn etcd() -> Option<Harness> {
    let Ok(endpoint) = std::env::var("RKUBE_TEST_ETCD") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "RKUBE_TEST_ETCD must be set under CI (hack/test.sh sets it)"
        );
        eprintln!("skipped: RKUBE_TEST_ETCD is not set");
        return None;
    };
    let lock = ETCD_LOCK.lock().await;
    let cfg = EtcdConfig {
        endpoints: vec![endpoint],
        ..EtcdConfig::default()
    };
    let store = rkube_store::etcd::EtcdStore::connect(&cfg)
        .await
        .expect("connect etcd");
    Some(Harness {
        store: Arc::new(store),
        prefix: unique_prefix(),
        _dir: None,
        _lock: Some(lock),
    })
}

/// The next `n` events, failing after a deadline rather than hanging.
pub async fn next_events(w: &mut WatchStream, n: usize) -> Vec<WatchEvent> {
    let mut out = Vec::with_capacity(n);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while out.len() < n {
        match tokio::time::timeout_at(deadline, w.next()).await {
            Ok(Some(Ok(ev))) => out.push(ev),
            Ok(Some(Err(e))) => panic!("watch error after {} events: {e}", out.len()),
            Ok(None) => panic!("watch ended after {} of {n} events", out.len()),
            Err(_) => panic!("timed out after {} of {n} events", out.len()),
        }
    }
    out
}

/// Runs each case against both backends.
#[macro_export]
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::common::embedded().await).await;
                }
            )*
        }
        mod etcd {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(h) = super::common::etcd().await {
                        super::$case(h).await;
                    }
                }
            )*
        }
    };
}
