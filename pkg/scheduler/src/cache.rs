//! The scheduler's view of the cluster: nodes with what their pods take, including pods
//! assumed onto a node while their binding is in flight, so a burst of pods never sees the
//! same free slot twice.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use k8s_openapi::api::core::v1::Node;

use crate::types::{NodeInfo, PodInfo};

pub struct Placed {
    pub node: String,
    /// Chosen by us, not (yet) seen bound by the watch.
    pub assumed: bool,
}

#[derive(Default)]
pub struct Cache {
    /// The nodes that exist, in a stable order (filters walk it round-robin).
    pub nodes: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    /// Pods on nodes we have no Node object for (yet, or any more), by node name.
    orphans: HashMap<String, BTreeMap<String, Arc<PodInfo>>>,
    pods: HashMap<String, Placed>,
}

impl Cache {
    /// Adds or refreshes a node; true when something the filters or scores read changed.
    pub fn upsert_node(&mut self, node: &Node) -> bool {
        let name = node.metadata.name.clone().unwrap_or_default();
        if let Some(&i) = self.index.get(&name) {
            let n = &mut self.nodes[i];
            let before = (
                n.labels.clone(),
                n.taints.clone(),
                n.unschedulable,
                n.allocatable.clone(),
                n.allowed_pods,
            );
            n.set_node(node);
            return before
                != (
                    n.labels.clone(),
                    n.taints.clone(),
                    n.unschedulable,
                    n.allocatable.clone(),
                    n.allowed_pods,
                );
        }
        let mut info = NodeInfo::new(node);
        for pod in self
            .orphans
            .remove(&name)
            .into_iter()
            .flat_map(|m| m.into_values())
        {
            info.add_pod(pod);
        }
        self.index.insert(name, self.nodes.len());
        self.nodes.push(info);
        true
    }

    pub fn remove_node(&mut self, name: &str) -> bool {
        let Some(i) = self.index.remove(name) else {
            return false;
        };
        let info = self.nodes.swap_remove(i);
        if i < self.nodes.len() {
            self.index.insert(self.nodes[i].name.clone(), i);
        }
        if !info.pods.is_empty() {
            self.orphans.insert(info.name, info.pods);
        }
        true
    }

    pub fn placed(&self, uid: &str) -> Option<&Placed> {
        self.pods.get(uid)
    }

    /// Puts a pod on `node` (moving it if it was elsewhere).
    pub fn place(&mut self, info: Arc<PodInfo>, node: &str, assumed: bool) {
        let uid = info.uid.clone();
        if let Some(p) = self.pods.get_mut(&uid) {
            if p.node == node {
                p.assumed &= assumed;
                return;
            }
            self.remove_pod(&uid);
        }
        match self.index.get(node) {
            Some(&i) => self.nodes[i].add_pod(info),
            None => {
                self.orphans
                    .entry(node.to_string())
                    .or_default()
                    .insert(uid.clone(), info);
            }
        }
        self.pods.insert(
            uid,
            Placed {
                node: node.to_string(),
                assumed,
            },
        );
    }

    /// The watch saw an assumed pod bound where we put it.
    pub fn confirm(&mut self, uid: &str) {
        if let Some(p) = self.pods.get_mut(uid) {
            p.assumed = false;
        }
    }

    /// Takes a pod off its node; true when it was on one.
    pub fn remove_pod(&mut self, uid: &str) -> bool {
        let Some(p) = self.pods.remove(uid) else {
            return false;
        };
        match self.index.get(&p.node) {
            Some(&i) => {
                self.nodes[i].remove_pod(uid);
            }
            None => {
                if let Some(m) = self.orphans.get_mut(&p.node) {
                    m.remove(uid);
                    if m.is_empty() {
                        self.orphans.remove(&p.node);
                    }
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn node(name: &str, cpu: &str) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "status": {"allocatable": {"cpu": cpu, "pods": "10"}, "conditions": [{"type": "Ready", "status": "True"}]},
        }))
        .unwrap()
    }

    fn pod(uid: &str, cpu: i64) -> Arc<PodInfo> {
        let mut p = PodInfo {
            uid: uid.into(),
            ..PodInfo::default()
        };
        p.requests.milli_cpu = cpu;
        Arc::new(p)
    }

    #[test]
    fn pods_follow_nodes() {
        let mut c = Cache::default();
        // Bound before its node is known.
        c.place(pod("p1", 500), "a", false);
        assert!(c.upsert_node(&node("a", "2")));
        assert_eq!(c.nodes[0].requested.milli_cpu, 500);
        assert!(!c.upsert_node(&node("a", "2")), "heartbeats change nothing");
        assert!(c.upsert_node(&node("a", "4")));
        c.upsert_node(&node("b", "2"));
        c.place(pod("p2", 100), "b", true);
        assert!(c.placed("p2").unwrap().assumed);
        c.place(pod("p2", 100), "b", false);
        assert!(!c.placed("p2").unwrap().assumed, "confirmed by the watch");
        assert_eq!(c.nodes[1].requested.milli_cpu, 100);
        // Node a goes away and comes back: its pods are still accounted.
        assert!(c.remove_node("a"));
        assert_eq!(c.nodes.len(), 1);
        assert_eq!(c.nodes[0].name, "b");
        c.upsert_node(&node("a", "2"));
        assert_eq!(c.nodes[1].requested.milli_cpu, 500);
        assert!(c.remove_pod("p1"));
        assert_eq!(c.nodes[1].requested.milli_cpu, 0);
        assert!(!c.remove_pod("p1"));
        // Moving a pod.
        c.place(pod("p2", 100), "a", false);
        assert_eq!(c.nodes[0].requested.milli_cpu, 0);
        assert_eq!(c.nodes[1].requested.milli_cpu, 100);
    }
}
