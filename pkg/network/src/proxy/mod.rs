//! The Service proxy (kube-proxy's nftables mode): Services + EndpointSlices become rules in a
//! table of rkube's own (`ip rkube-proxy-<bridge>`), removed on shutdown. A `Proxier` updates
//! them incrementally: one atomic `nft -j` transaction per sync touching only the service ports
//! that changed. Rule generation and diffing are pure (model, rules, diff); this module and
//! sync.rs only apply them.

mod diff;
mod model;
mod rules;
mod sync;
#[cfg(test)]
mod tests;

use std::borrow::Borrow;

use k8s_openapi::api::{core::v1::Service, discovery::v1::EndpointSlice};
use nftables::helper;
use tracing::debug;

pub use model::{service_ports, Endpoint, ServicePort};
pub use sync::{Proxier, SyncStats};

use crate::{Error, Ipv4Cidr, Result};

/// The proxy table (family `ip`) of a node whose pod bridge is `bridge`.
pub fn table_name(bridge: &str) -> String {
    format!("rkube-proxy-{bridge}")
}

/// What the rules depend on besides the Services.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub bridge: String,
    /// This node (endpoints' nodeName, for the Local traffic policies).
    pub node_name: String,
    /// The cluster's pod CIDR: traffic from elsewhere to a ClusterIP is masqueraded.
    pub cluster_cidr: Ipv4Cidr,
}

impl ProxyConfig {
    fn rules<'a>(&'a self, table: &'a str) -> rules::Rules<'a> {
        rules::Rules {
            table,
            bridge: &self.bridge,
            cluster_cidr: &self.cluster_cidr,
        }
    }

    /// The nftables JSON document that replaces the proxy table (pure; for tests and logs).
    pub fn ruleset(
        &self,
        services: &[impl Borrow<Service>],
        slices: &[impl Borrow<EndpointSlice>],
    ) -> (serde_json::Value, usize) {
        let ports = service_ports(services, slices, &self.node_name);
        let n = ports.len();
        let (doc, _) = Proxier::new(self.clone()).plan(&ports);
        (doc.unwrap_or_default(), n)
    }

    /// Replaces the proxy table with the rules for these Services and EndpointSlices (a one-off
    /// full sync; the kubelet keeps a `Proxier` to update incrementally).
    pub async fn apply(
        &self,
        services: &[impl Borrow<Service>],
        slices: &[impl Borrow<EndpointSlice>],
    ) -> Result<usize> {
        let (doc, n) = self.ruleset(services, slices);
        run_nft(&table_name(&self.bridge), &doc).await?;
        debug!(service_ports = n, "proxy rules applied");
        Ok(n)
    }
}

/// Removes the proxy table of `bridge`; absent is fine.
pub async fn delete(bridge: &str) -> Result<()> {
    let table = table_name(bridge);
    run_nft(&table, &rules::removal(&table)).await
}

async fn run_nft(table: &str, doc: &serde_json::Value) -> Result<()> {
    helper::apply_ruleset_raw_async(&doc.to_string(), helper::DEFAULT_NFT, helper::DEFAULT_ARGS)
        .await
        .map(|_| ())
        .map_err(|e| {
            let detail = match &e {
                helper::NftablesError::NftFailed { stderr, .. } => {
                    format!("{e}: {}", stderr.trim())
                }
                _ => e.to_string(),
            };
            Error::Other(format!("nftables: table ip {table}: {detail}"))
        })
}
