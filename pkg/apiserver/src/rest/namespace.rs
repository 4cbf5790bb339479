//! Namespaced writes need an existing namespace that is not being deleted.

use std::{collections::HashMap, sync::Mutex};

use rkube_api::ResourceDef;
use rkube_store::{Compare, StoreExt};
use serde_json::Value;

use super::Api;
use crate::{
    object::from_stored,
    status::{ApiError, ApiResult},
};

/// Namespaces last read open (present, not being deleted), each with the mod_revision it
/// was read at. A create looks its namespace up here instead of reading the store, and
/// commits only if the namespace's key is still at that revision (a compare in the same
/// transaction, [`OpenNamespace::compare`]): a stale entry costs a retry, never a create in
/// a namespace deleted meanwhile.
#[derive(Default)]
pub struct OpenNamespaces(Mutex<HashMap<String, i64>>);

/// Namespaces remembered at most; past that the map starts over (a bound, not an LRU: real
/// clusters have far fewer).
const REMEMBERED: usize = 4096;

impl OpenNamespaces {
    fn get(&self, ns: &str) -> Option<i64> {
        self.map().get(ns).copied()
    }

    fn remember(&self, ns: &str, revision: i64) {
        let mut m = self.map();
        if m.len() >= REMEMBERED && !m.contains_key(ns) {
            m.clear();
        }
        m.insert(ns.to_string(), revision);
    }

    fn forget(&self, ns: &str) {
        self.map().remove(ns);
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A namespace found open, as of `revision` of its key.
pub struct OpenNamespace {
    pub key: String,
    pub revision: i64,
}

impl OpenNamespace {
    /// Holds while the namespace is as it was found.
    pub fn compare(&self) -> Compare {
        Compare::mod_revision_eq(self.key.as_bytes(), self.revision)
    }
}

/// `ns` for a create that commits with [`OpenNamespace::compare`]: from what was last read
/// when known, else read now. 404 when the namespace does not exist, 403 when it is being
/// deleted.
pub async fn open_namespace(
    api: &Api,
    def: &ResourceDef,
    ns: &str,
    name: &str,
) -> ApiResult<OpenNamespace> {
    if let Some(revision) = api.open_namespaces.get(ns) {
        return Ok(OpenNamespace {
            key: namespace_def().key(None, ns),
            revision,
        });
    }
    check_namespace_open(api, def, ns, name).await
}

/// `ns` as stored now (for writes that do not commit with the compare), with the same
/// errors as [`open_namespace`].
pub async fn check_namespace_open(
    api: &Api,
    def: &ResourceDef,
    ns: &str,
    name: &str,
) -> ApiResult<OpenNamespace> {
    let key = namespace_def().key(None, ns);
    let kv = api.store.get(key.as_bytes()).await?;
    namespace_found(api, def, ns, name, key, kv.as_ref())
}

/// The verdict on `ns` from its stored value (`None`: absent), remembered or forgotten.
pub fn namespace_found(
    api: &Api,
    def: &ResourceDef,
    ns: &str,
    name: &str,
    key: String,
    kv: Option<&rkube_store::KeyValue>,
) -> ApiResult<OpenNamespace> {
    let Some(kv) = kv else {
        api.open_namespaces.forget(ns);
        return Err(ApiError::not_found(namespace_def(), ns));
    };
    if terminating(kv)? {
        api.open_namespaces.forget(ns);
        let mut e = ApiError::forbidden(
            def,
            name,
            &format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            ),
        );
        if let Some(d) = e.details.as_mut() {
            d["causes"] = serde_json::json!([{
                "reason": "NamespaceTerminating",
                "message": format!("namespace {ns} is being terminated"),
                "field": "metadata.namespace"
            }]);
        }
        return Err(e);
    }
    api.open_namespaces.remember(ns, kv.mod_revision);
    Ok(OpenNamespace {
        key,
        revision: kv.mod_revision,
    })
}

fn namespace_def() -> &'static ResourceDef {
    rkube_api::registry::find("", "v1", "namespaces").expect("namespaces are served")
}

/// Whether the stored namespace is being deleted. Every namespaced create asks, so only the
/// two fields that tell are decoded (the whole object only when they do not decode plainly).
fn terminating(kv: &rkube_store::KeyValue) -> ApiResult<bool> {
    #[derive(serde::Deserialize)]
    struct Namespace<'a> {
        #[serde(default)]
        metadata: Meta,
        #[serde(default, borrow)]
        status: Status<'a>,
    }
    #[derive(Default, serde::Deserialize)]
    struct Meta {
        /// Present at all, even null (as `Value::pointer` sees it).
        #[serde(default, rename = "deletionTimestamp")]
        deletion_timestamp: Present,
    }
    #[derive(Default, serde::Deserialize)]
    struct Status<'a> {
        #[serde(default, borrow)]
        phase: Option<std::borrow::Cow<'a, str>>,
    }
    #[derive(Default)]
    struct Present(bool);
    impl<'de> serde::Deserialize<'de> for Present {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            serde::de::IgnoredAny::deserialize(d).map(|_| Present(true))
        }
    }
    if let Ok(ns) = serde_json::from_slice::<Namespace<'_>>(&kv.value) {
        return Ok(
            ns.status.phase.as_deref() == Some("Terminating") || ns.metadata.deletion_timestamp.0
        );
    }
    let obj = from_stored(kv)?;
    Ok(
        obj.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating")
            || obj.pointer("/metadata/deletionTimestamp").is_some(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::terminating;

    fn kv(v: serde_json::Value) -> rkube_store::KeyValue {
        rkube_store::KeyValue {
            key: b"/registry/namespaces/n".to_vec(),
            value: serde_json::to_vec(&v).unwrap(),
            mod_revision: 3,
            ..Default::default()
        }
    }

    #[test]
    fn terminating_reads_the_phase_and_the_deletion_timestamp_as_the_whole_object_does() {
        let cases = [
            (
                json!({"metadata": {"name": "n"}, "status": {"phase": "Active"}}),
                false,
            ),
            (json!({"metadata": {"name": "n"}}), false),
            (
                json!({"metadata": {"name": "n"}, "status": {"phase": "Terminating"}}),
                true,
            ),
            (
                json!({"metadata": {"deletionTimestamp": "2026-11-27T10:00:00Z"}}),
                true,
            ),
            // Present, even null, as `pointer` sees it.
            (json!({"metadata": {"deletionTimestamp": null}}), true),
            (json!({"status": {"phase": null}}), false),
            // Odd shapes take the whole-object path.
            (json!({"status": "Terminating"}), false),
            (
                json!({"metadata": {"name": "n"}, "status": {"phase": 7}}),
                false,
            ),
            (
                json!({"metadata": [], "status": {"phase": "Terminating"}}),
                true,
            ),
        ];
        for (obj, want) in cases {
            assert_eq!(terminating(&kv(obj.clone())).unwrap(), want, "{obj}");
        }
        // An escaped phase.
        let mut escaped = kv(json!({}));
        escaped.value = br#"{"status":{"phase":"Termin\u0061ting"}}"#.to_vec();
        assert!(terminating(&escaped).unwrap());
    }
}
