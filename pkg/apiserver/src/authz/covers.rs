//! Whether one set of RBAC rules grants everything another does: upstream's
//! `validation.Covers` (pkg/registry/rbac/validation/policy_comparator.go): what the
//! bootstrap reconcile adds to a stored role, and what escalation checks refuse.

use serde_json::{json, Map, Value};

/// A rule's string lists; an absent list is empty.
#[derive(Debug, Clone, Default, PartialEq)]
struct Rule {
    verbs: Vec<String>,
    api_groups: Vec<String>,
    resources: Vec<String>,
    resource_names: Vec<String>,
    non_resource_urls: Vec<String>,
}

impl Rule {
    fn from_json(v: &Value) -> Self {
        let list = |field: &str| -> Vec<String> {
            v.get(field)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        };
        Self {
            verbs: list("verbs"),
            api_groups: list("apiGroups"),
            resources: list("resources"),
            resource_names: list("resourceNames"),
            non_resource_urls: list("nonResourceURLs"),
        }
    }

    /// As the API serves a PolicyRule: `verbs` always, the other lists only when non-empty.
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("verbs".into(), json!(self.verbs));
        for (field, list) in [
            ("apiGroups", &self.api_groups),
            ("resources", &self.resources),
            ("resourceNames", &self.resource_names),
            ("nonResourceURLs", &self.non_resource_urls),
        ] {
            if !list.is_empty() {
                m.insert(field.into(), json!(list));
            }
        }
        Value::Object(m)
    }

    /// Upstream's `BreakdownRule`: one rule per group × resource × verb (× resource name),
    /// and per non-resource URL × verb.
    fn breakdown(&self) -> Vec<Rule> {
        let one = |s: &String| vec![s.clone()];
        let mut out = Vec::new();
        for group in &self.api_groups {
            for resource in &self.resources {
                for verb in &self.verbs {
                    let base = Rule {
                        verbs: one(verb),
                        api_groups: one(group),
                        resources: one(resource),
                        ..Rule::default()
                    };
                    if self.resource_names.is_empty() {
                        out.push(base);
                    } else {
                        out.extend(self.resource_names.iter().map(|n| Rule {
                            resource_names: one(n),
                            ..base.clone()
                        }));
                    }
                }
            }
        }
        for url in &self.non_resource_urls {
            for verb in &self.verbs {
                out.push(Rule {
                    verbs: one(verb),
                    non_resource_urls: one(url),
                    ..Rule::default()
                });
            }
        }
        out
    }

    /// Upstream's `ruleCovers`: `self` grants all of `sub`.
    fn covers(&self, sub: &Rule) -> bool {
        let verbs = has(&self.verbs, "*") || has_all(&self.verbs, &sub.verbs);
        let groups = has(&self.api_groups, "*") || has_all(&self.api_groups, &sub.api_groups);
        let names = if sub.resource_names.is_empty() {
            self.resource_names.is_empty()
        } else {
            self.resource_names.is_empty() || has_all(&self.resource_names, &sub.resource_names)
        };
        verbs
            && groups
            && resources_cover(&self.resources, &sub.resources)
            && names
            && urls_cover(&self.non_resource_urls, &sub.non_resource_urls)
    }
}

fn has(set: &[String], s: &str) -> bool {
    set.iter().any(|x| x == s)
}

fn has_all(set: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|w| has(set, w))
}

/// `*` covers every resource, `*/status` every resource's status subresource.
fn resources_cover(set: &[String], wanted: &[String]) -> bool {
    if has(set, "*") {
        return true;
    }
    wanted.iter().all(|path| {
        has(set, path)
            || path
                .split_once('/')
                .is_some_and(|(_, sub)| has(set, &format!("*/{sub}")))
    })
}

/// A URL ending in `*` covers every URL it is a prefix of.
fn urls_cover(set: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|path| {
        set.iter().any(|owner| {
            owner == path || (owner.ends_with('*') && path.starts_with(owner.trim_end_matches('*')))
        })
    })
}

/// The permissions of `wanted` that no rule of `owner` grants, as upstream returns them:
/// broken down to one verb and one resource (or URL) each, in `wanted`'s order.
pub fn missing(owner: &[Value], wanted: &[Value]) -> Vec<Value> {
    let owner: Vec<Rule> = owner.iter().map(Rule::from_json).collect();
    wanted
        .iter()
        .flat_map(|w| Rule::from_json(w).breakdown())
        .filter(|sub| !owner.iter().any(|o| o.covers(sub)))
        .map(|r| r.to_json())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(v: Value) -> Vec<Value> {
        v.as_array().unwrap().clone()
    }

    #[test]
    fn a_rule_covers_itself_and_stars_cover_all() {
        let r = rules(json!([
            {"verbs": ["get", "list"], "apiGroups": ["", "apps"], "resources": ["pods", "deployments/scale"]},
            {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/api/*"]},
        ]));
        assert!(missing(&r, &r).is_empty());
        let admin = rules(json!([
            {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
            {"verbs": ["*"], "nonResourceURLs": ["*"]},
        ]));
        assert!(missing(&admin, &r).is_empty());
        // Resource rules grant no URL and URL rules no resource.
        assert_eq!(missing(&r[1..], &r[..1]).len(), 8);
        assert_eq!(missing(&r[..1], &r[1..]).len(), 2);
    }

    #[test]
    fn missing_permissions_come_back_broken_down() {
        let owner = rules(json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]));
        let wanted = rules(json!([
            {"verbs": ["get", "watch"], "apiGroups": [""], "resources": ["pods", "pods/log"]},
            {"verbs": ["get"], "nonResourceURLs": ["/version"]},
        ]));
        assert_eq!(
            missing(&owner, &wanted),
            rules(json!([
                {"verbs": ["watch"], "apiGroups": [""], "resources": ["pods"]},
                {"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]},
                {"verbs": ["watch"], "apiGroups": [""], "resources": ["pods/log"]},
                {"verbs": ["get"], "nonResourceURLs": ["/version"]},
            ]))
        );
    }

    #[test]
    fn subresource_stars_url_prefixes_and_resource_names() {
        let owner = rules(json!([
            {"verbs": ["get"], "apiGroups": ["apps"], "resources": ["*/status"]},
            {"verbs": ["get"], "nonResourceURLs": ["/healthz/*"]},
            {"verbs": ["update"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]},
        ]));
        let covered = rules(json!([
            {"verbs": ["get"], "apiGroups": ["apps"], "resources": ["deployments/status"]},
            {"verbs": ["get"], "nonResourceURLs": ["/healthz/etcd"]},
            {"verbs": ["update"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]},
        ]));
        assert!(missing(&owner, &covered).is_empty());
        let not = rules(json!([
            {"verbs": ["get"], "apiGroups": ["apps"], "resources": ["deployments"]},
            {"verbs": ["get"], "nonResourceURLs": ["/healthz"]},
            {"verbs": ["update"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["b"]},
            // A rule limited to names does not grant the whole resource.
            {"verbs": ["update"], "apiGroups": [""], "resources": ["configmaps"]},
        ]));
        assert_eq!(missing(&owner, &not).len(), 4);
    }
}
