//! Store benchmark (not a test): the embedded backend, the etcd backend, and raw etcd through
//! etcd-client with no layer of ours, in the same run, printed as a table with ratios to raw etcd.
//!
//!   cargo run --release -p rkube-bench --bin store-bench -- --etcd http://127.0.0.1:2379 --dir /var/tmp/x

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use clap::Parser;
use etcd_client::{Client, GetOptions, WatchOptions};
use futures_util::StreamExt;
use rkube_store::{etcd::EtcdConfig, RangeRequest, Store, StoreExt, WatchRequest};

#[derive(Parser)]
struct Args {
    /// A running etcd's client URL (hack/bench/store.sh starts one).
    #[arg(long)]
    etcd: String,
    /// Folder for the embedded store (on a real disk, so fsync is real).
    #[arg(long)]
    dir: std::path::PathBuf,
    /// Scale every count by this factor (0.1 for a quick look).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
}

#[derive(Clone)]
enum Target {
    Store(Arc<dyn Store>),
    Raw(Box<Client>),
}

impl Target {
    async fn put(&self, key: String, value: Vec<u8>) -> Result<()> {
        match self {
            Target::Store(s) => drop(s.put(key.as_bytes(), &value).await?),
            Target::Raw(c) => drop(c.kv_client().put(key, value, None).await?),
        }
        Ok(())
    }

    async fn get(&self, key: String) -> Result<usize> {
        Ok(match self {
            Target::Store(s) => s.get(key.as_bytes()).await?.map_or(0, |kv| kv.value.len()),
            Target::Raw(c) => c
                .kv_client()
                .get(key, None)
                .await?
                .kvs()
                .first()
                .map_or(0, |kv| kv.value().len()),
        })
    }

    async fn range(&self, prefix: &str) -> Result<usize> {
        Ok(match self {
            Target::Store(s) => s.range(RangeRequest::prefix(prefix)).await?.kvs.len(),
            Target::Raw(c) => c
                .kv_client()
                .max_decoding_message_size(1 << 30)
                .get(prefix, Some(GetOptions::new().with_prefix()))
                .await?
                .kvs()
                .len(),
        })
    }

    /// Resolves once `n` events under `prefix` have arrived.
    async fn watch(&self, prefix: String, n: usize) -> Result<tokio::sync::oneshot::Receiver<()>> {
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        match self {
            Target::Store(s) => {
                let mut w = s.watch(WatchRequest::prefix(prefix)).await?;
                tokio::spawn(async move {
                    let mut seen = 0;
                    while seen < n {
                        match w.next().await {
                            Some(Ok(_)) => seen += 1,
                            _ => return,
                        }
                    }
                    let _ = done_tx.send(());
                });
            }
            Target::Raw(c) => {
                let mut stream = c
                    .watch_client()
                    .watch(
                        prefix,
                        Some(WatchOptions::new().with_prefix().with_prev_key()),
                    )
                    .await?;
                tokio::spawn(async move {
                    let mut seen = 0;
                    while seen < n {
                        match stream.message().await {
                            Ok(Some(resp)) => seen += resp.events().len(),
                            _ => return,
                        }
                    }
                    let _ = done_tx.send(());
                });
            }
        }
        Ok(done_rx)
    }
}

/// Runs `op(i)` for i in 0..total from `workers` concurrent tasks; operations per second.
async fn concurrent<F, Fut>(workers: usize, total: usize, op: F) -> Result<f64>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    Ok(rkube_bench::load::concurrent(workers, total, op).await?.0)
}

struct Row {
    name: &'static str,
    unit: &'static str,
    /// Higher is better unless `lower_better`.
    lower_better: bool,
    values: Vec<f64>,
}

async fn bench(
    t: &Target,
    tag: &str,
    scale: f64,
) -> Result<Vec<(&'static str, &'static str, bool, f64)>> {
    let n = |base: usize| ((base as f64 * scale) as usize).max(10);
    let value = vec![b'x'; 1024];
    let mut out = Vec::new();

    let v = value.clone();
    let tt = t.clone();
    let p = format!("/bench/{tag}/put1/");
    let r = concurrent(1, n(2_000), move |i| {
        let (tt, v, k) = (tt.clone(), v.clone(), format!("{p}{i}"));
        async move { tt.put(k, v).await }
    })
    .await?;
    out.push(("put, 1 writer", "ops/s", false, r));

    let v = value.clone();
    let tt = t.clone();
    let p = format!("/bench/{tag}/put64/");
    let r = concurrent(64, n(20_000), move |i| {
        let (tt, v, k) = (tt.clone(), v.clone(), format!("{p}{}", i % 5_000));
        async move { tt.put(k, v).await }
    })
    .await?;
    out.push(("put, 64 writers", "ops/s", false, r));

    let tt = t.clone();
    let p = format!("/bench/{tag}/put64/");
    let r = concurrent(16, n(50_000), move |i| {
        let (tt, k) = (tt.clone(), format!("{p}{}", i % 5_000));
        async move { tt.get(k).await.map(drop) }
    })
    .await?;
    out.push(("get, 16 readers", "ops/s", false, r));

    // 10k keys of 1 KiB under one prefix, read whole.
    let v = value.clone();
    let tt = t.clone();
    let p = format!("/bench/{tag}/range/");
    concurrent(64, 10_000, move |i| {
        let (tt, v, k) = (tt.clone(), v.clone(), format!("{p}{i:05}"));
        async move { tt.put(k, v).await }
    })
    .await?;
    let prefix = format!("/bench/{tag}/range/");
    let mut times = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        let got = t.range(&prefix).await?;
        times.push(start.elapsed());
        anyhow::ensure!(got == 10_000, "range returned {got}");
    }
    times.sort();
    out.push((
        "range 10k keys (median)",
        "ms",
        true,
        times[3].as_secs_f64() * 1e3,
    ));

    for watchers in [1usize, 100] {
        let events = n(if watchers == 1 { 10_000 } else { 2_000 });
        let prefix = format!("/bench/{tag}/watch{watchers}/");
        let mut done = Vec::new();
        for _ in 0..watchers {
            done.push(t.watch(prefix.clone(), events).await?);
        }
        let start = Instant::now();
        let v = value.clone();
        let tt = t.clone();
        let p = prefix.clone();
        concurrent(16, events, move |i| {
            let (tt, v, k) = (tt.clone(), v.clone(), format!("{p}{}", i % 1_000));
            async move { tt.put(k, v).await }
        })
        .await?;
        for d in done {
            tokio::time::timeout(Duration::from_secs(120), d)
                .await
                .context("watch delivery timed out")??;
        }
        let rate = (events * watchers) as f64 / start.elapsed().as_secs_f64();
        out.push((
            if watchers == 1 {
                "watch, 1 watcher"
            } else {
                "watch, 100 watchers"
            },
            "events/s",
            false,
            rate,
        ));
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let embedded: Arc<dyn Store> = Arc::new(rkube_store::embedded::EmbeddedStore::open(&args.dir)?);
    let cfg = EtcdConfig {
        endpoints: vec![args.etcd.clone()],
        ..EtcdConfig::default()
    };
    let etcd: Arc<dyn Store> = Arc::new(rkube_store::etcd::EtcdStore::connect(&cfg).await?);
    let raw = Client::connect([args.etcd.as_str()], None).await?;
    let targets = [
        ("raw etcd", Target::Raw(Box::new(raw))),
        ("etcd backend", Target::Store(etcd)),
        ("embedded", Target::Store(embedded)),
    ];
    let mut rows: Vec<Row> = Vec::new();
    for (i, (name, t)) in targets.iter().enumerate() {
        eprintln!("benchmarking {name}...");
        for (j, (row, unit, lower, v)) in bench(t, &format!("t{i}"), args.scale)
            .await?
            .into_iter()
            .enumerate()
        {
            if i == 0 {
                rows.push(Row {
                    name: row,
                    unit,
                    lower_better: lower,
                    values: Vec::new(),
                });
            }
            rows[j].values.push(v);
        }
    }
    println!(
        "| {:<24} | {:>8} | {:>12} | {:>12} | {:>7} | {:>12} | {:>7} |",
        "operation", "unit", "raw etcd", "etcd backend", "ratio", "embedded", "ratio"
    );
    println!(
        "|{:-<26}|{:-<10}|{:-<14}|{:-<14}|{:-<9}|{:-<14}|{:-<9}|",
        "", "", "", "", "", "", ""
    );
    for r in rows {
        // Ratios read "times as good as raw etcd" either way round.
        let ratio = |v: f64| {
            if r.lower_better {
                r.values[0] / v
            } else {
                v / r.values[0]
            }
        };
        println!(
            "| {:<24} | {:>8} | {:>12.1} | {:>12.1} | {:>7.2} | {:>12.1} | {:>7.2} |",
            r.name,
            r.unit,
            r.values[0],
            r.values[1],
            ratio(r.values[1]),
            r.values[2],
            ratio(r.values[2])
        );
    }
    Ok(())
}
