//! What an exec reports on its error channel: v4 and later a metav1 Status (kubectl takes the exit
//! code from `details.causes[reason=ExitCode].message`), older protocols the error text alone and
//! nothing on success.

use serde_json::{json, Value};

/// How an exec ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExecOutcome {
    Exited(i32),
    /// The process could not be run or streamed (message in upstream's words where known).
    Failed(String),
}

impl ExecOutcome {
    /// The exec or attach could not start, in upstream's words.
    pub(crate) fn start_failed(
        req: &super::exec_request::ExecRequest,
        e: rkube_runtime::Error,
    ) -> Self {
        if req.attach {
            ExecOutcome::Failed(format!("failed to attach to container: {e}"))
        } else {
            ExecOutcome::Failed(format!(
                "failed to exec in container: {e} (command {:?})",
                req.command
            ))
        }
    }

    /// The metav1 Status of a v4+ error channel.
    pub(crate) fn status(&self) -> Value {
        match self {
            ExecOutcome::Exited(0) => json!({"metadata": {}, "status": "Success"}),
            ExecOutcome::Exited(code) => json!({
                "metadata": {},
                "status": "Failure",
                "message": format!("command terminated with non-zero exit code: exit status {code}"),
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
            }),
            ExecOutcome::Failed(msg) => json!({
                "metadata": {},
                "status": "Failure",
                "message": msg,
                "reason": "InternalError",
                "details": {"causes": [{"message": msg}]},
                "code": 500,
            }),
        }
    }

    /// What goes on the error channel for `status_errors` (v4+) or older protocols; `None` =
    /// nothing (a successful exec on an old protocol).
    pub(crate) fn error_channel_bytes(&self, status_errors: bool) -> Option<Vec<u8>> {
        if status_errors {
            return Some(serde_json::to_vec(&self.status()).unwrap_or_default());
        }
        match self {
            ExecOutcome::Exited(0) => None,
            ExecOutcome::Exited(code) => Some(
                format!("command terminated with non-zero exit code: exit status {code}")
                    .into_bytes(),
            ),
            ExecOutcome::Failed(msg) => Some(msg.clone().into_bytes()),
        }
    }
}

/// Kills an exec'd process when dropped (a no-op once it has exited).
pub(crate) struct KillOnDrop(pub Option<rkube_runtime::KillHandle>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(k) = &self.0 {
            k.kill();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_as_kubectl_reads_them() {
        assert_eq!(
            ExecOutcome::Exited(0).status(),
            json!({"metadata": {}, "status": "Success"})
        );
        let s = ExecOutcome::Exited(3).status();
        assert_eq!(s["status"], "Failure");
        assert_eq!(s["reason"], "NonZeroExitCode");
        assert_eq!(
            s["details"]["causes"],
            json!([{"reason": "ExitCode", "message": "3"}])
        );
        let f = ExecOutcome::Failed("boom".into()).status();
        assert_eq!(
            (f["status"].as_str(), f["code"].as_i64()),
            (Some("Failure"), Some(500))
        );
    }

    #[test]
    fn old_protocols_get_text() {
        assert_eq!(ExecOutcome::Exited(0).error_channel_bytes(false), None);
        assert_eq!(
            ExecOutcome::Exited(2).error_channel_bytes(false).unwrap(),
            b"command terminated with non-zero exit code: exit status 2"
        );
        let v4 = ExecOutcome::Exited(0).error_channel_bytes(true).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&v4).unwrap()["status"],
            "Success"
        );
    }
}
