//! The garbage collector's decisions (upstream's attemptToDeleteItem once the owners have been
//! looked up) and the patches it sends, as pure functions.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use serde_json::{json, Value};

use super::graph::{FOREGROUND, ORPHAN};

/// What a live lookup found for one ownerReference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerState {
    /// Exists and is not waiting for its dependents to go.
    Solid,
    /// No object with that uid where the reference points.
    Dangling,
    /// Being deleted in the foreground: waits for its dependents.
    WaitingForDependents,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Background,
    Foreground,
    Orphan,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Some owner is solid and no reference needs fixing.
    Keep,
    /// Some owner is solid: drop the references to these (gone or foreground-deleting) owners.
    RemoveOwnerRefs(Vec<String>),
    /// No solid owner, an owner waits for its dependents, and this object has dependents of
    /// its own: delete it in the foreground too (first making its own references
    /// non-blocking when one of its dependents also waits, to break a possible cycle).
    DeleteForeground { unblock_first: bool },
    /// No solid owner: delete it, keeping the policy its own finalizers ask for.
    Delete(Policy),
}

/// Decides the fate of an object whose ownerReferences were classified.
pub fn decide(
    refs: &[(OwnerReference, OwnerState)],
    has_dependents: bool,
    dependent_waits: bool,
    finalizers: &[String],
) -> Decision {
    if refs.is_empty() {
        return Decision::Keep;
    }
    let of = |s: OwnerState| {
        refs.iter()
            .filter(move |(_, st)| *st == s)
            .map(|(r, _)| r.uid.clone())
    };
    let solid = of(OwnerState::Solid).count();
    let waiting: Vec<String> = of(OwnerState::WaitingForDependents).collect();
    let dangling: Vec<String> = of(OwnerState::Dangling).collect();
    if solid > 0 {
        if dangling.is_empty() && waiting.is_empty() {
            return Decision::Keep;
        }
        return Decision::RemoveOwnerRefs(dangling.into_iter().chain(waiting).collect());
    }
    if !waiting.is_empty() && has_dependents {
        return Decision::DeleteForeground {
            unblock_first: dependent_waits,
        };
    }
    let policy = if finalizers.iter().any(|f| f == ORPHAN) {
        Policy::Orphan
    } else if finalizers.iter().any(|f| f == FOREGROUND) {
        Policy::Foreground
    } else {
        Policy::Background
    };
    Decision::Delete(policy)
}

/// A JSON merge patch dropping the references to `uids`, guarded by the resourceVersion it
/// was computed from; None when there is nothing to drop.
pub fn remove_owner_refs_patch(
    resource_version: &str,
    refs: &[OwnerReference],
    uids: &[String],
) -> Option<Value> {
    if !refs.iter().any(|r| uids.contains(&r.uid)) {
        return None;
    }
    let kept: Vec<&OwnerReference> = refs.iter().filter(|r| !uids.contains(&r.uid)).collect();
    let kept = if kept.is_empty() {
        Value::Null
    } else {
        json!(kept)
    };
    Some(json!({"metadata": {"resourceVersion": resource_version, "ownerReferences": kept}}))
}

/// A JSON merge patch making every blocking reference non-blocking; None when none blocks.
pub fn unblock_owner_refs_patch(resource_version: &str, refs: &[OwnerReference]) -> Option<Value> {
    if !refs.iter().any(|r| r.block_owner_deletion == Some(true)) {
        return None;
    }
    let refs: Vec<OwnerReference> = refs
        .iter()
        .cloned()
        .map(|mut r| {
            if r.block_owner_deletion == Some(true) {
                r.block_owner_deletion = Some(false);
            }
            r
        })
        .collect();
    Some(json!({"metadata": {"resourceVersion": resource_version, "ownerReferences": refs}}))
}

/// A JSON merge patch removing `target` from the finalizers; None when it is not there.
pub fn remove_finalizer_patch(
    resource_version: &str,
    finalizers: &[String],
    target: &str,
) -> Option<Value> {
    if !finalizers.iter().any(|f| f == target) {
        return None;
    }
    let kept: Vec<&String> = finalizers.iter().filter(|f| *f != target).collect();
    let kept = if kept.is_empty() {
        Value::Null
    } else {
        json!(kept)
    };
    Some(json!({"metadata": {"resourceVersion": resource_version, "finalizers": kept}}))
}
