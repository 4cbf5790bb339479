//! Events expire `--event-ttl` (1 h by default) after their last write, as kube-apiserver's
//! do: it stores each Event under an etcd lease of that TTL, renewed by every write. The
//! embedded store has no leases, so the server sweeps instead: every minute (or half a
//! shorter TTL) it deletes the Events whose last write (the newest `managedFields` time,
//! which the API server sets on every write, else `creationTimestamp`) is older than the
//! TTL, each only at the revision it read, so an Event written meanwhile stays. Deletes go
//! through the store, so watchers see them as upstream's lease expiry shows them: DELETED.

use std::{sync::Arc, time::Duration};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use rkube_store::{prefix_end, Compare, Op, RangeRequest, Store, Txn};
use serde_json::Value;
use tracing::{debug, warn};

/// Where core/v1 and events.k8s.io/v1 Events are stored.
const PREFIX: &str = "/registry/events/";
/// Events read at a time.
const PAGE: i64 = 500;
/// How often the sweep runs at most: an Event outlives its TTL by at most this (or half a
/// shorter TTL).
const EVERY: Duration = Duration::from_secs(60);

/// Sweeps until `stop` resolves.
pub async fn run(
    store: Arc<dyn Store>,
    ttl: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let every = (ttl / 2).clamp(Duration::from_secs(1), EVERY);
    // The first sweep one period after start, not during it: start-up stays as short.
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = tick.tick() => {}
        }
        match sweep(&*store, ttl, now_unix()).await {
            Ok(0) => {}
            Ok(n) => debug!(expired = n, "events past their TTL deleted"),
            Err(e) => warn!(error = %e, "sweeping expired events failed; retrying"),
        }
    }
}

/// Deletes the Events last written more than `ttl` before `now` (Unix seconds); how many.
pub async fn sweep(
    store: &dyn Store,
    ttl: Duration,
    now: i64,
) -> Result<usize, rkube_store::Error> {
    let cutoff = now - ttl.as_secs() as i64;
    let end = prefix_end(PREFIX.as_bytes());
    let mut from = PREFIX.as_bytes().to_vec();
    let mut expired = 0;
    // In pages, so that a store full of Events is never read into memory at once.
    loop {
        let page = store
            .range(RangeRequest::range(from.clone(), end.clone()).with_limit(PAGE))
            .await?;
        if let Some(last) = page.kvs.last() {
            from = last.key.clone();
            from.push(0);
        }
        for kv in &page.kvs {
            let Ok(obj) = serde_json::from_slice::<Value>(&kv.value) else {
                continue;
            };
            if last_written(&obj).is_none_or(|t| t >= cutoff) {
                continue;
            }
            let txn = Txn::new()
                .when([Compare::mod_revision_eq(kv.key.as_slice(), kv.mod_revision)])
                .and_then([Op::delete(kv.key.as_slice())]);
            if store.txn(txn).await?.succeeded {
                expired += 1;
            }
        }
        if !page.more {
            return Ok(expired);
        }
    }
}

/// When the Event was last written, in Unix seconds.
fn last_written(obj: &Value) -> Option<i64> {
    let meta = obj.get("metadata")?;
    let managed = meta
        .get("managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("time").and_then(Value::as_str));
    managed
        .chain(meta.get("creationTimestamp").and_then(Value::as_str))
        .filter_map(|t| {
            serde_json::from_value::<Time>(Value::String(t.to_string()))
                .ok()
                .map(|t| t.0.as_second())
        })
        .max()
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use rkube_store::{embedded::EmbeddedStore, StoreExt};
    use serde_json::json;

    use super::*;

    fn event(name: &str, created: &str, managed: &[&str]) -> Vec<u8> {
        let fields: Vec<Value> = managed
            .iter()
            .map(|t| json!({"manager": "m", "operation": "Update", "time": t}))
            .collect();
        serde_json::to_vec(&json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": "ns", "creationTimestamp": created,
                "managedFields": fields},
            "reason": "Test",
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn events_go_a_ttl_after_their_last_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        // 2026-11-28T00:00:00Z
        let now = 1_795_824_000;
        let hour = Duration::from_secs(3600);
        let key = |n: &str| format!("{PREFIX}ns/{n}");
        // Created two hours ago, never written since: expired.
        store
            .put(
                key("old").as_bytes(),
                &event("old", "2026-11-27T22:00:00Z", &["2026-11-27T22:00:00Z"]),
            )
            .await
            .unwrap();
        // Created two hours ago, written again 30 minutes ago: kept.
        store
            .put(
                key("renewed").as_bytes(),
                &event(
                    "renewed",
                    "2026-11-27T22:00:00Z",
                    &["2026-11-27T22:00:00Z", "2026-11-27T23:30:00Z"],
                ),
            )
            .await
            .unwrap();
        // Without managedFields, its creation counts.
        store
            .put(
                key("bare").as_bytes(),
                &event("bare", "2026-11-27T23:59:00Z", &[]),
            )
            .await
            .unwrap();
        // Not an Event: never looked at.
        store
            .put(
                b"/registry/configmaps/ns/old",
                &event("old", "2000-01-01T00:00:00Z", &[]),
            )
            .await
            .unwrap();

        assert_eq!(sweep(&store, hour, now).await.unwrap(), 1);
        assert!(store.get(key("old").as_bytes()).await.unwrap().is_none());
        for kept in ["renewed", "bare"] {
            assert!(
                store.get(key(kept).as_bytes()).await.unwrap().is_some(),
                "{kept}"
            );
        }
        assert!(store
            .get(b"/registry/configmaps/ns/old")
            .await
            .unwrap()
            .is_some());
        // An hour later everything has expired, over more than one page.
        for i in 0..PAGE + 10 {
            let name = format!("many-{i:04}");
            store
                .put(
                    key(&name).as_bytes(),
                    &event(&name, "2026-11-27T23:59:00Z", &[]),
                )
                .await
                .unwrap();
        }
        assert_eq!(
            sweep(&store, hour, now + 3600).await.unwrap(),
            2 + PAGE as usize + 10
        );
        let left = store.range(RangeRequest::prefix(PREFIX)).await.unwrap();
        assert!(left.kvs.is_empty());
        store.close().await.unwrap();
    }
}
