use std::{sync::Arc, time::Duration};

use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::{Error, Store};

/// Keeps `interval` of history, as kube-apiserver does: every `interval` it compacts to the
/// revision it saw one interval earlier, so history between one and two intervals old survives.
pub struct Compactor {
    handle: JoinHandle<()>,
}

impl Compactor {
    pub fn start(store: Arc<dyn Store>, interval: Duration) -> Self {
        let handle = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut previous: Option<i64> = None;
            loop {
                ticker.tick().await;
                let current = match store.revisions().await {
                    Ok(r) => r.current,
                    Err(Error::Closed) => return,
                    Err(e) => {
                        warn!(error = %e, "compactor: reading the revision failed");
                        continue;
                    }
                };
                if let Some(rev) = previous.filter(|&r| r > 0) {
                    match store.compact(rev).await {
                        Ok(()) => debug!(revision = rev, "compacted"),
                        // Another server (sharing etcd) compacted further already.
                        Err(Error::Compacted { .. }) => {}
                        Err(Error::Closed) => return,
                        Err(e) => warn!(error = %e, revision = rev, "compaction failed"),
                    }
                }
                previous = Some(current);
            }
        });
        Self { handle }
    }
}

impl Drop for Compactor {
    fn drop(&mut self) {
        self.handle.abort();
    }
}
