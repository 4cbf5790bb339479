//! The RBAC authorizer: the rules bound to a user, cluster-wide and in a namespace, as
//! upstream's rbac.RBACAuthorizer visits them.

use k8s_openapi::api::rbac::v1::{PolicyRule, RoleRef, Subject};

use super::{
    policy::{Binding, Index},
    rules, Attributes, Decision,
};
use crate::authn::Identity;

/// Whether `subject` is `user`; a ServiceAccount without a namespace is the binding's
/// namespace's.
fn applies(user: &Identity, subject: &Subject, namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => user.user == subject.name,
        "Group" => user.groups.contains(&subject.name),
        "ServiceAccount" => {
            let ns = account_namespace(subject, namespace);
            !ns.is_empty()
                && crate::serviceaccount::claims::split_username(&user.user)
                    == Some((ns, subject.name.as_str()))
        }
        _ => false,
    }
}

/// A ServiceAccount subject's namespace: its own, else the binding's.
fn account_namespace<'a>(subject: &'a Subject, binding_namespace: &'a str) -> &'a str {
    subject
        .namespace
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or(binding_namespace)
}

fn describe(subject: &Subject, namespace: &str) -> String {
    if subject.kind == "ServiceAccount" {
        let ns = account_namespace(subject, namespace);
        format!("{} {:?}", subject.kind, format!("{}/{ns}", subject.name))
    } else {
        format!("{} {:?}", subject.kind, subject.name)
    }
}

/// Upstream's lister wording for a role (`kind` Role or ClusterRole) a binding names but which
/// does not exist.
pub fn missing(kind: &str, name: &str) -> String {
    let resource = if kind == "Role" {
        "role"
    } else {
        "clusterrole"
    };
    format!("{resource}.rbac.authorization.k8s.io {:?} not found", name)
}

/// Where a rule came from, as upstream describes it in an allowed decision's reason.
pub struct Source<'a> {
    binding: &'a str,
    namespace: &'a str,
    role: &'a RoleRef,
    subject: &'a Subject,
}

impl std::fmt::Display for Source<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let subject = describe(self.subject, self.namespace);
        if self.namespace.is_empty() {
            write!(
                f,
                "ClusterRoleBinding {:?} of {} {:?} to {subject}",
                self.binding, self.role.kind, self.role.name
            )
        } else {
            let binding = format!("{}/{}", self.binding, self.namespace);
            write!(
                f,
                "RoleBinding {binding:?} of {} {:?} to {subject}",
                self.role.kind, self.role.name
            )
        }
    }
}

/// Calls `visit` with each rule bound to `user` (cluster-wide, then in `namespace` if any),
/// or with the error of a binding whose role is missing; stops when `visit` returns false.
pub fn visit(
    index: &Index,
    user: &Identity,
    namespace: &str,
    mut visit: impl FnMut(Result<(&Source<'_>, &PolicyRule), String>) -> bool,
) {
    let mut bound = |binding: &str, ns: &str, b: &Binding| -> bool {
        let Some(subject) = b.subjects.iter().flatten().find(|s| applies(user, s, ns)) else {
            return true;
        };
        let key = if b.role_ref.kind == "Role" {
            (ns.to_string(), b.role_ref.name.clone())
        } else {
            (String::new(), b.role_ref.name.clone())
        };
        let role = match b.role_ref.kind.as_str() {
            "Role" if !ns.is_empty() => index.roles.get(&key),
            "ClusterRole" => index.cluster_roles.get(&key),
            _ => None,
        };
        let Some(role) = role else {
            return visit(Err(missing(&b.role_ref.kind, &b.role_ref.name)));
        };
        let source = Source {
            binding,
            namespace: ns,
            role: &b.role_ref,
            subject,
        };
        role.rules.iter().flatten().all(|r| visit(Ok((&source, r))))
    };
    for ((_, name), b) in &index.cluster_role_bindings {
        if !bound(name, "", b) {
            return;
        }
    }
    if namespace.is_empty() {
        return;
    }
    for (name, b) in index.role_bindings_in(namespace) {
        if !bound(name, namespace, b) {
            return;
        }
    }
}

/// RBAC's decision: allowed by the first rule that allows, with upstream's reason; else no
/// opinion, the reason naming missing roles.
pub fn authorize(index: &Index, user: &Identity, a: &Attributes) -> Decision {
    let mut errors = Vec::new();
    let mut allowed = None;
    visit(index, user, &a.namespace, |v| match v {
        Ok((source, rule)) if rules::allows(a, rule) => {
            allowed = Some(format!("RBAC: allowed by {source}"));
            false
        }
        Ok(_) => true,
        Err(e) => {
            errors.push(e);
            true
        }
    });
    match allowed {
        Some(reason) => Decision {
            allowed: true,
            reason,
        },
        None => Decision {
            allowed: false,
            reason: match errors.as_slice() {
                [] => String::new(),
                [one] => format!("RBAC: {one}"),
                many => format!("RBAC: [{}]", many.join(", ")),
            },
        },
    }
}

/// Every rule bound to `user` in `namespace` (and cluster-wide), and the errors met: what a
/// SelfSubjectRulesReview answers.
pub fn rules_for(
    index: &Index,
    user: &Identity,
    namespace: &str,
) -> (Vec<PolicyRule>, Vec<String>) {
    let (mut found, mut errors) = (Vec::new(), Vec::new());
    visit(index, user, namespace, |v| {
        match v {
            Ok((_, rule)) => found.push(rule.clone()),
            Err(e) => errors.push(e),
        }
        true
    });
    (found, errors)
}
