use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use serde_json::json;

use super::{
    decide::{
        decide, remove_finalizer_patch, remove_owner_refs_patch, unblock_owner_refs_patch,
        Decision, OwnerState, Policy,
    },
    graph::{Graph, Identity, Observed, FOREGROUND, ORPHAN},
};

fn id(kind: &str, name: &str, uid: &str) -> Identity {
    Identity {
        api_version: "v1".into(),
        kind: kind.into(),
        namespace: Some("default".into()),
        name: name.into(),
        uid: uid.into(),
    }
}

fn owner_ref(kind: &str, name: &str, uid: &str, block: Option<bool>) -> OwnerReference {
    OwnerReference {
        api_version: "v1".into(),
        kind: kind.into(),
        name: name.into(),
        uid: uid.into(),
        block_owner_deletion: block,
        controller: None,
    }
}

fn obs(identity: Identity, owners: Vec<OwnerReference>) -> Observed {
    Observed {
        identity,
        owners,
        deleting: false,
        finalizers: vec![],
        source: "/configmaps".into(),
    }
}

fn deleting(mut o: Observed, finalizer: &str) -> Observed {
    o.deleting = true;
    o.finalizers = vec![finalizer.to_string()];
    o
}

#[test]
fn owner_deleted_queues_its_dependents() {
    let mut g = Graph::default();
    let owner = id("ConfigMap", "owner", "u-owner");
    assert_eq!(
        g.observe(&obs(owner.clone(), vec![])).attempt_to_delete,
        Vec::<String>::new()
    );
    let acts = g.observe(&obs(
        id("ConfigMap", "dep", "u-dep"),
        vec![owner_ref("ConfigMap", "owner", "u-owner", None)],
    ));
    // The owner is known: nothing to verify.
    assert!(acts.attempt_to_delete.is_empty());
    assert_eq!(g.dependents("u-owner").len(), 1);

    let acts = g.observe_deleted("u-owner");
    assert_eq!(acts.attempt_to_delete, vec!["u-dep".to_string()]);
    assert!(g.node("u-owner").is_none());
    // The owner's absence is remembered: no GET needed for the dependent.
    assert!(g.is_absent(
        &owner_ref("ConfigMap", "owner", "u-owner", None),
        Some("default")
    ));
}

#[test]
fn unseen_owner_becomes_a_virtual_node_to_verify() {
    let mut g = Graph::default();
    let acts = g.observe(&obs(
        id("ConfigMap", "dep", "u-dep"),
        vec![owner_ref("ConfigMap", "ghost", "u-ghost", None)],
    ));
    assert_eq!(acts.attempt_to_delete, vec!["u-ghost".to_string()]);
    let ghost = g.node("u-ghost").unwrap();
    assert!(!ghost.observed);
    assert_eq!(ghost.identity, id("ConfigMap", "ghost", "u-ghost"));

    // A live GET found nothing: the dependents are looked at, the virtual node goes.
    let acts = g.virtual_delete(&id("ConfigMap", "ghost", "u-ghost"));
    assert_eq!(acts.attempt_to_delete, vec!["u-dep".to_string()]);
    assert!(g.node("u-ghost").is_none());
    assert!(g.is_absent(
        &owner_ref("ConfigMap", "ghost", "u-ghost", None),
        Some("default")
    ));
}

#[test]
fn virtual_node_observed_later_becomes_real() {
    let mut g = Graph::default();
    g.observe(&obs(
        id("ConfigMap", "dep", "u-dep"),
        vec![owner_ref("ConfigMap", "owner", "u-owner", None)],
    ));
    let acts = g.observe(&obs(id("ConfigMap", "owner", "u-owner"), vec![]));
    // Same coordinates as the dependent named: nothing to re-check.
    assert!(acts.attempt_to_delete.is_empty());
    assert!(g.node("u-owner").unwrap().observed);
    assert_eq!(g.dependents("u-owner")[0].name, "dep");
}

#[test]
fn dependents_disagreeing_on_the_owner_keep_the_virtual_node() {
    let mut g = Graph::default();
    g.observe(&obs(
        id("ConfigMap", "a", "u-a"),
        vec![owner_ref("ConfigMap", "owner", "u-owner", None)],
    ));
    g.observe(&obs(
        id("ConfigMap", "b", "u-b"),
        vec![owner_ref("Secret", "owner", "u-owner", None)],
    ));
    let acts = g.virtual_delete(&id("ConfigMap", "owner", "u-owner"));
    // "a" named the absent coordinates: re-check it; the node is now looked up as a Secret.
    assert_eq!(
        acts.attempt_to_delete,
        vec!["u-a".to_string(), "u-owner".to_string()]
    );
    assert_eq!(g.node("u-owner").unwrap().identity.kind, "Secret");
}

#[test]
fn foreground_deletion_marks_owner_and_queues_dependents() {
    let mut g = Graph::default();
    let owner = id("ConfigMap", "owner", "u-owner");
    g.observe(&obs(owner.clone(), vec![]));
    g.observe(&obs(
        id("ConfigMap", "blocker", "u-b"),
        vec![owner_ref("ConfigMap", "owner", "u-owner", Some(true))],
    ));
    g.observe(&obs(
        id("ConfigMap", "free", "u-f"),
        vec![owner_ref("ConfigMap", "owner", "u-owner", None)],
    ));

    let acts = g.observe(&deleting(obs(owner, vec![]), FOREGROUND));
    assert_eq!(
        acts.attempt_to_delete,
        vec!["u-b".to_string(), "u-f".to_string(), "u-owner".to_string()]
    );
    let node = g.node("u-owner").unwrap();
    assert!(node.deleting_dependents && node.being_deleted);
    // Only the dependent with blockOwnerDeletion holds the owner.
    assert_eq!(
        g.blocking_dependents("u-owner"),
        vec![("u-b".to_string(), false)]
    );

    // The blocking dependent goes: the owner is looked at again, and nothing blocks it.
    let acts = g.observe_deleted("u-b");
    assert_eq!(acts.attempt_to_delete, vec!["u-owner".to_string()]);
    assert!(g.blocking_dependents("u-owner").is_empty());
}

#[test]
fn unblocking_a_reference_queues_the_waiting_owner() {
    let mut g = Graph::default();
    g.observe(&obs(id("ConfigMap", "owner", "u-owner"), vec![]));
    let dep = id("ConfigMap", "dep", "u-dep");
    g.observe(&obs(
        dep.clone(),
        vec![owner_ref("ConfigMap", "owner", "u-owner", Some(true))],
    ));
    let acts = g.observe(&obs(
        dep.clone(),
        vec![owner_ref("ConfigMap", "owner", "u-owner", Some(false))],
    ));
    assert_eq!(acts.attempt_to_delete, vec!["u-owner".to_string()]);
    // Dropping the reference detaches the dependent.
    g.observe(&obs(dep, vec![]));
    assert!(g.dependents("u-owner").is_empty());
}

#[test]
fn orphan_finalizer_queues_the_owner_for_orphaning() {
    let mut g = Graph::default();
    let owner = id("ConfigMap", "owner", "u-owner");
    g.observe(&obs(owner.clone(), vec![]));
    g.observe(&obs(
        id("ConfigMap", "dep", "u-dep"),
        vec![owner_ref("ConfigMap", "owner", "u-owner", Some(true))],
    ));
    let acts = g.observe(&deleting(obs(owner, vec![]), ORPHAN));
    assert_eq!(acts.attempt_to_orphan, vec!["u-owner".to_string()]);
    assert!(acts.attempt_to_delete.is_empty());
    assert!(!g.node("u-owner").unwrap().deleting_dependents);
}

#[test]
fn relist_sources_are_tracked() {
    let mut g = Graph::default();
    g.observe(&obs(
        id("ConfigMap", "a", "u-a"),
        vec![owner_ref("ConfigMap", "v", "u-v", None)],
    ));
    // Virtual nodes were seen by no watch.
    assert_eq!(g.uids_from("/configmaps"), vec!["u-a".to_string()]);
}

#[test]
fn decisions_follow_upstream() {
    let r = |uid: &str| owner_ref("ConfigMap", uid, uid, None);
    let none: Vec<String> = vec![];
    // All owners gone: delete, in the background unless the object's finalizers say otherwise.
    assert_eq!(
        decide(&[(r("a"), OwnerState::Dangling)], false, false, &none),
        Decision::Delete(Policy::Background)
    );
    assert_eq!(
        decide(
            &[(r("a"), OwnerState::Dangling)],
            false,
            false,
            &[ORPHAN.to_string()]
        ),
        Decision::Delete(Policy::Orphan)
    );
    assert_eq!(
        decide(
            &[(r("a"), OwnerState::Dangling)],
            true,
            false,
            &[FOREGROUND.to_string()]
        ),
        Decision::Delete(Policy::Foreground)
    );
    // One owner left: only the dangling reference goes.
    assert_eq!(
        decide(
            &[(r("a"), OwnerState::Dangling), (r("b"), OwnerState::Solid)],
            false,
            false,
            &none
        ),
        Decision::RemoveOwnerRefs(vec!["a".into()])
    );
    // A solid owner alone: keep.
    assert_eq!(
        decide(&[(r("b"), OwnerState::Solid)], true, false, &none),
        Decision::Keep
    );
    // A solid owner and one deleting in the foreground: drop the reference to the latter.
    assert_eq!(
        decide(
            &[
                (r("w"), OwnerState::WaitingForDependents),
                (r("b"), OwnerState::Solid)
            ],
            false,
            false,
            &none
        ),
        Decision::RemoveOwnerRefs(vec!["w".into()])
    );
    // Owner waiting, object without dependents: plain delete.
    assert_eq!(
        decide(
            &[(r("w"), OwnerState::WaitingForDependents)],
            false,
            false,
            &none
        ),
        Decision::Delete(Policy::Background)
    );
    // Owner waiting, object with dependents: foreground, unblocking first when a dependent waits too.
    assert_eq!(
        decide(
            &[(r("w"), OwnerState::WaitingForDependents)],
            true,
            false,
            &none
        ),
        Decision::DeleteForeground {
            unblock_first: false
        }
    );
    assert_eq!(
        decide(
            &[(r("w"), OwnerState::WaitingForDependents)],
            true,
            true,
            &none
        ),
        Decision::DeleteForeground {
            unblock_first: true
        }
    );
    assert_eq!(decide(&[], true, true, &none), Decision::Keep);
}

#[test]
fn patches_carry_the_resource_version() {
    let refs = vec![
        owner_ref("ConfigMap", "a", "a", Some(true)),
        owner_ref("ConfigMap", "b", "b", None),
    ];
    assert_eq!(
        remove_owner_refs_patch("7", &refs, &["a".into()]).unwrap(),
        json!({"metadata": {"resourceVersion": "7", "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "b", "uid": "b"}]}})
    );
    assert_eq!(
        remove_owner_refs_patch("7", &refs, &["a".into(), "b".into()]).unwrap(),
        json!({"metadata": {"resourceVersion": "7", "ownerReferences": null}})
    );
    assert_eq!(remove_owner_refs_patch("7", &refs, &["c".into()]), None);
    let unblocked = unblock_owner_refs_patch("3", &refs).unwrap();
    assert_eq!(
        unblocked.pointer("/metadata/ownerReferences/0/blockOwnerDeletion"),
        Some(&json!(false))
    );
    assert_eq!(unblock_owner_refs_patch("3", &refs[1..]), None);

    let fins = vec![FOREGROUND.to_string(), "example.com/keep".to_string()];
    assert_eq!(
        remove_finalizer_patch("9", &fins, FOREGROUND).unwrap(),
        json!({"metadata": {"resourceVersion": "9", "finalizers": ["example.com/keep"]}})
    );
    assert_eq!(
        remove_finalizer_patch("9", &fins[..1], FOREGROUND).unwrap(),
        json!({"metadata": {"resourceVersion": "9", "finalizers": null}})
    );
    assert_eq!(remove_finalizer_patch("9", &fins, ORPHAN), None);
}
