//! The pods this kubelet runs, as the streaming server sees them (`server::PodLookup`).

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use rkube_runtime::Sandbox;

use crate::server::{ContainerRef, Lookup, PodLookup};

#[derive(Debug, Clone)]
struct Entry {
    uid: String,
    sandbox: Option<Sandbox>,
    /// In spec order: app containers first, then init containers.
    containers: Vec<(String, ContainerRef)>,
}

#[derive(Debug, Default, Clone)]
pub struct PodTable {
    inner: Arc<RwLock<HashMap<(String, String), Entry>>>,
}

impl PodTable {
    pub fn set(
        &self,
        ns: &str,
        name: &str,
        uid: &str,
        sandbox: Option<Sandbox>,
        containers: Vec<(String, ContainerRef)>,
    ) {
        let mut m = self.inner.write().unwrap_or_else(|e| e.into_inner());
        m.insert(
            (ns.to_string(), name.to_string()),
            Entry {
                uid: uid.to_string(),
                sandbox,
                containers,
            },
        );
    }

    /// Forgets the pod, unless a newer pod of the same name took the slot.
    pub fn remove(&self, ns: &str, name: &str, uid: &str) {
        let mut m = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let key = (ns.to_string(), name.to_string());
        if m.get(&key).is_some_and(|e| e.uid == uid) {
            m.remove(&key);
        }
    }

    pub fn len(&self) -> usize {
        self.inner.read().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl PodLookup for PodTable {
    fn lookup(&self, namespace: &str, pod: &str, container: Option<&str>) -> Lookup {
        let m = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let Some(e) = m.get(&(namespace.to_string(), pod.to_string())) else {
            return Lookup::PodNotFound;
        };
        match container {
            None => match e.containers.first() {
                Some((_, r)) => Lookup::Found(r.clone()),
                // A pod without containers yet: the sandbox alone (port-forward).
                None => Lookup::Found(ContainerRef {
                    container_id: None,
                    sandbox: e.sandbox.clone(),
                    log_path: None,
                    previous_log_path: None,
                    running: false,
                }),
            },
            Some(name) => match e.containers.iter().find(|(n, _)| n == name) {
                Some((_, r)) => Lookup::Found(r.clone()),
                None => Lookup::ContainerNotFound {
                    valid: e.containers.iter().map(|(n, _)| n.clone()).collect(),
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(id: &str) -> ContainerRef {
        ContainerRef {
            container_id: Some(id.into()),
            sandbox: None,
            log_path: None,
            previous_log_path: None,
            running: true,
        }
    }

    #[test]
    fn lookups() {
        let t = PodTable::default();
        t.set(
            "ns",
            "p",
            "u1",
            None,
            vec![("a".into(), r("1")), ("b".into(), r("2"))],
        );
        assert!(matches!(t.lookup("ns", "x", None), Lookup::PodNotFound));
        let Lookup::Found(f) = t.lookup("ns", "p", None) else {
            panic!()
        };
        assert_eq!(f.container_id.as_deref(), Some("1"));
        let Lookup::Found(f) = t.lookup("ns", "p", Some("b")) else {
            panic!()
        };
        assert_eq!(f.container_id.as_deref(), Some("2"));
        let Lookup::ContainerNotFound { valid } = t.lookup("ns", "p", Some("c")) else {
            panic!()
        };
        assert_eq!(valid, ["a", "b"]);
        t.remove("ns", "p", "other");
        assert_eq!(t.len(), 1);
        t.remove("ns", "p", "u1");
        assert!(t.is_empty());
    }
}
