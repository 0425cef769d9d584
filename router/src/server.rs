//! Serving: accepts connections, speaks HTTP/1.1 or h2c (HTTP/2 with prior knowledge, which is
//! how gRPC clients talk to a plain-text proxy) on each, and stops gracefully: on shutdown no new
//! connection is taken and requests in flight are finished.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tracing::{debug, warn};

use crate::proxy::Proxy;

/// How long clients get.
#[derive(Clone, Copy, Debug)]
pub struct ServerLimits {
    /// A client has this long to send a request's headers, so a slow client cannot hold a
    /// connection open by trickling them, nor an idle one for ever.
    pub header_read_timeout: Duration,
    /// Requests in flight at shutdown get this long to finish.
    pub drain_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> ServerLimits {
        ServerLimits {
            header_read_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(25),
        }
    }
}

/// Serves `proxy` on `listener` until `shutdown` completes, then drains.
pub async fn serve(listener: TcpListener, proxy: Arc<Proxy>, shutdown: impl Future<Output = ()>) {
    serve_with(listener, proxy, shutdown, ServerLimits::default()).await;
}

/// As [`serve`], with `limits`.
pub async fn serve_with(
    listener: TcpListener,
    proxy: Arc<Proxy>,
    shutdown: impl Future<Output = ()>,
    limits: ServerLimits,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let proxy_connections = proxy.connections().clone();
        let proxy = Arc::clone(&proxy);
        let service = service_fn(move |request| {
            let proxy = Arc::clone(&proxy);
            async move { proxy.handle(request).await }
        });
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection.into_owned());
        let open = proxy_connections.clone();
        open.inc();
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                debug!(%peer, %error, "connection ended with an error");
            }
            open.dec();
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        let waited = limits.drain_timeout;
        warn!(
            ?waited,
            "requests still in flight after the drain timeout; stopping anyway"
        );
    }
}
