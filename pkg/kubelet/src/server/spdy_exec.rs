//! exec over SPDY/3.1 (kubectl before 1.30, and the fallback of newer ones): the client opens
//! streams typed by the `streamType` header (error, stdin, stdout, stderr, resize); the exit status
//! goes on the error stream as a metav1 Status (v4.channel.k8s.io and later).

use tokio::io::{AsyncRead, AsyncWrite};

use super::exec_request::ExecRequest;

/// Serves one exec over an upgraded connection; `protocol` is the negotiated
/// X-Stream-Protocol-Version (v4.channel.k8s.io .. channel.k8s.io).
pub(crate) async fn serve_exec<T>(
    io: T,
    protocol: &str,
    runtime: rkube_runtime::Runtime,
    request: ExecRequest,
) -> crate::Result<()>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let _ = (io, protocol, runtime, request);
    Err(crate::Error::Server(
        "exec over SPDY: not implemented yet".into(),
    ))
}
