//! kill -9 in the middle of writing: every write the embedded store acknowledged must be there
//! after reopening, and the store must reopen consistent (revisions, counts, watch history).
//!
//! The parent re-runs this test binary as a child (selected by an environment variable) that
//! writes from many tasks at once and prints each acknowledged write; the parent kills it -9
//! after a number of acknowledgements, reopens the store and checks.

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::Arc,
};

use futures_util::StreamExt;
use rkube_store::{embedded::EmbeddedStore, Op, RangeRequest, Store, StoreExt, Txn, WatchRequest};

const CHILD_ENV: &str = "RKUBE_CRASH_CHILD_DIR";

/// The child: writes until killed. Each line is `key value revision` for an acknowledged write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let round: u64 = std::env::var("RKUBE_CRASH_ROUND").unwrap().parse().unwrap();
    let store = Arc::new(EmbeddedStore::open(dir.as_ref()).unwrap());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    for w in 0..16u64 {
        let (store, tx) = (Arc::clone(&store), tx.clone());
        tokio::spawn(async move {
            for i in 0.. {
                let key = format!("/crash/{round}/{w}/{}", i % 50);
                let value = format!("{round}-{w}-{i}-{}", "x".repeat((i as usize * 37) % 3000));
                let ops = [
                    Op::put(key.clone(), value.clone()),
                    Op::put(format!("/crash-last/{w}"), value.clone()),
                ];
                let rev = store.txn(Txn::new().and_then(ops)).await.unwrap().revision;
                if tx.send(format!("{key} {value} {rev}")).is_err() {
                    return;
                }
            }
        });
    }
    drop(tx);
    let mut out = std::io::stdout();
    while let Some(line) = rx.recv().await {
        use std::io::Write;
        writeln!(out, "{line}").unwrap();
        out.flush().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Latest acknowledged value per key, and the highest acknowledged revision.
    let mut acked: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut max_rev = 0u64;
    for round in 0..3u64 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash_child_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .env("RKUBE_CRASH_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let kill_after = 400 + round as usize * 300;
        let mut n = 0;
        for line in stdout.lines() {
            let line = line.unwrap();
            let mut parts = line.splitn(3, ' ');
            let (Some(key), Some(value), Some(rev)) = (parts.next(), parts.next(), parts.next())
            else {
                continue; // the test harness's own output
            };
            let Ok(rev) = rev.parse::<u64>() else {
                continue;
            };
            max_rev = max_rev.max(rev);
            let e = acked.entry(key.to_string()).or_insert((0, String::new()));
            if rev > e.0 {
                *e = (rev, value.to_string());
            }
            n += 1;
            if n == kill_after {
                // SIGKILL: no destructor, no flush, mid-commit for some writers.
                child.kill().unwrap();
            }
        }
        let status = child.wait().unwrap();
        assert!(
            n >= kill_after,
            "child stopped early after {n} writes: {status:?}"
        );

        let store = EmbeddedStore::open(dir.path()).unwrap();
        let revs = store.revisions().await.unwrap();
        assert!(
            revs.current as u64 >= max_rev,
            "revision went back: {} < {max_rev}",
            revs.current
        );
        for (key, (rev, value)) in &acked {
            let kv = store
                .get(key.as_bytes())
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{key} lost"));
            // A later write may have landed unacknowledged; an acknowledged one is never lost.
            assert!(
                kv.mod_revision as u64 >= *rev,
                "{key}: revision {} < acknowledged {rev}",
                kv.mod_revision
            );
            if kv.mod_revision as u64 == *rev {
                assert_eq!(kv.value, value.as_bytes(), "{key}");
            }
        }
        // History is consistent: replaying the log from the start reaches the current state.
        let all = store.range(RangeRequest::prefix("/crash/")).await.unwrap();
        let mut w = store
            .watch(WatchRequest::prefix("/crash/").from_revision(1))
            .await
            .unwrap();
        let mut replay: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut last = 0;
        while last < revs.current {
            let ev = tokio::time::timeout(std::time::Duration::from_secs(30), w.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert!(ev.kv.mod_revision >= last, "out of order");
            last = ev.kv.mod_revision;
            replay.insert(ev.kv.key.clone(), ev.kv.value.clone());
            if replay.len() == all.kvs.len() && last >= revs.current {
                break;
            }
        }
        let state: BTreeMap<_, _> = all
            .kvs
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.clone()))
            .collect();
        assert_eq!(replay, state);
        // It still takes writes, at the next revision.
        let r = store
            .put(b"/crash-after", round.to_string().as_bytes())
            .await
            .unwrap();
        assert_eq!(r, revs.current + 1);
        store.close().await.unwrap();
        max_rev = r as u64;
    }
}
