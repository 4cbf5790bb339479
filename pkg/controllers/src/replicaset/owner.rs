//! Controller references: finding an object's controller, and adopting or releasing objects the
//! way upstream's ControllerRefManager does (a strategic merge patch on ownerReferences, with the
//! object's uid as a precondition).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::{
    api::{Api, Patch, PatchParams, PostParams},
    Resource,
};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::json;

/// The owner reference with `controller: true`, if any.
pub(crate) fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// `metav1.NewControllerRef`: controller and blockOwnerDeletion set.
pub(crate) fn new_controller_ref(
    api_version: &str,
    kind: &str,
    name: &str,
    uid: &str,
) -> OwnerReference {
    OwnerReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: name.into(),
        uid: uid.into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// What to do to an object's ownerReferences.
pub(crate) enum OwnerChange<'a> {
    /// Add this controller reference.
    Adopt(&'a OwnerReference),
    /// Remove the reference to the owner with this uid.
    Release(&'a str),
}

impl OwnerChange<'_> {
    fn patch(&self, uid: &str) -> serde_json::Value {
        match self {
            OwnerChange::Adopt(r) => json!({"metadata": {"ownerReferences": [r], "uid": uid}}),
            OwnerChange::Release(owner) => {
                json!({"metadata": {"ownerReferences": [{"$patch": "delete", "uid": owner}], "uid": uid}})
            }
        }
    }

    fn apply(&self, refs: &mut Vec<OwnerReference>) {
        match self {
            OwnerChange::Adopt(r) => {
                refs.retain(|o| o.uid != r.uid);
                refs.push((*r).clone());
            }
            OwnerChange::Release(owner) => refs.retain(|o| o.uid != *owner),
        }
    }
}

/// Applies `change` to the object `name` (whose uid must be `uid`): a strategic merge patch as
/// upstream sends, or, where the server cannot take one, a read-modify-write.
pub(crate) async fn patch_owner<K>(
    api: &Api<K>,
    name: &str,
    uid: &str,
    change: OwnerChange<'_>,
) -> kube::Result<()>
where
    K: Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
{
    match api
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Strategic(change.patch(uid)),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 415 || e.code == 405 => {
            let mut obj = api.get(name).await?;
            let meta = obj.meta_mut();
            if meta.uid.as_deref() != Some(uid) {
                return Err(kube::Error::Api(
                    kube::core::Status::failure(&format!("uid of {name} changed"), "Conflict")
                        .with_code(409)
                        .boxed(),
                ));
            }
            let mut refs = meta.owner_references.take().unwrap_or_default();
            change.apply(&mut refs);
            meta.owner_references = (!refs.is_empty()).then_some(refs);
            api.replace(name, &PostParams::default(), &obj)
                .await
                .map(|_| ())
        }
        Err(e) => Err(e),
    }
}

/// The object of kind `K` a controller reference names, if it is (still) that object (same uid).
pub(crate) fn resolve<K>(
    store: &kube::runtime::reflector::Store<K>,
    ns: &str,
    r: &OwnerReference,
) -> Option<std::sync::Arc<K>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    if r.kind != K::kind(&()) {
        return None;
    }
    let obj = store.get(&kube::runtime::reflector::ObjectRef::new(&r.name).within(ns))?;
    (obj.meta().uid.as_deref() == Some(r.uid.as_str())).then_some(obj)
}

/// Controllers in `store` (same namespace, non-empty selector) whose selector matches the
/// labels in `meta`: the candidates to adopt an orphan.
pub(crate) fn selecting<K>(
    store: &kube::runtime::reflector::Store<K>,
    meta: &ObjectMeta,
    selector_of: impl Fn(&K) -> Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
) -> Vec<kube::runtime::reflector::ObjectRef<K>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    use super::selector;
    let Some(labels) = meta.labels.as_ref().filter(|l| !l.is_empty()) else {
        return Vec::new();
    };
    let ns = meta.namespace.as_deref();
    store
        .state()
        .iter()
        .filter(|k| k.meta().namespace.as_deref() == ns)
        .filter(|k| {
            let sel = selector_of(k);
            sel.is_some_and(|s| !selector::is_empty(s))
                && selector::parse(sel).is_some_and(|s| selector::matches(&s, Some(labels)))
        })
        .map(|k| kube::runtime::reflector::ObjectRef::from_obj(&**k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_look_like_upstream() {
        let r = new_controller_ref("apps/v1", "ReplicaSet", "web-abc", "u1");
        assert_eq!(
            OwnerChange::Adopt(&r).patch("p1"),
            json!({"metadata": {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc", "uid": "u1", "controller": true, "blockOwnerDeletion": true}], "uid": "p1"}})
        );
        assert_eq!(
            OwnerChange::Release("u1").patch("p1"),
            json!({"metadata": {"ownerReferences": [{"$patch": "delete", "uid": "u1"}], "uid": "p1"}})
        );
        let mut refs = vec![r.clone(), new_controller_ref("v1", "X", "x", "u2")];
        OwnerChange::Release("u1").apply(&mut refs);
        assert_eq!(refs.len(), 1);
        OwnerChange::Adopt(&r).apply(&mut refs);
        assert_eq!(refs.len(), 2);
        let meta = ObjectMeta {
            owner_references: Some(refs),
            ..Default::default()
        };
        assert_eq!(controller_of(&meta).unwrap().uid, "u2");
    }
}
