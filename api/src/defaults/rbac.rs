//! rbac.authorization.k8s.io/v1 defaults (`pkg/apis/rbac/v1/defaults.go`): a binding's
//! `roleRef.apiGroup` and its subjects' `apiGroup`.
use serde_json::{Map, Value};

use super::pod::list_mut;
use super::{ensure_object, is_zero, set_if_zero};

/// The RBAC API group (upstream's `rbacv1.GroupName`).
const GROUP: &str = "rbac.authorization.k8s.io";

/// `SetDefaults_RoleBinding` / `SetDefaults_ClusterRoleBinding` (`roleRef` is a value
/// field upstream, so it is always there to default) and `SetDefaults_Subject` for each
/// subject.
pub(crate) fn binding(obj: &mut Map<String, Value>) {
    set_if_zero(
        ensure_object(obj, "roleRef"),
        "apiGroup",
        Value::from(GROUP),
    );
    for s in list_mut(obj, "subjects") {
        subject(s);
    }
}

/// `SetDefaults_Subject`: User and Group subjects default to the RBAC group; a
/// ServiceAccount's stays "" (omitted, as Go's `omitempty` does); other kinds are left alone.
fn subject(s: &mut Map<String, Value>) {
    if !is_zero(s.get("apiGroup")) {
        return;
    }
    match s.get("kind").and_then(Value::as_str) {
        Some("User" | "Group") => {
            s.insert("apiGroup".into(), Value::from(GROUP));
        }
        Some("ServiceAccount") if s.get("apiGroup").is_some_and(Value::is_null) => {
            s.remove("apiGroup");
        }
        _ => {}
    }
}
