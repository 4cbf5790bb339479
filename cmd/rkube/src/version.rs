//! What `rkube version` and `--version` print.

/// The Kubernetes API version rkube serves (what kubectl's skew check compares against).
pub const KUBERNETES_VERSION: &str = "v1.33.0";

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
