//! Strategic-merge-patch metadata of the served kinds: which lists merge (and by which key),
//! which primitive lists are unioned, which structs carry `retainKeys`. Upstream reads these
//! from the `patchStrategy`/`patchMergeKey` struct tags of k8s.io/api (v1.33) and
//! k8s.io/apimachinery `ObjectMeta`; this table transcribes those tags for every type reachable
//! from a served kind that carries one, plus the fields leading to them.
//!
//! Fields missing from the table have no strategy: lists replace, maps merge. Upstream would
//! instead fail with `unable to find api field` for a key its Go struct lacks when both the
//! stored object and the patch hold a map or list there; a stored object decoded from a
//! typed struct never has such keys, so that error is not reproduced.

/// One field of a Go struct, as its JSON name, with its patch tags.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    /// The field's struct type (for lists, the element's) when it has fields of its own in
    /// this table.
    pub ty: Option<&'static str>,
    /// `patchStrategy`, split on commas: `["merge"]`, `["merge", "retainKeys"]`, `["retainKeys"]`.
    pub strategies: &'static [&'static str],
    /// `patchMergeKey`, "" for none.
    pub merge_key: &'static str,
}

/// A Go struct type of k8s.io/api, by its Go name.
#[derive(Debug)]
pub struct TypeMeta {
    pub name: &'static str,
    pub fields: &'static [Field],
}

const MERGE: &[&str] = &["merge"];
const MERGE_RETAIN_KEYS: &[&str] = &["merge", "retainKeys"];
const RETAIN_KEYS: &[&str] = &["retainKeys"];

/// A field leading to a struct with tagged fields.
const fn nested(name: &'static str, ty: &'static str) -> Field {
    Field {
        name,
        ty: Some(ty),
        strategies: &[],
        merge_key: "",
    }
}

/// `patchStrategy:"merge" patchMergeKey:"<key>"`.
const fn merge(name: &'static str, key: &'static str, ty: Option<&'static str>) -> Field {
    Field {
        name,
        ty,
        strategies: MERGE,
        merge_key: key,
    }
}

/// `patchStrategy:"merge"` on a list of scalars (a set union).
const fn merge_primitive(name: &'static str) -> Field {
    Field {
        name,
        ty: None,
        strategies: MERGE,
        merge_key: "",
    }
}

/// `patchStrategy:"merge,retainKeys" patchMergeKey:"<key>"`.
const fn merge_retain_keys(name: &'static str, key: &'static str) -> Field {
    Field {
        name,
        ty: None,
        strategies: MERGE_RETAIN_KEYS,
        merge_key: key,
    }
}

/// `patchStrategy:"retainKeys"` on a struct.
const fn retain_keys(name: &'static str) -> Field {
    Field {
        name,
        ty: None,
        strategies: RETAIN_KEYS,
        merge_key: "",
    }
}

const METADATA: Field = nested("metadata", "ObjectMeta");

/// Kinds whose only tagged fields are in their metadata.
const METADATA_ONLY: &[Field] = &[METADATA];

/// core/v1 `Container` and `EphemeralContainer` (whose `EphemeralContainerCommon` is inlined
/// with the same tags).
const CONTAINER_FIELDS: &[Field] = &[
    merge("ports", "containerPort", None),
    merge("env", "name", None),
    merge("volumeMounts", "mountPath", None),
    merge("volumeDevices", "devicePath", None),
];

static TYPES: &[TypeMeta] = &[
    // k8s.io/apimachinery meta/v1
    TypeMeta {
        name: "ObjectMeta",
        fields: &[
            merge("ownerReferences", "uid", None),
            merge_primitive("finalizers"),
        ],
    },
    // Kinds with nothing tagged outside their metadata: ConfigMap, Secret, Endpoints, Event
    // (core and events.k8s.io), Lease, EndpointSlice, autoscaling/v1 Scale.
    TypeMeta {
        name: "Object",
        fields: METADATA_ONLY,
    },
    // core/v1
    TypeMeta {
        name: "Pod",
        fields: &[
            METADATA,
            nested("spec", "PodSpec"),
            nested("status", "PodStatus"),
        ],
    },
    TypeMeta {
        name: "PodTemplateSpec",
        fields: &[METADATA, nested("spec", "PodSpec")],
    },
    TypeMeta {
        name: "PodSpec",
        fields: &[
            merge_retain_keys("volumes", "name"),
            merge("initContainers", "name", Some("Container")),
            merge("containers", "name", Some("Container")),
            merge("ephemeralContainers", "name", Some("EphemeralContainer")),
            merge("imagePullSecrets", "name", None),
            merge("hostAliases", "ip", None),
            merge("topologySpreadConstraints", "topologyKey", None),
            merge("schedulingGates", "name", None),
            merge_retain_keys("resourceClaims", "name"),
        ],
    },
    TypeMeta {
        name: "Container",
        fields: CONTAINER_FIELDS,
    },
    TypeMeta {
        name: "EphemeralContainer",
        fields: CONTAINER_FIELDS,
    },
    TypeMeta {
        name: "PodStatus",
        fields: &[
            merge("conditions", "type", None),
            merge("hostIPs", "ip", None),
            merge("podIPs", "ip", None),
            nested("initContainerStatuses", "ContainerStatus"),
            nested("containerStatuses", "ContainerStatus"),
            nested("ephemeralContainerStatuses", "ContainerStatus"),
            merge_retain_keys("resourceClaimStatuses", "name"),
        ],
    },
    TypeMeta {
        name: "ContainerStatus",
        fields: &[
            merge("volumeMounts", "mountPath", None),
            merge("allocatedResourcesStatus", "name", None),
        ],
    },
    TypeMeta {
        name: "Service",
        fields: &[
            METADATA,
            nested("spec", "ServiceSpec"),
            nested("status", "ServiceStatus"),
        ],
    },
    TypeMeta {
        name: "ServiceSpec",
        fields: &[merge("ports", "port", None)],
    },
    TypeMeta {
        name: "ServiceStatus",
        fields: &[merge("conditions", "type", None)],
    },
    TypeMeta {
        name: "ServiceAccount",
        fields: &[METADATA, merge("secrets", "name", None)],
    },
    TypeMeta {
        name: "Namespace",
        fields: &[METADATA, nested("status", "NamespaceStatus")],
    },
    TypeMeta {
        name: "NamespaceStatus",
        fields: &[merge("conditions", "type", None)],
    },
    TypeMeta {
        name: "Node",
        fields: &[
            METADATA,
            nested("spec", "NodeSpec"),
            nested("status", "NodeStatus"),
        ],
    },
    TypeMeta {
        name: "NodeSpec",
        fields: &[merge_primitive("podCIDRs")],
    },
    TypeMeta {
        name: "NodeStatus",
        fields: &[
            merge("conditions", "type", None),
            merge("addresses", "type", None),
        ],
    },
    // apps/v1
    TypeMeta {
        name: "Deployment",
        fields: &[
            METADATA,
            nested("spec", "DeploymentSpec"),
            nested("status", "DeploymentStatus"),
        ],
    },
    TypeMeta {
        name: "DeploymentSpec",
        fields: &[
            nested("template", "PodTemplateSpec"),
            retain_keys("strategy"),
        ],
    },
    TypeMeta {
        name: "DeploymentStatus",
        fields: &[merge("conditions", "type", None)],
    },
    TypeMeta {
        name: "ReplicaSet",
        fields: &[
            METADATA,
            nested("spec", "ReplicaSetSpec"),
            nested("status", "ReplicaSetStatus"),
        ],
    },
    TypeMeta {
        name: "ReplicaSetSpec",
        fields: &[nested("template", "PodTemplateSpec")],
    },
    TypeMeta {
        name: "ReplicaSetStatus",
        fields: &[merge("conditions", "type", None)],
    },
];

/// The root type of a kind. Kinds not listed have tagged fields only in their metadata.
fn root_type_name(group: &str, kind: &str) -> &'static str {
    match (group, kind) {
        ("", "Pod") => "Pod",
        ("", "Service") => "Service",
        ("", "ServiceAccount") => "ServiceAccount",
        ("", "Namespace") => "Namespace",
        ("", "Node") => "Node",
        ("apps", "Deployment") => "Deployment",
        ("apps", "ReplicaSet") => "ReplicaSet",
        _ => "Object",
    }
}

/// Looks a type up by its Go name.
pub fn type_meta(name: &str) -> Option<&'static TypeMeta> {
    TYPES.iter().find(|t| t.name == name)
}

/// Where the strategic merge stands in the object: the struct type (if it has tagged fields)
/// of the value being merged.
#[derive(Debug, Clone, Copy)]
pub struct Schema(Option<&'static TypeMeta>);

/// The tags of one field (empty for untagged or unknown fields).
#[derive(Debug, Clone, Copy, Default)]
pub struct PatchMeta {
    pub strategies: &'static [&'static str],
    pub merge_key: &'static str,
}

impl Schema {
    /// The schema at the root of an object of this kind.
    pub fn root(group: &str, kind: &str) -> Self {
        Schema(type_meta(root_type_name(group, kind)))
    }

    /// The schema of field `key` (for a list, of its elements) and the field's tags, as
    /// upstream's `LookupPatchMetadataForStruct`/`ForSlice`.
    pub fn lookup(self, key: &str) -> (Schema, PatchMeta) {
        let Some(field) = self.0.and_then(|t| t.fields.iter().find(|f| f.name == key)) else {
            return (Schema(None), PatchMeta::default());
        };
        (
            Schema(field.ty.and_then(type_meta)),
            PatchMeta {
                strategies: field.strategies,
                merge_key: field.merge_key,
            },
        )
    }

    /// Go's name for the kind of the type (`reflect.Kind`), as errors print it.
    pub fn name(self) -> &'static str {
        "struct"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_referenced_type_is_defined() {
        for t in TYPES {
            for f in t.fields {
                if let Some(ty) = f.ty {
                    assert!(type_meta(ty).is_some(), "{}.{} -> {ty}", t.name, f.name);
                }
                // Strategy and key go together except for primitive merge lists and retainKeys.
                if !f.merge_key.is_empty() {
                    assert!(f.strategies.contains(&"merge"), "{}.{}", t.name, f.name);
                }
            }
        }
        for def in crate::registry::resources() {
            assert!(type_meta(root_type_name(def.group, def.kind)).is_some());
        }
    }

    #[test]
    fn resolves_paths_from_the_root() {
        let deploy = Schema::root("apps", "Deployment");
        let (spec, _) = deploy.lookup("spec");
        let (template, _) = spec.lookup("template");
        let (pod_spec, _) = template.lookup("spec");
        let (container, meta) = pod_spec.lookup("containers");
        assert_eq!(meta.merge_key, "name");
        let (_, env) = container.lookup("env");
        assert_eq!((env.strategies, env.merge_key), (MERGE, "name"));
        let (_, strategy) = spec.lookup("strategy");
        assert_eq!(strategy.strategies, RETAIN_KEYS);
        let (_, tolerations) = pod_spec.lookup("tolerations");
        assert!(tolerations.strategies.is_empty());
        let (meta, _) = Schema::root("", "ConfigMap").lookup("metadata");
        let (_, finalizers) = meta.lookup("finalizers");
        assert_eq!((finalizers.strategies, finalizers.merge_key), (MERGE, ""));
    }
}
