//! The one kernel setting the pod network needs: IPv4 forwarding, so pod traffic is routed
//! off the bridge (and masqueraded).

use std::fs;

use tracing::info;

use crate::{Error, Result};

const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";

pub(crate) fn enable_ip_forward() -> Result<()> {
    let current = fs::read_to_string(IP_FORWARD)
        .map_err(|e| Error::Other(format!("read {IP_FORWARD}: {e}")))?;
    if current.trim() == "1" {
        return Ok(());
    }
    fs::write(IP_FORWARD, "1").map_err(|e| Error::Other(format!("write {IP_FORWARD}: {e}")))?;
    info!("net.ipv4.ip_forward enabled");
    Ok(())
}
