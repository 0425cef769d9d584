//! The router against hostile or broken peers, on loopback: malformed requests, slow clients,
//! backends that reset, and a flood of connections. After each, the router still answers, and
//! no connection or request is left behind (its own gauges of open connections and requests in
//! flight come back to zero).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use modeldeploy_api::routing::TrafficPlan;
use modeldeploy_router::proxy::{Limits, Proxy, Routes};
use modeldeploy_router::server::{ServerLimits, serve_with};
use modeldeploy_router::table::RoutingTable;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;

const HEADER_TIMEOUT: Duration = Duration::from_millis(500);
const DEADLINE: Duration = Duration::from_secs(20);

/// A model server that answers `ok`.
async fn backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(|request: Request<hyper::body::Incoming>| async move {
                    let _ = request.into_body().collect().await;
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

/// A server that resets every connection as soon as it has read a little of the request.
async fn resetting() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut some = [0_u8; 16];
            let _ = stream.read(&mut some).await;
            // Linger 0: closing sends RST instead of FIN.
            let _ = stream.set_zero_linger();
            drop(stream);
        }
    });
    address
}

struct Router {
    address: SocketAddr,
    proxy: Arc<Proxy>,
}

async fn router(stable: SocketAddr) -> Router {
    let table = RoutingTable::compile(&TrafficPlan::only("old"), "ml/iris").unwrap();
    let (_keep, watched) = watch::channel(Arc::new(Routes::new(
        table,
        BTreeMap::from([("old".to_owned(), vec![stable])]),
    )));
    // The sender is dropped: the routes stay as they are, which is all these tests need.
    let limits = Limits {
        max_body_bytes: 1024,
        ..Limits::default()
    };
    let proxy = Arc::new(Proxy::new(watched, limits));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(serve_with(
        listener,
        Arc::clone(&proxy),
        std::future::pending(),
        ServerLimits {
            header_read_timeout: HEADER_TIMEOUT,
            ..ServerLimits::default()
        },
    ));
    Router { address, proxy }
}

impl Router {
    /// One request on a connection of its own, as raw bytes; the status line's code, or 0 when
    /// the connection closed without an answer.
    async fn raw(&self, request: &[u8]) -> u16 {
        let mut stream = TcpStream::connect(self.address).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut answer)).await;
        let text = String::from_utf8_lossy(&answer);
        text.split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0)
    }

    async fn predict(&self) -> u16 {
        self.raw(b"POST /predict HTTP/1.1\r\nHost: iris\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
            .await
    }

    /// Waits until no client connection and no request is left open.
    async fn until_idle(&self) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let (open, in_flight) = (self.proxy.connections().get(), self.proxy.in_flight());
            if open == 0 && in_flight == 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{open} connections and {in_flight} requests still open after {DEADLINE:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn malformed_requests_get_400_and_the_router_answers_on() {
    let router = router(backend().await).await;
    for garbage in [
        &b"GARBAGE\r\n\r\n"[..],
        b"POST /predict HTTP/1.1\r\nHost: iris\r\nBad Header\r\n\r\n",
        b"POST /predict HTTP/1.1\r\nHost: iris\r\nContent-Length: nope\r\n\r\n",
        b"POST /predict HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    ] {
        let code = router.raw(garbage).await;
        assert!(code == 400 || code == 0, "{garbage:?} got {code}");
        assert_eq!(router.predict().await, 200, "after {garbage:?}");
    }
    let oversized = format!(
        "POST /predict HTTP/1.1\r\nHost: iris\r\nContent-Length: 4096\r\nConnection: close\r\n\r\n{}",
        "x".repeat(4096)
    );
    assert_eq!(router.raw(oversized.as_bytes()).await, 413);
    assert_eq!(router.predict().await, 200);
    router.until_idle().await;
}

#[tokio::test]
async fn a_slowloris_client_is_cut_off_while_others_are_answered() {
    let router = router(backend().await).await;
    let mut slow = TcpStream::connect(router.address).await.unwrap();
    slow.write_all(b"POST /predict HTTP/1.1\r\nHost: iris\r\n")
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    // One header byte at a time, for ever: the router must close the connection.
    let closed = loop {
        assert_eq!(router.predict().await, 200, "others are answered meanwhile");
        if slow.write_all(b"X").await.is_err() {
            break true;
        }
        let mut byte = [0_u8; 512];
        match tokio::time::timeout(Duration::from_millis(100), slow.read(&mut byte)).await {
            Ok(Ok(0) | Err(_)) => break true,
            // A 408 answer, then the close.
            Ok(Ok(_)) => continue,
            Err(_) => {}
        }
        assert!(
            started.elapsed() < DEADLINE,
            "a slow client kept its connection"
        );
    };
    assert!(closed);
    assert!(
        started.elapsed() >= HEADER_TIMEOUT,
        "closed before the timeout"
    );
    drop(slow);
    router.until_idle().await;
}

#[tokio::test]
async fn a_backend_that_resets_gets_502_and_leaves_nothing_open() {
    let router = router(resetting().await).await;
    for _ in 0..200 {
        assert_eq!(router.predict().await, 502);
    }
    router.until_idle().await;
}

#[tokio::test]
async fn a_flood_of_connections_leaves_the_router_answering_and_nothing_open() {
    let router = router(backend().await).await;
    let mut flood = Vec::new();
    for _ in 0..1000 {
        let socket = TcpSocket::new_v4().unwrap();
        flood.push(socket.connect(router.address).await.unwrap());
    }
    assert_eq!(router.predict().await, 200, "answered under the flood");
    // Idle connections that never send a request are closed after the header timeout; those
    // that go away are forgotten at once.
    flood.truncate(500);
    drop(flood);
    router.until_idle().await;
    assert_eq!(router.predict().await, 200);
    router.until_idle().await;
}
