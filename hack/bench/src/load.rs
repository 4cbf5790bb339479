//! Load generation shared by the benchmarks.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};

/// Runs `total` operations from `workers` concurrent tasks: (operations per second, latencies).
pub async fn concurrent<F, Fut>(workers: usize, total: usize, op: F) -> Result<(f64, Vec<Duration>)>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let op = Arc::clone(&op);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for i in (w..total).step_by(workers) {
                let t = Instant::now();
                op(i).await.with_context(|| format!("operation {i}"))?;
                lat.push(t.elapsed());
            }
            anyhow::Ok(lat)
        }));
    }
    let mut lat = Vec::with_capacity(total);
    for t in tasks {
        lat.extend(t.await??);
    }
    let rate = total as f64 / start.elapsed().as_secs_f64();
    lat.sort();
    Ok((rate, lat))
}
