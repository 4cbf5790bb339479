//! RBAC enforced as kube-apiserver enforces it, seen through real kubectl (1.27 and 1.33): a
//! ServiceAccount's token may do nothing but what bindings give it (discovery, whoami and
//! access reviews come with upstream's bootstrap policy); a binding to `view` or `edit` (whose
//! rules the aggregation controller fills in) grants what upstream's do; refusals read as
//! upstream's, and `auth can-i` (with `--as`) answers from the same rules.

mod common;

use common::{
    token::{kubeconfig, kubectl as kubectl_as},
    Cluster,
};

fn out(o: &std::process::Output) -> (bool, String, String) {
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Binds `team/robot` to `clusterrole` in `team`, then waits until `probe` (run with the
/// robot's kubeconfig `kc`) succeeds; its output.
fn grant(c: &Cluster, kc: &std::path::Path, clusterrole: &str, probe: &[&str]) -> String {
    let binding = format!("robot-{clusterrole}");
    let role = format!("--clusterrole={clusterrole}");
    c.kubectl(
        "1.33",
        &[
            "-n",
            "team",
            "create",
            "rolebinding",
            &binding,
            &role,
            "--serviceaccount=team:robot",
        ],
    );
    common::eventually(30, &format!("{clusterrole} in effect"), || {
        let (ok, stdout, _) = out(&kubectl_as(kc, "1.33", probe));
        ok.then_some(stdout)
    })
}

#[test]
fn service_account_tokens_get_what_their_bindings_give() {
    let c = Cluster::start();
    c.kubectl("1.33", &["create", "namespace", "team"]);
    c.kubectl("1.33", &["-n", "team", "create", "serviceaccount", "robot"]);
    c.kubectl(
        "1.33",
        &[
            "-n",
            "team",
            "create",
            "configmap",
            "cfg",
            "--from-literal=k=v",
        ],
    );
    let token = c.kubectl("1.33", &["-n", "team", "create", "token", "robot"]);
    let kc = kubeconfig(&c, "robot", &token, None);
    let robot = "system:serviceaccount:team:robot";

    // The bootstrap policy: upstream's roles are there, `view` aggregated from its parts.
    let roles = c.kubectl("1.33", &["get", "clusterroles", "-o", "name"]);
    for r in [
        "admin",
        "edit",
        "view",
        "cluster-admin",
        "system:basic-user",
        "system:discovery",
    ] {
        assert!(
            roles
                .lines()
                .any(|l| l == format!("clusterrole.rbac.authorization.k8s.io/{r}")),
            "{r}: {roles}"
        );
    }
    common::eventually(30, "view's rules aggregated", || {
        let rules = c.kubectl(
            "1.33",
            &[
                "get",
                "clusterrole",
                "view",
                "-o",
                "jsonpath={.rules[*].resources}",
            ],
        );
        rules.contains("configmaps").then_some(())
    });

    for v in ["1.27", "1.33"] {
        // Nothing bound yet: forbidden, in upstream's words, as kubectl shows them.
        let (ok, _, err) = out(&kubectl_as(&kc, v, &["-n", "team", "get", "configmaps"]));
        assert!(!ok);
        assert!(
            err.contains(&format!(
                "Error from server (Forbidden): configmaps is forbidden: User \"{robot}\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"team\""
            )),
            "{v}: {err}"
        );
        // Discovery and access reviews come with every authenticated user.
        let (ok, stdout, err) = out(&kubectl_as(
            &kc,
            v,
            &["-n", "team", "auth", "can-i", "list", "configmaps"],
        ));
        assert!(!ok && stdout == "no\n", "{v}: {stdout} {err}");
        let (ok, _, err) = out(&kubectl_as(&kc, v, &["api-resources", "-o", "name"]));
        assert!(ok, "{v}: {err}");
        let (_, stdout, _) = out(&c.kubectl_raw(
            v,
            &[
                "-n",
                "team",
                "auth",
                "can-i",
                "get",
                "configmaps",
                "--as",
                robot,
            ],
        ));
        assert_eq!(stdout, "no\n");
    }
    assert_eq!(common::token::whoami(&kc, "1.33")["username"], robot);

    // Bound to `view` in its namespace: reads there, nothing more.
    let reads = ["-n", "team", "get", "configmaps", "-o", "name"];
    grant(&c, &kc, "view", &reads);
    for v in ["1.27", "1.33"] {
        let (ok, names, err) = out(&kubectl_as(&kc, v, &reads));
        assert!(ok, "{v}: {err}");
        assert!(names.contains("configmap/cfg"), "{names}");
        let (ok, _, err) = out(&kubectl_as(
            &kc,
            v,
            &["-n", "team", "delete", "configmap", "cfg"],
        ));
        assert!(!ok);
        assert!(
            err.contains(&format!(
                "Error from server (Forbidden): configmaps \"cfg\" is forbidden: User \"{robot}\" cannot delete resource \"configmaps\" in API group \"\" in the namespace \"team\""
            )),
            "{v}: {err}"
        );
        // `view` does not read Secrets, and holds only in its namespace.
        let (ok, _, _) = out(&kubectl_as(&kc, v, &["-n", "team", "get", "secrets"]));
        assert!(!ok);
        let (ok, _, _) = out(&kubectl_as(&kc, v, &["-n", "default", "get", "configmaps"]));
        assert!(!ok);
        let (_, stdout, _) = out(&c.kubectl_raw(
            v,
            &[
                "-n", "team", "auth", "can-i", "watch", "pods", "--as", robot,
            ],
        ));
        assert_eq!(stdout, "yes\n");
        let list = c.kubectl_raw(v, &["-n", "team", "auth", "can-i", "--list", "--as", robot]);
        let (_, list, _) = out(&list);
        assert!(
            list.lines().any(|l| l.split_whitespace().eq([
                "configmaps",
                "[]",
                "[]",
                "[get",
                "list",
                "watch]"
            ])),
            "{v}: {list}"
        );
    }

    // `edit` lets it write.
    grant(
        &c,
        &kc,
        "edit",
        &[
            "-n",
            "team",
            "create",
            "configmap",
            "written",
            "--from-literal=a=b",
        ],
    );
    let (ok, _, err) = out(&kubectl_as(
        &kc,
        "1.33",
        &["-n", "team", "delete", "configmap", "cfg"],
    ));
    assert!(ok, "{err}");
    // Still no RBAC objects of its own: edit does not include them, as upstream's.
    let (ok, _, _) = out(&kubectl_as(
        &kc,
        "1.33",
        &["-n", "team", "get", "rolebindings"],
    ));
    assert!(!ok);

    // `admin` lets it manage RBAC in its namespace, but grant only what it holds.
    grant(
        &c,
        &kc,
        "admin",
        &[
            "-n",
            "team",
            "create",
            "role",
            "pod-reader",
            "--verb=get,list",
            "--resource=pods",
        ],
    );
    for v in ["1.27", "1.33"] {
        let (ok, _, err) = out(&kubectl_as(
            &kc,
            v,
            &[
                "-n",
                "team",
                "create",
                "rolebinding",
                &format!("root-{v}"),
                "--clusterrole=cluster-admin",
                "--serviceaccount=team:robot",
            ],
        ));
        assert!(!ok);
        assert!(
            err.contains(&format!(
                "is forbidden: user \"{robot}\" (groups=[\"system:serviceaccounts\" \"system:serviceaccounts:team\" \"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:"
            )),
            "{v}: {err}"
        );
    }

    // Impersonation needs its own permission.
    let (ok, _, err) = out(&kubectl_as(
        &kc,
        "1.33",
        &["-n", "team", "get", "configmaps", "--as", "jane"],
    ));
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "users \"jane\" is forbidden: User \"{robot}\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
        )),
        "{err}"
    );
}
