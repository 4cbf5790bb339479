//! The RBAC objects in memory, as upstream's authorizer reads them from informers: loaded once
//! from the store, then kept current from the watch cache (a few milliseconds behind a write).

use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock},
};

use k8s_openapi::api::rbac::v1::{PolicyRule, RoleRef, Subject};
use rkube_api::ResourceDef;
use rkube_store::{RangeRequest, Store};
use serde::Deserialize;
use tracing::warn;

use crate::watchcache::WatchCache;

/// A Role's or ClusterRole's rules (aggregated roles already hold theirs: the aggregation
/// controller writes them).
#[derive(Debug, Deserialize)]
pub struct Rules {
    #[serde(default)]
    pub rules: Option<Vec<PolicyRule>>,
}

#[derive(Debug, Deserialize)]
pub struct Binding {
    #[serde(rename = "roleRef")]
    pub role_ref: RoleRef,
    #[serde(default)]
    pub subjects: Option<Vec<Subject>>,
}

/// Objects of one kind by (namespace, name); namespace "" when cluster-scoped.
pub type Objects<T> = BTreeMap<(String, String), Arc<T>>;

#[derive(Debug, Default)]
pub struct Index {
    pub roles: Objects<Rules>,
    pub cluster_roles: Objects<Rules>,
    pub role_bindings: Objects<Binding>,
    pub cluster_role_bindings: Objects<Binding>,
}

impl Index {
    /// The RoleBindings of `namespace`.
    pub fn role_bindings_in<'a>(
        &'a self,
        namespace: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Binding)> + 'a {
        self.role_bindings
            .range((namespace.to_string(), String::new())..)
            .take_while(move |((ns, _), _)| ns == namespace)
            .map(|((_, name), b)| (name.as_str(), b.as_ref()))
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Role,
    ClusterRole,
    RoleBinding,
    ClusterRoleBinding,
}

impl Kind {
    fn def(self) -> &'static ResourceDef {
        let plural = match self {
            Kind::Role => "roles",
            Kind::ClusterRole => "clusterroles",
            Kind::RoleBinding => "rolebindings",
            Kind::ClusterRoleBinding => "clusterrolebindings",
        };
        rkube_api::registry::find("rbac.authorization.k8s.io", "v1", plural)
            .expect("rbac is served")
    }
}

const KINDS: [Kind; 4] = [
    Kind::Role,
    Kind::ClusterRole,
    Kind::RoleBinding,
    Kind::ClusterRoleBinding,
];

/// The shared index, kept by one task per kind.
#[derive(Debug, Default)]
pub struct Policy {
    index: RwLock<Index>,
}

impl Policy {
    /// Loads every RBAC object, then keeps following changes in the background.
    pub async fn start(
        store: Arc<dyn Store>,
        cache: Arc<WatchCache>,
    ) -> Result<Arc<Self>, rkube_store::Error> {
        let policy = Arc::new(Policy::default());
        for kind in KINDS {
            let sub = policy.load(&*store, &cache, kind).await?;
            tokio::spawn(follow(
                policy.clone(),
                store.clone(),
                cache.clone(),
                kind,
                sub,
            ));
        }
        Ok(policy)
    }

    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().expect("policy lock")
    }

    /// Replaces what is known of `kind` with the store's objects, and subscribes to what
    /// follows them.
    async fn load(
        &self,
        store: &dyn Store,
        cache: &WatchCache,
        kind: Kind,
    ) -> Result<crate::watchcache::Subscription, rkube_store::Error> {
        let def = kind.def();
        let prefix = def.prefix(None);
        loop {
            let listed = store.range(RangeRequest::prefix(prefix.as_bytes())).await?;
            // A change between the read and the subscription would be missed: read again.
            let Some(sub) = cache.subscribe(&prefix, listed.revision).await? else {
                continue;
            };
            let mut index = self.index.write().expect("policy lock");
            clear(&mut index, kind);
            for kv in &listed.kvs {
                put(&mut index, kind, def, &kv.key, &kv.value);
            }
            return Ok(sub);
        }
    }
}

async fn follow(
    policy: Arc<Policy>,
    store: Arc<dyn Store>,
    cache: Arc<WatchCache>,
    kind: Kind,
    mut sub: crate::watchcache::Subscription,
) {
    let def = kind.def();
    let mut events = Vec::new();
    loop {
        events.clear();
        if sub.recv_many(&mut events, 256).await.is_err() {
            // Fell behind or the cache restarted: start again from the store.
            match policy.load(&*store, &cache, kind).await {
                Ok(s) => sub = s,
                Err(e) => {
                    warn!(error = %e, resource = def.plural, "reloading RBAC objects");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
            continue;
        }
        let mut index = policy.index.write().expect("policy lock");
        for ev in &events {
            if ev.deleted {
                if let Some((ns, name)) = def.parse_key(&ev.key) {
                    remove(&mut index, kind, ns, name);
                }
            } else {
                put(&mut index, kind, def, &ev.key, ev.stored());
            }
        }
    }
}

fn clear(index: &mut Index, kind: Kind) {
    match kind {
        Kind::Role => index.roles.clear(),
        Kind::ClusterRole => index.cluster_roles.clear(),
        Kind::RoleBinding => index.role_bindings.clear(),
        Kind::ClusterRoleBinding => index.cluster_role_bindings.clear(),
    }
}

fn remove(index: &mut Index, kind: Kind, ns: &str, name: &str) {
    let k = (ns.to_string(), name.to_string());
    match kind {
        Kind::Role => drop(index.roles.remove(&k)),
        Kind::ClusterRole => drop(index.cluster_roles.remove(&k)),
        Kind::RoleBinding => drop(index.role_bindings.remove(&k)),
        Kind::ClusterRoleBinding => drop(index.cluster_role_bindings.remove(&k)),
    }
}

/// Records one stored object; one that does not decode grants nothing (and is logged).
fn put(index: &mut Index, kind: Kind, def: &ResourceDef, key: &[u8], value: &[u8]) {
    let Some((ns, name)) = def.parse_key(key) else {
        return;
    };
    let k = (ns.to_string(), name.to_string());
    let decoded = match kind {
        Kind::Role | Kind::ClusterRole => serde_json::from_slice::<Rules>(value).map(|r| {
            let map = if matches!(kind, Kind::Role) {
                &mut index.roles
            } else {
                &mut index.cluster_roles
            };
            map.insert(k.clone(), Arc::new(r));
        }),
        Kind::RoleBinding | Kind::ClusterRoleBinding => serde_json::from_slice::<Binding>(value)
            .map(|b| {
                let map = if matches!(kind, Kind::RoleBinding) {
                    &mut index.role_bindings
                } else {
                    &mut index.cluster_role_bindings
                };
                map.insert(k.clone(), Arc::new(b));
            }),
    };
    if let Err(e) = decoded {
        remove(index, kind, ns, name);
        warn!(error = %e, resource = def.plural, namespace = ns, name, "undecodable RBAC object ignored");
    }
}
