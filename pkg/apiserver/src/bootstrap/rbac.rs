//! The RBAC bootstrap policy, created and reconciled at every start as kube-apiserver's
//! `rbac/bootstrap-roles` post-start hook does (`ensureRBACPolicy`): a missing object is
//! created; a stored one not opted out (autoupdate "false") gets what it lacks added and
//! nothing taken away; an unchanged cluster is not written to.

use rkube_api::ResourceDef;
use rkube_store::StoreExt;
use serde_json::Value;
use tracing::info;

use super::{
    create_if_absent, policy,
    reconcile::{self, Outcome},
};
use crate::{
    object::{from_stored, meta_str, to_stored},
    rest::Api,
    status::{ApiError, ApiResult},
};

pub async fn ensure(api: &Api) -> ApiResult<()> {
    let p = policy::load();
    // Roles before the bindings that refer to them, as upstream.
    for (plural, objects) in [
        ("clusterroles", &p.cluster_roles),
        ("clusterrolebindings", &p.cluster_role_bindings),
        ("roles", &p.roles),
        ("rolebindings", &p.role_bindings),
    ] {
        let def = rkube_api::registry::find("rbac.authorization.k8s.io", "v1", plural)
            .expect("rbac is served");
        for expected in objects {
            reconcile_one(api, def, expected).await?;
        }
    }
    Ok(())
}

/// One object, retried from a fresh read when another writer came between the read and the
/// write (a compare on the mod revision guards every write).
async fn reconcile_one(api: &Api, def: &'static ResourceDef, expected: &Value) -> ApiResult<()> {
    let ns = meta_str(expected, "namespace");
    let name = crate::object::name(expected);
    let key = def.key(ns, name);
    let compute = if def.kind.ends_with("Binding") {
        reconcile::binding
    } else {
        reconcile::role
    };
    for _ in 0..8 {
        let Some(kv) = api.store.get(key.as_bytes()).await? else {
            if create_if_absent(api, def, ns, expected.clone()).await? {
                return Ok(());
            }
            continue;
        };
        let existing = from_stored(&kv)?;
        match compute(&existing, expected) {
            Outcome::Unchanged | Outcome::Protected => return Ok(()),
            Outcome::Update(new) => {
                let stored = api
                    .store
                    .update(key.as_bytes(), kv.mod_revision, &to_stored(&new))
                    .await?;
                if stored.is_ok() {
                    info!(resource = def.plural, name = %reconcile::display(expected), "bootstrap policy reconciled");
                    return Ok(());
                }
            }
            // Deleted at the revision read; the next round creates the policy's.
            Outcome::Recreate => {
                if api
                    .store
                    .delete(key.as_bytes(), kv.mod_revision)
                    .await?
                    .is_ok()
                {
                    info!(resource = def.plural, name = %reconcile::display(expected), "bootstrap binding's roleRef differs: recreating");
                }
            }
        }
    }
    Err(ApiError::new(
        409,
        "Conflict",
        format!(
            "reconciling {} {}: too many concurrent writers",
            def.plural,
            reconcile::display(expected)
        ),
    ))
}
