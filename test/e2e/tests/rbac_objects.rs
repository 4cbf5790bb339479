//! RBAC objects (Roles, ClusterRoles and their bindings) with real kubectl: created by
//! `kubectl create role|rolebinding|clusterrole|clusterrolebinding` and by applying the kind
//! of manifest charts ship (a ServiceAccount, a Role, a RoleBinding), listed with upstream's
//! columns, validated and defaulted as upstream, and enforced (rbac_enforcement.rs has more).

mod common;

use common::Cluster;

const CHART: &str = r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: operator, namespace: rbac-app}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: operator, namespace: rbac-app}
rules:
- apiGroups: [""]
  resources: [configmaps, secrets]
  verbs: [get, list, watch, update]
- apiGroups: [apps]
  resources: [deployments]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: operator, namespace: rbac-app}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: operator}
subjects:
- {kind: ServiceAccount, name: operator, namespace: rbac-app}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: rbac-app-reader}
rules:
- {apiGroups: [""], resources: [nodes], verbs: [get, list]}
- {nonResourceURLs: ["/metrics"], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: rbac-app-reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: rbac-app-reader}
subjects:
- {kind: ServiceAccount, name: operator, namespace: rbac-app}
- {kind: Group, name: dev, apiGroup: rbac.authorization.k8s.io}
"#;

#[test]
fn rbac_objects_are_served_as_upstream() {
    let c = Cluster::start();
    for v in ["1.27", "1.33"] {
        let ns = format!("rbac-{}", v.replace('.', "-"));
        c.kubectl(v, &["create", "namespace", &ns]);
        let out = c.kubectl(
            v,
            &[
                "-n",
                &ns,
                "create",
                "role",
                "pod-reader",
                "--verb=get,list",
                "--resource=pods",
            ],
        );
        assert!(
            out.contains("role.rbac.authorization.k8s.io/pod-reader created"),
            "{out}"
        );
        let out = c.kubectl(
            v,
            &[
                "-n",
                &ns,
                "create",
                "rolebinding",
                "read-pods",
                "--role=pod-reader",
                "--serviceaccount=default:robot",
                "--user=jane",
            ],
        );
        assert!(
            out.contains("rolebinding.rbac.authorization.k8s.io/read-pods created"),
            "{out}"
        );
        // Defaulted subject apiGroups, as upstream.
        let subjects = c.kubectl(
            v,
            &[
                "-n",
                &ns,
                "get",
                "rolebinding",
                "read-pods",
                "-o",
                "jsonpath={.subjects[*].apiGroup}|{.roleRef.apiGroup}",
            ],
        );
        assert_eq!(
            subjects, "rbac.authorization.k8s.io|rbac.authorization.k8s.io",
            "{subjects}"
        );
        let roles = c.kubectl(v, &["-n", &ns, "get", "roles,rolebindings", "-o", "name"]);
        assert_eq!(
            roles,
            "role.rbac.authorization.k8s.io/pod-reader\nrolebinding.rbac.authorization.k8s.io/read-pods\n"
        );
        // roleRef cannot change.
        let err = c.kubectl_err(
            v,
            &[
                "-n",
                &ns,
                "patch",
                "rolebinding",
                "read-pods",
                "--type",
                "merge",
                "-p",
                r#"{"roleRef":{"name":"other"}}"#,
            ],
        );
        assert!(err.contains("cannot change roleRef"), "{err}");
        c.kubectl(v, &["delete", "namespace", &ns, "--wait=false"]);
    }

    // A chart's RBAC: applied, applied again unchanged, listed with upstream's columns.
    let v = "1.33";
    c.kubectl(v, &["create", "namespace", "rbac-app"]);
    let out = c.apply_stdin(v, &["apply", "-f", "-"], CHART);
    for want in [
        "serviceaccount/operator created",
        "role.rbac.authorization.k8s.io/operator created",
        "rolebinding.rbac.authorization.k8s.io/operator created",
        "clusterrole.rbac.authorization.k8s.io/rbac-app-reader created",
        "clusterrolebinding.rbac.authorization.k8s.io/rbac-app-reader created",
    ] {
        assert!(out.contains(want), "{out}");
    }
    let again = c.apply_stdin(v, &["apply", "-f", "-"], CHART);
    assert_eq!(again.matches("unchanged").count(), 5, "{again}");
    let wide = c.kubectl(
        v,
        &[
            "-n",
            "rbac-app",
            "get",
            "rolebinding",
            "operator",
            "-o",
            "wide",
        ],
    );
    let head: Vec<&str> = wide.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        head,
        ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"],
        "{wide}"
    );
    assert!(
        wide.lines().nth(1).unwrap().contains("Role/operator"),
        "{wide}"
    );
    assert!(wide.contains("rbac-app/operator"), "{wide}");
    let crb = c.kubectl(
        v,
        &["get", "clusterrolebinding", "rbac-app-reader", "-o", "wide"],
    );
    assert!(crb.contains("ClusterRole/rbac-app-reader"), "{crb}");
    let roles = c.kubectl(v, &["get", "clusterrole", "rbac-app-reader"]);
    let head: Vec<&str> = roles.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(head, ["NAME", "CREATED", "AT"], "{roles}");

    // Upstream's validation: a binding to an unknown kind of role.
    let bad = r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding",
      "metadata":{"name":"bad","namespace":"rbac-app"},
      "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Gizmo","name":"x"}}"#;
    let out = c.kubectl_stdin(v, &["create", "-f", "-"], bad);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(r#"The RoleBinding "bad" is invalid: roleRef.kind: Unsupported value: "Gizmo": supported values: "Role", "ClusterRole""#),
        "{err}"
    );

    // Upstream's bootstrap cluster-admin role, bound to the admin's group.
    let admin = c.kubectl(
        v,
        &["get", "clusterrolebinding", "cluster-admin", "-o", "wide"],
    );
    assert!(
        admin.contains("ClusterRole/cluster-admin") && admin.contains("system:masters"),
        "{admin}"
    );
    c.kubectl(v, &["get", "clusterrole", "cluster-admin"]);

    // Enforced: the bound account may do what its Role says, and no more.
    let operator = "system:serviceaccount:rbac-app:operator";
    common::eventually(30, "the operator's Role in effect", || {
        let out = c.kubectl_raw(
            v,
            &[
                "auth",
                "can-i",
                "update",
                "configmaps",
                "-n",
                "rbac-app",
                "--as",
                operator,
            ],
        );
        (String::from_utf8_lossy(&out.stdout) == "yes\n").then_some(())
    });
    let out = c.kubectl_raw(v, &["auth", "can-i", "delete", "nodes", "--as", operator]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "no\n");
    assert!(!out.status.success());
}
