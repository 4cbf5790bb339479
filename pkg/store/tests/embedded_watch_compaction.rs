//! An embedded-store watcher that the broadcast still covers is not failed by a compaction
//! made while it was busy delivering: it reads the log only when it fell behind the broadcast.

use futures_util::StreamExt;
use rkube_store::{embedded::EmbeddedStore, Store, StoreExt, WatchRequest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_within_the_broadcast_survives_a_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let first = store.put(b"/w/k", b"0").await.unwrap();
    let mut w = store
        .watch(WatchRequest::prefix(b"/w/".to_vec()).from_revision(first))
        .await
        .unwrap();
    // More events than the watcher's queue holds (256), none read yet: its task waits on
    // the consumer while the commits and the compaction go on.
    let mut last = first;
    for i in 1..=400 {
        last = store.put(b"/w/k", format!("{i}").as_bytes()).await.unwrap();
    }
    store.compact(last).await.unwrap();
    let deadline = std::time::Duration::from_secs(30);
    for want in first..=last {
        let ev = tokio::time::timeout(deadline, w.next())
            .await
            .expect("an event within the deadline")
            .expect("the stream goes on")
            .unwrap_or_else(|e| panic!("watch failed at revision {want}: {e}"));
        assert_eq!(ev.kv.mod_revision, want);
    }
}
