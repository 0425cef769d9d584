//! The router's Prometheus metrics: requests and their latency by revision, why they went
//! there and the class of their answer; requests in flight; and the shadow's counts.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use prometheus_client::encoding::{EncodeLabelSet, text::encode};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tracing::warn;

use crate::choose::Reason;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub revision: String,
    /// `match`, `sticky`, `weight` or `stable`.
    pub reason: String,
    /// `2xx` … `5xx`.
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RevisionLabels {
    pub revision: String,
}

/// Bucket bounds of request latency, in seconds: 0.5 ms to 30 s.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];

#[derive(Debug)]
pub struct RequestMetrics {
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RevisionLabels, Histogram>,
    pub in_flight: Gauge,
    /// Client connections open.
    pub connections: Gauge,
}

impl Default for RequestMetrics {
    fn default() -> RequestMetrics {
        RequestMetrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS)),
            in_flight: Gauge::default(),
            connections: Gauge::default(),
        }
    }
}

impl RequestMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "requests",
            "Requests answered, by revision, routing reason and status class",
            self.requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from a request to its answer's headers, by revision",
            self.latency.clone(),
        );
        registry.register(
            "in_flight",
            "Requests being answered",
            self.in_flight.clone(),
        );
        registry.register(
            "connections",
            "Client connections open",
            self.connections.clone(),
        );
    }

    pub fn answered(&self, revision: &str, reason: Reason, status: StatusCode, seconds: f64) {
        let reason = match reason {
            Reason::Match => "match",
            Reason::Sticky => "sticky",
            Reason::Weight => "weight",
            Reason::Stable => "stable",
        };
        let code = format!("{}xx", status.as_u16() / 100);
        self.requests
            .get_or_create(&RequestLabels {
                revision: revision.to_owned(),
                reason: reason.to_owned(),
                code,
            })
            .inc();
        self.latency
            .get_or_create(&RevisionLabels {
                revision: revision.to_owned(),
            })
            .observe(seconds);
    }
}

/// Serves `registry` as `GET /metrics` on `listener`, for ever, with `/healthz` (the process
/// answers) and `/readyz` (200 once `ready` holds, 503 before) for the pod's probes.
pub async fn serve(listener: TcpListener, registry: Arc<Registry>, ready: Arc<AtomicBool>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors and the like: back off instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let registry = Arc::clone(&registry);
        let ready = Arc::clone(&ready);
        let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
            let registry = Arc::clone(&registry);
            let ready = Arc::clone(&ready);
            async move {
                if let Some(answer) = probe(request.uri().path(), &ready) {
                    return Ok::<_, std::convert::Infallible>(answer);
                }
                let mut text = String::new();
                let status = match encode(&mut text, &registry) {
                    Ok(()) => StatusCode::OK,
                    Err(error) => {
                        warn!(%error, "cannot encode the metrics");
                        StatusCode::INTERNAL_SERVER_ERROR
                    }
                };
                let mut response = Response::new(Full::new(Bytes::from(text)));
                *response.status_mut() = status;
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static(
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    ),
                );
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        tokio::spawn(async move {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The answer to a probe path; `None` for any other path, which gets the metrics.
fn probe(path: &str, ready: &AtomicBool) -> Option<Response<Full<Bytes>>> {
    let status = match path {
        "/healthz" => StatusCode::OK,
        "/readyz" if ready.load(Ordering::Acquire) => StatusCode::OK,
        "/readyz" => StatusCode::SERVICE_UNAVAILABLE,
        _ => return None,
    };
    let mut response = Response::new(Full::new(Bytes::from_static(b"")));
    *response.status_mut() = status;
    Some(response)
}
