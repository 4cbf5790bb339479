//! The served API as kube-apiserver's OpenAPI builder describes it: one path per collection,
//! item, subresource and legacy watch URL of every resource in the registry, each with its
//! operations (operationId, `x-kubernetes-action`, `x-kubernetes-group-version-kind`,
//! parameters, responses), plus the definitions those operations reference. v2.rs and v3.rs
//! render this model; nothing here knows either format.

use std::collections::{BTreeMap, BTreeSet};

use rkube_api::{registry, ResourceDef};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Gvk {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
}

impl Gvk {
    pub fn json(&self) -> Value {
        json!({"group": self.group, "kind": self.kind, "version": self.version})
    }
}

/// HTTP methods in the order an OpenAPI path item lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Method {
    Get,
    Put,
    Post,
    Delete,
    Patch,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Put => "put",
            Method::Post => "post",
            Method::Delete => "delete",
            Method::Patch => "patch",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Location {
    Path,
    Query,
    Body,
}

impl Location {
    pub fn as_str(self) -> &'static str {
        match self {
            Location::Path => "path",
            Location::Query => "query",
            Location::Body => "body",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: &'static str,
    pub location: Location,
    pub description: String,
    /// "string", "boolean" or "integer" (unused for the body).
    pub ty: &'static str,
    pub required: bool,
    /// The body's definition.
    pub schema: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub code: &'static str,
    pub description: &'static str,
    pub schema: String,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub method: Method,
    pub id: String,
    pub description: String,
    /// `x-kubernetes-action`: get, list, post, put, patch, delete, deletecollection, watch,
    /// watchlist. None for the discovery operations.
    pub action: Option<&'static str>,
    pub gvk: Option<Gvk>,
    pub params: Vec<Param>,
    pub consumes: &'static [&'static str],
    pub produces: &'static [&'static str],
    pub responses: Vec<Response>,
    pub tag: String,
}

impl Operation {
    pub fn body(&self) -> Option<&Param> {
        self.params.iter().find(|p| p.location == Location::Body)
    }
}

#[derive(Debug, Clone)]
pub struct PathItem {
    pub path: String,
    /// Parameters every operation of the path takes (never the body), by name.
    pub params: Vec<Param>,
    pub ops: Vec<Operation>,
}

/// What one OpenAPI v3 document covers: "api", "api/v1", "apis", "apis/apps",
/// "apis/apps/v1" (the keys of `/openapi/v3`'s index).
#[derive(Debug, Clone)]
pub struct Section {
    pub name: String,
    pub paths: Vec<PathItem>,
}

/// A named schema (`io.k8s.api.core.v1.ConfigMap`).
#[derive(Debug, Clone)]
pub struct Definition {
    pub description: String,
    /// `x-kubernetes-group-version-kind`: the kinds this schema is served as, each
    /// `{"group", "kind", "version"}`.
    pub gvks: Vec<Value>,
}

/// The schema of one definition of the catalog: its full schema (schemas.rs) with its kinds,
/// or, for a definition k8s-openapi has no type for, an object carrying its description and
/// kinds. References (`$ref: #/definitions/<name>`) are followed transitively by
/// [`referenced_schemas`].
pub fn definition_schema(name: &str, def: &Definition) -> Value {
    let mut schema = match super::schemas::get(name) {
        Some(s) => s.clone(),
        None => json!({"description": def.description, "type": "object"}),
    };
    if !def.gvks.is_empty() {
        schema["x-kubernetes-group-version-kind"] = Value::Array(def.gvks.clone());
    }
    schema
}

const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1";
const ALL_CONSUMES: &[&str] = &["*/*"];
const PATCH_CONSUMES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];
const PRODUCES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];
const LIST_PRODUCES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "application/json;stream=watch",
    "application/vnd.kubernetes.protobuf;stream=watch",
];

fn meta(kind: &str) -> String {
    format!("{META}.{kind}")
}

/// Upstream's definition name for a kind: its Go package path, reversed.
pub fn definition_name(group: &str, version: &str, kind: &str) -> String {
    let package = match group {
        "" => "io.k8s.api.core".to_string(),
        "apiextensions.k8s.io" => "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions".into(),
        "apiregistration.k8s.io" => "io.k8s.kube-aggregator.pkg.apis.apiregistration".into(),
        "internal.apiserver.k8s.io" => "io.k8s.api.apiserverinternal".into(),
        g => format!("io.k8s.api.{}", g.split('.').next().unwrap_or(g)),
    };
    format!("{package}.{version}.{kind}")
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// "Core", "Apps", "Coordination", "RbacAuthorization": the group in operation ids.
fn group_camel(group: &str) -> String {
    if group.is_empty() {
        return "Core".into();
    }
    group
        .trim_end_matches(".k8s.io")
        .split('.')
        .map(upper_first)
        .collect()
}

/// "core", "apps", "rbacAuthorization": the group in tags.
fn group_tag(group: &str) -> String {
    let camel = group_camel(group);
    let mut c = camel.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => camel,
    }
}

/// " a ", " an " or " " (plurals such as Endpoints take none), as upstream's docs read.
fn article(noun: &str) -> &'static str {
    if noun.ends_with('s') && !noun.ends_with("ss") {
        " "
    } else if noun.starts_with(['A', 'E', 'I', 'O', 'U', 'a', 'e', 'i', 'o', 'u']) {
        " an "
    } else {
        " a "
    }
}

fn query(name: &'static str, ty: &'static str, description: &str) -> Param {
    Param {
        name,
        location: Location::Query,
        description: description.to_string(),
        ty,
        required: false,
        schema: None,
    }
}

fn path_param(name: &'static str, description: String) -> Param {
    Param {
        name,
        location: Location::Path,
        description,
        ty: "string",
        required: true,
        schema: None,
    }
}

fn body(schema: String, required: bool) -> Param {
    Param {
        name: "body",
        location: Location::Body,
        description: String::new(),
        ty: "",
        required,
        schema: Some(schema),
    }
}

fn pretty() -> Param {
    query(
        "pretty",
        "string",
        "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).",
    )
}

fn namespace_param() -> Param {
    path_param(
        "namespace",
        "object name and auth scope, such as for teams and projects".into(),
    )
}

fn dry_run() -> Param {
    query(
        "dryRun",
        "string",
        "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed",
    )
}

fn field_manager(patch: bool) -> Param {
    let mut d = String::from("fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.");
    if patch {
        d.push_str(" This field is required for apply requests (application/apply-patch) but optional for non-apply patch types (JsonPatch, MergePatch, StrategicMergePatch).");
    }
    query("fieldManager", "string", &d)
}

fn field_validation() -> Param {
    query(
        "fieldValidation",
        "string",
        "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.",
    )
}

fn force() -> Param {
    query(
        "force",
        "boolean",
        "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",
    )
}

fn write_params() -> Vec<Param> {
    vec![dry_run(), field_manager(false), field_validation()]
}

fn delete_params() -> Vec<Param> {
    vec![
        dry_run(),
        query(
            "gracePeriodSeconds",
            "integer",
            "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used. Defaults to a per object value if not specified. zero means delete immediately.",
        ),
        query(
            "orphanDependents",
            "boolean",
            "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned. If true/false, the \"orphan\" finalizer will be added to/removed from the object's finalizers list. Either this field or PropagationPolicy may be set, but not both.",
        ),
        query(
            "propagationPolicy",
            "string",
            "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be set, but not both. The default policy is decided by the existing finalizer set in the metadata.finalizers and the resource-specific default policy. Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the background; 'Foreground' - a cascading policy that deletes all dependents in the foreground.",
        ),
    ]
}

/// Everything a list takes; `watch` and `allowWatchBookmarks` only where watching is allowed
/// (not for deletecollection).
fn list_params(watch: bool) -> Vec<Param> {
    let mut v = vec![
        query(
            "continue",
            "string",
            "The continue option should be set when retrieving more results from the server. Since this value is server defined, clients may only use the continue value from a previous query result with identical query parameters (except for the value of continue) and the server may reject a continue value it does not recognize. If the specified continue value is no longer valid whether due to expiration (generally five to fifteen minutes) or a configuration change on the server, the server will respond with a 410 ResourceExpired error together with a continue token. If the client needs a consistent list, it must restart their list without the continue field. Otherwise, the client may send another list request with the token received with the 410 error, the server will respond with a list starting from the next key, but from the latest snapshot, which is inconsistent from the previous list results - objects that are created, modified, or deleted after the first list request will be included in the response, as long as their keys are after the \"next key\".\n\nThis field is not supported when watch is true. Clients may start a watch from the last resourceVersion value returned by the server and not miss any modifications.",
        ),
        query(
            "fieldSelector",
            "string",
            "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
        ),
        query(
            "labelSelector",
            "string",
            "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
        ),
        query(
            "limit",
            "integer",
            "limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata to a value that can be used with the same initial query to retrieve the next set of results. Setting a limit may return fewer than the requested amount of items (up to zero items) in the event all requested objects are filtered out and clients should only use the presence of the continue field to determine whether more results are available. Servers may choose not to support the limit argument and will return all of the available results. If limit is specified and the continue field is empty, clients may assume that no more results are available. This field is not supported if watch is true.\n\nThe server guarantees that the objects returned when using continue will be identical to issuing a single list call without a limit - that is, no objects created, modified, or deleted after the first request is issued will be included in any subsequent continued requests. This is sometimes referred to as a consistent snapshot, and ensures that a client that is using limit to receive smaller chunks of a very large result can ensure they see all possible objects. If objects are updated during a chunked list the version of the object that was present at the time the first list result was calculated is returned.",
        ),
        query(
            "resourceVersion",
            "string",
            "resourceVersion sets a constraint on what resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset",
        ),
        query(
            "resourceVersionMatch",
            "string",
            "resourceVersionMatch determines how resourceVersion is applied to list calls. It is highly recommended that resourceVersionMatch be set for list calls where resourceVersion is set See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset",
        ),
        query(
            "sendInitialEvents",
            "boolean",
            "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will begin with synthetic events to produce the current state of objects in the collection. Once all such events have been sent, a synthetic \"Bookmark\" event  will be sent. The bookmark will report the ResourceVersion (RV) corresponding to the set of objects, and be marked with `\"k8s.io/initial-events-end\": \"true\"` annotation. Afterwards, the watch stream will proceed as usual, sending watch events corresponding to changes (subsequent to the RV) to objects watched.\n\nWhen `sendInitialEvents` option is set, we require `resourceVersionMatch` option to also be set. The semantic of the watch request is as following: - `resourceVersionMatch` = NotOlderThan\n  is interpreted as \"data at least as new as the provided `resourceVersion`\"\n  and the bookmark event is send when the state is synced\n  to a `resourceVersion` at least as fresh as the one provided by the ListOptions.\n  If `resourceVersion` is unset, this is interpreted as \"consistent read\" and the\n  bookmark event is send when the state is synced at least to the moment\n  when request started being processed.\n- `resourceVersionMatch` set to any other value or unset\n  Invalid error is returned.\n\nDefaults to true if `resourceVersion=\"\"` or `resourceVersion=\"0\"` (for backward compatibility reasons) and to false otherwise.",
        ),
        query(
            "timeoutSeconds",
            "integer",
            "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity.",
        ),
    ];
    if watch {
        v.push(query(
            "allowWatchBookmarks",
            "boolean",
            "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion. Clients should not assume bookmarks are returned at any specific interval, nor may they assume the server will send any BOOKMARK event during a session. If this is not a watch, this field is ignored.",
        ));
        v.push(query(
            "watch",
            "boolean",
            "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.",
        ));
    }
    v
}

fn responses(codes: &[(&'static str, &'static str)], schema: &str) -> Vec<Response> {
    codes
        .iter()
        .map(|(code, description)| Response {
            code,
            description,
            schema: schema.to_string(),
        })
        .collect()
}

const OK: &[(&str, &str)] = &[("200", "OK")];
const CREATED: &[(&str, &str)] = &[("200", "OK"), ("201", "Created"), ("202", "Accepted")];
const UPDATED: &[(&str, &str)] = &[("200", "OK"), ("201", "Created")];
const DELETED: &[(&str, &str)] = &[("200", "OK"), ("202", "Accepted")];

/// Whether DELETE answers with the object (graceful deletion) rather than a Status, as
/// upstream's storage for the resource does.
fn delete_returns_object(def: &ResourceDef) -> bool {
    matches!((def.group, def.plural), ("", "pods") | ("", "services"))
}

/// The path items of one resource, its subresources and its legacy watch URLs.
fn resource_paths(def: &'static ResourceDef, out: &mut Vec<PathItem>) {
    let prefix = if def.group.is_empty() {
        format!("/api/{}", def.version)
    } else {
        format!("/apis/{}/{}", def.group, def.version)
    };
    let id_gv = format!("{}{}", group_camel(def.group), upper_first(def.version));
    let tag = format!("{}_{}", group_tag(def.group), def.version);
    let ns = if def.namespaced { "Namespaced" } else { "" };
    let kind = def.kind;
    let gvk = Gvk {
        group: def.group,
        version: def.version,
        kind,
    };
    let object = definition_name(def.group, def.version, kind);
    let list = definition_name(def.group, def.version, &def.list_kind());
    let scope = if def.namespaced {
        format!("{prefix}/namespaces/{{namespace}}")
    } else {
        prefix.clone()
    };
    let scope_params = || -> Vec<Param> {
        if def.namespaced {
            vec![namespace_param()]
        } else {
            Vec::new()
        }
    };
    let name_param = |of: &str| path_param("name", format!("name of the {of}"));
    let op = |method: Method,
              id: String,
              description: String,
              action: &'static str,
              gvk: Gvk,
              params: Vec<Param>| {
        let (consumes, produces) = match action {
            "patch" => (PATCH_CONSUMES, PRODUCES),
            "list" | "watch" | "watchlist" => (ALL_CONSUMES, LIST_PRODUCES),
            _ => (ALL_CONSUMES, PRODUCES),
        };
        Operation {
            method,
            id,
            description,
            action: Some(action),
            gvk: Some(gvk),
            params,
            consumes,
            produces,
            responses: Vec::new(),
            tag: tag.clone(),
        }
    };
    let with = |mut o: Operation, r: Vec<Response>| {
        o.responses = r;
        o
    };

    // The collection: list, create, deletecollection.
    let mut coll = Vec::new();
    if def.has_verb("list") {
        let mut params = scope_params();
        params.extend(list_params(true));
        coll.push(with(
            op(
                Method::Get,
                format!("list{id_gv}{ns}{kind}"),
                format!("list or watch objects of kind {kind}"),
                "list",
                gvk,
                params,
            ),
            responses(OK, &list),
        ));
    }
    if def.has_verb("create") {
        let mut params = scope_params();
        params.push(body(object.clone(), true));
        params.extend(write_params());
        coll.push(with(
            op(
                Method::Post,
                format!("create{id_gv}{ns}{kind}"),
                format!("create{}{kind}", article(kind)),
                "post",
                gvk,
                params,
            ),
            responses(CREATED, &object),
        ));
    }
    if def.has_verb("deletecollection") {
        let mut params = scope_params();
        params.push(body(meta("DeleteOptions"), false));
        params.extend(delete_params());
        params.extend(list_params(false));
        coll.push(with(
            op(
                Method::Delete,
                format!("delete{id_gv}Collection{ns}{kind}"),
                format!("delete collection of {kind}"),
                "deletecollection",
                gvk,
                params,
            ),
            responses(OK, &meta("Status")),
        ));
    }
    push(out, format!("{scope}/{}", def.plural), coll);

    if def.namespaced && def.has_verb("list") {
        let all = op(
            Method::Get,
            format!("list{id_gv}{kind}ForAllNamespaces"),
            format!("list or watch objects of kind {kind}"),
            "list",
            gvk,
            list_params(true),
        );
        push(
            out,
            format!("{prefix}/{}", def.plural),
            vec![with(all, responses(OK, &list))],
        );
    }

    // One object: read, replace, patch, delete.
    let mut item = Vec::new();
    let item_params = || {
        let mut p = scope_params();
        p.push(name_param(kind));
        p
    };
    if def.has_verb("get") {
        item.push(with(
            op(
                Method::Get,
                format!("read{id_gv}{ns}{kind}"),
                format!("read the specified {kind}"),
                "get",
                gvk,
                item_params(),
            ),
            responses(OK, &object),
        ));
    }
    if def.has_verb("update") {
        let mut params = item_params();
        params.push(body(object.clone(), true));
        params.extend(write_params());
        item.push(with(
            op(
                Method::Put,
                format!("replace{id_gv}{ns}{kind}"),
                format!("replace the specified {kind}"),
                "put",
                gvk,
                params,
            ),
            responses(UPDATED, &object),
        ));
    }
    if def.has_verb("patch") {
        let mut params = item_params();
        params.push(body(meta("Patch"), true));
        params.extend([dry_run(), field_manager(true), field_validation(), force()]);
        item.push(with(
            op(
                Method::Patch,
                format!("patch{id_gv}{ns}{kind}"),
                format!("partially update the specified {kind}"),
                "patch",
                gvk,
                params,
            ),
            responses(UPDATED, &object),
        ));
    }
    if def.has_verb("delete") {
        let mut params = item_params();
        params.push(body(meta("DeleteOptions"), false));
        params.extend(delete_params());
        let returns = if delete_returns_object(def) {
            object.clone()
        } else {
            meta("Status")
        };
        item.push(with(
            op(
                Method::Delete,
                format!("delete{id_gv}{ns}{kind}"),
                format!("delete{}{kind}", article(kind)),
                "delete",
                gvk,
                params,
            ),
            responses(DELETED, &returns),
        ));
    }
    let item_path = format!("{scope}/{}/{{name}}", def.plural);
    push(out, item_path.clone(), item);

    // Subresources, each taking and returning its own kind.
    for sub in def.subresources {
        let sgvk = Gvk {
            group: sub.group,
            version: sub.version,
            kind: sub.kind,
        };
        let sobject = definition_name(sub.group, sub.version, sub.kind);
        let suffix = upper_first(sub.name);
        let sname = sub.name;
        let sub_params = || {
            let mut p = scope_params();
            p.push(name_param(sub.kind));
            p
        };
        let mut ops = Vec::new();
        for verb in sub.verbs {
            let o = match *verb {
                "get" => with(
                    op(
                        Method::Get,
                        format!("read{id_gv}{ns}{kind}{suffix}"),
                        format!("read {sname} of the specified {kind}"),
                        "get",
                        sgvk,
                        sub_params(),
                    ),
                    responses(OK, &sobject),
                ),
                "update" => {
                    let mut params = sub_params();
                    params.push(body(sobject.clone(), true));
                    params.extend(write_params());
                    with(
                        op(
                            Method::Put,
                            format!("replace{id_gv}{ns}{kind}{suffix}"),
                            format!("replace {sname} of the specified {kind}"),
                            "put",
                            sgvk,
                            params,
                        ),
                        responses(UPDATED, &sobject),
                    )
                }
                "patch" => {
                    let mut params = sub_params();
                    params.push(body(meta("Patch"), true));
                    params.extend([dry_run(), field_manager(true), field_validation(), force()]);
                    with(
                        op(
                            Method::Patch,
                            format!("patch{id_gv}{ns}{kind}{suffix}"),
                            format!("partially update {sname} of the specified {kind}"),
                            "patch",
                            sgvk,
                            params,
                        ),
                        responses(UPDATED, &sobject),
                    )
                }
                "create" => {
                    let mut params = sub_params();
                    params.push(body(sobject.clone(), true));
                    params.extend(write_params());
                    with(
                        op(
                            Method::Post,
                            format!("create{id_gv}{ns}{kind}{suffix}"),
                            format!("create {sname} of{}{kind}", article(kind)),
                            "post",
                            sgvk,
                            params,
                        ),
                        responses(CREATED, &sobject),
                    )
                }
                _ => continue,
            };
            ops.push(o);
        }
        push(out, format!("{item_path}/{sname}"), ops);
    }

    // The legacy /watch/ URLs.
    if def.has_verb("watch") {
        let watch_event = meta("WatchEvent");
        let watch_op =
            |id: String, description: String, action: &'static str, mut params: Vec<Param>| {
                params.extend(list_params(true));
                with(
                    op(Method::Get, id, description, action, gvk, params),
                    responses(OK, &watch_event),
                )
            };
        let list_doc = format!(
            "watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with a list operation instead."
        );
        let item_doc = format!(
            "watch changes to an object of kind {kind}. deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter."
        );
        let watch_scope = if def.namespaced {
            format!("{prefix}/watch/namespaces/{{namespace}}")
        } else {
            format!("{prefix}/watch")
        };
        push(
            out,
            format!("{watch_scope}/{}", def.plural),
            vec![watch_op(
                format!("watch{id_gv}{ns}{kind}List"),
                list_doc.clone(),
                "watchlist",
                scope_params(),
            )],
        );
        push(
            out,
            format!("{watch_scope}/{}/{{name}}", def.plural),
            vec![watch_op(
                format!("watch{id_gv}{ns}{kind}"),
                item_doc,
                "watch",
                item_params(),
            )],
        );
        if def.namespaced {
            push(
                out,
                format!("{prefix}/watch/{}", def.plural),
                vec![watch_op(
                    format!("watch{id_gv}{kind}ListForAllNamespaces"),
                    list_doc,
                    "watchlist",
                    Vec::new(),
                )],
            );
        }
    }
}

/// Adds a path whose operations get `pretty` like every upstream route, hoisting the
/// parameters all its operations share to the path (as kube-openapi's builder does).
fn push(out: &mut Vec<PathItem>, path: String, mut ops: Vec<Operation>) {
    if ops.is_empty() {
        return;
    }
    for o in &mut ops {
        o.params.push(pretty());
    }
    let shared: Vec<Param> = ops[0]
        .params
        .iter()
        .filter(|p| p.location != Location::Body)
        .filter(|p| {
            ops.iter().all(|o| {
                o.params
                    .iter()
                    .any(|q| q.name == p.name && q.location == p.location)
            })
        })
        .cloned()
        .collect();
    for o in &mut ops {
        o.params.retain(|p| {
            !shared
                .iter()
                .any(|s| s.name == p.name && s.location == p.location)
        });
        // The body first, then by name.
        o.params.sort_by(|a, b| {
            (a.location != Location::Body, a.name).cmp(&(b.location != Location::Body, b.name))
        });
    }
    let mut params = shared;
    params.sort_by(|a, b| a.name.cmp(b.name));
    ops.sort_by_key(|o| o.method);
    out.push(PathItem { path, params, ops });
}

/// A discovery operation (`/api/`, `/apis/apps/v1/`, ...): no kind, no action.
fn discovery_path(
    path: String,
    id: String,
    description: &str,
    schema: &str,
    tag: String,
) -> PathItem {
    PathItem {
        path,
        params: Vec::new(),
        ops: vec![Operation {
            method: Method::Get,
            id,
            description: description.to_string(),
            action: None,
            gvk: None,
            params: Vec::new(),
            consumes: PRODUCES,
            produces: PRODUCES,
            responses: responses(OK, &meta(schema)),
            tag,
        }],
    }
}

/// Every served path, by v3 document, in index order: "api", "api/v1", "apis", then each
/// group and its versions.
pub fn sections() -> Vec<Section> {
    let mut out = vec![Section {
        name: "api".into(),
        paths: vec![discovery_path(
            "/api/".into(),
            "getCoreAPIVersions".into(),
            "get available API versions",
            "APIVersions",
            "core".into(),
        )],
    }];
    let mut groups = registry::group_versions();
    // Core versions come right after "api"; "apis" before the named groups.
    groups.sort_by_key(|(g, _)| !g.is_empty());
    let mut apis_done = false;
    for (group, versions) in groups {
        if !group.is_empty() && !apis_done {
            apis_done = true;
            out.push(Section {
                name: "apis".into(),
                paths: vec![discovery_path(
                    "/apis/".into(),
                    "getAPIVersions".into(),
                    "get available API versions",
                    "APIGroupList",
                    "apis".into(),
                )],
            });
        }
        if !group.is_empty() {
            out.push(Section {
                name: format!("apis/{group}"),
                paths: vec![discovery_path(
                    format!("/apis/{group}/"),
                    format!("get{}APIGroup", group_camel(group)),
                    "get information of a group",
                    "APIGroup",
                    group_tag(group),
                )],
            });
        }
        for version in versions {
            let (name, root) = if group.is_empty() {
                (format!("api/{version}"), format!("/api/{version}/"))
            } else {
                (
                    format!("apis/{group}/{version}"),
                    format!("/apis/{group}/{version}/"),
                )
            };
            let mut paths = vec![discovery_path(
                root,
                format!(
                    "get{}{}APIResources",
                    group_camel(group),
                    upper_first(version)
                ),
                "get available resources",
                "APIResourceList",
                format!("{}_{version}", group_tag(group)),
            )];
            for def in registry::resources()
                .iter()
                .filter(|r| r.group == group && r.version == version)
            {
                resource_paths(def, &mut paths);
            }
            paths.sort_by(|a, b| a.path.cmp(&b.path));
            out.push(Section { name, paths });
        }
    }
    out
}

/// Upstream's description of a kind (the first sentences of its Go doc comment).
fn kind_description(group: &str, kind: &str) -> String {
    let known = match (group, kind) {
        ("", "ConfigMap") => "ConfigMap holds configuration data for pods to consume.",
        ("", "Endpoints") => "Endpoints is a collection of endpoints that implement the actual service.",
        ("", "Event") => "Event is a report of an event somewhere in the cluster.  Events have a limited retention time and triggers and messages may evolve with time.  Event consumers should not rely on the timing of an event with a given Reason reflecting a consistent underlying trigger, or the continued existence of events with that Reason.  Events should be treated as informative, best-effort, supplemental data.",
        ("", "Namespace") => "Namespace provides a scope for Names. Use of multiple namespaces is optional.",
        ("", "Node") => "Node is a worker node in Kubernetes. Each node will have a unique identifier in the cache (i.e. in etcd).",
        ("", "Pod") => "Pod is a collection of containers that can run on a host. This resource is created by clients and scheduled onto hosts.",
        ("", "Secret") => "Secret holds secret data of a certain type. The total bytes of the values in the Data field must be less than MaxSecretSize bytes.",
        ("", "ServiceAccount") => "ServiceAccount binds together: * a name, understood by users, and perhaps by peripheral systems, for an identity * a principal that can be authenticated and authorized * a set of secrets",
        ("", "Service") => "Service is a named abstraction of software service (for example, mysql) consisting of local port (for example 3306) that the proxy listens on, and the selector that determines which pods will answer requests sent through the proxy.",
        ("", "Binding") => "Binding ties one object to another; for example, a pod is bound to a node by a scheduler.",
        ("apps", "Deployment") => "Deployment enables declarative updates for Pods and ReplicaSets.",
        ("apps", "ReplicaSet") => "ReplicaSet ensures that a specified number of pod replicas are running at any given time.",
        ("events.k8s.io", "Event") => "Event is a report of an event somewhere in the cluster. It generally denotes some state change in the system. Events have a limited retention time and triggers and messages may evolve with time.  Event consumers should not rely on the timing of an event with a given Reason reflecting a consistent underlying trigger, or the continued existence of events with that Reason.  Events should be treated as informative, best-effort, supplemental data.",
        ("coordination.k8s.io", "Lease") => "Lease defines a lease concept.",
        ("discovery.k8s.io", "EndpointSlice") => "EndpointSlice represents a set of service endpoints. Most EndpointSlices are created by the EndpointSlice controller to represent the Pods selected by Service objects.",
        ("autoscaling", "Scale") => "Scale represents a scaling request for a resource.",
        ("policy", "Eviction") => "Eviction evicts a pod from its node subject to certain policies and safety constraints. This is a subresource of Pod.  A request to cause such an eviction is created by POSTing to .../pods/<pod name>/evictions.",
        _ => "",
    };
    if !known.is_empty() {
        known.to_string()
    } else if let Some(item) = kind.strip_suffix("List") {
        format!("{kind} is a list of {item} objects.")
    } else {
        format!(
            "{kind} is a {} object.",
            if group.is_empty() { "core" } else { group }
        )
    }
}

/// Every definition the paths can reference, by name.
pub fn definitions() -> BTreeMap<String, Definition> {
    let mut out = BTreeMap::new();
    let mut add = |group: &str, version: &str, kind: String| {
        let name = definition_name(group, version, &kind);
        out.entry(name).or_insert_with(|| Definition {
            description: kind_description(group, &kind),
            gvks: vec![json!({"group": group, "kind": kind, "version": version})],
        });
    };
    for r in registry::resources() {
        add(r.group, r.version, r.kind.to_string());
        if r.has_verb("list") {
            add(r.group, r.version, r.list_kind());
        }
        for s in r.subresources {
            add(s.group, s.version, s.kind.to_string());
        }
    }
    // meta/v1 kinds, served in every group version (upstream lists each).
    let mut gvs: BTreeSet<(&'static str, &'static str)> = BTreeSet::new();
    gvs.insert(("", "v1"));
    for r in registry::resources() {
        gvs.insert((r.group, r.version));
        for s in r.subresources {
            gvs.insert((s.group, s.version));
        }
    }
    let everywhere = |kind: &str| -> Vec<Value> {
        gvs.iter()
            .map(|(group, version)| json!({"group": group, "kind": kind, "version": version}))
            .collect()
    };
    let core = |kind: &str| vec![json!({"group": "", "kind": kind, "version": "v1"})];
    let metas = [
        ("APIGroup", "APIGroup contains the name, the supported versions, and the preferred version of a group.", core("APIGroup")),
        ("APIGroupList", "APIGroupList is a list of APIGroup, to allow clients to discover the API at /apis.", core("APIGroupList")),
        ("APIResourceList", "APIResourceList is a list of APIResource, it is used to expose the name of the resources supported in a specific group and version, and if the resource is namespaced.", core("APIResourceList")),
        ("APIVersions", "APIVersions lists the versions that are available, to allow clients to discover the API at /api, which is the root path of the legacy v1 API.", core("APIVersions")),
        ("DeleteOptions", "DeleteOptions may be provided when deleting an API object.", everywhere("DeleteOptions")),
        ("Patch", "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.", Vec::new()),
        ("Status", "Status is a return value for calls that don't return other objects.", core("Status")),
        ("WatchEvent", "Event represents a single event to a watched resource.", everywhere("WatchEvent")),
    ];
    for (kind, description, gvks) in metas {
        out.insert(
            meta(kind),
            Definition {
                description: description.into(),
                gvks,
            },
        );
    }
    out
}

/// The schemas a set of paths needs: every definition they reference, and everything those
/// reference in turn (`$ref: #/definitions/<name>`), by name.
pub fn referenced_schemas<'a>(
    paths: impl IntoIterator<Item = &'a PathItem>,
    catalog: &BTreeMap<String, Definition>,
) -> BTreeMap<String, Value> {
    let mut todo: Vec<String> = Vec::new();
    for p in paths {
        for o in &p.ops {
            todo.extend(o.body().and_then(|b| b.schema.clone()));
            todo.extend(o.responses.iter().map(|r| r.schema.clone()));
        }
    }
    let mut out = BTreeMap::new();
    while let Some(name) = todo.pop() {
        if out.contains_key(&name) {
            continue;
        }
        let schema = match (catalog.get(&name), super::schemas::get(&name)) {
            (Some(def), _) => definition_schema(&name, def),
            (None, Some(s)) => s.clone(),
            (None, None) => continue,
        };
        collect_refs(&schema, &mut todo);
        out.insert(name, schema);
    }
    out
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => {
                        if let Some(name) = r.strip_prefix("#/definitions/") {
                            out.push(name.to_string());
                        }
                    }
                    _ => collect_refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}
