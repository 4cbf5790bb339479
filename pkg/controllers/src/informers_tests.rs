use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher::Event;
use tokio::sync::mpsc::UnboundedSender;

use super::*;

type Events = UnboundedSender<Result<Event<Pod>, watcher::Error>>;

fn pod(name: &str, rv: &str) -> Pod {
    let mut p = Pod::default();
    p.metadata.namespace = Some("ns".into());
    p.metadata.name = Some(name.into());
    p.metadata.uid = Some(format!("uid-{name}"));
    p.metadata.resource_version = Some(rv.into());
    p
}

fn informer() -> (Informer<Pod>, Events) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    (
        Informer::from_events(crate::replicaset::receiver_stream(rx)),
        tx,
    )
}

/// A change as "added a@1", "updated a@1->2", "deleted b@1", "synced".
fn show(c: &Change<Pod>) -> String {
    let at = |p: &Pod| {
        format!(
            "{}@{}",
            p.metadata.name.as_deref().unwrap_or_default(),
            p.metadata.resource_version.as_deref().unwrap_or_default()
        )
    };
    match c {
        Change::Added(p) => format!("added {}", at(p)),
        Change::Updated { old, new } => format!(
            "updated {}->{}",
            at(old),
            new.metadata.resource_version.as_deref().unwrap_or_default()
        ),
        Change::Deleted(p) => format!("deleted {}", at(p)),
        Change::Synced => "synced".into(),
    }
}

/// The next `n` changes, failing after a deadline.
async fn next(sub: &mut Subscription<Pod>, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    while out.len() < n {
        let c = tokio::time::timeout(Duration::from_secs(10), sub.recv())
            .await
            .expect("a change within the deadline")
            .expect("the informer is running");
        out.push(show(&c));
    }
    out
}

fn list(tx: &Events, pods: &[Pod]) {
    tx.send(Ok(Event::Init)).unwrap();
    for p in pods {
        tx.send(Ok(Event::InitApply(p.clone()))).unwrap();
    }
    tx.send(Ok(Event::InitDone)).unwrap();
}

#[tokio::test]
async fn every_subscriber_sees_the_list_then_each_change_sharing_the_store_objects() {
    let (inf, tx) = informer();
    let (mut s1, mut s2) = (inf.subscribe(), inf.subscribe());
    list(&tx, &[pod("a", "1"), pod("b", "1")]);
    tx.send(Ok(Event::Apply(pod("a", "2")))).unwrap();
    tx.send(Ok(Event::Delete(pod("b", "3")))).unwrap();
    let want = [
        "added a@1",
        "added b@1",
        "synced",
        "updated a@1->2",
        "deleted b@3",
    ];
    assert_eq!(next(&mut s1, 5).await, want);
    assert_eq!(next(&mut s2, 5).await, want);

    let store = inf.store();
    let a = store.get(&ObjectRef::new("a").within("ns")).unwrap();
    assert_eq!(a.metadata.resource_version.as_deref(), Some("2"));
    assert!(store.get(&ObjectRef::new("b").within("ns")).is_none());
    // The index holds the store's own object, not a second copy.
    let indexed = inf.by_namespace().filter("ns", |_| true);
    assert_eq!(indexed.len(), 1);
    assert!(Arc::ptr_eq(&indexed[0], &a));
}

#[tokio::test]
async fn a_late_subscriber_gets_the_store_then_the_changes() {
    let (inf, tx) = informer();
    let mut early = inf.subscribe();
    list(&tx, &[pod("a", "1")]);
    assert_eq!(next(&mut early, 2).await, ["added a@1", "synced"]);
    let mut late = inf.subscribe();
    tx.send(Ok(Event::Apply(pod("c", "5")))).unwrap();
    assert_eq!(
        next(&mut late, 3).await,
        ["added a@1", "synced", "added c@5"]
    );
    assert_eq!(next(&mut early, 1).await, ["added c@5"]);
}

#[tokio::test]
async fn a_relist_reports_what_vanished_and_what_was_listed_and_syncs_once() {
    let (inf, tx) = informer();
    let mut sub = inf.subscribe();
    list(&tx, &[pod("a", "1"), pod("b", "1")]);
    assert_eq!(
        next(&mut sub, 3).await,
        ["added a@1", "added b@1", "synced"]
    );
    // The watch broke; b was deleted and d created meanwhile.
    list(&tx, &[pod("a", "7"), pod("d", "8")]);
    tx.send(Ok(Event::Apply(pod("d", "9")))).unwrap();
    assert_eq!(
        next(&mut sub, 4).await,
        [
            "deleted b@1",
            "updated a@1->7",
            "added d@8",
            "updated d@8->9"
        ]
    );
    let mut names: Vec<String> = inf
        .by_namespace()
        .filter("ns", |_| true)
        .iter()
        .map(|p| p.metadata.name.clone().unwrap_or_default())
        .collect();
    names.sort();
    assert_eq!(names, ["a", "d"]);
}

#[tokio::test]
async fn dropped_subscribers_are_forgotten() {
    let (inf, tx) = informer();
    let gone = inf.subscribe();
    let mut kept = inf.subscribe();
    drop(gone);
    list(&tx, &[pod("a", "1")]);
    assert_eq!(next(&mut kept, 2).await, ["added a@1", "synced"]);
    assert_eq!(lock(&inf.hub).subscribers.len(), 1);
}

#[tokio::test]
async fn the_factory_shares_one_informer_per_type() {
    // A client that is never used: nothing is started until a type is asked for, and the
    // watch it starts keeps failing against a closed port without affecting the test.
    let config = kube::Config::new("https://127.0.0.1:9".parse().unwrap());
    let informers = Informers::new(Client::try_from(config).unwrap());
    let (a, b) = (informers.get::<Pod>(), informers.get::<Pod>());
    assert!(Arc::ptr_eq(&a.hub, &b.hub));
}

#[tokio::test]
async fn objects_are_held_without_managed_fields() {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let inf = Informer::from_events(without_managed_fields(crate::replicaset::receiver_stream(
        rx,
    )));
    let mut sub = inf.subscribe();
    let mut a = pod("a", "1");
    a.metadata.managed_fields = Some(vec![Default::default()]);
    list(&tx, &[a.clone()]);
    a.metadata.resource_version = Some("2".into());
    tx.send(Ok(Event::Apply(a))).unwrap();
    assert_eq!(
        next(&mut sub, 3).await,
        ["added a@1", "synced", "updated a@1->2"]
    );
    let held = inf.store().get(&ObjectRef::new("a").within("ns")).unwrap();
    assert_eq!(held.metadata.managed_fields, None);
}
