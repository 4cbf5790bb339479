//! The embedded store across a clean close and reopen: data, revisions and history stay.

use futures_util::StreamExt;
use rkube_store::{embedded::EmbeddedStore, RangeRequest, Store, StoreExt, WatchRequest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_keeps_data_revisions_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let r1 = store.put(b"/r/a", b"1").await.unwrap();
    let r2 = store.put(b"/r/a", b"2").await.unwrap();
    let r3 = store.put(b"/r/b", b"1").await.unwrap();
    store.compact(r2).await.unwrap();
    store.close().await.unwrap();
    drop(store);

    let store = EmbeddedStore::open(dir.path()).unwrap();
    let revs = store.revisions().await.unwrap();
    assert_eq!((revs.current, revs.compacted), (r3, r2));
    let a = store.get(b"/r/a").await.unwrap().unwrap();
    assert_eq!(
        (
            a.value.as_slice(),
            a.create_revision,
            a.mod_revision,
            a.version
        ),
        (&b"2"[..], r1, r2, 2)
    );
    let mut w = store
        .watch(WatchRequest::prefix("/r/").from_revision(r2 + 1))
        .await
        .unwrap();
    assert_eq!(w.next().await.unwrap().unwrap().kv.mod_revision, r3);
    assert!(store
        .range(RangeRequest::prefix("/r/").at_revision(r1))
        .await
        .is_err());
    assert_eq!(store.put(b"/r/c", b"1").await.unwrap(), r3 + 1);
}
