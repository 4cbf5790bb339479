//! Upstream's RBAC bootstrap policy (Kubernetes 1.33, `plugin/pkg/auth/authorizer/rbac/
//! bootstrappolicy`: the cluster roles and bindings of policy.go and the kube-system /
//! kube-public roles and bindings of namespace_policy.go), as data in `policy.json`. The
//! per-controller `system:controller:*` cluster roles are left out: rkube's controllers run
//! in-process as the server's own identity.

use serde::Deserialize;
use serde_json::Value;

/// The objects, each without type meta (the registry's is set when one is created).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Policy {
    pub cluster_roles: Vec<Value>,
    pub cluster_role_bindings: Vec<Value>,
    pub roles: Vec<Value>,
    pub role_bindings: Vec<Value>,
}

/// The policy, parsed for one reconcile at start and dropped after it: nothing keeps it
/// in memory while the server runs.
pub fn load() -> Policy {
    serde_json::from_str(include_str!("policy.json")).expect("policy.json is a Policy")
}
