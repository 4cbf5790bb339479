//! streamingConnectionIdleTimeout: an exec or port-forward stream with no traffic in either
//! direction for that long is closed, as upstream's kubelet does.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use tokio::time::Instant;

pub(crate) struct Activity {
    start: Instant,
    /// Milliseconds after `start` of the last traffic.
    last_ms: AtomicU64,
}

impl Activity {
    pub(crate) fn new() -> Self {
        Self {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    pub(crate) fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// When the stream times out unless something happens first.
    pub(crate) fn deadline(&self, timeout: Duration) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)) + timeout
    }

    /// Resolves once nothing has happened for `timeout`.
    pub(crate) async fn idle(&self, timeout: Duration) {
        loop {
            let deadline = self.deadline(timeout);
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn traffic_moves_the_deadline() {
        let a = Activity::new();
        let first = a.deadline(Duration::from_secs(60));
        assert_eq!(first, a.start + Duration::from_secs(60));
        // Without traffic, a zero timeout has already expired.
        a.idle(Duration::ZERO).await;
        let later = loop {
            a.touch();
            let d = a.deadline(Duration::from_secs(60));
            if d > first {
                break d;
            }
            tokio::task::yield_now().await;
        };
        assert!(later > first);
    }
}
