//! A parsed exec/attach request (`?command=..&stdin=1&stdout=1&stderr=1&tty=1`).

/// Which streams the client asked for, and what to run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecRequest {
    pub container_id: String,
    pub command: Vec<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
    /// Attach to the container's own stdio instead of running `command`.
    pub attach: bool,
}
