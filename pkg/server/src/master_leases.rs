//! Which API servers are alive, for the `kubernetes` Endpoints (upstream's lease endpoint
//! reconciler): each server renews the key `/registry/masterleases/<ip>` with the time it
//! lapses. A server that stops cleanly removes its own; one that dies lapses after [`TTL`],
//! and the next renewal by any server deletes it. Plain keys with an expiry in the value, not
//! store leases: the embedded store has no TTLs.

use std::{
    net::IpAddr,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use rkube_store::{RangeRequest, Store, StoreExt};
use serde_json::json;
use tracing::info;

const PREFIX: &str = "/registry/masterleases/";

/// kube-apiserver's master lease TTL: a little more than the reconcile interval.
pub const TTL: Duration = Duration::from_secs(15);

pub struct MasterLeases {
    store: Arc<dyn Store>,
}

impl MasterLeases {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Extends `ip`'s lease to `now + TTL`.
    pub async fn renew(&self, ip: IpAddr, now: SystemTime) -> rkube_store::Result<()> {
        let value = json!({"expires": unix_secs(now + TTL)}).to_string();
        self.store.put(key(ip).as_bytes(), value.as_bytes()).await?;
        Ok(())
    }

    pub async fn remove(&self, ip: IpAddr) -> rkube_store::Result<()> {
        self.store.delete(key(ip).as_bytes(), 0).await?.ok();
        Ok(())
    }

    /// The addresses whose leases have not lapsed at `now`, sorted; lapsed ones are deleted
    /// (only if nobody renewed them meanwhile).
    pub async fn live(&self, now: SystemTime) -> rkube_store::Result<Vec<IpAddr>> {
        let kvs = self.store.range(RangeRequest::prefix(PREFIX)).await?.kvs;
        let now = unix_secs(now);
        let mut live = Vec::new();
        for kv in kvs {
            match parse(&kv.key, &kv.value) {
                Some((ip, expires)) if expires > now => live.push(ip),
                lapsed => {
                    info!(lease = %String::from_utf8_lossy(&kv.key), ip = ?lapsed.map(|l| l.0), "master lease lapsed");
                    self.store.delete(&kv.key, kv.mod_revision).await?.ok();
                }
            }
        }
        live.sort();
        live.dedup();
        Ok(live)
    }
}

fn key(ip: IpAddr) -> String {
    format!("{PREFIX}{ip}")
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// A lease's address and expiry; None for a key that is not one (removed like a lapsed one).
fn parse(key: &[u8], value: &[u8]) -> Option<(IpAddr, u64)> {
    let ip = std::str::from_utf8(key)
        .ok()?
        .strip_prefix(PREFIX)?
        .parse()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(value).ok()?;
    Some((ip, v.get("expires")?.as_u64()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn leases() -> (tempfile::TempDir, MasterLeases) {
        let dir = tempfile::tempdir().unwrap();
        let store = rkube_store::open(&rkube_store::Backend::Embedded {
            dir: dir.path().join("db"),
        })
        .await
        .unwrap();
        (dir, MasterLeases::new(store))
    }

    #[test]
    fn parse_reads_address_and_expiry() {
        let key = key("10.0.0.1".parse().unwrap());
        assert_eq!(
            parse(key.as_bytes(), br#"{"expires":42}"#),
            Some(("10.0.0.1".parse().unwrap(), 42))
        );
        assert_eq!(parse(key.as_bytes(), b"junk"), None);
        assert_eq!(
            parse(b"/registry/masterleases/x", br#"{"expires":42}"#),
            None
        );
    }

    #[tokio::test]
    async fn live_leases_lapse_after_the_ttl_and_go() {
        let (_dir, l) = leases().await;
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.2".parse().unwrap(), "10.0.0.1".parse().unwrap());
        l.renew(a, t0).await.unwrap();
        l.renew(b, t0 + Duration::from_secs(10)).await.unwrap();
        assert_eq!(l.live(t0).await.unwrap(), vec![b, a]);
        // a lapses, b (renewed later) does not; a's key is gone for good.
        let later = t0 + TTL + Duration::from_secs(1);
        assert_eq!(l.live(later).await.unwrap(), vec![b]);
        assert_eq!(l.live(t0).await.unwrap(), vec![b]);
        l.remove(b).await.unwrap();
        assert!(l.live(t0).await.unwrap().is_empty());
    }
}
