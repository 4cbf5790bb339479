//! The server's background tasks (connections and upgraded streams), so shutdown ends them all
//! and finished ones do not pile up.

use std::{future::Future, sync::Mutex};

use tokio::task::JoinSet;

#[derive(Default)]
pub(crate) struct Tasks(Mutex<JoinSet<()>>);

impl Tasks {
    pub(crate) fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        let mut set = self.0.lock().unwrap_or_else(|e| e.into_inner());
        while set.try_join_next().is_some() {}
        set.spawn(fut);
    }

    /// Aborts every task still running.
    pub(crate) fn abort_all(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).abort_all();
    }
}
