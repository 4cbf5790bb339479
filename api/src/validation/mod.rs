//! Upstream validation for the served kinds, with field errors worded exactly as upstream
//! (`k8s.io/apimachinery/pkg/util/validation/field`) so kubectl users see the same messages.
//!
//! [`validate`] dispatches on the resource's group and kind; objects are JSON as served
//! (camelCase, the served version's field names). Field paths are upstream's (which use the
//! internal field names where they differ, e.g. events.k8s.io `note` is reported as `message`).
use serde_json::Value;

use crate::ResourceDef;

mod apps;
pub mod base64;
mod config;
mod core_misc;
mod field_error;
mod meta;
pub mod names;
mod other;
mod pod;
pub mod quantity;
mod rbac;
mod service;
pub(crate) mod util;

pub use field_error::{
    aggregate_message, go_literal, go_quote, invalid_status, qualified_kind, render_value,
    FieldError, FieldErrorKind, Path,
};

/// Validates `obj` (`old`: the stored object on update), as kube-apiserver's strategy
/// `Validate` / `ValidateUpdate` followed by the generic object-meta checks. Expects `obj`
/// (and `old`) to have been through [`crate::defaults::apply`].
pub fn validate(def: &ResourceDef, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let errs = match (def.group, def.kind) {
        ("", "Pod") => pod::validate_pod(obj, old),
        ("", "Service") => service::validate_service(obj, old),
        ("", "ConfigMap") => config::validate_config_map(obj, old),
        ("", "Secret") => config::validate_secret(obj, old),
        ("", "Namespace") => core_misc::validate_namespace(obj, old),
        ("", "Node") => core_misc::validate_node(obj, old),
        ("", "Endpoints") => core_misc::validate_endpoints(obj, old),
        ("", "ServiceAccount") => core_misc::validate_service_account(obj, old),
        ("", "PodTemplate") => core_misc::validate_pod_template(obj, old),
        ("", "ReplicationController") => core_misc::validate_replication_controller(obj, old),
        ("", "Event") => other::validate_core_event(obj, old, def.namespaced),
        ("events.k8s.io", "Event") => other::validate_v1_event(obj, old),
        ("apps", "Deployment") => apps::validate_deployment(obj, old),
        ("apps", "ReplicaSet") => apps::validate_replica_set(obj, old),
        ("apps", "DaemonSet") => apps::validate_daemon_set(obj, old),
        ("apps", "StatefulSet") => apps::validate_stateful_set(obj, old),
        ("coordination.k8s.io", "Lease") => other::validate_lease(obj, old),
        ("discovery.k8s.io", "EndpointSlice") => other::validate_endpoint_slice(obj, old),
        ("rbac.authorization.k8s.io", "Role") => rbac::validate_role(obj, old),
        ("rbac.authorization.k8s.io", "ClusterRole") => rbac::validate_cluster_role(obj, old),
        ("rbac.authorization.k8s.io", "RoleBinding") => rbac::validate_binding(obj, old, true),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            rbac::validate_binding(obj, old, false)
        }
        _ => return core_misc::validate_generic(obj, old, def.namespaced),
    };
    if !errs.is_empty() || old.is_some() {
        return errs;
    }
    // Upstream's BeforeCreate runs the generic name checks after the kind's own validation.
    meta::validate_generic_meta(obj, def.namespaced)
}
