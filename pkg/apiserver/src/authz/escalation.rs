//! RBAC's escalation checks, as upstream's policy-based Role and binding storage: a user may
//! write a Role or ClusterRole only with rules they hold themselves (or with `escalate` on
//! it), and bind a role only if they hold its rules (or have `bind` on it).

use serde_json::Value;

use super::{covers, Attributes};
use crate::{
    rest::Call,
    status::{ApiError, ApiResult},
};

const RBAC: &str = "rbac.authorization.k8s.io";

/// Refuses `obj` (replacing `old` on an update) when it would grant the caller more than
/// they hold.
pub fn check(call: &Call<'_>, obj: &Value, old: Option<&Value>) -> ApiResult<()> {
    let def = call.def();
    if def.group != RBAC || call.trusted {
        return Ok(());
    }
    let (Some(authz), Some(user)) = (&call.api.authorizer, call.user) else {
        return Ok(());
    };
    if authz.privileged(user) || old.is_some_and(|old| only_gc_fields_change(obj, old)) {
        return Ok(());
    }
    let ns = call.ns().unwrap_or_default();
    let name = crate::object::name(obj);
    let wanted = match def.kind {
        "Role" | "ClusterRole" => {
            let mut escalate = Attributes::resource("escalate", RBAC, def.plural, ns, name);
            escalate.api_version = "*".into();
            if authz.decide(user, &escalate).allowed {
                return Ok(());
            }
            obj["rules"].as_array().cloned().unwrap_or_default()
        }
        "RoleBinding" | "ClusterRoleBinding" => {
            let kind = obj["roleRef"]["kind"].as_str().unwrap_or_default();
            let role = obj["roleRef"]["name"].as_str().unwrap_or_default();
            let resource = if kind == "Role" {
                "roles"
            } else {
                "clusterroles"
            };
            if authz
                .decide(
                    user,
                    &Attributes::resource("bind", RBAC, resource, ns, role),
                )
                .allowed
            {
                return Ok(());
            }
            let Some(rules) = authz.role_rules(kind, ns, role) else {
                let why = super::rbac::missing(kind, role);
                return Err(ApiError::forbidden(def, name, &why));
            };
            rules
        }
        _ => return Ok(()),
    };
    let (mut owner, non_resource, errors) = authz.rules_for(user, ns);
    owner.extend(non_resource);
    let missing = covers::missing(&owner, &wanted);
    if missing.is_empty() {
        return Ok(());
    }
    let mut held = compact(missing)
        .iter()
        .map(compact_string)
        .collect::<Vec<_>>();
    held.sort();
    held.dedup();
    let mut why = format!(
        "user {:?} (groups={}) is attempting to grant RBAC permissions not currently held:\n{}",
        user.user,
        go_quoted(&user.groups),
        held.join("\n")
    );
    if !errors.is_empty() {
        why.push_str(&format!("; resolution errors: [{}]", errors.join(" ")));
    }
    Err(ApiError::forbidden(def, name, &why))
}

/// Only what the garbage collector writes changed (owner references, finalizers).
fn only_gc_fields_change(new: &Value, old: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            for f in [
                "ownerReferences",
                "finalizers",
                "managedFields",
                "resourceVersion",
            ] {
                m.remove(f);
            }
        }
        v
    };
    strip(new) == strip(old)
}

fn strings(rule: &Value, field: &str) -> Vec<String> {
    rule[field]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// Upstream's CompactRules: rules on one group and one resource (and at most one name) merge
/// their verbs.
fn compact(rules: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    // (group, resource, name) of each simple rule taken, and where it is in `out`.
    type Simple = (String, String, Option<String>);
    let mut simple: Vec<(Simple, usize)> = Vec::new();
    for rule in rules {
        let (groups, resources, names) = (
            strings(&rule, "apiGroups"),
            strings(&rule, "resources"),
            strings(&rule, "resourceNames"),
        );
        let is_simple = groups.len() == 1
            && resources.len() == 1
            && names.len() <= 1
            && strings(&rule, "nonResourceURLs").is_empty();
        if !is_simple {
            out.push(rule);
            continue;
        }
        let key = (
            groups[0].clone(),
            resources[0].clone(),
            names.first().cloned(),
        );
        match simple.iter().find(|(k, _)| *k == key) {
            Some((_, i)) => {
                let verbs = strings(&rule, "verbs");
                let merged = out[*i]["verbs"].as_array_mut().expect("a rule has verbs");
                merged.extend(verbs.into_iter().map(Value::String));
            }
            None => {
                simple.push((key, out.len()));
                out.push(rule);
            }
        }
    }
    out
}

/// Upstream's CompactString: `{APIGroups:["apps"], Resources:["deployments"], Verbs:["get"]}`.
fn compact_string(rule: &Value) -> String {
    let parts: Vec<String> = [
        ("APIGroups", "apiGroups"),
        ("Resources", "resources"),
        ("NonResourceURLs", "nonResourceURLs"),
        ("ResourceNames", "resourceNames"),
        ("Verbs", "verbs"),
    ]
    .iter()
    .filter_map(|(label, field)| {
        let list = strings(rule, field);
        (!list.is_empty()).then(|| format!("{label}:{}", go_quoted(&list)))
    })
    .collect();
    format!("{{{}}}", parts.join(", "))
}

/// Go's `%q` of a []string: `["a" "b"]`.
fn go_quoted(list: &[String]) -> String {
    let quoted: Vec<String> = list.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_rights_are_described_as_upstream() {
        let missing = vec![
            json!({"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}),
            json!({"verbs": ["list"], "apiGroups": [""], "resources": ["secrets"]}),
            json!({"verbs": ["get"], "nonResourceURLs": ["/metrics"]}),
        ];
        let described: Vec<String> = compact(missing).iter().map(compact_string).collect();
        assert_eq!(
            described,
            [
                r#"{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}"#,
                r#"{NonResourceURLs:["/metrics"], Verbs:["get"]}"#,
            ]
        );
    }
}
