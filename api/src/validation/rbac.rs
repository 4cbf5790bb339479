//! rbac.authorization.k8s.io validation: Role, ClusterRole, RoleBinding and
//! ClusterRoleBinding, as upstream's `pkg/apis/rbac/validation` called by the strategies in
//! `pkg/registry/rbac/*/strategy.go`.
//!
//! On update every strategy runs the create validation and then the `...Update` function,
//! which runs it again before the metadata update checks, so each error of the new object
//! appears twice among the causes (the message lists it once, as upstream's aggregate does).
use serde_json::Value;

use super::field_error::{go_literal, go_quote, FieldError, Path};
use super::meta;
use super::names;
use super::util::{arr_of, get, label_selector_as_selector, str_of, validate_label_selector_opts};

type Errs = Vec<FieldError>;

/// The RBAC API group (upstream's `rbac.GroupName`).
const GROUP: &str = "rbac.authorization.k8s.io";

/// Upstream's `ValidateRBACName`: `path.IsValidPathSegmentName`, for names and generateName
/// prefixes alike.
fn rbac_name(name: &str, _prefix: bool) -> Vec<String> {
    names::validate_path_segment_name(name, false)
}

/// The create checks, then on update the same again plus core's `ValidateObjectMetaUpdate`.
fn with_update(obj: &Value, old: Option<&Value>, validate: impl Fn(&Value) -> Errs) -> Errs {
    let mut errs = validate(obj);
    if let Some(old) = old {
        errs.extend(validate(obj));
        errs.extend(meta::validate_object_meta_update(obj, old, true));
    }
    errs
}

/// Upstream's `ValidatePolicyRule`.
fn validate_policy_rule(rule: &Value, namespaced: bool, path: &Path) -> Errs {
    let mut errs = Vec::new();
    let rule = Some(rule);
    if arr_of(rule, "verbs").is_empty() {
        errs.push(FieldError::required(
            &path.child("verbs"),
            "verbs must contain at least one value",
        ));
    }
    let urls = arr_of(rule, "nonResourceURLs");
    if !urls.is_empty() {
        let p = path.child("nonResourceURLs");
        let value = Value::Array(urls.to_vec());
        if namespaced {
            errs.push(FieldError::invalid(
                &p,
                value.clone(),
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if ["apiGroups", "resources", "resourceNames"]
            .iter()
            .any(|f| !arr_of(rule, f).is_empty())
        {
            errs.push(FieldError::invalid(
                &p,
                value,
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return errs;
    }
    if arr_of(rule, "apiGroups").is_empty() {
        errs.push(FieldError::required(
            &path.child("apiGroups"),
            "resource rules must supply at least one api group",
        ));
    }
    if arr_of(rule, "resources").is_empty() {
        errs.push(FieldError::required(
            &path.child("resources"),
            "resource rules must supply at least one resource",
        ));
    }
    errs
}

fn validate_rules(obj: &Value, namespaced: bool) -> Errs {
    let path = Path::new("rules");
    arr_of(Some(obj), "rules")
        .iter()
        .enumerate()
        .flat_map(|(i, r)| validate_policy_rule(r, namespaced, &path.index(i)))
        .collect()
}

/// Upstream's `ValidateRole`.
fn role(obj: &Value) -> Errs {
    let mut errs = meta::validate_object_meta(obj, true, rbac_name, true);
    errs.extend(validate_rules(obj, true));
    errs
}

pub(crate) fn validate_role(obj: &Value, old: Option<&Value>) -> Errs {
    with_update(obj, old, role)
}

/// Upstream's `ValidateClusterRole` with `AllowInvalidLabelValueInSelector`.
fn cluster_role(obj: &Value, allow_invalid_label_values: bool) -> Errs {
    let mut errs = meta::validate_object_meta(obj, false, rbac_name, true);
    errs.extend(validate_rules(obj, false));
    if let Some(rule) = get(Some(obj), "aggregationRule") {
        let path = Path::new("aggregationRule").child("clusterRoleSelectors");
        let selectors = arr_of(Some(rule), "clusterRoleSelectors");
        if selectors.is_empty() {
            errs.push(FieldError::required(
                &path,
                "at least one clusterRoleSelector required if aggregationRule is non-nil",
            ));
        }
        for (i, sel) in selectors.iter().enumerate() {
            let p = path.index(i);
            errs.extend(validate_label_selector_opts(
                Some(sel),
                &p,
                allow_invalid_label_values,
            ));
            if label_selector_as_selector(Some(sel)).is_err() {
                // Upstream reports the (nil) selector the conversion returned: "null".
                errs.push(FieldError::invalid(&p, "null", "invalid label selector."));
            }
        }
    }
    errs
}

/// The ClusterRole strategy's `hasInvalidLabelValueInLabelSelector`: whether the stored
/// object's aggregation selectors fail strict validation (then the update may keep them).
fn has_invalid_label_value_in_selector(obj: &Value) -> bool {
    arr_of(get(Some(obj), "aggregationRule"), "clusterRoleSelectors")
        .iter()
        .any(|sel| !validate_label_selector_opts(Some(sel), &Path::default(), false).is_empty())
}

pub(crate) fn validate_cluster_role(obj: &Value, old: Option<&Value>) -> Errs {
    let allow = old.is_some_and(has_invalid_label_value_in_selector);
    with_update(obj, old, |o| cluster_role(o, allow))
}

/// Upstream's `ValidateRoleBindingSubject`.
fn validate_subject(subject: &Value, namespaced: bool, path: &Path) -> Errs {
    let mut errs = Vec::new();
    let s = Some(subject);
    let (name, api_group) = (str_of(s, "name"), str_of(s, "apiGroup"));
    if name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), ""));
    }
    match str_of(s, "kind") {
        "ServiceAccount" => {
            if !name.is_empty() {
                for m in names::name_is_dns_subdomain(name, false) {
                    errs.push(FieldError::invalid(&path.child("name"), name, &m));
                }
            }
            if !api_group.is_empty() {
                errs.push(FieldError::not_supported(
                    &path.child("apiGroup"),
                    api_group,
                    &[""],
                ));
            }
            if !namespaced && str_of(s, "namespace").is_empty() {
                errs.push(FieldError::required(&path.child("namespace"), ""));
            }
        }
        "User" | "Group" => {
            if api_group != GROUP {
                errs.push(FieldError::not_supported(
                    &path.child("apiGroup"),
                    api_group,
                    &[GROUP],
                ));
            }
        }
        kind => errs.push(FieldError::not_supported(
            &path.child("kind"),
            kind,
            &["ServiceAccount", "User", "Group"],
        )),
    }
    errs
}

/// Upstream's `ValidateRoleBinding` (`namespaced`) and `ValidateClusterRoleBinding`.
fn binding(obj: &Value, namespaced: bool) -> Errs {
    let mut errs = meta::validate_object_meta(obj, namespaced, rbac_name, true);
    let role_ref = get(Some(obj), "roleRef");
    let path = Path::new("roleRef");
    let api_group = str_of(role_ref, "apiGroup");
    if api_group != GROUP {
        errs.push(FieldError::not_supported(
            &path.child("apiGroup"),
            api_group,
            &[GROUP],
        ));
    }
    let kind = str_of(role_ref, "kind");
    let kinds: &[&str] = if namespaced {
        &["Role", "ClusterRole"]
    } else {
        &["ClusterRole"]
    };
    if !kinds.contains(&kind) {
        errs.push(FieldError::not_supported(&path.child("kind"), kind, kinds));
    }
    let name = str_of(role_ref, "name");
    if name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), ""));
    } else {
        for m in rbac_name(name, false) {
            errs.push(FieldError::invalid(&path.child("name"), name, &m));
        }
    }
    let subjects = Path::new("subjects");
    for (i, s) in arr_of(Some(obj), "subjects").iter().enumerate() {
        errs.extend(validate_subject(s, namespaced, &subjects.index(i)));
    }
    errs
}

/// Go's `%#v` of an internal `rbac.RoleRef`.
fn render_role_ref(role_ref: Option<&Value>) -> String {
    format!(
        "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
        go_quote(str_of(role_ref, "apiGroup")),
        go_quote(str_of(role_ref, "kind")),
        go_quote(str_of(role_ref, "name"))
    )
}

/// RoleBinding (`namespaced`) and ClusterRoleBinding; on update `roleRef` may not change.
pub(crate) fn validate_binding(obj: &Value, old: Option<&Value>, namespaced: bool) -> Errs {
    let mut errs = with_update(obj, old, |o| binding(o, namespaced));
    if let Some(old) = old {
        let (new_ref, old_ref) = (get(Some(obj), "roleRef"), get(Some(old), "roleRef"));
        let changed = ["apiGroup", "kind", "name"]
            .iter()
            .any(|f| str_of(new_ref, f) != str_of(old_ref, f));
        if changed {
            errs.push(FieldError::invalid(
                &Path::new("roleRef"),
                go_literal(render_role_ref(new_ref)),
                "cannot change roleRef",
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::aggregate_message;
    use serde_json::json;

    fn msgs(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    fn role_with(rules: Value) -> Value {
        json!({"metadata": {"name": "r", "namespace": "ns"}, "rules": rules})
    }

    #[test]
    fn policy_rules() {
        let ok = json!([
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
            {"apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["a"], "verbs": ["*"]}
        ]);
        assert!(validate_role(&role_with(ok.clone()), None).is_empty());
        let mut cr = role_with(ok);
        cr["metadata"] = json!({"name": "system:controller:x"});
        assert!(validate_cluster_role(&cr, None).is_empty());

        let bad = json!([
            {"apiGroups": [""], "resources": ["pods"]},
            {"verbs": ["get"]},
            {"nonResourceURLs": ["/healthz", "/metrics"], "verbs": ["get"]},
            {"nonResourceURLs": ["/api"], "resources": ["pods"], "verbs": ["get"]}
        ]);
        assert_eq!(
            msgs(&validate_role(&role_with(bad.clone()), None)),
            vec![
                "rules[0].verbs: Required value: verbs must contain at least one value",
                "rules[1].apiGroups: Required value: resource rules must supply at least one api group",
                "rules[1].resources: Required value: resource rules must supply at least one resource",
                "rules[2].nonResourceURLs: Invalid value: []string{\"/healthz\", \"/metrics\"}: namespaced rules cannot apply to non-resource URLs",
                "rules[3].nonResourceURLs: Invalid value: []string{\"/api\"}: namespaced rules cannot apply to non-resource URLs",
                "rules[3].nonResourceURLs: Invalid value: []string{\"/api\"}: rules cannot apply to both regular resources and non-resource URLs",
            ]
        );
        // Cluster roles may hold non-resource URLs, just not mixed with resources.
        let mut cr = role_with(bad);
        cr["metadata"] = json!({"name": "c"});
        assert_eq!(
            msgs(&validate_cluster_role(&cr, None))[3..],
            ["rules[3].nonResourceURLs: Invalid value: []string{\"/api\"}: rules cannot apply to both regular resources and non-resource URLs"]
        );
        assert_eq!(
            aggregate_message(
                "Role.rbac.authorization.k8s.io",
                "r",
                &validate_role(&role_with(json!([{"apiGroups": [""], "resources": ["pods"]}])), None)
            ),
            "Role.rbac.authorization.k8s.io \"r\" is invalid: rules[0].verbs: Required value: verbs must contain at least one value"
        );
    }

    #[test]
    fn names_are_path_segments() {
        let named = |name: &str| json!({"metadata": {"name": name, "namespace": "ns"}});
        assert!(validate_role(&named("system:Auth_Delegator"), None).is_empty());
        assert_eq!(
            msgs(&validate_role(&named(".."), None)),
            ["metadata.name: Invalid value: \"..\": may not be '..'"]
        );
        assert_eq!(
            msgs(&validate_role(&named("a/b%c"), None)),
            [
                "metadata.name: Invalid value: \"a/b%c\": may not contain '/'",
                "metadata.name: Invalid value: \"a/b%c\": may not contain '%'",
            ]
        );
        // generateName is checked as a whole name too (ValidateRBACName ignores `prefix`).
        let gen = json!({"metadata": {"generateName": ".", "namespace": "ns"}});
        assert_eq!(
            msgs(&validate_role(&gen, None)),
            ["metadata.generateName: Invalid value: \".\": may not be '.'"]
        );
        assert_eq!(
            msgs(&validate_cluster_role(
                &json!({"metadata": {"name": "c", "namespace": "ns"}}),
                None
            )),
            ["metadata.namespace: Forbidden: not allowed on this type"]
        );
    }

    #[test]
    fn aggregation_rules() {
        let cr = |rule: Value| json!({"metadata": {"name": "agg"}, "aggregationRule": rule});
        assert!(validate_cluster_role(
            &cr(json!({"clusterRoleSelectors": [{"matchLabels": {"rbac.example.com/aggregate-to-view": "true"}}]})),
            None
        )
        .is_empty());
        // Rules may sit beside an aggregation rule (the controller overwrites them).
        let mut with_rules = cr(json!({"clusterRoleSelectors": [{}]}));
        with_rules["rules"] = json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]);
        assert!(validate_cluster_role(&with_rules, None).is_empty());
        assert_eq!(
            msgs(&validate_cluster_role(&cr(json!({})), None)),
            ["aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if aggregationRule is non-nil"]
        );
        assert!(validate_cluster_role(&cr(Value::Null), None).is_empty());
        let bad = cr(json!({"clusterRoleSelectors": [
            {"matchExpressions": [{"key": "k", "operator": "In", "values": ["bad value"]}]},
            {"matchExpressions": [{"key": "k", "operator": "Exists", "values": ["x"]}]}
        ]}));
        assert_eq!(
            msgs(&validate_cluster_role(&bad, None)),
            [
                "aggregationRule.clusterRoleSelectors[0].matchExpressions[0].values[0]: Invalid value: \"bad value\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                "aggregationRule.clusterRoleSelectors[0]: Invalid value: \"null\": invalid label selector.",
                "aggregationRule.clusterRoleSelectors[1].matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                "aggregationRule.clusterRoleSelectors[1]: Invalid value: \"null\": invalid label selector.",
            ]
        );
        // A stored object with invalid label values may keep them (the conversion still fails).
        let old = cr(json!({"clusterRoleSelectors": [
            {"matchExpressions": [{"key": "k", "operator": "In", "values": ["bad value"]}]}
        ]}));
        let m = msgs(&validate_cluster_role(&old, Some(&old)));
        assert_eq!(
            m,
            [
                "aggregationRule.clusterRoleSelectors[0]: Invalid value: \"null\": invalid label selector.",
                "aggregationRule.clusterRoleSelectors[0]: Invalid value: \"null\": invalid label selector.",
            ]
        );
    }

    fn rb(role_ref: Value, subjects: Value) -> Value {
        json!({"metadata": {"name": "b", "namespace": "ns"}, "roleRef": role_ref, "subjects": subjects})
    }

    fn crb(role_ref: Value, subjects: Value) -> Value {
        json!({"metadata": {"name": "b"}, "roleRef": role_ref, "subjects": subjects})
    }

    #[test]
    fn bindings() {
        let role_ref = json!({"apiGroup": GROUP, "kind": "Role", "name": "pod-reader"});
        let subjects = json!([
            {"kind": "User", "apiGroup": GROUP, "name": "jane"},
            {"kind": "Group", "apiGroup": GROUP, "name": "system:masters"},
            {"kind": "ServiceAccount", "name": "default"},
            {"kind": "ServiceAccount", "name": "robot", "namespace": "other"}
        ]);
        assert!(validate_binding(&rb(role_ref.clone(), subjects.clone()), None, true).is_empty());
        assert!(validate_binding(&rb(role_ref, json!(null)), None, true).is_empty());

        let bad_ref = json!({"apiGroup": "", "kind": "Gizmo", "name": "a/b"});
        let bad_subjects = json!([
            {"kind": "User", "name": ""},
            {"kind": "ServiceAccount", "name": "Robot_1", "apiGroup": GROUP},
            {"kind": "Robot", "name": "r2"},
            {"kind": "Group", "apiGroup": "example.com", "name": "g"}
        ]);
        assert_eq!(
            msgs(&validate_binding(&rb(bad_ref.clone(), bad_subjects.clone()), None, true)),
            [
                "roleRef.apiGroup: Unsupported value: \"\": supported values: \"rbac.authorization.k8s.io\"",
                "roleRef.kind: Unsupported value: \"Gizmo\": supported values: \"Role\", \"ClusterRole\"",
                "roleRef.name: Invalid value: \"a/b\": may not contain '/'",
                "subjects[0].name: Required value",
                "subjects[0].apiGroup: Unsupported value: \"\": supported values: \"rbac.authorization.k8s.io\"",
                "subjects[1].name: Invalid value: \"Robot_1\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                "subjects[1].apiGroup: Unsupported value: \"rbac.authorization.k8s.io\": supported values: \"\"",
                "subjects[2].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\"",
                "subjects[3].apiGroup: Unsupported value: \"example.com\": supported values: \"rbac.authorization.k8s.io\"",
            ]
        );
        // Cluster bindings: only ClusterRoles, and ServiceAccounts need a namespace.
        assert_eq!(
            msgs(&validate_binding(
                &crb(
                    json!({"apiGroup": GROUP, "kind": "Role", "name": ""}),
                    json!([{"kind": "ServiceAccount", "name": "robot"}])
                ),
                None,
                false
            )),
            [
                "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\"",
                "roleRef.name: Required value",
                "subjects[0].namespace: Required value",
            ]
        );
        assert_eq!(
            aggregate_message(
                "RoleBinding.rbac.authorization.k8s.io",
                "bad",
                &validate_binding(
                    &rb(json!({"apiGroup": GROUP, "kind": "Gizmo", "name": "x"}), json!([])),
                    None,
                    true
                )
            ),
            "RoleBinding.rbac.authorization.k8s.io \"bad\" is invalid: roleRef.kind: Unsupported value: \"Gizmo\": supported values: \"Role\", \"ClusterRole\""
        );
    }

    #[test]
    fn role_ref_is_immutable() {
        let old = crb(
            json!({"apiGroup": GROUP, "kind": "ClusterRole", "name": "view"}),
            json!([{"kind": "Group", "apiGroup": GROUP, "name": "dev"}]),
        );
        let mut new = old.clone();
        new["subjects"] = json!([]);
        assert!(validate_binding(&new, Some(&old), false).is_empty());
        new["roleRef"]["name"] = json!("edit");
        let errs = validate_binding(&new, Some(&old), false);
        assert_eq!(
            aggregate_message("ClusterRoleBinding.rbac.authorization.k8s.io", "b", &errs),
            "ClusterRoleBinding.rbac.authorization.k8s.io \"b\" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"ClusterRole\", Name:\"edit\"}: cannot change roleRef"
        );
        // The new object's own errors come twice (create checks, then the update's), the
        // metadata and roleRef checks after them.
        new["roleRef"]["kind"] = json!("Role");
        new["metadata"]["name"] = json!("c");
        assert_eq!(
            msgs(&validate_binding(&new, Some(&old), false)),
            [
                "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\"",
                "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\"",
                "metadata.name: Invalid value: \"c\": field is immutable",
                "roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"Role\", Name:\"edit\"}: cannot change roleRef",
            ]
        );
    }

    #[test]
    fn dispatch() {
        let def = |kind: &'static str, namespaced: bool| crate::ResourceDef {
            group: GROUP,
            version: "v1",
            kind,
            plural: "x",
            singular: "x",
            namespaced,
            verbs: &[],
            short_names: &[],
            categories: &[],
            subresources: &[],
            storage: "x",
        };
        let bad_rule = json!([{"verbs": ["get"]}]);
        let role = json!({"metadata": {"name": "r", "namespace": "ns"}, "rules": bad_rule});
        assert_eq!(
            crate::validation::validate(&def("Role", true), &role, None).len(),
            2
        );
        let cr = json!({"metadata": {"name": "r"}, "rules": bad_rule});
        assert_eq!(
            crate::validation::validate(&def("ClusterRole", false), &cr, None).len(),
            2
        );
        let b = json!({"metadata": {"name": "b", "namespace": "ns"}, "roleRef": {"apiGroup": GROUP, "kind": "Role", "name": "r"}});
        assert!(crate::validation::validate(&def("RoleBinding", true), &b, None).is_empty());
        assert_eq!(
            msgs(&crate::validation::validate(
                &def("ClusterRoleBinding", false),
                &b,
                None
            )),
            [
                "metadata.namespace: Forbidden: not allowed on this type",
                "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\"",
            ]
        );
    }
}
