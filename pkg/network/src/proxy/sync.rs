//! The stateful proxier: remembers the service ports the kernel has, and turns the next state
//! into one atomic transaction touching only the service ports that changed. The first sync (and
//! the one after a failure, when what the kernel holds is unknown) replaces the whole table.

use std::{borrow::Borrow, collections::BTreeMap};

use k8s_openapi::api::{core::v1::Service, discovery::v1::EndpointSlice};
use serde_json::Value;
use tracing::debug;

use super::{
    diff::diff,
    model::{service_ports, ServicePort},
    rules::{Batch, Objects},
    run_nft, table_name, ProxyConfig,
};
use crate::Result;

/// What one sync did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncStats {
    /// Service ports programmed after the sync.
    pub service_ports: usize,
    /// Service ports added, changed or removed by it.
    pub changed: usize,
    /// Whether the table was replaced as a whole (first sync, or after a failure).
    pub full: bool,
    /// nftables commands in the transaction (0: nothing to do, nothing sent).
    pub commands: usize,
}

/// The node's Service proxy state. One per table; not shared.
pub struct Proxier {
    cfg: ProxyConfig,
    table: String,
    /// What the kernel has, by key; `None` until a full sync succeeded.
    applied: Option<BTreeMap<String, ServicePort>>,
}

impl Proxier {
    pub fn new(cfg: ProxyConfig) -> Self {
        let table = table_name(&cfg.bridge);
        Self {
            cfg,
            table,
            applied: None,
        }
    }

    pub fn config(&self) -> &ProxyConfig {
        &self.cfg
    }

    /// Forgets what was applied: the next sync replaces the whole table.
    pub fn invalidate(&mut self) {
        self.applied = None;
    }

    /// Records `ports` as what the kernel has (tests: plan from a known state without root).
    #[cfg(test)]
    pub(super) fn mark_applied(&mut self, ports: Vec<ServicePort>) {
        self.applied = Some(ports.into_iter().map(|sp| (sp.key.clone(), sp)).collect());
    }

    /// The transaction from what was applied to `ports` (`None`: nothing changed). Pure.
    pub fn plan(&self, ports: &[ServicePort]) -> (Option<Value>, SyncStats) {
        let rules = self.cfg.rules(&self.table);
        let mut b = Batch::new(&self.table);
        let mut stats = SyncStats {
            service_ports: ports.len(),
            ..SyncStats::default()
        };
        let mut old = Objects::default();
        let mut new = Objects::default();
        match &self.applied {
            None => {
                rules.replace_table(&mut b);
                for sp in ports {
                    new.merge(rules.objects(sp));
                }
                stats.full = true;
                stats.changed = ports.len();
            }
            Some(applied) => {
                let next: BTreeMap<&str, &ServicePort> =
                    ports.iter().map(|sp| (sp.key.as_str(), sp)).collect();
                for (key, sp) in applied {
                    if next.get(key.as_str()) != Some(&sp) {
                        old.merge(rules.objects(sp));
                        stats.changed += 1;
                    }
                }
                for (key, sp) in &next {
                    match applied.get(*key) {
                        Some(before) if before == *sp => {}
                        before => {
                            new.merge(rules.objects(sp));
                            // A changed port was counted with the old ones already.
                            stats.changed += usize::from(before.is_none());
                        }
                    }
                }
            }
        }
        diff(&mut b, &old, &new);
        stats.commands = b.cmds.len();
        if stats.commands == 0 {
            return (None, stats);
        }
        (Some(b.into_doc()), stats)
    }

    /// Brings the table to these service ports in one atomic transaction.
    pub async fn sync_ports(&mut self, ports: Vec<ServicePort>) -> Result<SyncStats> {
        let (doc, stats) = self.plan(&ports);
        if let Some(doc) = doc {
            if let Err(e) = run_nft(&self.table, &doc).await {
                self.applied = None;
                return Err(e);
            }
        }
        self.applied = Some(ports.into_iter().map(|sp| (sp.key.clone(), sp)).collect());
        debug!(
            service_ports = stats.service_ports,
            changed = stats.changed,
            full = stats.full,
            commands = stats.commands,
            "proxy rules synced"
        );
        Ok(stats)
    }

    /// Brings the table to these Services and EndpointSlices.
    pub async fn sync(
        &mut self,
        services: &[impl Borrow<Service>],
        slices: &[impl Borrow<EndpointSlice>],
    ) -> Result<SyncStats> {
        let ports = service_ports(services, slices, &self.cfg.node_name);
        self.sync_ports(ports).await
    }
}
