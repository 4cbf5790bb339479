//! What `rkube version` and `--version` print.

use rkube_server::KUBERNETES_VERSION;

pub const SHORT: &str = concat!(
    "v",
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("RKUBE_GIT_COMMIT"),
    ")"
);

pub fn long() -> String {
    format!(
        "rkube version v{} ({})\nkubernetes {KUBERNETES_VERSION}\n{}\n",
        env!("CARGO_PKG_VERSION"),
        env!("RKUBE_GIT_COMMIT"),
        env!("RKUBE_RUSTC_VERSION"),
    )
}
