//! kube-rs, the Rust client most controllers are written with, against a real rkube server:
//! typed CRUD with resourceVersion semantics, a watcher + reflector that sees another client's
//! changes (list-then-watch and streaming lists), and label-selected, paginated lists.

mod common;

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use common::Cluster;
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::{
    api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams, Preconditions},
    config::{KubeConfigOptions, Kubeconfig},
    runtime::{
        reflector::{self, ObjectRef},
        watcher, WatchStreamExt,
    },
    Client, Config,
};
use tokio::time::Instant;

/// A new client from the cluster's admin kubeconfig (each call: its own connection pool).
async fn client(c: &Cluster) -> Client {
    let kc = Kubeconfig::read_from(&c.kubeconfig).expect("reading the kubeconfig");
    let cfg = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("a config from the kubeconfig");
    Client::try_from(cfg).expect("a client")
}

async fn namespace(client: &Client, name: &str) {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap_or_else(|e| panic!("creating namespace {name}: {e}"));
}

/// The label every object the tests create carries: the server adds objects of its own to
/// namespaces (kube-root-ca.crt, asynchronously), so lists and watches select on it.
const MINE: &str = "e2e=kube-rs";

fn cm(name: &str, labels: &[(&str, &str)], data: &[(&str, &str)]) -> ConfigMap {
    let map = |kv: &[(&str, &str)]| -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let mut all_labels = map(labels);
    all_labels.insert("e2e".into(), "kube-rs".into());
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(all_labels),
            ..Default::default()
        },
        data: Some(map(data)),
        ..Default::default()
    }
}

/// The API error of a failed call: its HTTP code and reason.
fn api_error<T: std::fmt::Debug>(r: kube::Result<T>, what: &str) -> (u16, String) {
    match r {
        Err(kube::Error::Api(s)) => (s.code, s.reason.clone()),
        other => panic!("{what}: expected an API error, got {other:?}"),
    }
}

fn rv(o: &ConfigMap) -> String {
    o.metadata
        .resource_version
        .clone()
        .expect("a resourceVersion")
}

fn value<'a>(o: &'a ConfigMap, key: &str) -> Option<&'a str> {
    o.data.as_ref()?.get(key).map(String::as_str)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configmap_crud_with_resource_versions() {
    let c = Cluster::start();
    let client = client(&c).await;
    namespace(&client, "crud").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "crud");
    let pp = PostParams::default();

    // create
    let created = api
        .create(&pp, &cm("one", &[("app", "x")], &[("k", "1")]))
        .await
        .expect("create");
    assert_eq!(created.metadata.namespace.as_deref(), Some("crud"));
    assert!(created.metadata.uid.is_some(), "no uid: {created:?}");
    assert!(created.metadata.creation_timestamp.is_some());
    let rv1 = rv(&created);
    let (code, reason) = api_error(api.create(&pp, &cm("one", &[], &[])).await, "second create");
    assert_eq!((code, reason.as_str()), (409, "AlreadyExists"));

    // get and list agree with the create
    let got = api.get("one").await.expect("get");
    assert_eq!(rv(&got), rv1);
    assert_eq!(got.metadata.uid, created.metadata.uid);
    assert_eq!(value(&got, "k"), Some("1"));
    let list = api
        .list(&ListParams::default().labels(MINE))
        .await
        .expect("list");
    let list_rv = list.metadata.resource_version.clone().unwrap_or_default();
    assert!(!list_rv.is_empty(), "a list carries a resourceVersion");
    assert_eq!(list.items.len(), 1);
    assert_eq!(rv(&list.items[0]), rv1);
    assert!(api.get_opt("absent").await.expect("get_opt").is_none());

    // replace with the current resourceVersion: a new one
    let mut next = got.clone();
    next.data = Some([("k".to_string(), "2".to_string())].into());
    let replaced = api.replace("one", &pp, &next).await.expect("replace");
    let rv2 = rv(&replaced);
    assert_ne!(rv2, rv1);
    assert_eq!(value(&replaced, "k"), Some("2"));
    assert_eq!(replaced.metadata.uid, created.metadata.uid);
    assert_eq!(
        replaced.metadata.creation_timestamp,
        created.metadata.creation_timestamp
    );
    assert_eq!(rv(&api.get("one").await.unwrap()), rv2);

    // a stale replace is a conflict and changes nothing
    let mut stale = got.clone();
    stale.data = Some([("k".to_string(), "stale".to_string())].into());
    let (code, reason) = api_error(api.replace("one", &pp, &stale).await, "stale replace");
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    let now = api.get("one").await.unwrap();
    assert_eq!((rv(&now), value(&now, "k")), (rv2.clone(), Some("2")));

    // a replace naming another object is rejected
    let (code, _) = api_error(
        api.replace("other", &pp, &now).await,
        "replace with a mismatched name",
    );
    assert_eq!(code, 400);

    // ConfigMaps allow unconditional updates (no resourceVersion)
    let mut unconditional = now.clone();
    unconditional.metadata.resource_version = None;
    unconditional.data = Some([("k".to_string(), "3".to_string())].into());
    let rv3 = rv(&api
        .replace("one", &pp, &unconditional)
        .await
        .expect("unconditional replace"));
    assert_ne!(rv3, rv2);

    // delete: a stale precondition is a conflict; then it is gone
    let dp_stale = DeleteParams {
        preconditions: Some(Preconditions {
            resource_version: Some(rv1.clone()),
            uid: None,
        }),
        ..Default::default()
    };
    let (code, reason) = api_error(
        api.delete("one", &dp_stale).await,
        "delete with a stale precondition",
    );
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    api.delete("one", &DeleteParams::default())
        .await
        .expect("delete");
    let (code, reason) = api_error(api.get("one").await, "get after delete");
    assert_eq!((code, reason.as_str()), (404, "NotFound"));
    let (code, _) = api_error(
        api.delete("one", &DeleteParams::default()).await,
        "second delete",
    );
    assert_eq!(code, 404);
    assert!(api
        .list(&ListParams::default().labels(MINE))
        .await
        .unwrap()
        .items
        .is_empty());
}

/// Runs a reflector on ConfigMaps of `ns` with `cfg` while another client creates, updates
/// and deletes; the reflector's store must follow.
/// The reflector's store, and a way to wait for a condition on it.
struct Follower {
    reader: reflector::Store<ConfigMap>,
    changed: tokio::sync::watch::Receiver<u64>,
    errors: Arc<Mutex<Vec<String>>>,
    deadline: Instant,
}

impl Follower {
    /// Waits until `cond` holds on the store, re-checking after every watcher event.
    async fn until(&mut self, what: &str, cond: impl Fn(&reflector::Store<ConfigMap>) -> bool) {
        loop {
            if cond(&self.reader) {
                return;
            }
            let woke = tokio::time::timeout_at(self.deadline, self.changed.changed()).await;
            if !matches!(woke, Ok(Ok(()))) {
                let names: Vec<_> = self
                    .reader
                    .state()
                    .iter()
                    .map(|o| o.metadata.name.clone())
                    .collect();
                panic!(
                    "the reflector did not see {what} ({}); it holds {names:?}; watcher errors: {:?}",
                    if woke.is_err() { "timed out" } else { "its stream ended" },
                    self.errors.lock().unwrap()
                );
            }
        }
    }
}

async fn reflector_follows_another_client(c: &Cluster, ns: &str, cfg: watcher::Config) {
    let watching = client(c).await;
    let writing = client(c).await;
    namespace(&writing, ns).await;
    let writer_api: Api<ConfigMap> = Api::namespaced(writing.clone(), ns);
    let pp = PostParams::default();
    // Exists before the watch: it arrives with the initial list.
    writer_api
        .create(&pp, &cm("before", &[], &[("v", "0")]))
        .await
        .unwrap();

    let (reader, writer) = reflector::store::<ConfigMap>();
    // Every watcher event (or error) bumps this, so the test waits on changes, not on time.
    let (bump, changed) = tokio::sync::watch::channel(0u64);
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let errs = errors.clone();
    let stream = reflector::reflector(
        writer,
        watcher(Api::<ConfigMap>::namespaced(watching, ns), cfg),
    )
    .default_backoff();
    let task = tokio::spawn(stream.for_each(move |ev| {
        if let Err(e) = &ev {
            errs.lock().unwrap().push(e.to_string());
        }
        bump.send_modify(|n| *n += 1);
        std::future::ready(())
    }));
    let mut f = Follower {
        reader: reader.clone(),
        changed,
        errors,
        deadline: Instant::now() + Duration::from_secs(30),
    };
    let key = |name: &str| ObjectRef::<ConfigMap>::new(name).within(ns);

    f.until("the initial list", |s| s.get(&key("before")).is_some())
        .await;
    let a = writer_api
        .create(&pp, &cm("a", &[], &[("v", "1")]))
        .await
        .unwrap();
    let b = writer_api
        .create(&pp, &cm("b", &[], &[("v", "1")]))
        .await
        .unwrap();
    let (rv_a, rv_b) = (rv(&a), rv(&b));
    f.until("the creates", |s| {
        s.get(&key("a")).is_some_and(|o| rv(&o) == rv_a)
            && s.get(&key("b")).is_some_and(|o| rv(&o) == rv_b)
    })
    .await;

    let mut a2 = a.clone();
    a2.data = Some([("v".to_string(), "2".to_string())].into());
    let a2 = writer_api.replace("a", &pp, &a2).await.unwrap();
    let rv_a2 = rv(&a2);
    f.until("the update", |s| {
        s.get(&key("a"))
            .is_some_and(|o| rv(&o) == rv_a2 && value(&o, "v") == Some("2"))
    })
    .await;

    writer_api
        .delete("b", &DeleteParams::default())
        .await
        .unwrap();
    writer_api
        .delete("before", &DeleteParams::default())
        .await
        .unwrap();
    f.until("the deletes", |s| {
        s.get(&key("b")).is_none() && s.get(&key("before")).is_none()
    })
    .await;
    let mut names: Vec<_> = reader
        .state()
        .iter()
        .filter_map(|o| o.metadata.name.clone())
        .collect();
    names.sort();
    assert_eq!(names, ["a"]);
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflector_sees_creates_updates_and_deletes() {
    let c = Cluster::start();
    // list, then watch from the list's resourceVersion
    reflector_follows_another_client(&c, "reflect-list", watcher::Config::default().labels(MINE))
        .await;
    // watch with sendInitialEvents (streaming lists), ended by the initial-events bookmark
    reflector_follows_another_client(
        &c,
        "reflect-stream",
        watcher::Config::default().labels(MINE).streaming_lists(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_selected_and_paginated_lists() {
    let c = Cluster::start();
    let client = client(&c).await;
    namespace(&client, "labels").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "labels");
    let pp = PostParams::default();
    for (name, labels) in [
        ("f1", &[("tier", "frontend"), ("env", "prod")][..]),
        ("f2", &[("tier", "frontend"), ("env", "dev")][..]),
        ("b1", &[("tier", "backend"), ("env", "prod")][..]),
        ("none", &[][..]),
    ] {
        api.create(&pp, &cm(name, labels, &[("x", "y")]))
            .await
            .unwrap();
    }
    let names = |list: kube::core::ObjectList<ConfigMap>| {
        let mut n: Vec<String> = list
            .items
            .into_iter()
            .filter_map(|o| o.metadata.name)
            .collect();
        n.sort();
        n
    };
    for (selector, want) in [
        ("tier=frontend", &["f1", "f2"][..]),
        ("tier=frontend,env=prod", &["f1"][..]),
        ("tier!=frontend", &["b1", "none"][..]),
        (
            "tier in (frontend,backend),env notin (dev)",
            &["b1", "f1"][..],
        ),
        ("tier", &["b1", "f1", "f2"][..]),
        ("!tier", &["none"][..]),
        ("tier=nothing", &[][..]),
    ] {
        let got = names(
            api.list(&ListParams::default().labels(&format!("{MINE},{selector}")))
                .await
                .unwrap_or_else(|e| panic!("list -l {selector:?}: {e}")),
        );
        assert_eq!(got, want, "selector {selector:?}");
    }
    // An all-namespaces list with the same selector finds the same objects.
    let all: Api<ConfigMap> = Api::all(client.clone());
    assert_eq!(
        names(
            all.list(&ListParams::default().labels("tier=frontend"))
                .await
                .unwrap()
        ),
        ["f1", "f2"]
    );
    // An invalid selector is a 400.
    let (code, _) = api_error(
        api.list(&ListParams::default().labels("tier in (")).await,
        "invalid selector",
    );
    assert_eq!(code, 400);

    // Pages of 2 with a continue token, all at the first page's resourceVersion.
    let first = api
        .list(&ListParams::default().labels(MINE).limit(2))
        .await
        .unwrap();
    let token = first
        .metadata
        .continue_
        .clone()
        .filter(|t| !t.is_empty())
        .expect("a continue token on a partial page");
    assert_eq!(first.items.len(), 2);
    // A write between pages is not seen by the rest of the listing.
    api.create(&pp, &cm("zz-later", &[], &[])).await.unwrap();
    let second = api
        .list(
            &ListParams::default()
                .labels(MINE)
                .limit(2)
                .continue_token(&token),
        )
        .await
        .unwrap();
    assert_eq!(second.items.len(), 2);
    assert!(second
        .metadata
        .continue_
        .as_deref()
        .unwrap_or("")
        .is_empty());
    let mut all_names = names(first);
    all_names.extend(names(second));
    all_names.sort();
    assert_eq!(all_names, ["b1", "f1", "f2", "none"]);
}
