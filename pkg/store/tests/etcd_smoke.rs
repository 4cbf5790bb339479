//! Checks of the etcd backend's own mapping (error values, compaction discovery, close) that the
//! shared conformance suite does not pin down. Runs against the etcd named by RKUBE_TEST_ETCD
//! and is skipped without it. It compacts that etcd, so point it at a throwaway one.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rkube_store::{
    etcd::{EtcdConfig, EtcdStore},
    Error, EventKind, Op, OpResponse, RangeRequest, Store, StoreExt, Txn, WatchRequest,
};

fn endpoint() -> Option<String> {
    let e = std::env::var("RKUBE_TEST_ETCD").ok();
    if e.is_none() {
        eprintln!("skipped: RKUBE_TEST_ETCD is not set");
    }
    e
}

async fn connect(endpoint: &str) -> EtcdStore {
    let cfg = EtcdConfig {
        endpoints: vec![endpoint.to_owned()],
        ..EtcdConfig::default()
    };
    EtcdStore::connect(&cfg).await.expect("connect")
}

fn prefix(name: &str) -> String {
    format!("/etcd-smoke/{}-{name}/", std::process::id())
}

#[tokio::test]
async fn unreachable_endpoint_is_unavailable() {
    if endpoint().is_none() {
        return;
    }
    let cfg = EtcdConfig {
        endpoints: vec!["http://127.0.0.1:1".into()],
        ..EtcdConfig::default()
    };
    let started = Instant::now();
    let err = EtcdStore::connect(&cfg)
        .await
        .err()
        .expect("connect must fail");
    assert!(
        matches!(&err, Error::Unavailable(m) if m.contains("127.0.0.1:1")),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    let cfg = EtcdConfig {
        endpoints: vec!["https://127.0.0.1:1".into()],
        ca_file: Some("/nonexistent/ca.pem".into()),
        ..EtcdConfig::default()
    };
    let err = EtcdStore::connect(&cfg)
        .await
        .err()
        .expect("connect must fail");
    assert!(
        matches!(&err, Error::InvalidArgument(m) if m.contains("/nonexistent/ca.pem")),
        "{err:?}"
    );
}

#[tokio::test]
async fn errors_name_their_revisions() {
    let Some(ep) = endpoint() else { return };
    let s = connect(&ep).await;
    let other = connect(&ep).await;
    let p = prefix("errors");
    let k = format!("{p}k").into_bytes();
    let r1 = s.put(&k, b"1").await.unwrap();
    let r2 = s.put(&k, b"2").await.unwrap();
    let r3 = s.put(&k, b"3").await.unwrap();

    let future = s
        .range(RangeRequest::key(k.clone()).at_revision(r3 + 100))
        .await;
    let Err(Error::FutureRevision { requested, current }) = future else {
        panic!("{future:?}")
    };
    assert_eq!(requested, r3 + 100);
    assert!(current >= r3);

    // Compacted by another client: this one learns the compact revision from etcd.
    other.compact(r2).await.unwrap();
    let old = s.range(RangeRequest::key(k.clone()).at_revision(r1)).await;
    let Err(Error::Compacted {
        requested,
        compact_revision,
    }) = old
    else {
        panic!("{old:?}")
    };
    assert_eq!(requested, r1);
    assert!(compact_revision >= r2, "{compact_revision} < {r2}");
    let revs = s.revisions().await.unwrap();
    assert!(revs.compacted >= r2 && revs.current >= r3, "{revs:?}");
    assert_eq!(
        s.range(RangeRequest::key(k.clone()).at_revision(r2))
            .await
            .unwrap()
            .kvs[0]
            .value,
        b"2"
    );

    // Compacting again at or below the compact revision is `Compacted`, past now is future.
    let again = s.compact(r2).await;
    assert!(
        matches!(again, Err(Error::Compacted { requested, .. }) if requested == r2),
        "{again:?}"
    );
    let ahead = s.compact(revs.current + 100).await;
    assert!(
        matches!(ahead, Err(Error::FutureRevision { .. })),
        "{ahead:?}"
    );

    // A watch from before the compaction: one `Compacted`, then the end.
    let mut w = s
        .watch(WatchRequest::prefix(p.clone()).from_revision(r1))
        .await
        .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), w.next())
        .await
        .unwrap();
    let Some(Err(Error::Compacted {
        requested,
        compact_revision,
    })) = first
    else {
        panic!("{first:?}")
    };
    assert_eq!(requested, r1);
    assert!(compact_revision >= r2, "{compact_revision} < {r2}");
    assert!(tokio::time::timeout(Duration::from_secs(10), w.next())
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn txn_mapping() {
    let Some(ep) = endpoint() else { return };
    let s = connect(&ep).await;
    let p = prefix("txn");
    let (a, b) = (format!("{p}a").into_bytes(), format!("{p}b").into_bytes());
    let r1 = s.put(&a, b"1").await.unwrap();
    let resp = s
        .txn(Txn::new().and_then([
            Op::put(a.clone(), "2"),
            Op::delete(b.clone()),
            Op::Range(RangeRequest::prefix(p.clone())),
        ]))
        .await
        .unwrap();
    assert!(resp.succeeded);
    // Not r1 + 1 exactly: this file's other cases write to the same etcd in parallel.
    assert!(resp.revision > r1, "{} <= {r1}", resp.revision);
    match &resp.responses[..] {
        [OpResponse::Put {
            prev_kv: Some(prev),
        }, OpResponse::Delete {
            deleted: 0,
            prev_kv: None,
        }, OpResponse::Range(r)] => {
            assert_eq!((prev.value.as_slice(), prev.mod_revision), (&b"1"[..], r1));
            assert_eq!(r.kvs.len(), 1);
            assert_eq!(
                r.kvs[0].value, b"2",
                "a read after a write in one txn sees it"
            );
            assert_eq!(
                r.kvs[0].mod_revision, resp.revision,
                "the txn's one revision"
            );
            assert_eq!(r.revision, resp.revision);
        }
        other => panic!("{other:?}"),
    }
    // Everything from the empty key: etcd's "\0" spelling.
    let all = s
        .range(RangeRequest::range(Vec::new(), vec![0]).count_only())
        .await
        .unwrap();
    assert!(all.count >= 1);
}

#[tokio::test]
async fn close_ends_everything() {
    let Some(ep) = endpoint() else { return };
    let s = connect(&ep).await;
    let p = prefix("close");
    let k = format!("{p}x").into_bytes();
    let mut w = s.watch(WatchRequest::prefix(p.clone())).await.unwrap();
    let r = s.put(&k, b"1").await.unwrap();
    s.delete(&k, 0).await.unwrap().unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(10), w.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (ev.kind, ev.kv.mod_revision, ev.prev_kv),
        (EventKind::Put, r, None)
    );
    let ev = tokio::time::timeout(Duration::from_secs(10), w.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (ev.kind, ev.prev_kv.unwrap().value),
        (EventKind::Delete, b"1".to_vec())
    );

    let mut idle = s
        .watch(WatchRequest::key(b"/etcd-smoke/never".to_vec()))
        .await
        .unwrap();
    s.close().await.unwrap();
    s.close().await.unwrap();
    assert!(tokio::time::timeout(Duration::from_secs(5), idle.next())
        .await
        .unwrap()
        .is_none());
    assert!(tokio::time::timeout(Duration::from_secs(5), w.next())
        .await
        .unwrap()
        .is_none());
    for err in [
        s.range(RangeRequest::key(k.clone())).await.err(),
        s.watch(WatchRequest::key(k.clone())).await.err(),
        s.revisions().await.err(),
        s.compact(1).await.err(),
        s.txn(Txn::new()).await.err(),
    ] {
        assert!(matches!(err, Some(Error::Closed)), "{err:?}");
    }
}
