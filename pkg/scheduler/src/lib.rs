//! rkube-scheduler: kube-scheduler's default profile, talking to the API only through
//! `kube::Client`.
//!
//! Pods with no node and `schedulerName: default-scheduler` (or none) are queued (priority,
//! then arrival), filtered against a cache of nodes and of the pods bound or assumed onto
//! them ([`filter`]), scored ([`score`]) and bound through `pods/binding`. A pod that fits
//! nowhere gets `PodScheduled=False`, reason `Unschedulable`, with upstream's message
//! ([`unschedulable_message`]) and a `FailedScheduling` event, and is retried when nodes or
//! pods change, after a backoff of 1s doubling to 10s.
//!
//! Not implemented: preemption (the message reports what upstream's dry run would find),
//! inter-pod affinity, topology spread constraints from the pod spec, volumes, image
//! locality, extenders, profiles and configuration.

mod cache;
mod diagnosis;
mod events;
mod filter;
pub mod quantity;
mod queue;
mod scheduler;
mod score;
mod types;

pub use diagnosis::{
    nodes_available, preemption_reasons, unschedulable_message, NO_NODES_AVAILABLE,
};
pub use filter::{
    filter, fits_resources, node_affinity, node_ports, node_unschedulable, selector_matches,
    taint_toleration, term_matches, tolerates,
};
pub use queue::backoff;
pub use scheduler::{num_feasible_nodes_to_find, run, run_as, run_shared};
pub use score::{balanced_allocation, least_allocated, score, score_with};
pub use types::{pod_requests, Code, HostPort, NodeInfo, PodInfo, Resources, Status};
