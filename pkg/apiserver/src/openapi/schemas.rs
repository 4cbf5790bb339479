//! The definitions the OpenAPI documents reference, with their full schemas: properties,
//! types and formats, `$ref`s, `required`, upstream's field docs, and the list, map and
//! patch extensions kubectl and server-side apply read.
//!
//! The schemas come from k8s-openapi's `schemars` implementations (generated from upstream's
//! OpenAPI spec, descriptions included), with references named as upstream names its
//! definitions (`#/definitions/io.k8s.api.core.v1.PodSpec`). k8s-openapi leaves out what
//! upstream's spec carries beyond plain JSON schema (the `x-kubernetes-*` extensions of
//! fields and types, `default`s), strays from it in a few places (`metadata` required on
//! every kind, `IntOrString`/`Quantity` as `x-kubernetes-int-or-string`, `WatchEvent`'s
//! docs), has no list kinds (its `List<T>` is generic) and leaves out the `enum`s a live
//! server lists (and describes) with the OpenAPIEnums feature on, as 1.33's is by default;
//! `markers.rs` holds what upstream's generator reads from the Go types for those, and this
//! module puts them together.
//!
//! Built once, on first use: kind by kind for writes (`get`), all at once for the documents.

use std::{
    cell::RefCell,
    collections::{BTreeMap, HashMap},
    sync::{Mutex, OnceLock},
};

use k8s_openapi::schemars::{generate::SchemaSettings, SchemaGenerator};
use serde_json::{json, Map, Value};

use super::markers::{self, FieldMarkers, TypeMarkers};

const DEFINITIONS: &str = "#/definitions/";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";

/// Adds the schema of `group/version/kind` (and of everything it references) to the
/// generator; false for a kind k8s-openapi has no type for here.
fn add_kind(g: &mut SchemaGenerator, group: &str, version: &str, kind: &str) -> bool {
    use k8s_openapi::api::{
        apps::v1 as apps_v1, authentication::v1 as authentication_v1,
        authorization::v1 as authorization_v1, autoscaling::v1 as autoscaling_v1,
        autoscaling::v2 as autoscaling_v2, batch::v1 as batch_v1,
        certificates::v1 as certificates_v1, coordination::v1 as coordination_v1,
        core::v1 as core_v1, discovery::v1 as discovery_v1, events::v1 as events_v1,
        networking::v1 as networking_v1, node::v1 as node_v1, policy::v1 as policy_v1,
        rbac::v1 as rbac_v1, scheduling::v1 as scheduling_v1, storage::v1 as storage_v1,
    };
    macro_rules! kinds {
        ($($group:literal $version:literal $module:ident { $($kind:ident)* })*) => {
            if group == "*" {
                // Every kind of the table (for the tests).
                $($(add_kind(g, $group, $version, stringify!($kind));)*)*
                return true;
            }
            match (group, version) {
                $(($group, $version) => match kind {
                    $(stringify!($kind) => {
                        g.subschema_for::<$module::$kind>();
                        true
                    })*
                    _ => false,
                },)*
                _ => false,
            }
        };
    }
    kinds! {
        "" "v1" core_v1 {
            Binding ComponentStatus ConfigMap Endpoints Event LimitRange Namespace Node
            PersistentVolume PersistentVolumeClaim Pod PodTemplate ReplicationController
            ResourceQuota Secret Service ServiceAccount
        }
        "apps" "v1" apps_v1 { ControllerRevision DaemonSet Deployment ReplicaSet StatefulSet }
        "authentication.k8s.io" "v1" authentication_v1 { SelfSubjectReview TokenRequest TokenReview }
        "authorization.k8s.io" "v1" authorization_v1 {
            LocalSubjectAccessReview SelfSubjectAccessReview SelfSubjectRulesReview
            SubjectAccessReview
        }
        "autoscaling" "v1" autoscaling_v1 { HorizontalPodAutoscaler Scale }
        "autoscaling" "v2" autoscaling_v2 { HorizontalPodAutoscaler }
        "batch" "v1" batch_v1 { CronJob Job }
        "certificates.k8s.io" "v1" certificates_v1 { CertificateSigningRequest }
        "coordination.k8s.io" "v1" coordination_v1 { Lease }
        "discovery.k8s.io" "v1" discovery_v1 { EndpointSlice }
        "events.k8s.io" "v1" events_v1 { Event }
        "networking.k8s.io" "v1" networking_v1 { Ingress IngressClass NetworkPolicy }
        "node.k8s.io" "v1" node_v1 { RuntimeClass }
        "policy" "v1" policy_v1 { Eviction PodDisruptionBudget }
        "rbac.authorization.k8s.io" "v1" rbac_v1 { ClusterRole ClusterRoleBinding Role RoleBinding }
        "scheduling.k8s.io" "v1" scheduling_v1 { PriorityClass }
        "storage.k8s.io" "v1" storage_v1 {
            CSIDriver CSINode CSIStorageCapacity StorageClass VolumeAttachment
        }
    }
}

/// The meta/v1 kinds every group version serves, and what lists reference.
fn add_meta(g: &mut SchemaGenerator) {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
    g.subschema_for::<meta::APIGroup>();
    g.subschema_for::<meta::APIGroupList>();
    g.subschema_for::<meta::APIResourceList>();
    g.subschema_for::<meta::APIVersions>();
    g.subschema_for::<meta::DeleteOptions>();
    g.subschema_for::<meta::ListMeta>();
    g.subschema_for::<meta::Patch>();
    g.subschema_for::<meta::Status>();
    g.subschema_for::<meta::WatchEvent<k8s_openapi::api::core::v1::Pod>>();
}

static ALL: OnceLock<BTreeMap<String, Value>> = OnceLock::new();

/// Every definition reachable from the served kinds (and their subresources' kinds), by
/// upstream name, as OpenAPI v2 schemas (v3.rs rewrites the references).
pub fn all() -> &'static BTreeMap<String, Value> {
    ALL.get_or_init(|| {
        let mut kinds = Vec::new();
        for r in rkube_api::registry::resources() {
            kinds.push((r.group, r.version, r.kind, r.has_verb("list")));
            for s in r.subresources {
                kinds.push((s.group, s.version, s.kind, false));
            }
        }
        build(&kinds)
    })
}

/// The schema of one definition, if known. Writes look up their kind's schema (and then
/// what it references) long before anyone asks for the OpenAPI documents, if ever: until
/// then definitions are built kind by kind, as they are asked for, rather than all at
/// once (every kind's schema, docs included, is megabytes of memory).
pub fn get(name: &str) -> Option<&'static Value> {
    // Every `$ref` a write follows (field management, field validation) comes here, hundreds
    // of times per object: each thread remembers its answers, without a lock. The
    // definitions never change once built, nor are they freed.
    thread_local! {
        static SEEN: RefCell<HashMap<Box<str>, Option<&'static Value>>> =
            RefCell::new(HashMap::new());
    }
    if let Some(hit) = SEEN.with(|s| s.borrow().get(name).copied()) {
        return hit;
    }
    let found = lookup(name);
    SEEN.with(|s| s.borrow_mut().insert(name.into(), found));
    found
}

fn lookup(name: &str) -> Option<&'static Value> {
    if let Some(all) = ALL.get() {
        return all.get(name);
    }
    static BUILT: Mutex<BTreeMap<String, &'static Value>> = Mutex::new(BTreeMap::new());
    if let Some(v) = BUILT.lock().expect("schemas lock").get(name).copied() {
        return Some(v);
    }
    let Some(kind) = served_kind(name) else {
        // Not a kind: only reached through a kind built above, or not served at all.
        return all().get(name);
    };
    let built = build(&[kind]);
    let mut cache = BUILT.lock().expect("schemas lock");
    for (n, v) in built {
        // Kept for the life of the process, as `all()` is.
        cache.entry(n).or_insert_with(|| &*Box::leak(Box::new(v)));
    }
    cache.get(name).copied()
}

/// The served kind (or list kind) named `name`, as `build` takes it.
fn served_kind(name: &str) -> Option<(&'static str, &'static str, &'static str, bool)> {
    for r in rkube_api::registry::resources() {
        let own = super::paths::definition_name(r.group, r.version, r.kind);
        let listed = r.has_verb("list");
        if (listed && name.strip_suffix("List").is_some_and(|n| n == own)) || name == own {
            return Some((r.group, r.version, r.kind, listed));
        }
        for s in r.subresources {
            if name == super::paths::definition_name(s.group, s.version, s.kind) {
                return Some((s.group, s.version, s.kind, false));
            }
        }
    }
    None
}

fn generator() -> SchemaGenerator {
    SchemaSettings::draft07()
        .with(|s| {
            s.definitions_path = "/definitions".into();
            s.meta_schema = None;
            s.transforms.clear();
        })
        .into_generator()
}

/// The definitions of these kinds, each (group, version, kind, has a list kind).
fn build(kinds: &[(&str, &str, &str, bool)]) -> BTreeMap<String, Value> {
    let mut g = generator();
    add_meta(&mut g);
    let mut lists = Vec::new();
    for (group, version, kind, listed) in kinds {
        if add_kind(&mut g, group, version, kind) && *listed {
            lists.push(super::paths::definition_name(group, version, kind));
        }
    }
    let mut out: BTreeMap<String, Value> = g
        .take_definitions(false)
        .into_iter()
        .map(|(name, mut schema)| {
            fix(&name, &mut schema);
            (name, schema)
        })
        .collect();
    for item in lists {
        let name = format!("{item}List");
        let schema = list_schema(&item);
        out.insert(name, schema);
    }
    out
}

/// Upstream's schema for what k8s-openapi describes differently, then the markers.
fn fix(name: &str, schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    match name {
        // Upstream gives both the OpenAPI type and format of their Go types.
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => {
            obj.remove("x-kubernetes-int-or-string");
            obj.insert("type".into(), "string".into());
            obj.insert("format".into(), "int-or-string".into());
        }
        "io.k8s.apimachinery.pkg.api.resource.Quantity" => {
            obj.remove("x-kubernetes-int-or-string");
            obj.insert("type".into(), "string".into());
        }
        // k8s-openapi moves the docs of `object` to the type.
        "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent" => {
            if let Some(Value::String(d)) = obj.get_mut("description") {
                if let Some((head, object)) = d.split_once("\n\nObject is:") {
                    let object = format!("Object is:{object}");
                    *d = head.to_string();
                    if let Some(o) = obj.get_mut("properties").and_then(|p| p.get_mut("object")) {
                        o["description"] = object.into();
                    }
                }
            }
        }
        _ => {}
    }
    if let Some(m) = markers::type_markers(name) {
        apply_markers(obj, m);
    }
}

fn apply_markers(obj: &mut Map<String, Value>, m: &TypeMarkers) {
    if let Some(required) = m.required {
        if required.is_empty() {
            obj.remove("required");
        } else {
            obj.insert("required".into(), json!(required));
        }
    }
    if let Some(t) = m.map_type {
        obj.insert("x-kubernetes-map-type".into(), t.into());
    }
    if let Some((discriminator, fields)) = m.union {
        let by: Map<String, Value> = fields
            .iter()
            .map(|(json, go)| (json.to_string(), Value::from(*go)))
            .collect();
        obj.insert(
            "x-kubernetes-unions".into(),
            json!([{"discriminator": discriminator, "fields-to-discriminateBy": by}]),
        );
    }
    let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for (field, f) in m.fields {
        if let Some(p) = props.get_mut(*field).and_then(Value::as_object_mut) {
            apply_field(p, f);
        }
    }
}

fn apply_field(p: &mut Map<String, Value>, f: &FieldMarkers) {
    if !f.list_map_keys.is_empty() {
        p.insert("x-kubernetes-list-map-keys".into(), json!(f.list_map_keys));
    }
    let extensions = [
        ("x-kubernetes-list-type", f.list_type),
        ("x-kubernetes-map-type", f.map_type),
        ("x-kubernetes-patch-merge-key", f.patch_merge_key),
        ("x-kubernetes-patch-strategy", f.patch_strategy),
    ];
    for (k, v) in extensions {
        if let Some(v) = v {
            p.insert(k.into(), v.into());
        }
    }
    if let Some(d) = f.default {
        if let Ok(v) = serde_json::from_str::<Value>(d) {
            p.insert("default".into(), v);
        }
    }
    // kube-openapi appends the values' docs to the field's (as a paragraph) and lists them.
    if let Some(e) = f.enum_type.and_then(markers::enum_values) {
        let mut description = p
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if !description.is_empty() {
            description.push_str("\n\n");
        }
        description.push_str("Possible enum values:\n");
        description.push_str(&e.lines.join("\n"));
        p.insert("description".into(), description.into());
        p.insert("enum".into(), json!(e.values));
    }
}

/// A list kind, as upstream's `<Kind>List` types read (k8s-openapi has one generic `List`).
fn list_schema(item: &str) -> Value {
    let name = format!("{item}List");
    let docs = markers::list_docs(&name);
    let kind_short = item.rsplit('.').next().unwrap_or(item);
    let description = docs
        .map(|d| d.description.to_string())
        .unwrap_or_else(|| format!("{kind_short}List is a list of {kind_short} objects."));
    let items = docs
        .map(|d| d.items.to_string())
        .unwrap_or_else(|| format!("List of {kind_short} objects."));
    let metadata = docs.map(|d| d.metadata).unwrap_or(
        "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    );
    let mut metadata_schema = json!({"$ref": format!("{DEFINITIONS}{LIST_META}")});
    if !metadata.is_empty() {
        metadata_schema["description"] = metadata.into();
    }
    json!({
        "description": description,
        "properties": {
            "apiVersion": {
                "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
                "type": "string",
            },
            "items": {
                "description": items,
                "items": {"$ref": format!("{DEFINITIONS}{item}")},
                "type": "array",
            },
            "kind": {
                "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                "type": "string",
            },
            "metadata": metadata_schema,
        },
        "required": ["items"],
        "type": "object",
    })
}

#[cfg(test)]
mod tests;
