//! kube-rs's streaming subresources (`ws` feature) against a real `rkube server` and its kubelet
//! running busybox containers: `Api::exec` with stdin, stdout, stderr and the exit Status
//! (v5.channel.k8s.io, stdin closed with the close signal), `Api::attach` to a container's own
//! stdio, stdinOnce (the container's stdin ends with the first attach), an exec'd process and the
//! processes it started killed when the client goes away, and `Api::portforward` (the
//! channel-per-port WebSocket protocol) with parallel connections to a busybox httpd.

mod common;

use std::time::Duration;

use common::{registry::Registry, Cluster};
use futures_util::future::join_all;
use k8s_openapi::{api::core::v1::Pod, apimachinery::pkg::apis::meta::v1::Status};
use kube::{
    api::{Api, AttachParams, AttachedProcess, LogParams},
    config::{KubeConfigOptions, Kubeconfig},
    Client, Config,
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWriteExt},
    time::{timeout, Instant},
};

const K: &str = "1.33";

/// A 4 MiB file for the port-forward transfers, compared with `cat` of it over exec.
const POD: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: rs}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: busybox:1.36
    command: ["sh", "-c", "mkdir -p /www && echo served-by-rs > /www/index.html && head -c 4194304 /dev/urandom > /www/big && exec httpd -f -p 8080 -h /www"]
    readinessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
  - name: echo
    image: busybox:1.36
    stdin: true
    command: ["sh", "-c", "while read l; do echo got-$l; echo err-$l >&2; done"]
  - name: once
    image: busybox:1.36
    stdin: true
    stdinOnce: true
    command: ["sh", "-c", "while read l; do echo once-$l; done; echo stdin-closed; exec sleep 3600"]
"#;

const STEP: Duration = Duration::from_secs(60);

async fn client(c: &Cluster) -> Client {
    let kc = Kubeconfig::read_from(&c.kubeconfig).expect("reading the kubeconfig");
    let cfg = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("a config from the kubeconfig");
    Client::try_from(cfg).expect("a client")
}

async fn read_all(r: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(mut r) = r {
        timeout(STEP, r.read_to_end(&mut out))
            .await
            .expect("reading a stream timed out")
            .expect("reading a stream");
    }
    out
}

/// Reads `r` until `want` has been seen (panics after STEP).
async fn read_until(r: &mut (impl AsyncRead + Unpin), want: &str) -> String {
    let mut got = Vec::new();
    let deadline = Instant::now() + STEP;
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(want) {
        let n = tokio::time::timeout_at(deadline, r.read(&mut buf))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no {want:?} within {STEP:?}; got {:?}",
                    String::from_utf8_lossy(&got)
                )
            })
            .expect("reading a stream");
        assert!(
            n > 0,
            "EOF before {want:?}; got {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Runs `command` in container `web` and returns (stdout, stderr, status).
async fn exec(pods: &Api<Pod>, command: &[&str]) -> (Vec<u8>, Vec<u8>, Status) {
    let mut p = pods
        .exec(
            "rs",
            command.to_vec(),
            &AttachParams::default().container("web"),
        )
        .await
        .expect("exec");
    let status = p.take_status().unwrap();
    let (out, err) = tokio::join!(read_all(p.stdout()), read_all(p.stderr()));
    let status = timeout(STEP, status)
        .await
        .expect("the exit status timed out")
        .expect("an exit status");
    (out, err, status)
}

async fn processes(pods: &Api<Pod>) -> String {
    String::from_utf8(exec(pods, &["ps", "-o", "pid,args"]).await.0).unwrap()
}

/// Polls `f` until it returns Some (panics after STEP).
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + STEP;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kube_rs_exec_attach_and_portforward() {
    let registry = Registry::start();
    let c = Cluster::start_with_agent(&registry, &[]);
    c.apply_stdin(K, &["apply", "-f", "-"], POD);
    let kube = client(&c).await;
    let pods: Api<Pod> = Api::default_namespaced(kube);
    eventually("pod rs to be Ready", || async {
        let pod = pods.get("rs").await.ok()?;
        let ready = pod
            .status?
            .conditions?
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        ready.then_some(())
    })
    .await;

    exec_streams(&pods).await;
    attach_and_stdin_once(&pods).await;
    disconnect_kills_the_process_group(&pods).await;
    portforward(&pods).await;
}

/// stdin in, stdout and stderr out, and the exit Status (success and a non-zero exit code).
async fn exec_streams(pods: &Api<Pod>) {
    let mut p = pods
        .exec(
            "rs",
            vec!["sh", "-c", "cat; echo to-err >&2"],
            &AttachParams::default().container("web").stdin(true),
        )
        .await
        .expect("exec with stdin");
    let status = p.take_status().unwrap();
    let mut stdin = p.stdin().unwrap();
    stdin.write_all(b"through-stdin\n").await.unwrap();
    // Shutting the writer down ends stdin: v5's close signal, so `cat` sees EOF.
    stdin.shutdown().await.unwrap();
    let (out, err) = tokio::join!(read_all(p.stdout()), read_all(p.stderr()));
    assert_eq!(String::from_utf8_lossy(&out), "through-stdin\n");
    assert_eq!(String::from_utf8_lossy(&err), "to-err\n");
    let status = timeout(STEP, status).await.unwrap().expect("a status");
    assert_eq!(status.status.as_deref(), Some("Success"), "{status:?}");
    timeout(STEP, p.join()).await.unwrap().expect("join");

    let (_, _, status) = exec(pods, &["sh", "-c", "exit 3"]).await;
    assert_eq!(status.status.as_deref(), Some("Failure"), "{status:?}");
    assert_eq!(
        status.reason.as_deref(),
        Some("NonZeroExitCode"),
        "{status:?}"
    );
    let cause = status
        .details
        .as_ref()
        .and_then(|d| d.causes.as_ref())
        .and_then(|c| c.first())
        .expect("a cause");
    assert_eq!(
        (cause.reason.as_deref(), cause.message.as_deref()),
        (Some("ExitCode"), Some("3")),
        "{status:?}"
    );

    // A bigger output arrives whole (many frames).
    let (out, _, status) = exec(pods, &["head", "-c", "3000000", "/dev/zero"]).await;
    assert_eq!(out.len(), 3_000_000);
    assert_eq!(status.status.as_deref(), Some("Success"), "{status:?}");
}

/// attach to a stdin container, twice (its stdin stays open); a stdinOnce container's stdin ends
/// when the first attach closes it.
async fn attach_and_stdin_once(pods: &Api<Pod>) {
    for round in 0..2 {
        let mut p = pods
            .attach("rs", &AttachParams::default().container("echo").stdin(true))
            .await
            .expect("attach");
        let (mut out, mut err) = (p.stdout().unwrap(), p.stderr().unwrap());
        let mut stdin = p.stdin().unwrap();
        stdin
            .write_all(format!("hello-{round}\n").as_bytes())
            .await
            .unwrap();
        read_until(&mut out, &format!("got-hello-{round}")).await;
        read_until(&mut err, &format!("err-hello-{round}")).await;
        stdin.shutdown().await.unwrap();
        p.abort();
    }

    let log = |pods: Api<Pod>| async move {
        pods.logs(
            "rs",
            &LogParams {
                container: Some("once".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_or_default()
    };
    let mut p = pods
        .attach("rs", &AttachParams::default().container("once").stdin(true))
        .await
        .expect("attach to the stdinOnce container");
    let mut out = p.stdout().unwrap();
    let mut stdin = p.stdin().unwrap();
    stdin.write_all(b"first\n").await.unwrap();
    read_until(&mut out, "once-first").await;
    assert!(!log(pods.clone()).await.contains("stdin-closed"));
    // Closing stdin ends the container's stdin: it reads EOF.
    stdin.shutdown().await.unwrap();
    read_until(&mut out, "stdin-closed").await;
    p.abort();
    eventually("the stdinOnce container to see EOF", || {
        let pods = pods.clone();
        async move { log(pods).await.contains("stdin-closed").then_some(()) }
    })
    .await;
    // Later attaches get no stdin, and the container keeps running.
    let mut p = pods
        .attach("rs", &AttachParams::default().container("once").stdin(true))
        .await
        .expect("a second attach to the stdinOnce container");
    p.stdin().unwrap().write_all(b"second\n").await.ok();
    p.abort();
    let pod = pods.get("rs").await.unwrap();
    let once = pod
        .status
        .and_then(|s| s.container_statuses)
        .unwrap_or_default()
        .into_iter()
        .find(|s| s.name == "once")
        .expect("the once container's status");
    assert!(
        once.state.and_then(|s| s.running).is_some() && once.restart_count == 0,
        "the stdinOnce container was restarted"
    );
    assert!(!log(pods.clone()).await.contains("once-second"));
}

/// An exec whose client goes away is killed with everything it started.
async fn disconnect_kills_the_process_group(pods: &Api<Pod>) {
    let p: AttachedProcess = pods
        .exec(
            "rs",
            vec!["sh", "-c", "sleep 1000 & sleep 1001"],
            &AttachParams::default().container("web"),
        )
        .await
        .expect("exec");
    eventually("both sleeps to run", || async {
        let ps = processes(pods).await;
        (ps.contains("sleep 1000") && ps.contains("sleep 1001")).then_some(())
    })
    .await;
    // The client vanishes (its task and WebSocket dropped), without closing anything.
    drop(p);
    eventually("both sleeps to be killed", || async {
        let ps = processes(pods).await;
        (!ps.contains("sleep 100")).then_some(())
    })
    .await;
}

/// Parallel port-forwards to the httpd, each a WebSocket of its own; the bytes are the file's.
async fn portforward(pods: &Api<Pod>) {
    let (want, _, _) = exec(pods, &["cat", "/www/big"]).await;
    assert_eq!(want.len(), 4 << 20);
    let get = |path: &'static str| {
        let pods = pods.clone();
        async move {
            let mut pf = pods.portforward("rs", &[8080]).await.expect("portforward");
            let mut s = pf.take_stream(8080).unwrap();
            let error = pf.take_error(8080).unwrap();
            s.write_all(format!("GET {path} HTTP/1.0\r\nHost: rs\r\n\r\n").as_bytes())
                .await
                .unwrap();
            let mut resp = Vec::new();
            timeout(STEP, s.read_to_end(&mut resp))
                .await
                .expect("the port-forwarded response timed out")
                .unwrap();
            drop(s);
            let err = timeout(STEP, error).await.expect("the error channel");
            assert!(err.is_none(), "port-forward error: {err:?}");
            resp
        }
    };
    let small = get("/index.html").await;
    let text = String::from_utf8_lossy(&small);
    assert!(
        text.contains("200 OK") && text.contains("served-by-rs"),
        "{text}"
    );

    let bodies = join_all((0..8).map(|_| get("/big"))).await;
    for resp in bodies {
        let split = resp
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("an HTTP response");
        assert!(resp.starts_with(b"HTTP/1.0 200 OK") || resp.starts_with(b"HTTP/1.1 200 OK"));
        let body = &resp[split + 4..];
        let first_diff = body.iter().zip(&want).position(|(a, b)| a != b);
        assert!(
            body == &want[..],
            "the forwarded file differs: {} bytes, {} expected, first difference at {first_diff:?}",
            body.len(),
            want.len()
        );
    }
}
