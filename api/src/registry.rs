//! Every served resource, as kube-apiserver v1.33 discovery reports it (verbs, short names,
//! categories, scope, subresources), plus where each lives in the store.

/// A served resource: `/api/v1/namespaces/{ns}/pods` is core/v1 `pods`, kind `Pod`.
#[derive(Debug)]
pub struct ResourceDef {
    /// "" for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// The URL segment, e.g. "pods".
    pub plural: &'static str,
    /// Lowercase kind, e.g. "pod".
    pub singular: &'static str,
    pub namespaced: bool,
    /// Upstream's verbs for the resource, as discovery lists them.
    pub verbs: &'static [&'static str],
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub subresources: &'static [SubresourceDef],
    /// Storage prefix under `/registry/`, as kube-apiserver lays it out (e.g. "services/specs",
    /// "minions" for nodes). Two resources may share one (core and events.k8s.io events).
    /// Empty for what is answered and never stored (reviews).
    pub storage: &'static str,
}

/// A subresource such as `status` or `scale`.
#[derive(Debug)]
pub struct SubresourceDef {
    pub name: &'static str,
    /// The object it takes and returns (e.g. autoscaling/v1 Scale for `scale`).
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub verbs: &'static [&'static str],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupVersion {
    pub group: &'static str,
    pub version: &'static str,
}

impl GroupVersion {
    /// "v1" for core, else "group/version", as `apiVersion` spells it.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

impl ResourceDef {
    /// A kind only named (in errors about it, as Scale or TokenRequest), never served as a
    /// resource of its own nor stored.
    pub const fn named(
        group: &'static str,
        version: &'static str,
        kind: &'static str,
        plural: &'static str,
        singular: &'static str,
    ) -> Self {
        ResourceDef {
            group,
            version,
            kind,
            plural,
            singular,
            namespaced: true,
            verbs: &[],
            short_names: &[],
            categories: &[],
            subresources: &[],
            storage: "",
        }
    }

    pub fn group_version(&self) -> GroupVersion {
        GroupVersion {
            group: self.group,
            version: self.version,
        }
    }

    pub fn api_version(&self) -> String {
        self.group_version().api_version()
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    pub fn subresource(&self, name: &str) -> Option<&'static SubresourceDef> {
        self.subresources.iter().find(|s| s.name == name)
    }

    /// Where one object lives in the store: `/registry/<storage>/<ns>/<name>` or
    /// `/registry/<storage>/<name>` for cluster-scoped kinds.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("/registry/{}/{ns}/{name}", self.storage),
            _ => format!("/registry/{}/{name}", self.storage),
        }
    }

    /// The namespace ("" when cluster-scoped) and name of the object stored under `key`: the
    /// inverse of [`key`](Self::key). `None` for a key of another resource or malformed.
    pub fn parse_key<'k>(&self, key: &'k [u8]) -> Option<(&'k str, &'k str)> {
        let rest = std::str::from_utf8(key.strip_prefix(b"/registry/")?).ok()?;
        let rest = rest.strip_prefix(self.storage)?.strip_prefix('/')?;
        let (namespace, name) = if self.namespaced {
            rest.split_once('/')?
        } else {
            ("", rest)
        };
        (!name.is_empty() && !name.contains('/')).then_some((namespace, name))
    }

    /// The prefix a list reads: all namespaces, or one (always ending in '/').
    pub fn prefix(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("/registry/{}/{ns}/", self.storage),
            _ => format!("/registry/{}/", self.storage),
        }
    }
}

// Verb sets as upstream's discovery lists them (alphabetical, as the apiserver sorts them).
const VERBS_ALL: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
/// Namespaces cannot be deleted in bulk: upstream's namespace REST has no DeleteCollection.
const VERBS_NO_COLLECTION: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];
const VERBS_STATUS: &[&str] = &["get", "patch", "update"];
const VERBS_CREATE: &[&str] = &["create"];
const VERBS_UPDATE: &[&str] = &["update"];
const CATEGORY_ALL: &[&str] = &["all"];

const fn status(group: &'static str, version: &'static str, kind: &'static str) -> SubresourceDef {
    SubresourceDef {
        name: "status",
        group,
        version,
        kind,
        verbs: VERBS_STATUS,
    }
}

/// `scale` takes and returns autoscaling/v1 Scale whatever the parent's group.
const SCALE: SubresourceDef = SubresourceDef {
    name: "scale",
    group: "autoscaling",
    version: "v1",
    kind: "Scale",
    verbs: VERBS_STATUS,
};

/// Subresources are listed in upstream's (alphabetical) discovery order.
const NAMESPACE_SUBRESOURCES: &[SubresourceDef] = &[
    SubresourceDef {
        name: "finalize",
        group: "",
        version: "v1",
        kind: "Namespace",
        verbs: VERBS_UPDATE,
    },
    status("", "v1", "Namespace"),
];
const NODE_SUBRESOURCES: &[SubresourceDef] = &[status("", "v1", "Node")];
const POD_SUBRESOURCES: &[SubresourceDef] = &[
    SubresourceDef {
        name: "binding",
        group: "",
        version: "v1",
        kind: "Binding",
        verbs: VERBS_CREATE,
    },
    SubresourceDef {
        name: "eviction",
        group: "policy",
        version: "v1",
        kind: "Eviction",
        verbs: VERBS_CREATE,
    },
    status("", "v1", "Pod"),
];
const SERVICE_ACCOUNT_SUBRESOURCES: &[SubresourceDef] = &[SubresourceDef {
    name: "token",
    group: "authentication.k8s.io",
    version: "v1",
    kind: "TokenRequest",
    verbs: VERBS_CREATE,
}];
const SERVICE_SUBRESOURCES: &[SubresourceDef] = &[status("", "v1", "Service")];
const DEPLOYMENT_SUBRESOURCES: &[SubresourceDef] = &[SCALE, status("apps", "v1", "Deployment")];
const REPLICASET_SUBRESOURCES: &[SubresourceDef] = &[SCALE, status("apps", "v1", "ReplicaSet")];

/// The whole table. Groups come in the order kube-apiserver's `/apis` lists them (by group
/// priority: core, apps, events.k8s.io, authentication.k8s.io, authorization.k8s.io,
/// rbac.authorization.k8s.io, coordination.k8s.io, discovery.k8s.io), resources
/// within a group in discovery order (alphabetical by plural), so `group_versions()` and
/// discovery documents built from this match upstream byte for byte in ordering.
static RESOURCES: &[ResourceDef] = &[
    // core/v1
    ResourceDef {
        group: "",
        version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        singular: "configmap",
        namespaced: true,
        verbs: VERBS_ALL,
        short_names: &["cm"],
        categories: &[],
        subresources: &[],
        storage: "configmaps",
    },
    ResourceDef {
        group: "",
        version: "v1",
        kind: "Endpoints",
        plural: "endpoints",
        // Upstream's singular is the plural: the kind itself is plural.
        singular: "endpoints",
        namespaced: true,
        verbs: VERBS_ALL,
        short_names: &["ep"],
        categories: &[],
        subresources: &[],
        // Endpoints live beside services in etcd, as kube-apiserver lays them out.
        storage: "services/endpoints",
    },
    ResourceDef {
        group: "",
        version: "v1",
        kind: "Event",
        plural: "events",
        singular: "event",
        namespaced: true,
        verbs: VERBS_ALL,
        short_names: &["ev"],
        categories: &[],
        subresources: &[],
        storage: "events",
    },
    ResourceDef {
        group: "",
        version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        singular: "namespace",
        namespaced: false,
        verbs: VERBS_NO_COLLECTION,
        short_names: &["ns"],
        categories: &[],
        subresources: NAMESPACE_SUBRESOURCES,
        storage: "namespaces",
    },
    ResourceDef {
        group: "",
        version: "v1",
        kind: "Node",
        plural: "nodes",
        singular: "node",
        namespaced: false,
        verbs: VERBS_ALL,
        short_names: &["no"],
        categories: &[],
        subresources: NODE_SUBRESOURCES,
        // Nodes were "minions" once; etcd keeps the old name.
        storage: "minions",
    },
    ResourceDef {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        singular: "pod",
        namespaced: true,
        verbs: VERBS_ALL,
        short_names: &["po"],
        categories: CATEGORY_ALL,
        subresources: POD_SUBRESOURCES,
        storage: "pods",
    },
    ResourceDef {
        group: "",
        version: "v1",
        kind: "Secret",
        plural: "secrets",
        singular: "secret",
        namespaced: true,
        verbs: VERBS_ALL,
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage: "secrets",
    },
    ResourceDef {
        group: "",
        version: "v1",
        kind: "ServiceAccount",
        plural: "serviceaccounts",
        singular: "serviceaccount",
        namespaced: true,
        verbs: VERBS_ALL,
        short_names: &["sa"],
        categories: &[],
        subresources: SERVICE_ACCOUNT_SUBRESOURCES,
        storage: "serviceaccounts",
    },
    ResourceDef {
        group: "",
        version: "v1",
        kind: "Service",
        plural: "services",
        singular: "service",
        namespaced: true,
        verbs: VERBS_ALL,
        short_names: &["svc"],
        categories: CATEGORY_ALL,
        subresources: SERVICE_SUBRESOURCES,
        storage: "services/specs",
    },
    // apps/v1
    ResourceDef {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        plural: "deployments",
        singular: "deployment",
        namespaced: true,
        verbs: VERBS_ALL,
        short_names: &["deploy"],
        categories: CATEGORY_ALL,
        subresources: DEPLOYMENT_SUBRESOURCES,
        storage: "deployments",
    },
    ResourceDef {
        group: "apps",
        version: "v1",
        kind: "ReplicaSet",
        plural: "replicasets",
        singular: "replicaset",
        namespaced: true,
        verbs: VERBS_ALL,
        short_names: &["rs"],
        categories: CATEGORY_ALL,
        subresources: REPLICASET_SUBRESOURCES,
        storage: "replicasets",
    },
    // events.k8s.io/v1: the same objects as core events, through another schema.
    ResourceDef {
        group: "events.k8s.io",
        version: "v1",
        kind: "Event",
        plural: "events",
        singular: "event",
        namespaced: true,
        verbs: VERBS_ALL,
        short_names: &["ev"],
        categories: &[],
        subresources: &[],
        storage: "events",
    },
    // authentication.k8s.io/v1 and authorization.k8s.io/v1: reviews, answered and not stored.
    ResourceDef {
        group: "authentication.k8s.io",
        version: "v1",
        kind: "SelfSubjectReview",
        plural: "selfsubjectreviews",
        singular: "selfsubjectreview",
        namespaced: false,
        verbs: VERBS_CREATE,
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage: "",
    },
    ResourceDef {
        group: "authentication.k8s.io",
        version: "v1",
        kind: "TokenReview",
        plural: "tokenreviews",
        singular: "tokenreview",
        namespaced: false,
        verbs: VERBS_CREATE,
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage: "",
    },
    ResourceDef {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "LocalSubjectAccessReview",
        plural: "localsubjectaccessreviews",
        singular: "localsubjectaccessreview",
        namespaced: true,
        verbs: VERBS_CREATE,
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage: "",
    },
    ResourceDef {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SelfSubjectAccessReview",
        plural: "selfsubjectaccessreviews",
        singular: "selfsubjectaccessreview",
        namespaced: false,
        verbs: VERBS_CREATE,
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage: "",
    },
    ResourceDef {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SelfSubjectRulesReview",
        plural: "selfsubjectrulesreviews",
        singular: "selfsubjectrulesreview",
        namespaced: false,
        verbs: VERBS_CREATE,
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage: "",
    },
    ResourceDef {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SubjectAccessReview",
        plural: "subjectaccessreviews",
        singular: "subjectaccessreview",
        namespaced: false,
        verbs: VERBS_CREATE,
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage: "",
    },
    // rbac.authorization.k8s.io/v1: stored and served; not enforced yet (no authorizer).
    ResourceDef {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRoleBinding",
        plural: "clusterrolebindings",
        singular: "clusterrolebinding",
        namespaced: false,
        verbs: VERBS_ALL,
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage: "clusterrolebindings",
    },
    ResourceDef {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRole",
        plural: "clusterroles",
        singular: "clusterrole",
        namespaced: false,
        verbs: VERBS_ALL,
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage: "clusterroles",
    },
    ResourceDef {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "RoleBinding",
        plural: "rolebindings",
        singular: "rolebinding",
        namespaced: true,
        verbs: VERBS_ALL,
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage: "rolebindings",
    },
    ResourceDef {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "Role",
        plural: "roles",
        singular: "role",
        namespaced: true,
        verbs: VERBS_ALL,
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage: "roles",
    },
    // coordination.k8s.io/v1
    ResourceDef {
        group: "coordination.k8s.io",
        version: "v1",
        kind: "Lease",
        plural: "leases",
        singular: "lease",
        namespaced: true,
        verbs: VERBS_ALL,
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage: "leases",
    },
    // discovery.k8s.io/v1
    ResourceDef {
        group: "discovery.k8s.io",
        version: "v1",
        kind: "EndpointSlice",
        plural: "endpointslices",
        singular: "endpointslice",
        namespaced: true,
        verbs: VERBS_ALL,
        short_names: &[],
        categories: &[],
        subresources: &[],
        storage: "endpointslices",
    },
];

/// Every served resource, in discovery order.
pub fn resources() -> &'static [ResourceDef] {
    RESOURCES
}

/// Looks up a resource by group, version and plural.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceDef> {
    resources()
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Served groups and their versions, the preferred version first; core ("") first.
pub fn group_versions() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for r in resources() {
        match out.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, versions)) if !versions.contains(&r.version) => versions.push(r.version),
            Some(_) => {}
            None => out.push((r.group, vec![r.version])),
        }
    }
    out
}

/// Looks up a resource by group, version and kind (e.g. for an object's `apiVersion`/`kind`).
pub fn find_kind(group: &str, version: &str, kind: &str) -> Option<&'static ResourceDef> {
    resources()
        .iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// Discovery's `storageVersionHash` for a resource: upstream's hash of the storage
/// group/version/kind, which clients (the storage migrator, kube-controller-manager's GC)
/// compare to notice storage changes. Fixed values: our storage versions never change.
/// core and events.k8s.io events share storage, hence one hash.
pub fn storage_version_hash(def: &ResourceDef) -> Option<&'static str> {
    Some(match (def.group, def.plural) {
        ("", "configmaps") => "qFsyl6wFWjQ=",
        ("", "endpoints") => "fWeeMqaN/OA=",
        ("", "events") | ("events.k8s.io", "events") => "r2yiGXH7wu8=",
        ("", "namespaces") => "Q3oi5N2YM8M=",
        ("", "nodes") => "XwShjMxG9Fs=",
        ("", "pods") => "xPOwRZ+Yhw8=",
        ("", "secrets") => "S6u1pOWzb84=",
        ("", "serviceaccounts") => "pbx9ZvyFpBE=",
        ("", "services") => "0/CO1lhkEBI=",
        ("apps", "deployments") => "8aSe+NMegvE=",
        ("apps", "replicasets") => "P1RzHs8/mWQ=",
        ("coordination.k8s.io", "leases") => "gqkMMb/YqFM=",
        ("rbac.authorization.k8s.io", "clusterrolebindings") => "48tpQ8gZHFc=",
        ("rbac.authorization.k8s.io", "clusterroles") => "bYE5ZWDrJ44=",
        ("rbac.authorization.k8s.io", "rolebindings") => "eGsCzGH6b1g=",
        ("rbac.authorization.k8s.io", "roles") => "7FuwZcIIItM=",
        ("discovery.k8s.io", "endpointslices") => "Nx3SIv6I0mE=",
        _ => return None,
    })
}

impl ResourceDef {
    /// A PUT of a missing object creates it, as upstream's strategies allow for these kinds
    /// (AllowCreateOnUpdate).
    pub fn allow_create_on_update(&self) -> bool {
        matches!(self.kind, "Endpoints" | "Lease" | "Event")
    }

    /// A PUT may leave out metadata.resourceVersion (AllowUnconditionalUpdate): all but
    /// Leases, whose holders must not overwrite each other blindly.
    pub fn allow_unconditional_update(&self) -> bool {
        self.kind != "Lease"
    }

    /// Whether discovery lists `verb` for the resource itself (not its subresources).
    pub fn has_verb(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }

    /// False for the reviews, which a create answers without storing anything.
    pub fn stored(&self) -> bool {
        !self.storage.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(group: &str, plural: &str) -> &'static ResourceDef {
        find(group, "v1", plural).unwrap_or_else(|| panic!("{group}/{plural} is served"))
    }

    #[test]
    fn every_resource_is_findable_and_unique() {
        for (i, r) in resources().iter().enumerate() {
            assert!(std::ptr::eq(find(r.group, r.version, r.plural).unwrap(), r));
            assert!(std::ptr::eq(
                find_kind(r.group, r.version, r.kind).unwrap(),
                r
            ));
            assert!(resources()[..i]
                .iter()
                .all(|o| (o.group, o.plural) != (r.group, r.plural)));
            assert_eq!(
                storage_version_hash(r).is_some(),
                r.stored(),
                "{}",
                r.plural
            );
            assert_eq!(r.singular, r.kind.to_lowercase());
            let mut sorted = r.verbs.to_vec();
            sorted.sort_unstable();
            assert_eq!(
                sorted, r.verbs,
                "verbs of {} sorted as discovery lists them",
                r.plural
            );
        }
        assert_eq!(resources().len(), 24);
        assert!(find("", "v1", "bindings").is_none());
        assert!(find("apps", "v1beta1", "deployments").is_none());
    }

    #[test]
    fn discovery_order_within_groups() {
        let plurals = |g: &str| {
            resources()
                .iter()
                .filter(|r| r.group == g)
                .map(|r| r.plural)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            plurals(""),
            [
                "configmaps",
                "endpoints",
                "events",
                "namespaces",
                "nodes",
                "pods",
                "secrets",
                "serviceaccounts",
                "services"
            ]
        );
        assert_eq!(plurals("apps"), ["deployments", "replicasets"]);
        assert_eq!(
            group_versions(),
            vec![
                ("", vec!["v1"]),
                ("apps", vec!["v1"]),
                ("events.k8s.io", vec!["v1"]),
                ("authentication.k8s.io", vec!["v1"]),
                ("authorization.k8s.io", vec!["v1"]),
                ("rbac.authorization.k8s.io", vec!["v1"]),
                ("coordination.k8s.io", vec!["v1"]),
                ("discovery.k8s.io", vec!["v1"]),
            ]
        );
    }

    #[test]
    fn upstream_discovery_details() {
        let pods = def("", "pods");
        assert_eq!(pods.verbs, VERBS_ALL);
        assert_eq!(pods.short_names, ["po"]);
        assert_eq!(pods.categories, ["all"]);
        assert!(pods.namespaced);
        let names: Vec<_> = pods.subresources.iter().map(|s| s.name).collect();
        assert_eq!(names, ["binding", "eviction", "status"]);
        let eviction = pods.subresource("eviction").unwrap();
        assert_eq!(
            (eviction.group, eviction.version, eviction.kind),
            ("policy", "v1", "Eviction")
        );
        assert_eq!(eviction.verbs, ["create"]);
        assert_eq!(pods.subresource("binding").unwrap().kind, "Binding");
        assert_eq!(
            pods.subresource("status").unwrap().verbs,
            ["get", "patch", "update"]
        );
        assert!(pods.subresource("exec").is_none());

        let ns = def("", "namespaces");
        assert!(!ns.namespaced);
        assert!(!ns.has_verb("deletecollection"));
        assert!(ns.has_verb("watch"));
        let finalize = ns.subresource("finalize").unwrap();
        assert_eq!((finalize.kind, finalize.verbs), ("Namespace", VERBS_UPDATE));

        let nodes = def("", "nodes");
        assert!(!nodes.namespaced && nodes.has_verb("deletecollection"));
        assert_eq!(nodes.short_names, ["no"]);
        assert_eq!(def("", "services").categories, ["all"]);
        assert_eq!(def("", "services").short_names, ["svc"]);
        assert_eq!(def("", "endpoints").singular, "endpoints");
        assert!(def("", "secrets").short_names.is_empty());
        assert_eq!(def("", "serviceaccounts").short_names, ["sa"]);

        for plural in ["deployments", "replicasets"] {
            let d = def("apps", plural);
            assert_eq!(d.categories, ["all"]);
            let scale = d.subresource("scale").unwrap();
            assert_eq!(
                (scale.group, scale.version, scale.kind),
                ("autoscaling", "v1", "Scale")
            );
            let status = d.subresource("status").unwrap();
            assert_eq!(
                (status.group, status.version, status.kind),
                ("apps", "v1", d.kind)
            );
            assert_eq!(d.list_kind(), format!("{}List", d.kind));
            assert_eq!(d.api_version(), "apps/v1");
        }
        assert_eq!(def("apps", "deployments").short_names, ["deploy"]);
        assert_eq!(def("apps", "replicasets").short_names, ["rs"]);

        let ev = find("events.k8s.io", "v1", "events").unwrap();
        assert_eq!(
            (ev.kind, ev.short_names, ev.storage),
            ("Event", &["ev"][..], "events")
        );
        assert_eq!(ev.api_version(), "events.k8s.io/v1");
        assert_eq!(def("", "events").api_version(), "v1");
    }

    #[test]
    fn storage_layout() {
        let pods = def("", "pods");
        assert_eq!(
            pods.key(Some("default"), "web"),
            "/registry/pods/default/web"
        );
        assert_eq!(pods.prefix(Some("default")), "/registry/pods/default/");
        assert_eq!(pods.prefix(None), "/registry/pods/");
        let nodes = def("", "nodes");
        assert_eq!(nodes.key(None, "n1"), "/registry/minions/n1");
        // A namespace passed for a cluster-scoped kind is ignored.
        assert_eq!(nodes.key(Some("x"), "n1"), "/registry/minions/n1");
        assert_eq!(
            def("", "namespaces").key(None, "kube-system"),
            "/registry/namespaces/kube-system"
        );
        assert_eq!(
            def("", "services").key(Some("default"), "kubernetes"),
            "/registry/services/specs/default/kubernetes"
        );
        assert_eq!(
            def("", "endpoints").key(Some("default"), "kubernetes"),
            "/registry/services/endpoints/default/kubernetes"
        );
        assert_eq!(
            def("apps", "deployments").prefix(Some("ns")),
            "/registry/deployments/ns/"
        );
        assert_eq!(
            def("coordination.k8s.io", "leases").prefix(None),
            "/registry/leases/"
        );
        assert_eq!(
            def("discovery.k8s.io", "endpointslices").storage,
            "endpointslices"
        );
        // Both event APIs read and write the same keys.
        let core = def("", "events");
        let new = find("events.k8s.io", "v1", "events").unwrap();
        assert_eq!(core.key(Some("a"), "b"), new.key(Some("a"), "b"));
        // No prefix is a prefix of another's keys (services/specs vs services/endpoints).
        for a in resources() {
            for b in resources() {
                if a.storage != b.storage {
                    assert!(
                        !b.prefix(None).starts_with(&a.prefix(None)),
                        "{} vs {}",
                        a.plural,
                        b.plural
                    );
                }
            }
        }
    }

    #[test]
    fn parse_key_inverts_key() {
        let pods = find("", "v1", "pods").unwrap();
        let nodes = find("", "v1", "nodes").unwrap();
        let k = pods.key(Some("default"), "web-1");
        assert_eq!(pods.parse_key(k.as_bytes()), Some(("default", "web-1")));
        let k = nodes.key(None, "n1");
        assert_eq!(k, "/registry/minions/n1");
        assert_eq!(nodes.parse_key(k.as_bytes()), Some(("", "n1")));
        // Another resource's keys, prefixes and odd shapes are not objects of this one.
        assert_eq!(pods.parse_key(nodes.key(None, "n1").as_bytes()), None);
        assert_eq!(
            pods.parse_key(pods.prefix(Some("default")).as_bytes()),
            None
        );
        assert_eq!(pods.parse_key(b"/registry/pods/default"), None);
        assert_eq!(pods.parse_key(b"/registry/pods/a/b/c"), None);
        assert_eq!(nodes.parse_key(b"/registry/minions/a/b"), None);
        assert_eq!(pods.parse_key(b"/registry/podsx/a/b"), None);
    }
}
