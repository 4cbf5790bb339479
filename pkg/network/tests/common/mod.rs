//! Test helpers shared by the netlink tests: a scratch network namespace made with `ip netns
//! add` (so the host's links and routes are never touched) and a runner for `ip`.

// Each test binary uses a different subset.
#![allow(dead_code)]

use std::{
    process::{Command, Output},
    sync::atomic::{AtomicU32, Ordering},
};

pub fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

/// A network namespace made with `ip netns add`, deleted on drop (with every route in it).
pub struct Netns(pub String);

impl Netns {
    /// A namespace named `<prefix>-<pid>-<n>`.
    pub fn new(prefix: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let out = run("ip", &["netns", "add", &name]);
        assert!(out.status.success(), "ip netns add {name}: {out:?}");
        Self(name)
    }

    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", &self.0];
        all.extend_from_slice(args);
        let out = run("ip", &all);
        assert!(out.status.success(), "ip {all:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs `f` on a thread inside the namespace, on a runtime of its own (netlink sockets are
    /// opened in the calling thread's namespace).
    pub fn within<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = T> + Send + 'static,
    ) -> T {
        let path = format!("/var/run/netns/{}", self.0);
        std::thread::spawn(move || {
            let ns = std::fs::File::open(&path).unwrap();
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(f)
        })
        .join()
        .unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run("ip", &["netns", "del", &self.0]);
    }
}
