//! DELETE as upstream's BeforeDelete does it: dryRun from the body's DeleteOptions, the
//! deletionTimestamp at the end of the grace period, and the preconditions' wording.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use crate::testing::{send, server};

const CMS: &str = "/api/v1/namespaces/default/configmaps";
const PODS: &str = "/api/v1/namespaces/default/pods";

fn at(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(v.as_str().expect("a timestamp"), &Rfc3339).unwrap()
}

#[tokio::test]
async fn a_dry_run_in_the_delete_options_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let lb = server.loopback("admin", &["system:masters"], "kubectl/v1.33.0");
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keep"}});
    assert_eq!(
        send(&lb, Method::POST, CMS, Some(cm)).await.0,
        StatusCode::CREATED
    );

    // kubectl delete --dry-run=server sends this body.
    let opts = json!({"kind": "DeleteOptions", "apiVersion": "v1",
        "propagationPolicy": "Background", "dryRun": ["All"]});
    let (code, body) = send(&lb, Method::DELETE, &format!("{CMS}/keep"), Some(opts)).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(
        send(&lb, Method::GET, &format!("{CMS}/keep"), None).await.0,
        StatusCode::OK
    );

    // deletecollection takes the same options.
    let (code, list) = send(&lb, Method::DELETE, CMS, Some(json!({"dryRun": ["All"]}))).await;
    assert_eq!(code, StatusCode::OK, "{list}");
    assert_eq!(
        send(&lb, Method::GET, &format!("{CMS}/keep"), None).await.0,
        StatusCode::OK
    );

    let (code, status) = send(
        &lb,
        Method::DELETE,
        &format!("{CMS}/keep"),
        Some(json!({"dryRun": ["Some"]})),
    )
    .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{status}");
    assert_eq!(
        send(&lb, Method::GET, &format!("{CMS}/keep"), None).await.0,
        StatusCode::OK
    );

    let (code, _) = send(&lb, Method::DELETE, &format!("{CMS}/keep"), None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        send(&lb, Method::GET, &format!("{CMS}/keep"), None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_graceful_delete_stamps_the_end_of_its_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let lb = server.loopback("admin", &["system:masters"], "kubectl/v1.33.0");
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"nodeName": "elsewhere", "containers": [{"name": "c", "image": "busybox"}]}});
    let (code, created) = send(&lb, Method::POST, PODS, Some(pod)).await;
    assert_eq!(code, StatusCode::CREATED, "{created}");

    let before = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let (code, deleting) = send(&lb, Method::DELETE, &format!("{PODS}/p"), None).await;
    let after = OffsetDateTime::now_utc();
    assert_eq!(code, StatusCode::OK, "{deleting}");
    assert_eq!(deleting["metadata"]["deletionGracePeriodSeconds"], 30);
    let end = at(&deleting["metadata"]["deletionTimestamp"]);
    let grace = time::Duration::seconds(30);
    assert!(
        end >= before + grace && end <= after + grace,
        "{end} not 30 s after the delete"
    );

    // A longer grace period changes nothing; a shorter one moves the end earlier.
    let uri = format!("{PODS}/p?gracePeriodSeconds=60");
    let (_, same) = send(&lb, Method::DELETE, &uri, None).await;
    assert_eq!(
        same["metadata"]["deletionTimestamp"],
        deleting["metadata"]["deletionTimestamp"]
    );
    assert_eq!(same["metadata"]["deletionGracePeriodSeconds"], 30);
    let uri = format!("{PODS}/p?gracePeriodSeconds=5");
    let (code, shorter) = send(&lb, Method::DELETE, &uri, None).await;
    assert_eq!(code, StatusCode::OK, "{shorter}");
    assert_eq!(shorter["metadata"]["deletionGracePeriodSeconds"], 5);
    assert_eq!(
        at(&shorter["metadata"]["deletionTimestamp"]),
        end - time::Duration::seconds(25)
    );
}

#[tokio::test]
async fn failed_preconditions_are_conflicts_in_upstream_words() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let lb = server.loopback("admin", &["system:masters"], "kubectl/v1.33.0");
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "pre"}});
    let (_, created) = send(&lb, Method::POST, CMS, Some(cm)).await;
    let rv = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();

    let opts = json!({"preconditions": {"resourceVersion": "1"}});
    let (code, status) = send(&lb, Method::DELETE, &format!("{CMS}/pre"), Some(opts)).await;
    assert_eq!(code, StatusCode::CONFLICT, "{status}");
    assert_eq!(status["reason"], "Conflict");
    assert_eq!(
        status["message"],
        format!("Operation cannot be fulfilled on ConfigMap \"pre\": the ResourceVersion in the precondition (1) does not match the ResourceVersion in record ({rv}). The object might have been modified")
    );
    let opts = json!({"preconditions": {"uid": "other"}});
    let (code, status) = send(&lb, Method::DELETE, &format!("{CMS}/pre"), Some(opts)).await;
    assert_eq!(code, StatusCode::CONFLICT, "{status}");
    let uid = created["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        status["message"],
        format!("Operation cannot be fulfilled on ConfigMap \"pre\": the UID in the precondition (other) does not match the UID in record ({uid}). The object might have been deleted and then recreated")
    );
    let opts = json!({"preconditions": {"uid": uid, "resourceVersion": rv}});
    let (code, status) = send(&lb, Method::DELETE, &format!("{CMS}/pre"), Some(opts)).await;
    assert_eq!(code, StatusCode::OK, "{status}");
}
