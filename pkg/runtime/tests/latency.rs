//! Start and exec latency (measurement, not a test of timing): run with
//! `cargo test -p rkube-runtime --test latency -- --ignored --nocapture`.

mod common;

use std::time::{Duration, Instant};

use common::Fixture;
use rkube_runtime::ExecSpec;

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{what}: n={} p50={:.1}ms p90={:.1}ms min={:.1}ms max={:.1}ms",
        samples.len(),
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() * 9 / 10]),
        ms(samples[0]),
        ms(samples[samples.len() - 1]),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement"]
async fn start_and_exec_latency() {
    let mut fx = Fixture::new("latency");
    let sb = fx.sandbox("pod-lat", "pod-lat").await;
    let mut starts = Vec::new();
    for i in 0..20 {
        let id = format!("c-lat-{i}");
        let t = Instant::now();
        fx.rt
            .run_container(&fx.spec(&id, &sb, &["sleep", "1000"]))
            .await
            .unwrap();
        starts.push(t.elapsed());
    }
    report("create+start (busybox sleep)", starts);

    let mut execs = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let p = fx
            .rt
            .exec(
                "c-lat-0",
                ExecSpec {
                    args: vec!["true".into()],
                    env: vec![],
                    tty: false,
                    stdin: false,
                },
            )
            .await
            .unwrap();
        p.exit.await.unwrap();
        execs.push(t.elapsed());
    }
    report("exec true (until exit seen)", execs);

    let mut removes = Vec::new();
    for i in 0..20 {
        let id = format!("c-lat-{i}");
        fx.rt.kill(&id, 9).await.unwrap();
        fx.rt.wait(&id).await.unwrap();
        let t = Instant::now();
        fx.rt.remove_container(&id).await.unwrap();
        removes.push(t.elapsed());
    }
    report("remove (stopped)", removes);
}
