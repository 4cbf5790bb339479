//! The scheduling queue, shaped like upstream's: an active heap (higher priority first, then
//! first come), a backoff heap, and the unschedulable set that cluster changes (a node added
//! or changed, a pod gone) move back, each pod no sooner than its backoff allows.
//! Backoff: 1s, doubling per failed attempt, at most 10s.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap},
    sync::Arc,
    time::Duration,
};

use k8s_openapi::api::core::v1::Pod;
use tokio::time::Instant;

use crate::types::PodInfo;

pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Unschedulable pods are retried at least this often, cluster changes or not.
pub const MAX_UNSCHEDULABLE_STAY: Duration = Duration::from_secs(60);

pub fn backoff(attempts: u32) -> Duration {
    let shift = attempts.saturating_sub(1).min(16);
    (INITIAL_BACKOFF * (1u32 << shift)).min(MAX_BACKOFF)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Active,
    Backoff,
    Unschedulable,
    /// Popped: being scheduled, or assumed and binding.
    InFlight,
}

pub struct Entry {
    pub pod: Arc<Pod>,
    pub info: Arc<PodInfo>,
    pub attempts: u32,
    state: State,
    /// Bumped on every push, so stale heap items are recognized.
    seq: u64,
    backoff_until: Instant,
    since: Instant,
    /// The move counter when popped: a cluster change while in flight sends a failure
    /// to backoff rather than to the unschedulable set.
    popped_at_move: u64,
}

#[derive(Default)]
pub struct Queue {
    entries: HashMap<String, Entry>,
    active: BinaryHeap<(i32, Reverse<u64>, String)>,
    backoff: BinaryHeap<Reverse<(Instant, u64, String)>>,
    next_seq: u64,
    moves: u64,
    unschedulable: usize,
}

impl Queue {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    pub fn unschedulable_count(&self) -> usize {
        self.unschedulable
    }

    /// A new pending pod, or a newer version of one already queued.
    pub fn add_or_update(&mut self, uid: &str, pod: Arc<Pod>, now: Instant) {
        let info = Arc::new(PodInfo::from_pod(&pod));
        let Some(e) = self.entries.get_mut(uid) else {
            let seq = self.bump();
            let priority = info.priority;
            self.entries.insert(
                uid.to_string(),
                Entry {
                    pod,
                    info,
                    attempts: 0,
                    state: State::Active,
                    seq,
                    backoff_until: now,
                    since: now,
                    popped_at_move: 0,
                },
            );
            self.active.push((priority, Reverse(seq), uid.to_string()));
            return;
        };
        let changed = *e.info != *info;
        e.pod = pod;
        e.info = info;
        if changed && e.state == State::Unschedulable {
            self.requeue(uid, now);
        }
    }

    pub fn remove(&mut self, uid: &str) {
        if let Some(e) = self.entries.remove(uid) {
            if e.state == State::Unschedulable {
                self.unschedulable -= 1;
            }
        }
    }

    /// The next pod to schedule; it stays queued, in flight, until [`Queue::done`],
    /// [`Queue::failed`] or [`Queue::retry`].
    pub fn pop(&mut self) -> Option<(String, Arc<Pod>, Arc<PodInfo>)> {
        while let Some((_, Reverse(seq), uid)) = self.active.pop() {
            let moves = self.moves;
            let Some(e) = self.entries.get_mut(&uid) else {
                continue;
            };
            if e.seq != seq || e.state != State::Active {
                continue;
            }
            e.state = State::InFlight;
            e.popped_at_move = moves;
            return Some((uid, e.pod.clone(), e.info.clone()));
        }
        None
    }

    pub fn has_active(&self) -> bool {
        !self.active.is_empty()
    }

    /// Scheduled and bound: forget it.
    pub fn done(&mut self, uid: &str) {
        self.remove(uid);
    }

    /// Fits nowhere: unschedulable until the cluster changes (or backoff when it already
    /// changed while this attempt ran).
    pub fn failed(&mut self, uid: &str, now: Instant) {
        let moves = self.moves;
        let Some(e) = self.entries.get_mut(uid) else {
            return;
        };
        e.attempts += 1;
        e.backoff_until = now + backoff(e.attempts);
        if e.popped_at_move != moves {
            self.send_to_backoff(uid);
            return;
        }
        e.state = State::Unschedulable;
        e.since = now;
        self.unschedulable += 1;
    }

    /// An error (binding failed): try again after backoff.
    pub fn retry(&mut self, uid: &str, now: Instant) {
        let Some(e) = self.entries.get_mut(uid) else {
            return;
        };
        if e.state == State::Unschedulable {
            self.unschedulable -= 1;
        }
        e.attempts += 1;
        e.backoff_until = now + backoff(e.attempts);
        self.send_to_backoff(uid);
    }

    /// The cluster changed: every unschedulable pod goes back (through backoff if its
    /// backoff has not run out).
    pub fn move_all(&mut self, now: Instant) {
        self.moves += 1;
        if self.unschedulable == 0 {
            return;
        }
        let uids: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| e.state == State::Unschedulable)
            .map(|(u, _)| u.clone())
            .collect();
        for uid in uids {
            self.requeue(&uid, now);
        }
    }

    /// Moves due backoffs to active, and pods unschedulable for too long; returns when to
    /// look again.
    pub fn tick(&mut self, now: Instant) -> Option<Instant> {
        while let Some(Reverse((at, seq, uid))) = self.backoff.peek().cloned() {
            if at > now {
                break;
            }
            self.backoff.pop();
            let Some(e) = self.entries.get_mut(&uid) else {
                continue;
            };
            if e.seq != seq || e.state != State::Backoff {
                continue;
            }
            self.activate(&uid);
        }
        if self.unschedulable > 0 {
            let stale: Vec<String> = self
                .entries
                .iter()
                .filter(|(_, e)| {
                    e.state == State::Unschedulable && now >= e.since + MAX_UNSCHEDULABLE_STAY
                })
                .map(|(u, _)| u.clone())
                .collect();
            for uid in stale {
                self.requeue(&uid, now);
            }
        }
        let next_backoff = self.backoff.peek().map(|Reverse((at, _, _))| *at);
        let next_flush = (self.unschedulable > 0).then(|| now + Duration::from_secs(5));
        match (next_backoff, next_flush) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn requeue(&mut self, uid: &str, now: Instant) {
        let Some(e) = self.entries.get(uid) else {
            return;
        };
        if e.state == State::Unschedulable {
            self.unschedulable -= 1;
        }
        if e.backoff_until > now {
            self.send_to_backoff(uid);
        } else {
            self.activate(uid);
        }
    }

    fn activate(&mut self, uid: &str) {
        let seq = self.bump();
        let e = self.entries.get_mut(uid).expect("queued");
        e.state = State::Active;
        e.seq = seq;
        self.active
            .push((e.info.priority, Reverse(seq), uid.to_string()));
    }

    fn send_to_backoff(&mut self, uid: &str) {
        let seq = self.bump();
        let e = self.entries.get_mut(uid).expect("queued");
        e.state = State::Backoff;
        e.seq = seq;
        self.backoff
            .push(Reverse((e.backoff_until, seq, uid.to_string())));
    }

    fn bump(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(name: &str, priority: i32) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "uid": name},
                "spec": {"containers": [{"name": "c"}], "priority": priority},
            }))
            .unwrap(),
        )
    }

    #[test]
    fn backoff_doubles_to_ten_seconds() {
        let secs: Vec<u64> = (1..=6).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn priority_then_arrival() {
        let now = Instant::now();
        let mut q = Queue::default();
        q.add_or_update("a", pod("a", 0), now);
        q.add_or_update("b", pod("b", 10), now);
        q.add_or_update("c", pod("c", 0), now);
        let order: Vec<String> = std::iter::from_fn(|| q.pop().map(|p| p.0)).collect();
        assert_eq!(order, ["b", "a", "c"]);
    }

    #[test]
    fn unschedulable_waits_for_a_change_and_backoff() {
        let now = Instant::now();
        let mut q = Queue::default();
        q.add_or_update("a", pod("a", 0), now);
        let (uid, ..) = q.pop().unwrap();
        q.failed(&uid, now);
        assert_eq!(q.unschedulable_count(), 1);
        assert!(q.pop().is_none());
        // A change within the backoff: retried when the backoff runs out.
        q.move_all(now);
        assert_eq!(q.unschedulable_count(), 0);
        assert!(q.pop().is_none());
        assert_eq!(q.tick(now), Some(now + Duration::from_secs(1)));
        q.tick(now + Duration::from_secs(1));
        let (uid, ..) = q.pop().unwrap();
        // Second failure, then a change after the backoff: straight back to active.
        q.failed(&uid, now);
        q.move_all(now + Duration::from_secs(3));
        assert!(q.pop().is_some());
    }

    #[test]
    fn change_while_in_flight_goes_send_to_backoff() {
        let now = Instant::now();
        let mut q = Queue::default();
        q.add_or_update("a", pod("a", 0), now);
        let (uid, ..) = q.pop().unwrap();
        q.move_all(now);
        q.failed(&uid, now);
        assert_eq!(q.unschedulable_count(), 0);
        q.tick(now + Duration::from_secs(1));
        assert!(q.pop().is_some());
    }

    #[test]
    fn spec_change_requeues_and_removal_forgets() {
        let now = Instant::now();
        let mut q = Queue::default();
        q.add_or_update("a", pod("a", 0), now);
        let (uid, ..) = q.pop().unwrap();
        q.failed(&uid, now);
        // Same spec (say, our own status patch): stays unschedulable.
        q.add_or_update("a", pod("a", 0), now);
        assert_eq!(q.unschedulable_count(), 1);
        q.add_or_update("a", pod("a", 5), now + Duration::from_secs(2));
        assert_eq!(q.unschedulable_count(), 0);
        q.tick(now + Duration::from_secs(2));
        assert!(q.pop().is_some());
        q.remove("a");
        assert_eq!(q.len(), 0);
        q.retry("a", now);
        assert!(q.pop().is_none());
    }
}
