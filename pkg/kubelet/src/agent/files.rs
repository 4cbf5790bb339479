//! A joined agent's credentials under `<data-dir>/agent/` (k3s' file names), reused on restart
//! while they still fit (same CA, node name and IP).

use std::{net::IpAddr, path::Path};

use rkube_pki::files::{ensure_dir, read_optional, write_atomic};
use serde::{Deserialize, Serialize};

use super::{ClusterSettings, NodeIdentity};

pub const CA_FILE: &str = "server-ca.crt";
pub const CLIENT_CERT_FILE: &str = "client-kubelet.crt";
pub const CLIENT_KEY_FILE: &str = "client-kubelet.key";
pub const SERVING_CERT_FILE: &str = "serving-kubelet.crt";
pub const SERVING_KEY_FILE: &str = "serving-kubelet.key";
pub const KUBECONFIG_FILE: &str = "kubelet.kubeconfig";
/// What the credentials were issued for, and the cluster settings received with them.
pub const JOIN_FILE: &str = "join.json";

/// The contents of [`JOIN_FILE`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinRecord {
    /// sha256 of the CA bundle the certificates chain to.
    pub ca_hash: String,
    pub node_name: String,
    #[serde(rename = "nodeIP")]
    pub node_ip: IpAddr,
    #[serde(flatten)]
    pub cluster: ClusterSettings,
}

/// Writes the credentials (keys 0600, the directory 0700), the kubeconfig and the record last,
/// so a record on disk means a complete set.
pub fn save(dir: &Path, id: &NodeIdentity, record: &JoinRecord) -> rkube_pki::Result<()> {
    ensure_dir(dir, 0o700)?;
    write_atomic(&dir.join(CA_FILE), id.ca_pem.as_bytes(), 0o644)?;
    write_atomic(
        &dir.join(CLIENT_KEY_FILE),
        id.client_key_pem.as_bytes(),
        0o600,
    )?;
    write_atomic(
        &dir.join(CLIENT_CERT_FILE),
        id.client_cert_pem.as_bytes(),
        0o644,
    )?;
    write_atomic(
        &dir.join(SERVING_KEY_FILE),
        id.serving_key_pem.as_bytes(),
        0o600,
    )?;
    write_atomic(
        &dir.join(SERVING_CERT_FILE),
        id.serving_cert_pem.as_bytes(),
        0o644,
    )?;
    write_atomic(
        &dir.join(KUBECONFIG_FILE),
        id.kubeconfig().as_bytes(),
        0o600,
    )?;
    let json = serde_json::to_vec_pretty(record).expect("a plain struct serializes");
    write_atomic(&dir.join(JOIN_FILE), &json, 0o600)
}

/// The stored credentials, if a complete set exists; `server_url` is the current one.
pub fn load(dir: &Path, server_url: &str) -> rkube_pki::Result<Option<(NodeIdentity, JoinRecord)>> {
    let Some(record) = read_optional(&dir.join(JOIN_FILE))? else {
        return Ok(None);
    };
    let Ok(record) = serde_json::from_str::<JoinRecord>(&record) else {
        return Ok(None);
    };
    let read = |f: &str| read_optional(&dir.join(f));
    let (Some(ca), Some(cc), Some(ck), Some(sc), Some(sk)) = (
        read(CA_FILE)?,
        read(CLIENT_CERT_FILE)?,
        read(CLIENT_KEY_FILE)?,
        read(SERVING_CERT_FILE)?,
        read(SERVING_KEY_FILE)?,
    ) else {
        return Ok(None);
    };
    Ok(Some((
        NodeIdentity {
            server_url: server_url.to_string(),
            ca_pem: ca,
            client_cert_pem: cc,
            client_key_pem: ck,
            serving_cert_pem: sc,
            serving_key_pem: sk,
        },
        record,
    )))
}
