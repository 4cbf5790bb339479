//! attach to a container's own stdio (stdin FIFO, tty through the console socket) and the exec
//! kill handle, with real containers (root).

mod common;

use std::time::Duration;

use common::{eventually, Fixture};
use rkube_runtime::ExecSpec;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// Reads until `want` shows up (or fails after 20 s), returning what was read.
async fn read_until(r: &mut (dyn AsyncRead + Send + Unpin), want: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !String::from_utf8_lossy(&got).contains(want) {
        match tokio::time::timeout_at(deadline, r.read(&mut buf)).await {
            Ok(Ok(0)) => panic!(
                "EOF before {want:?}; got {:?}",
                String::from_utf8_lossy(&got)
            ),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => panic!("read: {e}"),
            Err(_) => panic!("no {want:?}; got {:?}", String::from_utf8_lossy(&got)),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn attach_to_stdin_container_twice_and_log_keeps_output() {
    let mut fx = Fixture::new("attach");
    let sb = fx.sandbox("pod-attach", "pod-attach").await;
    let mut spec = fx.spec(
        "c-attach",
        &sb,
        &[
            "sh",
            "-c",
            "while read l; do echo got $l; echo err $l >&2; done",
        ],
    );
    spec.stdin = true;
    fx.rt.run_container(&spec).await.unwrap();

    for round in ["one", "two"] {
        let mut a = fx.rt.attach("c-attach").await.unwrap();
        assert!(a.resize.is_none() && a.kill.is_none());
        let mut stdin = a.stdin.take().expect("stdin");
        stdin
            .write_all(format!("{round}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
        read_until(a.stdout.as_mut().unwrap().as_mut(), &format!("got {round}")).await;
        read_until(a.stderr.as_mut().unwrap().as_mut(), &format!("err {round}")).await;
        // Detaching (dropping everything) must not close the container's stdin.
        drop(stdin);
    }
    let log = eventually(10, async || {
        let l = fx.log("c-attach");
        l.contains("stdout F got two").then_some(l)
    })
    .await;
    assert!(
        log.contains("stdout F got one") && log.contains("stderr F err two"),
        "{log}"
    );

    // The container's exit ends the attached streams and resolves `exit`.
    let mut a = fx.rt.attach("c-attach").await.unwrap();
    fx.rt.kill("c-attach", libc::SIGKILL).await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(20),
        a.stdout.as_mut().unwrap().read_to_end(&mut rest),
    )
    .await
    .expect("attach output did not end with the container")
    .unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(20), a.exit)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit.signal, Some(libc::SIGKILL));
    assert!(fx.rt.attach("c-attach").await.is_err());
}

#[tokio::test]
async fn attach_to_tty_container_with_resize() {
    let mut fx = Fixture::new("attach-tty");
    let sb = fx.sandbox("pod-atty", "pod-atty").await;
    let mut spec = fx.spec("c-atty", &sb, &["sh"]);
    spec.stdin = true;
    spec.tty = true;
    fx.rt.run_container(&spec).await.unwrap();

    let mut a = fx.rt.attach("c-atty").await.unwrap();
    assert!(a.stderr.is_none());
    (a.resize.as_ref().expect("tty resize"))(123, 45).unwrap();
    let mut stdin = a.stdin.take().unwrap();
    stdin
        .write_all(b"stty size; [ -t 0 ] && echo is-a-tty; echo err >&2\n")
        .await
        .unwrap();
    stdin.flush().await.unwrap();
    let out = read_until(a.stdout.as_mut().unwrap().as_mut(), "is-a-tty\r\nerr").await;
    assert!(out.contains("45 123"), "{out:?}");
    assert!(!out.contains('\0'), "NUL in tty output: {out:?}");
    stdin.write_all(b"exit 4\n").await.unwrap();
    stdin.flush().await.unwrap();
    let exit = tokio::time::timeout(Duration::from_secs(20), a.exit)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit.exit_code, 4);
    let log = fx.log("c-atty");
    assert!(log.contains("stdout F is-a-tty"), "{log}");
}

#[tokio::test]
async fn exec_kill_handle_ends_the_process() {
    let mut fx = Fixture::new("exec-kill");
    let sb = fx.sandbox("pod-ekill", "pod-ekill").await;
    fx.rt
        .run_container(&fx.spec("c-ekill", &sb, &["sleep", "1000"]))
        .await
        .unwrap();
    for tty in [false, true] {
        let p = fx
            .rt
            .exec(
                "c-ekill",
                ExecSpec {
                    args: vec!["sleep".into(), "1000".into()],
                    env: vec![],
                    tty,
                    stdin: true,
                },
            )
            .await
            .unwrap();
        p.kill.as_ref().expect("kill handle").kill();
        let exit = tokio::time::timeout(Duration::from_secs(20), p.exit)
            .await
            .expect("exec'd process survived its kill")
            .unwrap();
        assert_eq!(exit.signal, Some(libc::SIGKILL), "tty={tty}");
    }
}

#[tokio::test]
async fn stdin_once_ends_with_the_first_attach_that_takes_stdin() {
    let mut fx = Fixture::new("stdin-once");
    let sb = fx.sandbox("pod-once", "pod-once").await;
    let mut spec = fx.spec(
        "c-once",
        &sb,
        &[
            "sh",
            "-c",
            "while read l; do echo got $l; done; echo stdin-closed; exec sleep 1000",
        ],
    );
    spec.stdin = true;
    spec.stdin_once = true;
    fx.rt.run_container(&spec).await.unwrap();

    // An attach without stdin leaves it for the next one.
    let mut watcher = fx.rt.attach_with("c-once", false).await.unwrap();
    assert!(watcher.stdin.is_none());
    let mut first = fx.rt.attach("c-once").await.unwrap();
    let mut stdin = first.stdin.take().expect("the first attach gets stdin");
    stdin.write_all(b"one\n").await.unwrap();
    stdin.flush().await.unwrap();
    let out = watcher.stdout.as_mut().unwrap().as_mut();
    read_until(out, "got one").await;
    // The first attach ends: the container reads EOF.
    drop(stdin);
    drop(first);
    read_until(out, "stdin-closed").await;
    let later = fx.rt.attach("c-once").await.unwrap();
    assert!(later.stdin.is_none(), "stdin handed out twice");
}

/// What `ps` in the container lists.
async fn ps(fx: &Fixture, id: &str) -> String {
    let p = fx
        .rt
        .exec(
            id,
            ExecSpec {
                args: vec!["ps".into(), "-o".into(), "pid,args".into()],
                env: vec![],
                tty: false,
                stdin: false,
            },
        )
        .await
        .unwrap();
    let mut out = String::new();
    p.stdout.unwrap().read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn exec_kill_ends_what_the_process_started_but_not_after_it_exited() {
    let mut fx = Fixture::new("exec-group");
    let sb = fx.sandbox("pod-egroup", "pod-egroup").await;
    fx.rt
        .run_container(&fx.spec("c-egroup", &sb, &["sleep", "1000"]))
        .await
        .unwrap();
    let exec = |args: &str| ExecSpec {
        args: vec!["sh".into(), "-c".into(), args.into()],
        env: vec![],
        tty: false,
        stdin: false,
    };
    let p = fx
        .rt
        .exec("c-egroup", exec("sleep 1001 & sleep 1002"))
        .await
        .unwrap();
    eventually(20, async || {
        let ps = ps(&fx, "c-egroup").await;
        (ps.contains("sleep 1001") && ps.contains("sleep 1002")).then_some(())
    })
    .await;
    p.kill.as_ref().expect("kill handle").kill();
    eventually(20, async || {
        let ps = ps(&fx, "c-egroup").await;
        // Killed (a zombie, "[sleep]", until the container's init reaps it).
        (!ps.contains("sleep 1001") && !ps.contains("sleep 1002")).then_some(())
    })
    .await;

    // A process that exited on its own: what it left running stays (as upstream).
    let p = fx
        .rt
        .exec("c-egroup", exec("sleep 1003 >/dev/null 2>&1 &"))
        .await
        .unwrap();
    let kill = p.kill.clone().expect("kill handle");
    let exit = tokio::time::timeout(Duration::from_secs(20), p.exit)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit.exit_code, 0);
    kill.kill();
    assert!(ps(&fx, "c-egroup").await.contains("sleep 1003"));
}
