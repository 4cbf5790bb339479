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
    let obj = from_stored(&kv)?;
    let terminating = obj.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating")
        || obj.pointer("/metadata/deletionTimestamp").is_some();
    if terminating {
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
