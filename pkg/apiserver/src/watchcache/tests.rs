use std::time::Duration;

use rkube_store::{embedded::EmbeddedStore, KeyValue, RangeRequest, StoreExt};

use super::*;

fn value(name: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"metadata": {"name": name}})).unwrap()
}

async fn next(sub: &mut Subscription) -> Result<Arc<Event>, CutOff> {
    tokio::time::timeout(Duration::from_secs(10), sub.recv())
        .await
        .expect("an event within 10 s")
}

#[tokio::test]
async fn watchers_read_the_ring_at_their_own_pace_and_are_cut_off_behind_it() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
    let cache = WatchCache::with_ring(store.clone(), 4, false);
    let start = store.revisions().await.unwrap().current;
    let mut fast = cache.subscribe("/p/", start).await.unwrap().unwrap();
    let mut slow = cache.subscribe("/p/", start).await.unwrap().unwrap();
    let mut revs = Vec::new();
    for i in 0..3 {
        revs.push(
            store
                .put(format!("/p/{i}").as_bytes(), &value(&i.to_string()))
                .await
                .unwrap(),
        );
        // Keys outside the prefix are not this hub's.
        store.put(b"/q/x", &value("x")).await.unwrap();
    }
    for (i, rev) in revs.iter().enumerate() {
        let ev = next(&mut fast).await.unwrap();
        assert_eq!(
            (ev.revision, ev.key.clone()),
            (*rev, format!("/p/{i}").into_bytes())
        );
        assert_eq!(
            ev.object().unwrap()["metadata"]["resourceVersion"],
            rev.to_string()
        );
    }
    // A watch resuming from a revision the ring holds is served from it.
    let mut resumed = cache.subscribe("/p/", revs[0]).await.unwrap().unwrap();
    assert_eq!(next(&mut resumed).await.unwrap().revision, revs[1]);
    // What is already in the ring comes at once, up to the maximum asked for.
    let mut burst = cache.subscribe("/p/", start).await.unwrap().unwrap();
    let mut got = Vec::new();
    burst.recv_many(&mut got, 2).await.unwrap();
    burst.recv_many(&mut got, 10).await.unwrap();
    let got: Vec<i64> = got.iter().map(|e| e.revision).collect();
    assert_eq!(got, revs);
    // Three more events push the slow watcher's next one out of the 4-event ring.
    for i in 3..6 {
        store
            .put(format!("/p/{i}").as_bytes(), &value("v"))
            .await
            .unwrap();
    }
    for _ in 3..6 {
        next(&mut fast).await.unwrap();
    }
    assert!(
        next(&mut slow).await.is_err(),
        "a watcher behind the ring is cut off"
    );
    // A revision older than the ring goes to the store instead.
    assert!(cache.subscribe("/p/", start).await.unwrap().is_none());
    store.close().await.unwrap();
}

/// The stores the list cache is tried on: the embedded one, and the etcd named by
/// RKUBE_TEST_ETCD when set (hack/test.sh), under a prefix of this run's own.
async fn stores(dir: &std::path::Path) -> Vec<(Arc<dyn Store>, String)> {
    let mut out: Vec<(Arc<dyn Store>, String)> = vec![(
        Arc::new(EmbeddedStore::open(dir).unwrap()),
        "/registry/".into(),
    )];
    if let Ok(url) = std::env::var("RKUBE_TEST_ETCD") {
        let cfg = rkube_store::etcd::EtcdConfig {
            endpoints: vec![url],
            ..Default::default()
        };
        let etcd = rkube_store::etcd::EtcdStore::connect(&cfg).await.unwrap();
        out.push((Arc::new(etcd), format!("/wc-{}/", uuid::Uuid::new_v4())));
    }
    out
}

/// The cache's list of `range`, polled until its objects are loaded.
async fn list_loaded(cache: &WatchCache, prefix: &str, range: &str) -> (Vec<KeyValue>, i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(l) = list(cache, prefix, range, None).await {
            return l;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the objects of {prefix} were not loaded within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The cache's list as KeyValues and its revision.
async fn list(
    cache: &WatchCache,
    prefix: &str,
    range: &str,
    min: Option<i64>,
) -> Option<(Vec<KeyValue>, i64)> {
    let l = cache.list(prefix, range.as_bytes(), min).await.unwrap()?;
    Some((
        l.items.into_iter().map(KeyValue::from).collect(),
        l.revision,
    ))
}

fn names(kvs: &[KeyValue]) -> Vec<String> {
    kvs.iter()
        .map(|kv| {
            String::from_utf8_lossy(&kv.key)
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_come_from_the_objects_kept_and_reflect_every_write_made_before_them() {
    let dir = tempfile::tempdir().unwrap();
    for (store, root) in stores(dir.path()).await {
        let p = format!("{root}things/");
        let q = format!("{root}others/");
        for (key, name) in [
            (format!("{p}ns1/a"), "a"),
            (format!("{p}ns1/b"), "b"),
            (format!("{p}ns2/c"), "c"),
            (format!("{q}ns1/x"), "x"),
        ] {
            store.put(key.as_bytes(), &value(name)).await.unwrap();
        }

        assert!(
            list(&WatchCache::new(store.clone(), false), &p, &p, Some(0))
                .await
                .is_none(),
            "a cache without list_cache keeps no objects"
        );
        let cache = WatchCache::new(store.clone(), true);
        let (all, rev) = list_loaded(&cache, &p, &p).await;
        assert_eq!(names(&all), ["a", "b", "c"]);
        assert!(rev > 0);
        let (ns1, _) = list_loaded(&cache, &p, &format!("{p}ns1/")).await;
        assert_eq!(names(&ns1), ["a", "b"]);

        // Writes made just before a list are in it: it waits for the cache to see them.
        let a2 = store
            .put(format!("{p}ns1/a").as_bytes(), &value("a2"))
            .await
            .unwrap();
        store
            .delete(format!("{p}ns1/b").as_bytes(), 0)
            .await
            .unwrap()
            .unwrap();
        let d = store
            .put(format!("{p}ns2/d").as_bytes(), &value("d"))
            .await
            .unwrap();
        let (all, rev) = list(&cache, &p, &p, None).await.unwrap();
        assert_eq!(names(&all), ["a", "c", "d"]);
        assert!(rev >= d, "listed at {rev}, before the last write {d}");
        assert_eq!(all[0].mod_revision, a2);
        assert_eq!(all[0].value, value("a2"));

        // The same for a burst the cache is still taking in when the list comes.
        let burst = (0..300).map(|i| {
            let store = store.clone();
            let key = format!("{p}ns3/f{i:03}");
            async move { store.put(key.as_bytes(), &value("f")).await.unwrap() }
        });
        futures_util::future::join_all(burst).await;
        let current = store.revisions().await.unwrap().current;
        let (ns3, rev) = list(&cache, &p, &format!("{p}ns3/"), None).await.unwrap();
        assert_eq!((ns3.len(), rev >= current), (300, true));

        // A write of another type moves the current revision too; the cache sees that as
        // well (it follows every key), so the list is still served, at once.
        let x2 = store
            .put(format!("{q}ns1/x").as_bytes(), &value("x2"))
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let (_, rev) = list(&cache, &p, &p, Some(x2)).await.unwrap();
        assert!(rev >= x2);
        assert!(started.elapsed() < FRESH_WAIT);

        // A watch from the list's revision gets exactly what came after it.
        let mut sub = cache.subscribe(&p, rev).await.unwrap().unwrap();
        let e = store
            .put(format!("{p}ns1/e").as_bytes(), &value("e"))
            .await
            .unwrap();
        let ev = next(&mut sub).await.unwrap();
        assert_eq!(
            (ev.revision, ev.key.clone()),
            (e, format!("{p}ns1/e").into_bytes())
        );

        // Nothing was lost on the way: the objects kept are the store's.
        let (cached, _) = list(&cache, &p, &p, None).await.unwrap();
        let stored = store
            .range(RangeRequest::prefix(p.clone()))
            .await
            .unwrap()
            .kvs;
        let pairs = |kvs: &[KeyValue]| {
            kvs.iter()
                .map(|kv| (kv.key.clone(), kv.value.clone(), kv.mod_revision))
                .collect::<Vec<_>>()
        };
        assert_eq!(pairs(&cached), pairs(&stored));

        // A revision the store has not reached is refused after the wait, as upstream
        // (504 Too large resource version), with or without the objects kept.
        let current = store.revisions().await.unwrap().current;
        let quick = |keeps| {
            WatchCache::new(store.clone(), keeps).with_fresh_wait(Duration::from_millis(300))
        };
        for c in [quick(true), quick(false)] {
            let err = c.list(&p, p.as_bytes(), Some(current + 1000)).await.err();
            assert!(
                matches!(err, Some(rkube_store::Error::FutureRevision { requested, .. }) if requested == current + 1000),
                "{err:?}"
            );
        }

        let ours = store
            .range(RangeRequest::prefix(root.clone()))
            .await
            .unwrap();
        for kv in ours.kvs {
            store.delete(&kv.key, 0).await.unwrap().unwrap();
        }
        store.close().await.unwrap();
    }
}
