//! Stamps the binary with the git commit and the rustc that built it, for `rkube version`.
use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let commit =
        output("git", &["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = output("git", &["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|s| !s.is_empty());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = output(&rustc, &["--version"]).unwrap_or_else(|| "rustc unknown".into());
    println!(
        "cargo:rustc-env=RKUBE_GIT_COMMIT={commit}{}",
        if dirty { "-dirty" } else { "" }
    );
    println!("cargo:rustc-env=RKUBE_RUSTC_VERSION={rustc_version}");
    println!("cargo:rerun-if-changed=../../.git/HEAD");
    println!("cargo:rerun-if-changed=../../.git/refs/heads");
    println!("cargo:rerun-if-changed=../../.git/index");
    startup_order();
}

/// Release builds lay out the code `rkube server` runs at start-up (listed in
/// `startup.order`, written by hack/startup-order.sh) together at the front of `.text`, with
/// lld's `--symbol-ordering-file`. The kernel maps code in 64 KiB windows around each page
/// fault: scattered through the binary, the few MiB run once at start-up kept most of `.text`
/// resident. Rust links with its own lld on x86_64 Linux since 1.90; elsewhere, with a
/// linker set in RUSTFLAGS or Cargo's config, or with `RKUBE_STARTUP_ORDER=0`, the binary
/// links as usual. Names the file no longer matches (another compiler or dependency
/// version) are skipped.
fn startup_order() {
    println!("cargo:rerun-if-changed=startup.order");
    println!("cargo:rerun-if-env-changed=RKUBE_STARTUP_ORDER");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    // A linker of one's own choosing (Cargo's `linker` setting, which build scripts see as
    // RUSTC_LINKER, or one in RUSTFLAGS) may not be lld: leave its arguments alone.
    let own_linker =
        !var("RUSTC_LINKER").is_empty() || var("CARGO_ENCODED_RUSTFLAGS").contains("linker");
    if var("PROFILE") != "release"
        || var("TARGET") != "x86_64-unknown-linux-gnu"
        || var("RKUBE_STARTUP_ORDER") == "0"
        || own_linker
    {
        return;
    }
    let order = std::path::Path::new(&var("CARGO_MANIFEST_DIR")).join("startup.order");
    println!(
        "cargo:rustc-link-arg-bin=rkube=-Wl,--symbol-ordering-file={}",
        order.display()
    );
    println!("cargo:rustc-link-arg-bin=rkube=-Wl,--no-warn-symbol-ordering");
}
