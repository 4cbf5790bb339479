//! Namespaced writes need an existing namespace that is not being deleted.

use rkube_api::ResourceDef;
use rkube_store::StoreExt;
use serde_json::Value;

use super::Api;
use crate::{
    object::from_stored,
    status::{ApiError, ApiResult},
};

pub async fn check_namespace_open(
    api: &Api,
    def: &ResourceDef,
    ns: &str,
    name: &str,
) -> ApiResult<()> {
    let ns_def = rkube_api::registry::find("", "v1", "namespaces").expect("namespaces are served");
    let kv = api.store.get(ns_def.key(None, ns).as_bytes()).await?;
    let Some(kv) = kv else {
        return Err(ApiError::not_found(ns_def, ns));
    };
    if terminating(&kv)? {
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
    Ok(())
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
