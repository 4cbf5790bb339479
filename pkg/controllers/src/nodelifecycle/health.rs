//! Node health, as upstream's `monitorNodeHealth`: a node is alive while its Lease's renewTime
//! or its Ready condition's lastHeartbeatTime keeps changing. When either last changed is timed
//! by this process's clock (the probe time), so a controller that just started (or just became
//! leader) gives every node a full grace period, and clock skew does not matter.

use std::{collections::HashMap, time::Duration};

use k8s_openapi::{
    api::core::v1::{Node, NodeCondition},
    apimachinery::pkg::apis::meta::v1::Time,
    jiff::Timestamp,
};
use tokio::time::Instant;

/// The conditions the controller sets Unknown (NetworkUnavailable is the network's, as
/// upstream leaves it).
const CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];
pub(crate) const REASON_UNKNOWN: &str = "NodeStatusUnknown";
pub(crate) const MESSAGE_UNKNOWN: &str = "Kubelet stopped posting node status.";
const REASON_NEVER: &str = "NodeStatusNeverUpdated";
const MESSAGE_NEVER: &str = "Kubelet never posted node status.";

/// What changes when a kubelet is alive.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Heartbeat {
    pub lease_renew: Option<Timestamp>,
    pub ready_heartbeat: Option<Timestamp>,
}

impl Heartbeat {
    pub(crate) fn of(node: &Node, lease_renew: Option<Timestamp>) -> Self {
        Self {
            lease_renew,
            ready_heartbeat: condition(node, "Ready")
                .and_then(|c| c.last_heartbeat_time.as_ref())
                .map(|t| t.0),
        }
    }
}

struct Probe {
    heartbeat: Heartbeat,
    at: Instant,
}

/// Per node: the last heartbeat seen and when.
#[derive(Default)]
pub(crate) struct Tracker {
    probes: HashMap<String, Probe>,
}

impl Tracker {
    /// Records the node's heartbeat; true when it has been silent for longer than `grace`.
    pub(crate) fn silent(
        &mut self,
        node: &str,
        heartbeat: Heartbeat,
        now: Instant,
        grace: Duration,
    ) -> bool {
        let probe = self
            .probes
            .entry(node.to_string())
            .or_insert_with(|| Probe {
                heartbeat: heartbeat.clone(),
                at: now,
            });
        if probe.heartbeat != heartbeat {
            probe.heartbeat = heartbeat;
            probe.at = now;
        }
        now.saturating_duration_since(probe.at) > grace
    }

    /// Forgets nodes that no longer exist.
    pub(crate) fn retain(&mut self, exists: impl Fn(&str) -> bool) {
        self.probes.retain(|name, _| exists(name));
    }
}

pub(crate) fn condition<'a>(node: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// The status of the node's Ready condition ("" when it has none).
pub(crate) fn ready(node: &Node) -> &str {
    condition(node, "Ready").map_or("", |c| c.status.as_str())
}

/// A silent node's conditions set to Unknown ("Kubelet stopped posting node status."; those it
/// never posted added as "Kubelet never posted node status."), lastHeartbeatTime kept; `None`
/// when they already say so.
pub(crate) fn mark_unknown(node: &Node, now: Timestamp) -> Option<Vec<NodeCondition>> {
    let mut conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let mut changed = false;
    for type_ in CONDITIONS {
        match conditions.iter_mut().find(|c| c.type_ == type_) {
            Some(c) if c.status == "Unknown" => {}
            Some(c) => {
                c.status = "Unknown".into();
                c.reason = Some(REASON_UNKNOWN.into());
                c.message = Some(MESSAGE_UNKNOWN.into());
                c.last_transition_time = Some(Time(now));
                changed = true;
            }
            None => {
                conditions.push(NodeCondition {
                    type_: type_.into(),
                    status: "Unknown".into(),
                    reason: Some(REASON_NEVER.into()),
                    message: Some(MESSAGE_NEVER.into()),
                    last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                    last_transition_time: Some(Time(now)),
                });
                changed = true;
            }
        }
    }
    changed.then_some(conditions)
}
