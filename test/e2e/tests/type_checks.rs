//! Wrongly-typed values are refused on write, as upstream's decoding into Go types refuses
//! them, so no client that decodes objects into types ever meets one: a merge patch setting
//! `spec.replicas` to a string, a ConfigMap with a number in `data`.

mod common;

use common::Cluster;

const DEPLOY: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: tp}
spec:
  replicas: 1
  selector: {matchLabels: {app: tp}}
  template:
    metadata: {labels: {app: tp}}
    spec:
      containers: [{name: c, image: busybox:1.36}]
"#;

const CM: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: numbers}
data: {a: 5}
"#;

const SECRET: &str = r#"
apiVersion: v1
kind: Secret
metadata: {name: notbase64}
data: {a: "not base64!"}
"#;

#[test]
fn kubectl_sees_decoding_errors_for_wrong_types() {
    let c = Cluster::start();
    for v in common::all_kubectl_versions() {
        let ns = format!("t-{}", v.replace('.', "-"));
        c.kubectl(v, &["create", "namespace", &ns]);
        c.apply_stdin(v, &["-n", &ns, "create", "-f", "-"], DEPLOY);

        // Merge patch: upstream's 422 on field `patch`, with encoding/json's error.
        let err = c.kubectl_err(
            v,
            &[
                "-n",
                &ns,
                "patch",
                "deploy",
                "tp",
                "--type",
                "merge",
                "-p",
                r#"{"spec":{"replicas":"7"}}"#,
            ],
        );
        assert!(
            err.starts_with("The request is invalid: patch: Invalid value: ")
                && err.contains(
                    "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
                ),
            "kubectl {v}: {err}"
        );
        let replicas = c.kubectl(
            v,
            &[
                "-n",
                &ns,
                "get",
                "deploy",
                "tp",
                "-o",
                "jsonpath={.spec.replicas}",
            ],
        );
        assert_eq!(replicas, "1", "kubectl {v}: the patch must not be stored");

        // Create: upstream's 400 "cannot be handled as a ConfigMap".
        let out = c.kubectl_stdin(v, &["-n", &ns, "create", "-f", "-"], CM);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "kubectl {v}: created: {err}");
        assert!(
            err.contains(
                r#"Error from server (BadRequest): error when creating "STDIN": ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type string"#
            ),
            "kubectl {v}: {err}"
        );
        let out = c.kubectl_raw(v, &["-n", &ns, "get", "configmap", "numbers"]);
        assert!(
            !out.status.success(),
            "kubectl {v}: the ConfigMap was stored"
        );
        // Secret data must be base64: Go's error, in the same 400.
        let out = c.kubectl_stdin(v, &["-n", &ns, "create", "-f", "-"], SECRET);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(
                r#"Error from server (BadRequest): error when creating "STDIN": Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3"#
            ),
            "kubectl {v}: {err}"
        );
        // Nothing stored breaks kubectl's typed decoding afterwards.
        c.kubectl(v, &["describe", "cm", "-A"]);
    }
}
