//! Readiness checks against the process, as a kubelet runs a container's readiness probe.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::pod::Readiness;

/// A check that takes longer than this fails, as a probe's `timeoutSeconds` would.
const TIMEOUT: Duration = Duration::from_secs(1);

/// Whether the process at `ip` passes its readiness check now.
pub async fn ready(ip: IpAddr, readiness: &Readiness) -> bool {
    match readiness {
        Readiness::Running => true,
        Readiness::Tcp { port } => {
            tokio::time::timeout(TIMEOUT, TcpStream::connect(SocketAddr::new(ip, *port)))
                .await
                .is_ok_and(|connected| connected.is_ok())
        }
        Readiness::Http { port, path } => tokio::time::timeout(TIMEOUT, http_get(ip, *port, path))
            .await
            .is_ok_and(|status| status.is_some_and(|s| (200..400).contains(&s))),
    }
}

async fn http_get(ip: IpAddr, port: u16, path: &str) -> Option<u16> {
    let stream = TcpStream::connect(SocketAddr::new(ip, port)).await.ok()?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(connection);
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, format!("{ip}:{port}"))
        .header(hyper::header::USER_AGENT, "modeldeploy-pod-supervisor")
        .body(Empty::<Bytes>::new())
        .ok()?;
    let response = sender.send_request(request).await.ok()?;
    Some(response.status().as_u16())
}
