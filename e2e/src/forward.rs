//! A port-forward to a pod: a loopback address whose connections are relayed to the pod's
//! address, as `kubectl port-forward` gives, so that the load generator (which sends only to
//! loopback) can reach a pod that no gateway fronts, such as a model router replica.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Relays while it lives; dropping it stops accepting (open connections end with their peers).
#[derive(Debug)]
pub struct PortForward {
    pub local: SocketAddr,
    accepting: JoinHandle<()>,
}

impl PortForward {
    /// Forwards a fresh loopback port to `target`.
    pub async fn start(target: SocketAddr) -> PortForward {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free loopback port");
        let local = listener.local_addr().expect("a bound listener's address");
        let accepting = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        PortForward { local, accepting }
    }
}

impl Drop for PortForward {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}
