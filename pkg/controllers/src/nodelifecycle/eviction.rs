//! The NoExecute taint manager's decision for one pod, as upstream's: a pod that does not
//! tolerate every NoExecute taint of its node goes at once; one that does stays until the
//! smallest tolerationSeconds among the tolerations used has passed since its taint's
//! timeAdded; tolerations without tolerationSeconds let it stay for good.

use k8s_openapi::{
    api::core::v1::{Taint, Toleration},
    jiff::{SignedDuration, Timestamp},
};

/// When the pod must be deleted (`None`: never, under these taints).
pub(crate) fn deadline(
    tolerations: &[Toleration],
    taints: &[Taint],
    now: Timestamp,
) -> Option<Timestamp> {
    let mut earliest: Option<Timestamp> = None;
    for taint in taints.iter().filter(|t| t.effect == "NoExecute") {
        // Upstream's GetMatchingTolerations: the first toleration that tolerates the taint.
        let Some(used) = tolerations.iter().find(|t| tolerates(t, taint)) else {
            return Some(now);
        };
        let Some(secs) = used.toleration_seconds else {
            continue;
        };
        let since = taint.time_added.as_ref().map_or(now, |t| t.0);
        let at = since
            .checked_add(SignedDuration::from_secs(secs.max(0)))
            .unwrap_or(Timestamp::MAX);
        earliest = Some(earliest.map_or(at, |e| e.min(at)));
    }
    earliest
}

/// Upstream's Toleration.ToleratesTaint.
pub(crate) fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    let effect = t.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = t.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match t.operator.as_deref().unwrap_or("") {
        "Exists" => true,
        "" | "Equal" => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        _ => false,
    }
}
