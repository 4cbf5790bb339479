//! Whether one policy rule allows a request, as upstream's rbac.RuleAllows.

use k8s_openapi::api::rbac::v1::PolicyRule;

use super::Attributes;

pub fn allows(a: &Attributes, rule: &PolicyRule) -> bool {
    if a.resource_request {
        let combined = if a.subresource.is_empty() {
            a.resource.clone()
        } else {
            format!("{}/{}", a.resource, a.subresource)
        };
        verb_matches(rule, &a.verb)
            && any_or(rule.api_groups.as_deref(), &a.api_group)
            && resource_matches(rule, &combined, &a.subresource)
            && name_matches(rule, &a.name)
    } else {
        verb_matches(rule, &a.verb) && url_matches(rule, &a.path)
    }
}

fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == "*" || v == verb)
}

fn any_or(list: Option<&[String]>, want: &str) -> bool {
    list.unwrap_or_default()
        .iter()
        .any(|g| g == "*" || g == want)
}

/// `*`, the resource (with `/subresource`), or `*/subresource`.
fn resource_matches(rule: &PolicyRule, combined: &str, subresource: &str) -> bool {
    rule.resources
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|r| {
            r == "*"
                || r == combined
                || (!subresource.is_empty() && r.strip_prefix("*/") == Some(subresource))
        })
}

/// No names: any object; else only those (a list or create without a name matches none).
fn name_matches(rule: &PolicyRule, name: &str) -> bool {
    match rule.resource_names.as_deref() {
        None | Some([]) => true,
        Some(names) => names.iter().any(|n| n == name),
    }
}

/// `*`, the path itself, or a prefix ending in `*`.
fn url_matches(rule: &PolicyRule, path: &str) -> bool {
    rule.non_resource_urls
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|u| {
            u == "*"
                || u == path
                || u.strip_suffix('*')
                    .is_some_and(|prefix| path.starts_with(prefix))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(v: serde_json::Value) -> PolicyRule {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn rules_match_as_upstream() {
        let pods = Attributes::resource("get", "", "pods", "d", "p");
        assert!(allows(
            &pods,
            &rule(serde_json::json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}))
        ));
        assert!(allows(
            &pods,
            &rule(serde_json::json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}))
        ));
        assert!(!allows(
            &pods,
            &rule(serde_json::json!({"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]}))
        ));
        assert!(!allows(
            &pods,
            &rule(
                serde_json::json!({"verbs": ["get"], "apiGroups": ["apps"], "resources": ["pods"]})
            )
        ));
        assert!(allows(
            &pods,
            &rule(
                serde_json::json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["p"]})
            )
        ));
        assert!(!allows(
            &pods,
            &rule(
                serde_json::json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["q"]})
            )
        ));
        // Subresources: named whole, or `*/sub`; the parent's rule does not cover them.
        let mut log = pods.clone();
        log.subresource = "log".into();
        assert!(!allows(
            &log,
            &rule(serde_json::json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}))
        ));
        assert!(allows(
            &log,
            &rule(
                serde_json::json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]})
            )
        ));
        assert!(allows(
            &log,
            &rule(serde_json::json!({"verbs": ["get"], "apiGroups": [""], "resources": ["*/log"]}))
        ));
        assert!(!allows(
            &pods,
            &rule(serde_json::json!({"verbs": ["get"], "apiGroups": [""], "resources": ["*/log"]}))
        ));
        // Non-resource URLs, with trailing wildcards.
        let healthz = Attributes {
            verb: "get".into(),
            path: "/healthz/etcd".into(),
            ..Default::default()
        };
        assert!(allows(
            &healthz,
            &rule(
                serde_json::json!({"verbs": ["get"], "nonResourceURLs": ["/healthz", "/healthz/*"]})
            )
        ));
        assert!(!allows(
            &healthz,
            &rule(serde_json::json!({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}))
        ));
        assert!(!allows(
            &healthz,
            &rule(serde_json::json!({"verbs": ["get"], "apiGroups": ["*"], "resources": ["*"]}))
        ));
    }
}
