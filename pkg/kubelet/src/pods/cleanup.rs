//! Pods deleted from the API while the kubelet was down: their containers, sandboxes,
//! network attachments, volumes and logs are removed on start.

use std::collections::HashSet;

use tracing::{info, warn};

use super::Ctx;

/// `listed`: UIDs of the pods the API still has on this node.
pub async fn orphans(ctx: &Ctx, listed: &HashSet<String>) {
    let mut uids: HashSet<String> = HashSet::new();
    match ctx.runtime.list().await {
        Ok(list) => {
            for c in list {
                if listed.contains(&c.sandbox_id) {
                    continue;
                }
                info!(container = %c.id, pod_uid = %c.sandbox_id, "removing an orphaned container");
                if c.running {
                    let _ = ctx.runtime.kill(&c.id, 9).await;
                    let _ = tokio::time::timeout(
                        std::time::Duration::from_secs(10),
                        ctx.runtime.wait(&c.id),
                    )
                    .await;
                }
                if let Err(e) = ctx.runtime.remove_container(&c.id).await {
                    warn!(container = %c.id, error = %e, "removing an orphaned container failed");
                }
                uids.insert(c.sandbox_id);
            }
        }
        Err(e) => warn!(error = %e, "listing containers for the orphan cleanup failed"),
    }
    // Pod directories name their pod: <ns>_<name>_<uid>.
    let mut dirs = Vec::new();
    if let Ok(entries) = std::fs::read_dir(ctx.pods_dir()) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(uid) = name.rsplit('_').next() {
                if !listed.contains(uid) {
                    uids.insert(uid.to_string());
                    dirs.push(e.path());
                }
            }
        }
    }
    for uid in &uids {
        info!(pod_uid = %uid, "removing an orphaned pod sandbox");
        ctx.release_network(uid).await;
        if let Err(e) = ctx.runtime.remove_sandbox(uid).await {
            warn!(pod_uid = %uid, error = %e, "removing an orphaned sandbox failed");
        }
    }
    for d in dirs {
        crate::volumes::teardown(&d);
        let _ = std::fs::remove_dir_all(&d);
    }
}
