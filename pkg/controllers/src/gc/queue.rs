//! A work queue with client-go's semantics: an item queued twice is processed once, an item
//! re-added while being processed is processed again afterwards, and failures back off
//! exponentially per item.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::Notify;

const BASE_DELAY: Duration = Duration::from_millis(5);
const MAX_DELAY: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Inner {
    queue: VecDeque<String>,
    queued: HashSet<String>,
    processing: HashSet<String>,
    dirty: HashSet<String>,
    failures: HashMap<String, u32>,
}

#[derive(Default)]
pub struct WorkQueue {
    inner: Mutex<Inner>,
    ready: Notify,
}

impl WorkQueue {
    pub fn add(&self, item: &str) {
        let mut q = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if q.processing.contains(item) {
            q.dirty.insert(item.to_string());
            return;
        }
        if q.queued.insert(item.to_string()) {
            q.queue.push_back(item.to_string());
            drop(q);
            self.ready.notify_one();
        }
    }

    /// Waits for the next item; call `done` once processed.
    pub async fn get(&self) -> String {
        loop {
            let notified = self.ready.notified();
            {
                let mut q = self.inner.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(item) = q.queue.pop_front() {
                    q.queued.remove(&item);
                    q.processing.insert(item.clone());
                    let more = !q.queue.is_empty();
                    drop(q);
                    if more {
                        self.ready.notify_one();
                    }
                    return item;
                }
            }
            notified.await;
        }
    }

    pub fn done(&self, item: &str) {
        let again = {
            let mut q = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            q.processing.remove(item);
            q.dirty.remove(item)
        };
        if again {
            self.add(item);
        }
    }

    /// Forgets the item's failures.
    pub fn forget(&self, item: &str) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .failures
            .remove(item);
    }

    /// Adds the item again after its backoff (5ms doubling per failure, at most 30s).
    pub fn add_rate_limited(self: &Arc<Self>, item: &str) {
        let delay = {
            let mut q = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            let n = q.failures.entry(item.to_string()).or_insert(0);
            *n = n.saturating_add(1);
            backoff(*n)
        };
        let this = Arc::clone(self);
        let item = item.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            this.add(&item);
        });
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().queue.len()
    }
}

fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(20);
    BASE_DELAY.saturating_mul(1 << exp).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dedups_and_requeues_dirty_items() {
        let q = WorkQueue::default();
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        let a = q.get().await;
        assert_eq!(a, "a");
        q.add("a"); // while processing: processed again after done
        assert_eq!(q.len(), 1);
        q.done("a");
        assert_eq!(q.get().await, "b");
        assert_eq!(q.get().await, "a");
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(1), Duration::from_millis(5));
        assert_eq!(backoff(2), Duration::from_millis(10));
        assert_eq!(backoff(100), MAX_DELAY);
    }
}
