//! One suite, both backends: the contract etcd v3 defines, as the API server relies on it.

mod common;

use std::{collections::BTreeMap, sync::Arc};

use common::{next_events, Harness};
use futures_util::StreamExt;
use rkube_store::{
    Compare, CompareResult, CompareTarget, Error, EventKind, Op, OpResponse, RangeRequest,
    StoreExt, Txn, WatchRequest,
};

conformance!(
    revision_per_write,
    range_limits_counts_and_history,
    prefix_boundaries,
    txn_compare_branches,
    concurrent_compare_and_put_has_one_winner,
    watch_from_every_revision,
    watch_live_with_prev_kv,
    watch_across_compaction,
    large_values,
    many_keys,
    close_ends_watches,
);

async fn revision_per_write(h: Harness) {
    let s = &h.store;
    let r1 = s.put(&h.key("a"), b"1").await.unwrap();
    let r2 = s.put(&h.key("b"), b"1").await.unwrap();
    assert_eq!(r2, r1 + 1);
    let r3 = s.put(&h.key("a"), b"2").await.unwrap();
    assert_eq!(r3, r2 + 1);
    let a = s.get(&h.key("a")).await.unwrap().unwrap();
    assert_eq!(
        (
            a.create_revision,
            a.mod_revision,
            a.version,
            a.value.as_slice()
        ),
        (r1, r3, 2, &b"2"[..])
    );

    // One transaction, one revision, shared by all its writes.
    let t = Txn::new().and_then([
        Op::put(h.key("c"), "x"),
        Op::put(h.key("d"), "y"),
        Op::delete(h.key("b")),
    ]);
    let resp = s.txn(t).await.unwrap();
    assert!(resp.succeeded);
    assert_eq!(resp.revision, r3 + 1);
    assert_eq!(
        s.get(&h.key("c")).await.unwrap().unwrap().mod_revision,
        resp.revision
    );
    assert_eq!(
        s.get(&h.key("d")).await.unwrap().unwrap().mod_revision,
        resp.revision
    );

    // Deleting what is absent writes nothing and takes no revision.
    let r = s
        .txn(Txn::new().and_then([Op::delete(h.key("nope"))]))
        .await
        .unwrap();
    assert_eq!(r.revision, resp.revision);
    assert_eq!(
        r.responses,
        vec![OpResponse::Delete {
            deleted: 0,
            prev_kv: None
        }]
    );
    assert_eq!(s.revisions().await.unwrap().current, resp.revision);

    // Re-creating after a delete starts a new life: new create_revision, version 1.
    let r5 = s.put(&h.key("b"), b"again").await.unwrap();
    let b = s.get(&h.key("b")).await.unwrap().unwrap();
    assert_eq!((b.create_revision, b.version), (r5, 1));
}

async fn range_limits_counts_and_history(h: Harness) {
    let s = &h.store;
    let mut revs = Vec::new();
    for i in 0..10 {
        revs.push(
            s.put(&h.key(&format!("k{i}")), format!("v{i}").as_bytes())
                .await
                .unwrap(),
        );
    }
    let all = s
        .range(RangeRequest::prefix(h.prefix.clone()))
        .await
        .unwrap();
    assert_eq!(all.count, 10);
    assert_eq!(all.kvs.len(), 10);
    assert!(!all.more);
    assert!(
        all.kvs.windows(2).all(|w| w[0].key < w[1].key),
        "sorted by key"
    );
    assert_eq!(all.revision, revs[9]);

    let page = s
        .range(RangeRequest::prefix(h.prefix.clone()).with_limit(3))
        .await
        .unwrap();
    assert_eq!((page.kvs.len(), page.count, page.more), (3, 10, true));
    // Continue after the last key, as the API server's `continue` does.
    let mut from = page.kvs[2].key.clone();
    from.push(0);
    let rest = s
        .range(RangeRequest::range(
            from,
            rkube_store::prefix_end(h.prefix.as_bytes()),
        ))
        .await
        .unwrap();
    assert_eq!(rest.kvs.len(), 7);

    let counted = s
        .range(RangeRequest::prefix(h.prefix.clone()).count_only())
        .await
        .unwrap();
    assert_eq!((counted.count, counted.kvs.len()), (10, 0));
    let keys = s
        .range(RangeRequest::prefix(h.prefix.clone()).keys_only())
        .await
        .unwrap();
    assert!(keys
        .kvs
        .iter()
        .all(|kv| kv.value.is_empty() && kv.mod_revision > 0));

    // Reads at an older revision see the past: values before the update, keys before the delete.
    let before = s.revisions().await.unwrap().current;
    s.put(&h.key("k0"), b"changed").await.unwrap();
    s.delete(&h.key("k1"), 0).await.unwrap().unwrap();
    let then = s
        .range(RangeRequest::prefix(h.prefix.clone()).at_revision(before))
        .await
        .unwrap();
    assert_eq!(then.count, 10);
    assert_eq!(then.kvs[0].value, b"v0");
    assert_eq!(then.kvs[1].key, h.key("k1"));
    let old = s
        .range(RangeRequest::prefix(h.prefix.clone()).at_revision(revs[4]))
        .await
        .unwrap();
    assert_eq!(old.kvs.len(), 5, "only k0..k4 existed at that revision");
    let one = s
        .range(RangeRequest::key(h.key("k1")).at_revision(before))
        .await
        .unwrap();
    assert_eq!(one.kvs[0].value, b"v1");
    let now = s
        .range(RangeRequest::prefix(h.prefix.clone()))
        .await
        .unwrap();
    assert_eq!(now.count, 9);

    let future = s
        .range(RangeRequest::key(h.key("k0")).at_revision(before + 1000))
        .await;
    assert!(
        matches!(future, Err(Error::FutureRevision { .. })),
        "{future:?}"
    );
}

async fn prefix_boundaries(h: Harness) {
    let s = &h.store;
    for k in ["a/b", "a/b/x", "a/b/y", "a/bc", "a/b0", "a/a"] {
        s.put(&h.key(k), k.as_bytes()).await.unwrap();
    }
    let dir = s.range(RangeRequest::prefix(h.key("a/b/"))).await.unwrap();
    let names: Vec<_> = dir.kvs.iter().map(|kv| kv.value.clone()).collect();
    assert_eq!(names, vec![b"a/b/x".to_vec(), b"a/b/y".to_vec()]);
    let exact = s.range(RangeRequest::key(h.key("a/b"))).await.unwrap();
    assert_eq!(exact.kvs.len(), 1);
    assert_eq!(exact.kvs[0].value, b"a/b");

    // A watch on one key sees only that key.
    let mut w = s.watch(WatchRequest::key(h.key("a/b"))).await.unwrap();
    s.put(&h.key("a/bc"), b"2").await.unwrap();
    s.put(&h.key("a/b/x"), b"2").await.unwrap();
    s.put(&h.key("a/b"), b"2").await.unwrap();
    let ev = next_events(&mut w, 1).await;
    assert_eq!(ev[0].kv.key, h.key("a/b"));

    // Keys ending in 0xff bytes: the prefix end carries over.
    let mut hi = h.key("z");
    hi.extend_from_slice(&[0xff, 0xff]);
    let mut inside = hi.clone();
    inside.push(1);
    s.put(&inside, b"in").await.unwrap();
    s.put(&h.key("z\u{0}"), b"out").await.unwrap();
    let r = s.range(RangeRequest::prefix(hi)).await.unwrap();
    assert_eq!(r.kvs.len(), 1);
    assert_eq!(r.kvs[0].value, b"in");
}

async fn txn_compare_branches(h: Harness) {
    let s = &h.store;
    let k = h.key("obj");
    let r1 = s.create(&k, b"v1").await.unwrap().expect("created");
    assert_eq!(
        s.create(&k, b"v1-again").await.unwrap(),
        None,
        "create of an existing key fails"
    );

    let r2 = s
        .update(&k, r1, b"v2")
        .await
        .unwrap()
        .expect("update at the current revision");
    let stale = s
        .update(&k, r1, b"v3")
        .await
        .unwrap()
        .expect_err("stale update must fail");
    assert_eq!(
        stale.unwrap().mod_revision,
        r2,
        "the failure branch returns the current value"
    );
    assert_eq!(s.get(&k).await.unwrap().unwrap().value, b"v2");

    let stale_delete = s.delete(&k, r1).await.unwrap();
    assert!(stale_delete.is_err());
    let (r3, prev) = s
        .delete(&k, r2)
        .await
        .unwrap()
        .expect("delete at the current revision");
    assert_eq!(prev.unwrap().value, b"v2");
    assert!(r3 > r2);
    assert!(s.get(&k).await.unwrap().is_none());

    // Other comparison targets and results.
    s.put(&k, b"m").await.unwrap();
    let cases = [
        (
            Compare::new(
                k.clone(),
                CompareResult::Equal,
                CompareTarget::Value(b"m".to_vec()),
            ),
            true,
        ),
        (
            Compare::new(
                k.clone(),
                CompareResult::Greater,
                CompareTarget::Value(b"a".to_vec()),
            ),
            true,
        ),
        (
            Compare::new(k.clone(), CompareResult::Less, CompareTarget::Version(2)),
            true,
        ),
        (
            Compare::new(
                k.clone(),
                CompareResult::NotEqual,
                CompareTarget::CreateRevision(0),
            ),
            true,
        ),
        (
            Compare::new(
                h.key("absent"),
                CompareResult::Equal,
                CompareTarget::Version(0),
            ),
            true,
        ),
        (
            Compare::new(
                h.key("absent"),
                CompareResult::Equal,
                CompareTarget::Value(vec![]),
            ),
            false,
        ),
        (
            Compare::new(
                k.clone(),
                CompareResult::Greater,
                CompareTarget::ModRevision(r3 + 100),
            ),
            false,
        ),
    ];
    for (c, want) in cases {
        let resp = s
            .txn(Txn::new().when([c.clone()]).or_else([Op::get(k.clone())]))
            .await
            .unwrap();
        assert_eq!(resp.succeeded, want, "{c:?}");
    }

    // A branch that writes one key twice is refused, as etcd does.
    let dup = s
        .txn(Txn::new().and_then([Op::put(k.clone(), "1"), Op::delete(k.clone())]))
        .await;
    assert!(matches!(dup, Err(Error::InvalidArgument(_))), "{dup:?}");
}

async fn concurrent_compare_and_put_has_one_winner(h: Harness) {
    let s = &h.store;
    let k = Arc::new(h.key("race"));
    let mut tasks = Vec::new();
    for i in 0..32 {
        let (s, k) = (Arc::clone(s), Arc::clone(&k));
        tasks.push(tokio::spawn(async move {
            s.create(&k, format!("{i}").as_bytes()).await.unwrap()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap().is_some());
    }
    assert_eq!(winners, 1);

    // A counter incremented by read-compare-write loops loses no increment.
    let c = Arc::new(h.key("counter"));
    s.put(&c, b"0").await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (s, c) = (Arc::clone(s), Arc::clone(&c));
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            for _ in 0..10 {
                loop {
                    let kv = s.get(&c).await.unwrap().unwrap();
                    let n: u64 = std::str::from_utf8(&kv.value).unwrap().parse().unwrap();
                    match s
                        .update(&c, kv.mod_revision, (n + 1).to_string().as_bytes())
                        .await
                        .unwrap()
                    {
                        Ok(_) => break,
                        Err(_) => conflicts += 1,
                    }
                }
            }
            conflicts
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let kv = s.get(&c).await.unwrap().unwrap();
    assert_eq!(kv.value, b"160");
    assert_eq!(kv.version, 161);
}

async fn watch_from_every_revision(h: Harness) {
    let s = &h.store;
    // A history of puts, updates and deletes; remember what each revision did.
    let mut expected = Vec::new();
    let mut state: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for i in 0..30u32 {
        let key = h.key(&format!("w{}", i % 7));
        if i % 5 == 4 && state.contains_key(&key) {
            let (rev, _) = s.delete(&key, 0).await.unwrap().unwrap();
            let prev = state.remove(&key);
            expected.push((rev, EventKind::Delete, key, Vec::new(), prev));
        } else {
            let value = format!("v{i}").into_bytes();
            let rev = s.put(&key, &value).await.unwrap();
            let prev = state.insert(key.clone(), value.clone());
            expected.push((rev, EventKind::Put, key, value, prev));
        }
        // Writes outside the watched prefix must not show up.
        s.put(b"/conformance-outside/x", b"noise").await.unwrap();
    }
    let first = expected[0].0;
    let last = expected.last().unwrap().0;
    for start in first..=last {
        let mut w = s
            .watch(WatchRequest::prefix(h.prefix.clone()).from_revision(start))
            .await
            .unwrap();
        let want: Vec<_> = expected.iter().filter(|e| e.0 >= start).collect();
        let got = next_events(&mut w, want.len()).await;
        for (g, e) in got.iter().zip(&want) {
            assert_eq!(g.kv.mod_revision, e.0, "start {start}");
            assert_eq!(g.kind, e.1);
            assert_eq!(g.kv.key, e.2);
            assert_eq!(g.kv.value, e.3);
            assert_eq!(
                g.prev_kv.as_ref().map(|p| p.value.clone()),
                e.4.clone(),
                "prev_kv at {}",
                e.0
            );
        }
        // Nothing doubled: the next event is a new write, not a repeat.
        let marker = s.put(&h.key("zz-marker"), b"m").await.unwrap();
        let next = next_events(&mut w, 1).await;
        assert_eq!(next[0].kv.mod_revision, marker, "start {start}");
        s.delete(&h.key("zz-marker"), 0).await.unwrap().unwrap();
        expected.push((
            marker,
            EventKind::Put,
            h.key("zz-marker"),
            b"m".to_vec(),
            None,
        ));
        let del = s.revisions().await.unwrap().current;
        expected.push((
            del,
            EventKind::Delete,
            h.key("zz-marker"),
            vec![],
            Some(b"m".to_vec()),
        ));
        expected.sort_by_key(|e| e.0);
    }
}

async fn watch_live_with_prev_kv(h: Harness) {
    let s = &h.store;
    let mut w = s
        .watch(WatchRequest::prefix(h.prefix.clone()))
        .await
        .unwrap();
    let r1 = s.put(&h.key("x"), b"1").await.unwrap();
    let r2 = s.put(&h.key("x"), b"2").await.unwrap();
    let (r3, _) = s.delete(&h.key("x"), 0).await.unwrap().unwrap();
    let ev = next_events(&mut w, 3).await;
    assert_eq!(
        ev.iter().map(|e| e.kv.mod_revision).collect::<Vec<_>>(),
        vec![r1, r2, r3]
    );
    assert_eq!(ev[0].prev_kv, None);
    assert_eq!(ev[0].kv.version, 1);
    assert_eq!(ev[1].prev_kv.as_ref().unwrap().value, b"1");
    assert_eq!(ev[1].kv.create_revision, r1);
    assert_eq!(ev[2].kind, EventKind::Delete);
    assert_eq!(ev[2].prev_kv.as_ref().unwrap().value, b"2");
    assert_eq!(ev[2].prev_kv.as_ref().unwrap().mod_revision, r2);
}

async fn watch_across_compaction(h: Harness) {
    let s = &h.store;
    let r1 = s.put(&h.key("c"), b"1").await.unwrap();
    let mut live = s
        .watch(WatchRequest::prefix(h.prefix.clone()).from_revision(r1))
        .await
        .unwrap();
    assert_eq!(next_events(&mut live, 1).await[0].kv.mod_revision, r1);
    let r2 = s.put(&h.key("c"), b"2").await.unwrap();
    s.put(&h.key("d"), b"1").await.unwrap();
    s.delete(&h.key("d"), 0).await.unwrap().unwrap();
    let r3 = s.put(&h.key("e"), b"1").await.unwrap();
    s.compact(r3).await.unwrap();

    // A watch that was keeping up goes on, missing nothing.
    let r4 = s.put(&h.key("c"), b"3").await.unwrap();
    let ev = next_events(&mut live, 5).await;
    assert_eq!(ev[0].kv.mod_revision, r2);
    assert_eq!(ev[4].kv.mod_revision, r4);

    // Starting before the compacted revision is refused, on the stream.
    let mut late = s
        .watch(WatchRequest::prefix(h.prefix.clone()).from_revision(r1))
        .await
        .unwrap();
    let first = tokio::time::timeout(std::time::Duration::from_secs(30), late.next())
        .await
        .unwrap();
    assert!(
        matches!(first, Some(Err(Error::Compacted { .. }))),
        "{first:?}"
    );
    let old = s
        .range(RangeRequest::prefix(h.prefix.clone()).at_revision(r2))
        .await;
    assert!(matches!(old, Err(Error::Compacted { .. })), "{old:?}");
    let again = s.compact(r2).await;
    assert!(matches!(again, Err(Error::Compacted { .. })), "{again:?}");

    // The compacted revision itself is still readable, as etcd keeps it.
    let at = s
        .range(RangeRequest::prefix(h.prefix.clone()).at_revision(r3))
        .await
        .unwrap();
    let got: Vec<_> = at
        .kvs
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect();
    assert_eq!(
        got,
        vec![(h.key("c"), b"2".to_vec()), (h.key("e"), b"1".to_vec())]
    );
    // And watching from after it works.
    let mut after = s
        .watch(WatchRequest::prefix(h.prefix.clone()).from_revision(r3 + 1))
        .await
        .unwrap();
    assert_eq!(next_events(&mut after, 1).await[0].kv.mod_revision, r4);
    assert!(s.revisions().await.unwrap().compacted >= r3);
}

async fn large_values(h: Harness) {
    let s = &h.store;
    let big: Vec<u8> = (0..1_536 * 1024).map(|i| (i % 251) as u8).collect();
    let mut w = s
        .watch(WatchRequest::prefix(h.prefix.clone()))
        .await
        .unwrap();
    let r = s.put(&h.key("big"), &big).await.unwrap();
    s.put(&h.key("big"), &big[1..]).await.unwrap();
    let kv = s.get(&h.key("big")).await.unwrap().unwrap();
    assert_eq!(kv.value.len(), big.len() - 1);
    assert_eq!(kv.value, &big[1..]);
    let ev = next_events(&mut w, 2).await;
    assert_eq!(ev[0].kv.value, big);
    assert_eq!(ev[1].prev_kv.as_ref().unwrap().value, big);
    let old = s
        .range(RangeRequest::key(h.key("big")).at_revision(r))
        .await
        .unwrap();
    assert_eq!(old.kvs[0].value, big);
}

async fn many_keys(h: Harness) {
    const N: usize = 100_000;
    const PER_TXN: usize = 100;
    let s = &h.store;
    let start = s.revisions().await.unwrap().current;
    let mut tasks = Vec::new();
    for t in 0..8 {
        let s = Arc::clone(s);
        let prefix = h.prefix.clone();
        tasks.push(tokio::spawn(async move {
            for batch in (t..N / PER_TXN).step_by(8) {
                let ops = (batch * PER_TXN..(batch + 1) * PER_TXN)
                    .map(|i| Op::put(format!("{prefix}{i:06}"), format!("value-{i}")));
                assert!(s.txn(Txn::new().and_then(ops)).await.unwrap().succeeded);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let end = s.revisions().await.unwrap().current;
    assert_eq!(
        end - start,
        (N / PER_TXN) as i64,
        "one revision per transaction"
    );
    let counted = s
        .range(RangeRequest::prefix(h.prefix.clone()).count_only())
        .await
        .unwrap();
    assert_eq!(counted.count, N as i64);
    // Page through all of them in order, as a chunked LIST does.
    let (mut seen, mut from) = (0usize, h.prefix.clone().into_bytes());
    let end_key = rkube_store::prefix_end(h.prefix.as_bytes());
    loop {
        let page = s
            .range(RangeRequest::range(from.clone(), end_key.clone()).with_limit(5000))
            .await
            .unwrap();
        for kv in &page.kvs {
            assert_eq!(kv.key, format!("{}{seen:06}", h.prefix).into_bytes());
            assert_eq!(kv.value, format!("value-{seen}").into_bytes());
            seen += 1;
        }
        if !page.more {
            break;
        }
        from = page.kvs.last().unwrap().key.clone();
        from.push(0);
    }
    assert_eq!(seen, N);
}

async fn close_ends_watches(h: Harness) {
    let s = &h.store;
    let mut w = s
        .watch(WatchRequest::prefix(h.prefix.clone()))
        .await
        .unwrap();
    s.put(&h.key("a"), b"1").await.unwrap();
    next_events(&mut w, 1).await;
    s.close().await.unwrap();
    let end = tokio::time::timeout(std::time::Duration::from_secs(30), w.next())
        .await
        .unwrap();
    assert!(end.is_none(), "{end:?}");
    assert!(matches!(s.get(&h.key("a")).await, Err(Error::Closed)));
    assert!(matches!(s.put(&h.key("a"), b"2").await, Err(Error::Closed)));
}
