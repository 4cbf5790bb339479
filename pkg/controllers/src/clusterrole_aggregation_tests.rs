use std::{
    convert::Infallible,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{json, Value};
use tower::ServiceExt;

use super::*;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn rule(verb: &str, resource: &str) -> PolicyRule {
    PolicyRule {
        verbs: vec![verb.into()],
        resources: Some(vec![resource.into()]),
        ..PolicyRule::default()
    }
}

fn hammer() -> Vec<PolicyRule> {
    vec![rule("hammer", "nails"), rule("hammer", "wedges")]
}

fn chisel() -> Vec<PolicyRule> {
    vec![rule("chisel", "mortises")]
}

fn saw() -> Vec<PolicyRule> {
    vec![rule("saw", "boards")]
}

fn role(name: &str, foo: &str, rules: Vec<PolicyRule>) -> Arc<ClusterRole> {
    let mut r = ClusterRole::default();
    r.metadata.name = Some(name.into());
    r.metadata.labels = Some([("foo".to_string(), foo.to_string())].into());
    r.rules = Some(rules);
    Arc::new(r)
}

fn combined(selectors: &[&str], rules: Vec<PolicyRule>) -> Arc<ClusterRole> {
    let selectors: Vec<Value> = selectors
        .iter()
        .map(|foo| json!({"matchLabels": {"foo": foo}}))
        .collect();
    let mut r: ClusterRole = serde_json::from_value(json!({
        "metadata": {"name": "combined"},
        "aggregationRule": {"clusterRoleSelectors": selectors},
    }))
    .unwrap();
    r.rules = (!rules.is_empty()).then_some(rules);
    Arc::new(r)
}

fn cat(parts: &[Vec<PolicyRule>]) -> Vec<PolicyRule> {
    parts.concat()
}

/// A case's name, the roles there are, and the rules "combined" should get.
type Case = (&'static str, Vec<Arc<ClusterRole>>, Vec<PolicyRule>);

/// Upstream's TestSyncClusterRole cases, on the pure part.
#[test]
fn aggregates_as_upstream() {
    let cases: Vec<Case> = vec![
        (
            "remove dead rules",
            vec![role("hammer", "bar", hammer()), combined(&["bar"], saw())],
            hammer(),
        ),
        (
            "strip rules",
            vec![
                role("hammer", "not-bar", hammer()),
                combined(&["bar"], hammer()),
            ],
            vec![],
        ),
        (
            "select properly and put in order",
            vec![
                role("hammer", "bar", hammer()),
                role("chisel", "bar", chisel()),
                role("saw", "not-bar", saw()),
                combined(&["bar"], vec![]),
            ],
            cat(&[chisel(), hammer()]),
        ),
        (
            "select properly with multiple selectors",
            vec![
                role("hammer", "bar", hammer()),
                role("chisel", "bar", chisel()),
                role("saw", "not-bar", saw()),
                combined(&["bar", "not-bar"], vec![]),
            ],
            cat(&[chisel(), hammer(), saw()]),
        ),
        (
            "select properly remove duplicates",
            vec![
                role("hammer", "bar", hammer()),
                role("chisel", "bar", chisel()),
                role("saw", "bar", saw()),
                role("other-saw", "not-bar", saw()),
                combined(&["bar", "not-bar"], vec![]),
            ],
            cat(&[chisel(), hammer(), saw()]),
        ),
    ];
    for (name, roles, want) in cases {
        let target = roles.iter().find(|r| r.name_any() == "combined").unwrap();
        let got = aggregate(target, &roles).unwrap().unwrap();
        assert_eq!(got, want, "{name}");
        assert!(
            !rules_equal(&got, target.rules.as_deref().unwrap_or_default()),
            "{name}: a write is due"
        );
    }
    // No diff: nothing to write.
    let roles = vec![
        role("hammer", "bar", hammer()),
        combined(&["bar"], hammer()),
    ];
    let got = aggregate(&roles[1], &roles).unwrap().unwrap();
    assert!(rules_equal(&got, roles[1].rules.as_deref().unwrap()));
    // Not aggregated: left alone.
    assert_eq!(aggregate(&roles[0], &roles).unwrap(), None);
}

#[test]
fn itself_is_never_selected_and_absent_lists_equal_empty_ones() {
    let mut me = (*combined(&["bar"], hammer())).clone();
    me.metadata.labels = Some([("foo".to_string(), "bar".to_string())].into());
    let me = Arc::new(me);
    assert_eq!(
        aggregate(&me, std::slice::from_ref(&me)).unwrap(),
        Some(vec![])
    );
    assert!(rules_equal(&[], &[]));
    let mut with_empty = rule("get", "pods");
    with_empty.api_groups = Some(vec![]);
    assert!(rules_equal(&[with_empty], &[rule("get", "pods")]));
}

#[test]
fn apply_body_is_upstreams_apply_configuration() {
    let mut r = rule("get", "pods");
    r.api_groups = Some(vec!["".into()]);
    r.resource_names = Some(vec![]);
    assert_eq!(
        apply_body("agg", &[r]),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
               "metadata": {"name": "agg"},
               "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]})
    );
    // No rules: the field is left out (upstream's `omitempty`).
    assert_eq!(
        apply_body("agg", &[]),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
               "metadata": {"name": "agg"}})
    );
}

// ---------------------------------------------------------------------------------------------
// Against a real API server on a temporary store, reached in-process.

async fn server(dir: &std::path::Path) -> rkube_apiserver::ApiServer {
    let store = Arc::new(rkube_store::embedded::EmbeddedStore::open(&dir.join("store")).unwrap());
    let sans = rkube_pki::ServingSans::detect(vec![], "10.43.0.1".parse().unwrap());
    let pki = rkube_pki::ClusterPki::load_or_create(&dir.join("tls"), &sans).unwrap();
    let cfg = rkube_apiserver::Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        advertise: "127.0.0.1:6443".into(),
        ca_pem: pki.ca_cert_pem().into(),
        serving_chain_pem: pki.serving_cert_chain_pem().into(),
        serving_key_pem: pki.serving_key_pem().into(),
        version: rkube_apiserver::VersionInfo {
            git_version: "v1.33.0+rkube".into(),
            git_commit: "test".into(),
            compiler_version: "test".into(),
        },
        service_cidr: "10.43.0.0/16".into(),
        node_port_range: 30000..=32767,
        kubelet_client: None,
        join: None,
        service_accounts: None,
    };
    rkube_apiserver::ApiServer::bind(cfg, store).await.unwrap()
}

/// Rules as "verb resource" lines.
fn show(rules: Option<&Vec<PolicyRule>>) -> Vec<String> {
    rules
        .into_iter()
        .flatten()
        .map(|r| {
            format!(
                "{} {}",
                r.verbs.join(","),
                r.resources.as_deref().unwrap_or_default().join(",")
            )
        })
        .collect()
}

/// Polls `name` until `done` holds, failing after a deadline.
async fn wait_for(
    api: &Api<ClusterRole>,
    name: &str,
    what: &str,
    done: impl Fn(&ClusterRole) -> bool,
) -> ClusterRole {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let r = api.get(name).await.unwrap();
        if done(&r) {
            return r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name}: {what}; has {:?}",
            show(r.rules.as_ref())
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_rules(api: &Api<ClusterRole>, name: &str, want: &[&str]) -> ClusterRole {
    wait_for(api, name, &format!("rules {want:?}"), |r| {
        show(r.rules.as_ref()) == want
    })
    .await
}

async fn create(api: &Api<ClusterRole>, manifest: Value) -> ClusterRole {
    let r: ClusterRole = serde_json::from_value(manifest).unwrap();
    api.create(&PostParams::default(), &r).await.unwrap()
}

fn labelled(name: &str, label: &str, rules: Value) -> Value {
    json!({"metadata": {"name": name, "labels": {"aggr-test/tool": label}}, "rules": rules})
}

fn aggregating(name: &str, selectors: Value) -> Value {
    json!({"metadata": {"name": name}, "aggregationRule": {"clusterRoleSelectors": selectors}})
}

/// Stops the controller when dropped.
struct Running {
    controller: tokio::task::JoinHandle<()>,
    /// The controller's writes of the test's roles (`aggr-*`) so far.
    writes: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.controller.abort();
    }
}

/// A server and the controller running against it (one that answers every PATCH with 415,
/// as a server without server-side apply, when `without_apply`); the admin's ClusterRole API.
async fn start(without_apply: bool) -> (Api<ClusterRole>, Running) {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let agent = crate::user_agent("kube-controller-manager");
    let kcm = server.loopback("system:kube-controller-manager", &[], &agent);
    let admin = server.loopback("admin", &["system:masters"], "test");
    let writes = Arc::new(AtomicUsize::new(0));
    let counter = writes.clone();
    let kcm = tower::service_fn(move |req: http::Request<kube::client::Body>| {
        let (kcm, counter) = (kcm.clone(), counter.clone());
        async move {
            // Only the test's roles: the server's bootstrap policy has aggregated roles of
            // its own (admin, edit, view), which the controller fills in meanwhile.
            let ours = req
                .uri()
                .path()
                .rsplit('/')
                .next()
                .is_some_and(|n| n.starts_with("aggr-"));
            if req.method() != http::Method::GET && ours {
                counter.fetch_add(1, Ordering::SeqCst);
            }
            if without_apply && req.method() == http::Method::PATCH {
                let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "message": "apply not supported", "reason": "UnsupportedMediaType",
                    "code": 415});
                let body = Full::new(Bytes::from(status.to_string()))
                    .map_err(|never| match never {})
                    .boxed_unsync();
                let resp = http::Response::builder()
                    .status(415)
                    .header("content-type", "application/json")
                    .body(body)
                    .unwrap();
                return Ok::<_, Infallible>(resp);
            }
            let Ok(resp) = kcm.oneshot(req).await;
            Ok(resp.map(|b| b.map_err(BoxError::from).boxed_unsync()))
        }
    });
    let ctx = Context::new(kube::Client::new(kcm, "default"), "");
    let controller = tokio::spawn(run(ctx));
    let api = Api::all(kube::Client::new(admin, "default"));
    (
        api,
        Running {
            controller,
            writes,
            _dir: dir,
        },
    )
}

fn tool(verb: &str, resource: &str) -> Value {
    json!({"apiGroups": [""], "verbs": [verb], "resources": [resource]})
}

#[tokio::test]
async fn aggregated_roles_follow_the_roles_they_select() {
    let (api, running) = start(false).await;
    let hammer = json!([tool("hammer", "nails"), tool("hammer", "wedges")]);
    create(&api, labelled("aggr-hammer", "yes", hammer)).await;
    let chisel = json!([tool("chisel", "mortises")]);
    create(&api, labelled("aggr-chisel", "yes", chisel)).await;
    // Repeats a rule of aggr-chisel, which comes first by name.
    let dup = json!([tool("chisel", "mortises"), tool("saw", "boards")]);
    create(&api, labelled("aggr-dup", "yes", dup)).await;
    let plane = json!([tool("plane", "boards")]);
    create(&api, labelled("aggr-plane", "no", plane)).await;
    let yes = json!([{"matchLabels": {"aggr-test/tool": "yes"}}]);
    create(&api, aggregating("aggr-combined", yes)).await;
    let others = json!([{"matchExpressions": [
        {"key": "aggr-test/tool", "operator": "NotIn", "values": ["yes"]},
        {"key": "aggr-test/tool", "operator": "Exists"},
    ]}]);
    create(&api, aggregating("aggr-others", others)).await;
    let none = json!([{"matchLabels": {"aggr-test/none": "x"}}]);
    let empty = create(&api, aggregating("aggr-nothing", none)).await;

    let want = [
        "chisel mortises",
        "saw boards",
        "hammer nails",
        "hammer wedges",
    ];
    let combined = wait_rules(&api, "aggr-combined", &want).await;
    let managers: Vec<(String, String)> = combined
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .map(|m| {
            let manager = m.manager.clone().unwrap_or_default();
            (manager, m.operation.clone().unwrap_or_default())
        })
        .collect();
    assert!(
        managers.contains(&(FIELD_MANAGER.to_string(), "Apply".to_string())),
        "written by server-side apply as {FIELD_MANAGER}: {managers:?}"
    );
    wait_rules(&api, "aggr-others", &["plane boards"]).await;

    // A new matching role adds its rules, in name order.
    create(
        &api,
        labelled("aggr-axe", "yes", json!([tool("chop", "logs")])),
    )
    .await;
    let want = [
        "chop logs",
        "chisel mortises",
        "saw boards",
        "hammer nails",
        "hammer wedges",
    ];
    wait_rules(&api, "aggr-combined", &want).await;

    // A role whose label goes drops out.
    let unlabel = Patch::Merge(json!({"metadata": {"labels": {"aggr-test/tool": null}}}));
    let params = PatchParams::default();
    api.patch("aggr-hammer", &params, &unlabel).await.unwrap();
    let want = ["chop logs", "chisel mortises", "saw boards"];
    wait_rules(&api, "aggr-combined", &want).await;
    // A role deleted too.
    api.delete("aggr-axe", &DeleteParams::default())
        .await
        .unwrap();
    wait_rules(&api, "aggr-combined", &["chisel mortises", "saw boards"]).await;
    // Nothing left selected: the rules go.
    api.patch("aggr-plane", &params, &unlabel).await.unwrap();
    wait_rules(&api, "aggr-others", &[]).await;

    // Rules already right are not written again: every change above queued every aggregated
    // role, and the role selecting nothing was never written at all.
    let rv = |r: &ClusterRole| r.metadata.resource_version.clone();
    let nothing = api.get("aggr-nothing").await.unwrap();
    assert_eq!(rv(&nothing), rv(&empty), "aggr-nothing was written");
    assert_eq!(show(nothing.rules.as_ref()), Vec::<String>::new());
    // Two more rounds: each change queues every aggregated role; aggr-others changes with
    // them (one write each, so the round ran), aggr-combined and aggr-nothing must not be
    // written (not even by an apply the server finds to change nothing).
    let combined = api.get("aggr-combined").await.unwrap();
    let before = running.writes.load(Ordering::SeqCst);
    let file = json!([tool("file", "edges")]);
    create(&api, labelled("aggr-file", "no", file)).await;
    wait_rules(&api, "aggr-others", &["file edges"]).await;
    api.patch("aggr-file", &params, &unlabel).await.unwrap();
    wait_rules(&api, "aggr-others", &[]).await;
    let now = api.get("aggr-combined").await.unwrap();
    assert_eq!(rv(&now), rv(&combined), "aggr-combined was rewritten");
    let now = api.get("aggr-nothing").await.unwrap();
    assert_eq!(rv(&now), rv(&empty), "aggr-nothing was written");
    assert_eq!(
        running.writes.load(Ordering::SeqCst) - before,
        2,
        "only aggr-others' two changes were written"
    );
}

/// Upstream's fallback: when the server answers 415 to apply, the rules are written by an
/// update.
#[tokio::test]
async fn without_server_side_apply_the_rules_are_updated() {
    let (api, running) = start(true).await;
    let hammer = json!([tool("hammer", "nails")]);
    create(&api, labelled("aggr-hammer", "yes", hammer)).await;
    let yes = json!([{"matchLabels": {"aggr-test/tool": "yes"}}]);
    create(&api, aggregating("aggr-combined", yes)).await;
    let combined = wait_rules(&api, "aggr-combined", &["hammer nails"]).await;
    let updaters: Vec<String> = combined
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter(|m| m.operation.as_deref() == Some("Update"))
        .filter_map(|m| m.manager.clone())
        .collect();
    assert!(
        updaters.iter().any(|m| m == "kube-controller-manager"),
        "{updaters:?}"
    );
    // Its label gone, the rules go by an update too (no `rules` at all, as upstream's nil).
    let unlabel = Patch::Merge(json!({"metadata": {"labels": {"aggr-test/tool": null}}}));
    api.patch("aggr-hammer", &PatchParams::default(), &unlabel)
        .await
        .unwrap();
    wait_rules(&api, "aggr-combined", &[]).await;
    // Each write was an apply refused, then an update.
    assert_eq!(running.writes.load(Ordering::SeqCst), 4);
}
