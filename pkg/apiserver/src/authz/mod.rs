//! Authorization, as kube-apiserver's `--authorization-mode=Node,RBAC` chain decides: the
//! privileged group `system:masters` may do anything; everyone else what RBAC's Roles,
//! ClusterRoles and their bindings allow. A denied request gets upstream's 403.
//!
//! Two departures, both for identities the server itself vouches for:
//! - the in-process components (controllers, scheduler, DNS, the local kubelet) reach the
//!   router through the Loopback and are trusted as upstream's loopback client is
//!   (`system:apiserver` in `system:masters`);
//! - there is no Node authorizer yet, so kubelets (`system:nodes`) keep full access, as they
//!   had before RBAC was enforced.

mod attributes;
pub mod covers;
mod escalation;
pub mod policy;
pub mod rbac;
mod rules;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use serde_json::{json, Map, Value};

pub use attributes::Attributes;
pub use escalation::check as check_escalation;
pub use policy::Policy;

use crate::{authn::Identity, status::ApiError};

/// Upstream's user.SystemPrivilegedGroup.
pub const MASTERS: &str = "system:masters";
/// Kubelets' group; see the module's note.
const NODES: &str = "system:nodes";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Why: which binding allowed it, or what RBAC could not resolve.
    pub reason: String,
}

/// The authorizer chain over the RBAC objects in `policy`.
#[derive(Clone)]
pub struct Authorizer {
    policy: Arc<Policy>,
}

impl Authorizer {
    pub fn new(policy: Arc<Policy>) -> Self {
        Self { policy }
    }

    /// Allowed everything without looking at the request (see the module's note).
    pub fn privileged(&self, user: &Identity) -> bool {
        user.groups.iter().any(|g| g == MASTERS || g == NODES)
    }

    pub fn decide(&self, user: &Identity, a: &Attributes) -> Decision {
        if self.privileged(user) {
            return Decision {
                allowed: true,
                reason: String::new(),
            };
        }
        rbac::authorize(&self.policy.read(), user, a)
    }

    /// `Ok` when allowed, else upstream's Forbidden.
    pub fn check(&self, user: &Identity, a: &Attributes) -> Result<(), ApiError> {
        let d = self.decide(user, a);
        if d.allowed {
            Ok(())
        } else {
            Err(forbidden(user, a, &d.reason))
        }
    }

    /// The rules of the Role (in `namespace`) or ClusterRole a binding names; `None` when
    /// there is no such role.
    pub fn role_rules(&self, kind: &str, namespace: &str, name: &str) -> Option<Vec<Value>> {
        let index = self.policy.read();
        let role = match kind {
            "Role" => index.roles.get(&(namespace.to_string(), name.to_string())),
            "ClusterRole" => index.cluster_roles.get(&(String::new(), name.to_string())),
            _ => None,
        }?;
        Some(
            role.rules
                .iter()
                .flatten()
                .map(|r| serde_json::to_value(r).unwrap_or_default())
                .collect(),
        )
    }

    /// The rules bound to `user` in `namespace`: (resource rules, non-resource rules, errors).
    pub fn rules_for(
        &self,
        user: &Identity,
        namespace: &str,
    ) -> (Vec<Value>, Vec<Value>, Vec<String>) {
        if user.groups.iter().any(|g| g == NODES) {
            // Full access (see the module's note); `system:masters` has cluster-admin's rules.
            return (
                vec![json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})],
                vec![json!({"verbs": ["*"], "nonResourceURLs": ["*"]})],
                vec![],
            );
        }
        let (rules, errors) = rbac::rules_for(&self.policy.read(), user, namespace);
        let (mut resource, mut non_resource) = (Vec::new(), Vec::new());
        for r in rules {
            let mut v = Map::new();
            v.insert("verbs".into(), json!(r.verbs));
            if let Some(urls) = r.non_resource_urls.filter(|u| !u.is_empty()) {
                v.insert("nonResourceURLs".into(), json!(urls));
                non_resource.push(Value::Object(v));
                continue;
            }
            for (field, list) in [
                ("apiGroups", r.api_groups),
                ("resources", r.resources),
                ("resourceNames", r.resource_names),
            ] {
                if let Some(l) = list.filter(|l| !l.is_empty()) {
                    v.insert(field.into(), json!(l));
                }
            }
            resource.push(Value::Object(v));
        }
        (resource, non_resource, errors)
    }
}

/// Upstream's responsewriters.Forbidden: `pods "p" is forbidden: User "u" cannot get resource
/// "pods" in API group "" in the namespace "d"[: reason]`.
pub fn forbidden(user: &Identity, a: &Attributes, reason: &str) -> ApiError {
    let said = if a.resource_request {
        let resource = if a.subresource.is_empty() {
            a.resource.clone()
        } else {
            format!("{}/{}", a.resource, a.subresource)
        };
        let scope = if a.namespace.is_empty() {
            "at the cluster scope".to_string()
        } else {
            format!("in the namespace {:?}", a.namespace)
        };
        format!(
            "User {:?} cannot {} resource {resource:?} in API group {:?} {scope}",
            user.user, a.verb, a.api_group
        )
    } else {
        format!("User {:?} cannot {} path {:?}", user.user, a.verb, a.path)
    };
    let err = if reason.is_empty() {
        said
    } else {
        format!("{said}: {reason}")
    };
    let mut details = Map::new();
    let message = if !a.resource_request || a.resource.is_empty() {
        format!("forbidden: {err}")
    } else {
        let qualified = if a.api_group.is_empty() {
            a.resource.clone()
        } else {
            format!("{}.{}", a.resource, a.api_group)
        };
        for (k, v) in [
            ("name", &a.name),
            ("group", &a.api_group),
            ("kind", &a.resource),
        ] {
            if !v.is_empty() {
                details.insert(k.into(), json!(v));
            }
        }
        if a.name.is_empty() {
            format!("{qualified} is forbidden: {err}")
        } else {
            format!("{qualified} {:?} is forbidden: {err}", a.name)
        }
    };
    ApiError::new(403, "Forbidden", message).with_details(Value::Object(details))
}
