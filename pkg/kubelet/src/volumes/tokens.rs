//! ServiceAccount tokens for projected volumes, kept and reused as upstream's kubelet token
//! manager does (pkg/kubelet/token): a volume refresh (every few seconds) asks the API server
//! again only once the token is past 80% of its lifetime or 24 hours old, so a pod costs one
//! TokenRequest per rotation, not one per refresh, and its token file stays as it is between.

use std::{
    collections::HashMap,
    sync::{Mutex, OnceLock},
    time::{Duration, Instant},
};

use k8s_openapi::api::{
    authentication::v1::TokenRequest,
    core::v1::{Pod, ServiceAccount},
};
use kube::{api::Api, Client};
use serde_json::json;

/// Upstream's longest reuse of a token, whatever its lifetime.
const MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);
/// Refreshes are spread over up to this much earlier, so many pods don't renew together.
const MAX_JITTER_MS: u64 = 10_000;
/// Tokens of pods no longer refreshed (gone) are dropped after this.
const UNUSED: Duration = Duration::from_secs(10 * 60);

/// Pod uid, namespace, account, audience, lifetime: a token is reused only for the same ask.
type Key = (String, String, String, Option<String>, i64);

struct Cached {
    token: String,
    issued: Instant,
    lifetime: Duration,
    used: Instant,
}

impl Cached {
    fn needs_refresh(&self, now: Instant) -> bool {
        // Any varying value will do to spread the renewals.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let jitter = Duration::from_millis(u64::from(nanos) % MAX_JITTER_MS);
        let age = now.saturating_duration_since(self.issued) + jitter;
        age >= MAX_AGE || age >= self.lifetime * 4 / 5
    }

    fn expired(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.issued) >= self.lifetime
    }
}

/// Every kubelet of the process shares one cache: entries are per pod uid.
fn cache() -> &'static Mutex<HashMap<Key, Cached>> {
    static CACHE: OnceLock<Mutex<HashMap<Key, Cached>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The pod's token for `audience` (None: the API server's) living `expiration` seconds
/// (3607 by default, kube-api-access's): the kept one while fresh, else a new TokenRequest
/// bound to the pod. If asking fails, a kept token that has not expired is still given.
pub async fn token(
    client: &Client,
    pod: &Pod,
    audience: Option<&str>,
    expiration: Option<i64>,
) -> Result<String, String> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let sa = pod
        .spec
        .as_ref()
        .and_then(|s| s.service_account_name.clone())
        .unwrap_or_else(|| "default".into());
    let seconds = expiration.unwrap_or(3607);
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let key: Key = (
        uid,
        ns.clone(),
        sa.clone(),
        audience.map(str::to_string),
        seconds,
    );
    let now = Instant::now();
    {
        let mut c = cache().lock().expect("token cache lock");
        c.retain(|_, t| now.saturating_duration_since(t.used) < UNUSED);
        if let Some(t) = c.get_mut(&key) {
            if !t.needs_refresh(now) {
                t.used = now;
                return Ok(t.token.clone());
            }
        }
    }
    match request(client, pod, &ns, &sa, audience, seconds).await {
        Ok(token) => {
            let lifetime = Duration::from_secs(seconds.max(0) as u64);
            let cached = Cached {
                token: token.clone(),
                issued: now,
                lifetime,
                used: now,
            };
            cache()
                .lock()
                .expect("token cache lock")
                .insert(key, cached);
            Ok(token)
        }
        Err(e) => {
            let c = cache().lock().expect("token cache lock");
            match c.get(&key).filter(|t| !t.expired(Instant::now())) {
                Some(t) => Ok(t.token.clone()),
                None => Err(e),
            }
        }
    }
}

async fn request(
    client: &Client,
    pod: &Pod,
    ns: &str,
    sa: &str,
    audience: Option<&str>,
    seconds: i64,
) -> Result<String, String> {
    let req = json!({
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {
            "audiences": audience.map(|a| vec![a.to_string()]).unwrap_or_default(),
            "expirationSeconds": seconds,
            "boundObjectRef": {"apiVersion": "v1", "kind": "Pod",
                               "name": pod.metadata.name, "uid": pod.metadata.uid},
        },
    });
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    let tr: TokenRequest = api
        .create_subresource("token", sa, &Default::default(), &req)
        .await
        .map_err(|e| e.to_string())?;
    tr.status
        .map(|s| s.token)
        .ok_or_else(|| "no token in the TokenRequest status".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refreshes_at_80_percent_or_a_day() {
        let t0 = Instant::now();
        let hour = Cached {
            token: String::new(),
            issued: t0,
            lifetime: Duration::from_secs(3607),
            used: t0,
        };
        assert!(!hour.needs_refresh(t0 + Duration::from_secs(60)));
        assert!(!hour.needs_refresh(t0 + Duration::from_secs(2860)));
        assert!(hour.needs_refresh(t0 + Duration::from_secs(2886)));
        assert!(!hour.expired(t0 + Duration::from_secs(3600)));
        assert!(hour.expired(t0 + Duration::from_secs(3607)));
        let year = Cached {
            lifetime: Duration::from_secs(365 * 86400),
            ..hour
        };
        assert!(!year.needs_refresh(t0 + Duration::from_secs(86400 - 11)));
        assert!(year.needs_refresh(t0 + Duration::from_secs(86400)));
    }
}
