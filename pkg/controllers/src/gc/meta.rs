//! Objects as the garbage collector's watches read them. Every change of every object the
//! collector can delete reaches it, metadata only (as upstream's, `PartialObjectMetadata`),
//! and of that metadata it reads the identity, owners, finalizers and deletion: those (and
//! what the watcher resumes from) are decoded, the managed fields, labels and annotations
//! skipped while parsing instead of being built and dropped.

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kube::{
    core::{DynamicResourceScope, Resource},
    discovery::ApiResource,
};
use serde::{Deserialize, Deserializer};

/// An object of any resource, as the collector's graph needs it.
#[derive(Clone, Debug, Deserialize)]
pub struct GcObject {
    #[serde(default, deserialize_with = "slim_meta")]
    pub metadata: ObjectMeta,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    resource_version: Option<String>,
    #[serde(default)]
    owner_references: Option<Vec<OwnerReference>>,
    #[serde(default)]
    finalizers: Option<Vec<String>>,
    #[serde(default)]
    deletion_timestamp: Option<Time>,
}

fn slim_meta<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    let m = Meta::deserialize(d)?;
    Ok(ObjectMeta {
        name: m.name,
        namespace: m.namespace,
        uid: m.uid,
        resource_version: m.resource_version,
        owner_references: m.owner_references,
        finalizers: m.finalizers,
        deletion_timestamp: m.deletion_timestamp,
        ..ObjectMeta::default()
    })
}

impl Resource for GcObject {
    type DynamicType = ApiResource;
    type Scope = DynamicResourceScope;

    fn kind(dt: &ApiResource) -> Cow<'_, str> {
        dt.kind.as_str().into()
    }

    fn group(dt: &ApiResource) -> Cow<'_, str> {
        dt.group.as_str().into()
    }

    fn version(dt: &ApiResource) -> Cow<'_, str> {
        dt.version.as_str().into()
    }

    fn api_version(dt: &ApiResource) -> Cow<'_, str> {
        dt.api_version.as_str().into()
    }

    fn plural(dt: &ApiResource) -> Cow<'_, str> {
        dt.plural.as_str().into()
    }

    /// Metadata-only requests (`as=PartialObjectMetadata`), as `PartialObjectMeta`'s.
    fn metadata_api() -> bool {
        true
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use kube::core::PartialObjectMeta;
    use serde_json::json;

    use super::*;

    #[test]
    fn decodes_what_the_collector_reads_as_the_whole_metadata_does() {
        let obj = json!({
            "apiVersion": "meta.k8s.io/v1",
            "kind": "PartialObjectMetadata",
            "metadata": {
                "name": "web-1", "namespace": "default", "uid": "u-1",
                "resourceVersion": "42", "generation": 3,
                "labels": {"app": "web"}, "annotations": {"a": "b"},
                "finalizers": ["foregroundDeletion"],
                "deletionTimestamp": "2026-11-27T10:00:00Z",
                "ownerReferences": [{
                    "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                    "uid": "u-0", "controller": true, "blockOwnerDeletion": true,
                }],
                "managedFields": [{
                    "manager": "kubectl", "operation": "Update", "apiVersion": "v1",
                    "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {}}},
                }],
            },
        });
        let slim: GcObject = serde_json::from_value(obj.clone()).unwrap();
        let whole: PartialObjectMeta<kube::api::DynamicObject> =
            serde_json::from_value(obj).unwrap();
        let w = whole.metadata;
        let want = ObjectMeta {
            name: w.name,
            namespace: w.namespace,
            uid: w.uid,
            resource_version: w.resource_version,
            owner_references: w.owner_references,
            finalizers: w.finalizers,
            deletion_timestamp: w.deletion_timestamp,
            ..ObjectMeta::default()
        };
        assert_eq!(slim.metadata, want);
        assert!(want.deletion_timestamp.is_some() && want.owner_references.is_some());

        // Nothing but a name: the rest absent, not an error.
        let bare: GcObject = serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap();
        assert_eq!(bare.metadata.name.as_deref(), Some("x"));
        assert!(bare.metadata.uid.is_none() && bare.metadata.owner_references.is_none());
    }

    #[test]
    fn requests_are_metadata_only() {
        assert!(GcObject::metadata_api());
    }
}
