//! Real containers (as root): sandbox namespaces, logs, exit codes, OOM, exec, dial, cleanup.

mod common;

use std::time::Duration;

use common::{cgroup_dirs, eventually, mounts_under, Fixture};
use rkube_runtime::ExecSpec;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_in_the_sandbox_logs_and_cleans_up() {
    let mut fx = Fixture::new("basic");
    let sb = fx.sandbox("pod-basic", "pod-a").await;
    let spec = fx.spec(
        "c-basic",
        &sb,
        &["sh", "-c", "echo hi; hostname; echo $$; echo err >&2"],
    );
    let info = fx.rt.run_container(&spec).await.unwrap();
    assert!(info.pid > 0);
    let exit = fx.rt.wait("c-basic").await.unwrap();
    assert_eq!(
        (exit.exit_code, exit.signal, exit.oom_killed),
        (0, None, false)
    );

    let log = fx.log("c-basic");
    assert!(log.contains(" stdout F hi\n"), "{log}");
    assert!(log.contains(" stdout F pod-a\n"), "{log}");
    assert!(log.contains(" stdout F 1\n"), "PID 1 inside: {log}");
    assert!(log.contains(" stderr F err\n"), "{log}");
    // stdout and stderr are separate pipes: their relative order is not kept (as in containerd).
    let stdout_only = rkube_runtime::LogOptions {
        stdout: true,
        ..Default::default()
    };
    assert_eq!(fx.logs_with("c-basic", stdout_only).await, "hi\npod-a\n1\n");
    let mut all: Vec<String> = fx.logs("c-basic").await.lines().map(String::from).collect();
    all.sort();
    assert_eq!(all, ["1", "err", "hi", "pod-a"]);

    let list = fx.rt.list().await.unwrap();
    assert_eq!(list.len(), 1);
    assert!(!list[0].running);
    assert_eq!(list[0].sandbox_id, "pod-basic");

    fx.rt.remove_container("c-basic").await.unwrap();
    fx.rt.remove_container("c-basic").await.unwrap(); // idempotent
    let bundle = fx.root().join("containers/c-basic");
    assert!(!bundle.exists());
    assert!(!fx.root().join("state/c-basic").exists());
    assert!(mounts_under(&bundle).is_empty());
    assert!(cgroup_dirs(&format!("{}/c-basic", fx.cgroup_parent)).is_empty());

    let ns_dir = fx.root().join("sandboxes/pod-basic");
    assert_eq!(mounts_under(&ns_dir).len(), 3);
    fx.rt.remove_sandbox("pod-basic").await.unwrap();
    fx.rt.remove_sandbox("pod-basic").await.unwrap();
    assert!(mounts_under(&ns_dir).is_empty());
    assert!(!ns_dir.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_share_the_network_and_dial_reaches_them() {
    let mut fx = Fixture::new("net");
    let sb = fx.sandbox("pod-net", "pod-net").await;
    let server = "mkdir -p /w && echo pong > /w/index.html && exec httpd -f -p 8080 -h /w";
    fx.rt
        .run_container(&fx.spec("c-server", &sb, &["sh", "-c", server]))
        .await
        .unwrap();
    let client = "for i in $(seq 100); do wget -q -O - http://127.0.0.1:8080/ && exit 0; sleep 0.1; done; exit 1";
    fx.rt
        .run_container(&fx.spec("c-client", &sb, &["sh", "-c", client]))
        .await
        .unwrap();
    let exit = fx.rt.wait("c-client").await.unwrap();
    assert_eq!(exit.exit_code, 0, "{}", fx.log("c-client"));
    assert!(
        fx.log("c-client").contains(" stdout F pong\n"),
        "{}",
        fx.log("c-client")
    );

    // Port-forward: dial into the sandbox's netns (nothing listens on the host's 8080).
    let mut conn = fx.rt.dial(&sb, 8080).await.unwrap();
    conn.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    let mut resp = String::new();
    conn.read_to_string(&mut resp).await.unwrap();
    assert!(
        resp.starts_with("HTTP/1.") && resp.ends_with("pong\n"),
        "{resp}"
    );

    // PID 1 ignores SIGTERM without a handler; SIGKILL always works.
    fx.rt.kill("c-server", 9).await.unwrap();
    let exit = fx.rt.wait("c-server").await.unwrap();
    assert_eq!((exit.exit_code, exit.signal), (137, Some(9)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_and_oom() {
    let mut fx = Fixture::new("exit");
    let sb = fx.sandbox("pod-exit", "pod-exit").await;
    fx.rt
        .run_container(&fx.spec("c-exit3", &sb, &["sh", "-c", "exit 3"]))
        .await
        .unwrap();
    let exit = fx.rt.wait("c-exit3").await.unwrap();
    assert_eq!(
        (exit.exit_code, exit.signal, exit.oom_killed),
        (3, None, false)
    );
    // wait after the exit still answers (from memory, then from disk).
    assert_eq!(fx.rt.wait("c-exit3").await.unwrap().exit_code, 3);

    let mut hog = fx.spec(
        "c-hog",
        &sb,
        &["sh", "-c", "x=aaaaaaaa; while true; do x=$x$x; done"],
    );
    hog.resources.memory_limit = Some(16 << 20);
    fx.rt.run_container(&hog).await.unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(60), fx.rt.wait("c-hog"))
        .await
        .unwrap()
        .unwrap();
    assert!(exit.oom_killed, "{exit:?}");
    assert_eq!((exit.exit_code, exit.signal), (137, Some(9)));

    // A command that does not exist cannot run and leaves nothing behind.
    let err = fx
        .rt
        .run_container(&fx.spec("c-missing", &sb, &["no-such-command"]))
        .await
        .unwrap_err();
    assert!(matches!(err, rkube_runtime::Error::CannotRun(_)), "{err}");
    assert!(!fx.root().join("containers/c-missing").exists());
    assert!(cgroup_dirs(&format!("{}/c-missing", fx.cgroup_parent)).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_with_output_stdin_and_exit_code() {
    let mut fx = Fixture::new("exec");
    let sb = fx.sandbox("pod-exec", "pod-exec").await;
    fx.rt
        .run_container(&fx.spec("c-exec", &sb, &["sleep", "1000"]))
        .await
        .unwrap();

    let exec = |args: &[&str], stdin: bool| ExecSpec {
        args: args.iter().map(|s| s.to_string()).collect(),
        env: vec!["GREETING=hello".into()],
        tty: false,
        stdin,
    };
    let mut p = fx
        .rt
        .exec(
            "c-exec",
            exec(
                &[
                    "sh",
                    "-c",
                    "echo $GREETING; hostname; echo oops >&2; exit 7",
                ],
                false,
            ),
        )
        .await
        .unwrap();
    let mut out = String::new();
    p.stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .await
        .unwrap();
    let mut err = String::new();
    p.stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .await
        .unwrap();
    assert_eq!(out, "hello\npod-exec\n");
    assert_eq!(err, "oops\n");
    assert_eq!(p.exit.await.unwrap().exit_code, 7);

    let mut p = fx.rt.exec("c-exec", exec(&["cat"], true)).await.unwrap();
    let mut stdin = p.stdin.take().unwrap();
    stdin.write_all(b"abc\n").await.unwrap();
    drop(stdin);
    let mut out = String::new();
    p.stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .await
        .unwrap();
    assert_eq!(out, "abc\n");
    assert_eq!(p.exit.await.unwrap().exit_code, 0);

    // TTY: one stream, and resize reaches the terminal.
    let mut spec = exec(&["sh", "-c", "sleep 0.2; stty size; tty"], false);
    spec.tty = true;
    let mut p = fx.rt.exec("c-exec", spec).await.unwrap();
    assert!(p.stderr.is_none());
    (p.resize.as_ref().unwrap())(100, 30).unwrap();
    let mut out = String::new();
    p.stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .await
        .unwrap();
    assert!(out.contains("30 100"), "{out:?}");
    assert!(out.contains("/dev/pts/"), "{out:?}");
    assert_eq!(p.exit.await.unwrap().exit_code, 0);

    // The exec'd processes ran in the container: it is still running, and exec into a
    // stopped container fails.
    fx.rt.kill("c-exec", 9).await.unwrap();
    fx.rt.wait("c-exec").await.unwrap();
    assert!(fx.rt.exec("c-exec", exec(&["true"], false)).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_runtime_readopts_running_containers() {
    let mut fx = Fixture::new("adopt");
    let sb = fx.sandbox("pod-adopt", "pod-adopt").await;
    let script = "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.05; done";
    fx.rt
        .run_container(&fx.spec("c-adopt", &sb, &["sh", "-c", script]))
        .await
        .unwrap();
    // A second Runtime over the same root, as after an agent restart.
    let again = rkube_runtime::Runtime::new(rkube_runtime::RuntimeConfig {
        root: fx.root(),
        helper_exe: env!("CARGO_BIN_EXE_rkube-runtime-helper").into(),
        cgroup_parent: fx.cgroup_parent.clone(),
    })
    .unwrap();
    let list = again.list().await.unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0].running && list[0].pid.is_some());
    eventually(10, async || {
        fx.log("c-adopt").contains("tick 3").then_some(())
    })
    .await;
    again.kill("c-adopt", 9).await.unwrap();
    let exit = again.wait("c-adopt").await.unwrap();
    // The exit code is known when this process is still the parent, else 255.
    assert!(exit.exit_code == 137 || exit.exit_code == 255, "{exit:?}");
    assert!(!again.list().await.unwrap()[0].running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_creates_do_not_interfere() {
    let mut fx = Fixture::new("par");
    let sb = fx.sandbox("pod-par", "pod-par").await;
    let specs: Vec<_> = (0..6)
        .map(|i| {
            fx.spec(
                &format!("c-par-{i}"),
                &sb,
                &["sh", "-c", &format!("echo out-{i}")],
            )
        })
        .collect();
    let runs = specs.iter().map(|s| fx.rt.run_container(s));
    for r in futures_util::future::join_all(runs).await {
        r.unwrap();
    }
    for i in 0..6 {
        let id = format!("c-par-{i}");
        assert_eq!(fx.rt.wait(&id).await.unwrap().exit_code, 0);
        // Each container got its own output pipes (no fd inherited from a sibling's create).
        assert_eq!(fx.logs(&id).await, format!("out-{i}\n"));
    }
}
