//! Rate-limited NoExecute tainting, as upstream's node lifecycle controller: nodes that go
//! not-ready or unreachable get their NoExecute taint (which is what evicts their pods) at
//! `--node-eviction-rate` nodes per second per zone (0.1, a token bucket of burst 1); a zone
//! with at least 55% of its nodes not ready (and more than 2) is in partial disruption and
//! slows to the secondary rate (0.01) if it has more than 50 nodes, else stops; when every
//! zone has no ready node at all, the problem is taken to be the control plane's, not the
//! nodes': nothing is tainted and the NoExecute taints already placed are removed.

use std::{collections::HashMap, time::Duration};

use k8s_openapi::api::core::v1::Node;
use tokio::time::Instant;

use super::health::ready;

/// Upstream's kube-controller-manager defaults.
pub(crate) const NODE_EVICTION_RATE: f64 = 0.1;
pub(crate) const SECONDARY_NODE_EVICTION_RATE: f64 = 0.01;
pub(crate) const UNHEALTHY_ZONE_THRESHOLD: f64 = 0.55;
pub(crate) const LARGE_CLUSTER_SIZE_THRESHOLD: usize = 50;

const REGION: &str = "topology.kubernetes.io/region";
const ZONE: &str = "topology.kubernetes.io/zone";
const BETA_REGION: &str = "failure-domain.beta.kubernetes.io/region";
const BETA_ZONE: &str = "failure-domain.beta.kubernetes.io/zone";

/// Upstream's GetZoneKey: region and zone labels (GA first, then beta); "" for neither.
pub(crate) fn zone_key(node: &Node) -> String {
    let labels = node.metadata.labels.as_ref();
    let get = |a: &str, b: &str| {
        labels
            .and_then(|l| l.get(a).or_else(|| l.get(b)))
            .cloned()
            .unwrap_or_default()
    };
    let (region, zone) = (get(REGION, BETA_REGION), get(ZONE, BETA_ZONE));
    if region.is_empty() && zone.is_empty() {
        return String::new();
    }
    format!("{region}:\x00:{zone}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ZoneState {
    Normal,
    PartialDisruption,
    FullDisruption,
}

/// Upstream's ComputeZoneState at the default `--unhealthy-zone-threshold`.
#[cfg(test)]
pub(crate) fn zone_state(ready: usize, not_ready: usize) -> ZoneState {
    zone_state_at(ready, not_ready, UNHEALTHY_ZONE_THRESHOLD)
}

/// Upstream's ComputeZoneState: partial disruption from `unhealthy` (a fraction) not ready.
pub(crate) fn zone_state_at(ready: usize, not_ready: usize, unhealthy: f64) -> ZoneState {
    if ready == 0 && not_ready > 0 {
        ZoneState::FullDisruption
    } else if not_ready > 2 && not_ready as f64 / (not_ready + ready) as f64 >= unhealthy {
        ZoneState::PartialDisruption
    } else {
        ZoneState::Normal
    }
}

/// How a node's NoExecute taint may change in this pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoExecute {
    /// Add it if the node's conditions call for it.
    Allow,
    /// Keep one the node has, add none (waiting for the zone's rate limiter).
    Defer,
    /// Remove the not-ready/unreachable NoExecute taints (all zones fully disrupted).
    Remove,
}

/// A token bucket of burst 1, as upstream's flowcontrol limiter; rate 0 never gives one.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Full (burst 1), as a fresh upstream limiter; empty at rate 0 (upstream swaps in one
    /// that never admits).
    fn new(rate: f64, now: Instant) -> Self {
        Bucket {
            rate,
            tokens: if rate > 0.0 { 1.0 } else { 0.0 },
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(1.0);
        self.at = now;
    }

    fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        // Tolerates the rounding of tokens added up from float rates.
        if self.tokens >= 1.0 - 1e-9 {
            self.tokens = (self.tokens - 1.0).max(0.0);
            true
        } else {
            false
        }
    }

    /// When the next token is there (`None`: never, at rate 0).
    fn next_token(&self) -> Option<Instant> {
        if self.tokens >= 1.0 {
            return Some(self.at);
        }
        (self.rate > 0.0)
            .then(|| self.at + Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
    }
}

/// The per-zone limiters and the disruption state they follow.
#[derive(Debug)]
pub(crate) struct Limiter {
    pub(crate) rate: f64,
    pub(crate) secondary_rate: f64,
    /// `--large-cluster-size-threshold` and `--unhealthy-zone-threshold`.
    pub(crate) large_cluster_size_threshold: usize,
    pub(crate) unhealthy_zone_threshold: f64,
    zones: HashMap<String, (ZoneState, Bucket)>,
    /// Every zone is fully disrupted: no tainting at all.
    pub(crate) all_disrupted: bool,
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter::new(NODE_EVICTION_RATE, SECONDARY_NODE_EVICTION_RATE)
    }
}

impl Limiter {
    pub(crate) fn new(rate: f64, secondary_rate: f64) -> Self {
        Limiter {
            rate,
            secondary_rate,
            large_cluster_size_threshold: LARGE_CLUSTER_SIZE_THRESHOLD,
            unhealthy_zone_threshold: UNHEALTHY_ZONE_THRESHOLD,
            zones: HashMap::new(),
            all_disrupted: false,
        }
    }

    /// A zone is large with more than `large` nodes, partially disrupted with at least
    /// `unhealthy` (a fraction) of them not ready.
    pub(crate) fn with_thresholds(mut self, large: usize, unhealthy: f64) -> Self {
        self.large_cluster_size_threshold = large;
        self.unhealthy_zone_threshold = unhealthy;
        self
    }

    /// Upstream's setLimiterInZone: normal and fully disrupted zones taint at the primary
    /// rate, partially disrupted ones at the secondary rate if large, else not at all.
    fn rate_for(&self, state: ZoneState, size: usize) -> f64 {
        match state {
            ZoneState::Normal | ZoneState::FullDisruption => self.rate,
            ZoneState::PartialDisruption if size > self.large_cluster_size_threshold => {
                self.secondary_rate
            }
            ZoneState::PartialDisruption => 0.0,
        }
    }

    /// Recomputes every zone's state from the nodes' Ready conditions (upstream's
    /// handleDisruption); a zone whose state changed gets a fresh limiter at its new rate.
    pub(crate) fn observe<'a>(&mut self, nodes: impl IntoIterator<Item = &'a Node>, now: Instant) {
        let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
        for n in nodes {
            let c = counts.entry(zone_key(n)).or_default();
            if ready(n) == "True" {
                c.0 += 1;
            } else {
                c.1 += 1;
            }
        }
        self.zones.retain(|z, _| counts.contains_key(z));
        let mut all = !counts.is_empty();
        for (zone, (r, nr)) in counts {
            let state = zone_state_at(r, nr, self.unhealthy_zone_threshold);
            all &= state == ZoneState::FullDisruption;
            let rate = self.rate_for(state, r + nr);
            match self.zones.get_mut(&zone) {
                Some((s, bucket)) if *s == state => {
                    bucket.refill(now);
                    bucket.rate = rate;
                    if rate == 0.0 {
                        bucket.tokens = 0.0;
                    }
                }
                _ => {
                    if let Some((before, _)) = self.zones.get(&zone) {
                        tracing::info!(zone = %zone, from = ?before, to = ?state, rate, "zone disruption state changed");
                    }
                    self.zones.insert(zone, (state, Bucket::new(rate, now)));
                }
            }
        }
        if all != self.all_disrupted {
            if all {
                tracing::warn!(
                    "all nodes are not ready: entering master disruption mode, no NoExecute taints"
                );
            } else {
                tracing::info!("some nodes are ready again: leaving master disruption mode");
            }
        }
        self.all_disrupted = all;
    }

    /// Whether `node`, which needs a NoExecute taint it does not have, may get it now
    /// (taking its zone's token when it may).
    pub(crate) fn admit(&mut self, node: &Node, now: Instant) -> NoExecute {
        if self.all_disrupted {
            return NoExecute::Remove;
        }
        let zone = zone_key(node);
        let rate = self.rate;
        let (_, bucket) = self
            .zones
            .entry(zone)
            .or_insert_with(|| (ZoneState::Normal, Bucket::new(rate, now)));
        if bucket.try_take(now) {
            NoExecute::Allow
        } else {
            NoExecute::Defer
        }
    }

    /// What applies to a node that needs no token (one with no NoExecute taint to add).
    pub(crate) fn free(&self) -> NoExecute {
        if self.all_disrupted {
            NoExecute::Remove
        } else {
            NoExecute::Allow
        }
    }

    /// The earliest moment a zone's limiter has a token again.
    pub(crate) fn next_token(&self) -> Option<Instant> {
        self.zones
            .values()
            .filter_map(|(_, b)| b.next_token())
            .min()
    }
}
