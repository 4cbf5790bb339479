//! Bearer-token authentication: a ServiceAccount token is good while its signature, issuer,
//! audience and times check out and the objects it names still exist with the uids it names
//! (upstream's claims.go Validate). Verdicts are cached for a few seconds, as upstream's token
//! cache does, so a client's requests don't each read the store.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use serde_json::Value;

use super::{
    claims::{split_username, Claims, Ref},
    TokenError, Tokens,
};
use crate::{authn::Identity, rest::Api};

/// How long a good token's identity is reused without looking at the store again.
const CACHE_TTL: Duration = Duration::from_secs(10);
/// Verdicts kept at most; beyond that the cache starts over.
const CACHE_MAX: usize = 4096;
/// Upstream still accepts tokens of an object deleted less than this long ago (graceful
/// shutdown of a pod may need its API access).
const DELETED_GRACE_SECS: i64 = 60;

/// Recently authenticated tokens, by their SHA-256.
#[derive(Default)]
pub struct TokenCache(Mutex<HashMap<[u8; 32], (Identity, Instant)>>);

impl TokenCache {
    fn get(&self, key: &[u8; 32]) -> Option<Identity> {
        let map = self.0.lock().expect("token cache lock");
        map.get(key)
            .filter(|(_, until)| Instant::now() < *until)
            .map(|(id, _)| id.clone())
    }

    fn put(&self, key: [u8; 32], id: Identity, until: Instant) {
        let mut map = self.0.lock().expect("token cache lock");
        if map.len() >= CACHE_MAX {
            map.clear();
        }
        map.insert(key, (id, until));
    }
}

impl Tokens {
    /// The identity of a bearer token, or why it is refused.
    pub async fn authenticate(&self, api: &Api, token: &str) -> Result<Identity, TokenError> {
        let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
        let key: [u8; 32] = digest.as_ref().try_into().expect("SHA-256 is 32 bytes");
        if let Some(id) = self.cache.get(&key) {
            return Ok(id);
        }
        let (claims, _) = self.verify(token, &self.audiences)?;
        let identity = check_bound(api, &claims).await?;
        let left = claims.exp - time::OffsetDateTime::now_utc().unix_timestamp();
        let until = Instant::now() + CACHE_TTL.min(Duration::from_secs(left.max(0) as u64));
        self.cache.put(key, identity.clone(), until);
        Ok(identity)
    }
}

impl Tokens {
    /// A TokenReview's answer: the identity and the audiences of `audiences` the token is
    /// good for, uncached (a review asks about now).
    pub async fn review(
        &self,
        api: &Api,
        token: &str,
        audiences: &[String],
    ) -> Result<(Identity, Vec<String>), TokenError> {
        let (claims, matched) = self.verify(token, audiences)?;
        Ok((check_bound(api, &claims).await?, matched))
    }
}

/// Checks what the claims name against the store and returns the identity they give.
async fn check_bound(api: &Api, claims: &Claims) -> Result<Identity, TokenError> {
    let k = &claims.kubernetes;
    let (ns, _) = split_username(&claims.sub)
        .filter(|&(ns, name)| ns == k.namespace && name == k.serviceaccount.name)
        .ok_or_else(|| TokenError::Invalid("sub does not match the kubernetes.io claim".into()))?;
    live(
        api,
        "serviceaccounts",
        Some(ns),
        &k.serviceaccount,
        "service account",
    )
    .await?;
    if let Some(pod) = &k.pod {
        live(api, "pods", Some(ns), pod, "pod").await?;
    }
    if let Some(secret) = &k.secret {
        live(api, "secrets", Some(ns), secret, "secret").await?;
    }
    // A pod-bound token also names the pod's node, but only a token bound to the node
    // itself depends on it.
    if let (Some(node), None) = (&k.node, &k.pod) {
        live(api, "nodes", None, node, "node").await?;
    }
    let mut identity = Identity::new(
        claims.sub.clone(),
        vec![
            "system:serviceaccounts".into(),
            format!("system:serviceaccounts:{ns}"),
        ],
    );
    identity.uid = k.serviceaccount.uid.clone();
    let mut extra = |key: &str, value: &str| {
        identity.extra.insert(
            format!("authentication.kubernetes.io/{key}"),
            vec![value.to_string()],
        );
    };
    if let Some(pod) = &k.pod {
        extra("pod-name", &pod.name);
        extra("pod-uid", &pod.uid);
    }
    if let Some(node) = &k.node {
        extra("node-name", &node.name);
        extra("node-uid", &node.uid);
    }
    if !claims.jti.is_empty() {
        extra("credential-id", &format!("JTI={}", claims.jti));
    }
    Ok(identity)
}

/// The object `r` names exists with its uid and was not deleted over a minute ago; the
/// errors are upstream's (claims.go Validate), which reach logs and TokenReviews only.
async fn live(
    api: &Api,
    plural: &str,
    ns: Option<&str>,
    r: &Ref,
    what: &str,
) -> Result<(), TokenError> {
    let def = rkube_api::registry::find("", "v1", plural).expect("a served core resource");
    let sa = plural == "serviceaccounts";
    let invalidated = || TokenError::Stale("service account token has been invalidated".into());
    let obj = match api.read(def, ns, &r.name).await {
        Ok((obj, _)) => obj,
        Err(e) if e.code == 404 && sa => return Err(TokenError::Stale(e.message)),
        Err(e) if e.code == 404 => return Err(invalidated()),
        Err(e) => return Err(TokenError::Lookup(e.message)),
    };
    let meta = &obj["metadata"];
    let uid = meta["uid"].as_str().unwrap_or_default();
    if uid != r.uid {
        let claim = if sa {
            "claim".to_string()
        } else {
            format!("service account {what} ref claim")
        };
        return Err(TokenError::Stale(format!(
            "{what} UID ({uid}) does not match {claim} ({})",
            r.uid
        )));
    }
    if let Some(deleted) = meta.get("deletionTimestamp").and_then(Value::as_str) {
        let at =
            time::OffsetDateTime::parse(deleted, &time::format_description::well_known::Rfc3339)
                .map(|t| t.unix_timestamp())
                .unwrap_or(i64::MIN);
        if time::OffsetDateTime::now_utc().unix_timestamp() - at > DELETED_GRACE_SECS {
            return Err(if sa {
                TokenError::Stale(format!(
                    "service account {}/{} has been deleted",
                    ns.unwrap_or_default(),
                    r.name
                ))
            } else {
                invalidated()
            });
        }
    }
    Ok(())
}
