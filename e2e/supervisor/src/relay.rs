//! A TCP relay to the API server for the pods: they live in another network namespace, where
//! the API server's loopback address is not theirs. The relay listens on the host end of the
//! pods' link and passes bytes through; TLS is end to end between the pod and the API server.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};

/// Relays every connection accepted on `listener` to `upstream`, for ever.
pub async fn run(listener: TcpListener, upstream: SocketAddr) {
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            // Out of file descriptors and the like: back off instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        tokio::spawn(async move {
            match TcpStream::connect(upstream).await {
                Ok(mut outbound) => {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
                Err(error) => tracing::warn!(%upstream, %error, "cannot reach the API server"),
            }
        });
    }
}
