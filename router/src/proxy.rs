//! The reverse proxy: every request of one ModelDeployment goes to the revision its routing
//! table chooses, to one of that revision's ready endpoints in turn, over a pool of kept-alive
//! connections; the answer carries the revision in `x-modeldeploy-revision`.
//!
//! The table and the endpoints come through a `watch` channel, so whatever feeds them (a file
//! now, the API server's watch later) swaps them without a lock on the request path.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HOST};
use http::{HeaderName, HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use prometheus_client::registry::Registry;
use tokio::sync::{oneshot, watch};
use tracing::debug;

use crate::choose::Reason;
use crate::compare::Comparator;
use crate::drift::Binning;
use crate::metrics::RequestMetrics;
use crate::shadow::{CopyKind, Judging, Shadow, ShadowCounts, ShadowLimits};
use crate::split::Counter;
use crate::table::RoutingTable;

/// The response header that names the revision that answered.
pub const REVISION_HEADER: HeaderName = HeaderName::from_static("x-modeldeploy-revision");

type BodyError = Box<dyn std::error::Error + Send + Sync>;
type ProxyBody = BoxBody<Bytes, BodyError>;

/// Limits of the request path.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Longest a backend may take to answer (headers); a request over it gets 504.
    pub request_timeout: Duration,
    /// Largest request body; a larger one gets 413.
    pub max_body_bytes: usize,
    /// Idle connections to a backend are closed after this long.
    pub idle_timeout: Duration,
    pub shadow: ShadowLimits,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            request_timeout: Duration::from_secs(60),
            max_body_bytes: 16 * 1024 * 1024,
            idle_timeout: Duration::from_secs(90),
            shadow: ShadowLimits::default(),
        }
    }
}

/// What the router serves: the table, the ready endpoints of each revision, and how shadow
/// answers are compared with the primary's.
#[derive(Clone, Debug)]
pub struct Routes {
    pub table: RoutingTable,
    pub endpoints: BTreeMap<String, Vec<SocketAddr>>,
    pub agreement: Option<Arc<Comparator>>,
    /// Percent of compared requests also sent to a second stable endpoint (the noise floor).
    pub noise_sample_percent: u8,
    /// How predictions are binned for drift, when the table asks for it.
    pub drift: Option<Arc<Binning>>,
}

impl Routes {
    /// Routes of `table` over `endpoints`, comparing nothing.
    pub fn new(table: RoutingTable, endpoints: BTreeMap<String, Vec<SocketAddr>>) -> Routes {
        Routes {
            table,
            endpoints,
            agreement: None,
            noise_sample_percent: 0,
            drift: None,
        }
    }
}

/// The largest primary answer kept to compare with a shadow's; a larger one is streamed to the
/// client uncompared.
const MAX_COMPARED_BYTES: u64 = 1024 * 1024;

/// The request path of one ModelDeployment.
#[derive(Debug)]
pub struct Proxy {
    routes: watch::Receiver<Arc<Routes>>,
    split: Counter,
    /// Round robin over a revision's endpoints.
    turn: AtomicUsize,
    client: Client<HttpConnector, ProxyBody>,
    shadow: Shadow,
    metrics: RequestMetrics,
    limits: Limits,
}

impl Proxy {
    pub fn new(routes: watch::Receiver<Arc<Routes>>, limits: Limits) -> Proxy {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(limits.idle_timeout)
            .pool_timer(TokioTimer::new())
            .build(connector);
        Proxy {
            routes,
            split: Counter::default(),
            turn: AtomicUsize::new(0),
            client,
            shadow: Shadow::new(&limits.shadow),
            metrics: RequestMetrics::default(),
            limits,
        }
    }

    /// Registers the request and shadow metrics in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        self.metrics.register(registry);
        self.shadow.counts().register(registry);
    }

    /// Answers one request, and counts it.
    pub async fn handle(
        &self,
        request: Request<Incoming>,
    ) -> Result<Response<ProxyBody>, Infallible> {
        let started = Instant::now();
        self.metrics.in_flight.inc();
        let (response, revision, reason) = self.route(request).await;
        self.metrics.in_flight.dec();
        self.metrics.answered(
            &revision,
            reason,
            response.status(),
            started.elapsed().as_secs_f64(),
        );
        Ok(response)
    }

    /// The answer to one request, with the revision chosen and why: every problem is an HTTP
    /// answer.
    async fn route(&self, request: Request<Incoming>) -> (Response<ProxyBody>, String, Reason) {
        let routes = Arc::clone(&self.routes.borrow());
        let choice = routes.table.choose(request.headers(), &self.split);
        let (revision, reason) = (choice.revision.to_owned(), choice.reason);
        let response = self.forward(request, &routes, &revision).await;
        (response, revision, reason)
    }

    async fn forward(
        &self,
        request: Request<Incoming>,
        routes: &Routes,
        revision: &str,
    ) -> Response<ProxyBody> {
        let declared = request
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        if declared.is_some_and(|n| n > self.limits.max_body_bytes) {
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large",
                revision,
            );
        }
        let Some(endpoint) = self.endpoint(routes, revision) else {
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "no ready endpoint for the revision",
                revision,
            );
        };
        let (mut parts, body) = request.into_parts();
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let Ok(uri) = format!("http://{endpoint}{path}").parse::<Uri>() else {
            return plain(StatusCode::BAD_REQUEST, "bad request target", revision);
        };
        parts.uri = uri;
        strip_hop_by_hop(&mut parts.headers);
        if !parts.headers.contains_key(HOST)
            && let Ok(host) = HeaderValue::from_str(&endpoint.to_string())
        {
            parts.headers.insert(HOST, host);
        }
        // The backend speaks HTTP/1.1 whatever the client spoke (h2c in, pooled HTTP/1.1 out).
        parts.version = http::Version::HTTP_11;
        let body = Limited::new(body, self.limits.max_body_bytes);
        let mut primary_answers = Vec::new();
        let copy = self
            .shadow_endpoint(routes, &parts.method)
            .and_then(|endpoint| Some((endpoint, self.shadow.reserve(CopyKind::Candidate)?)));
        let body = match copy {
            // A copied request is read whole first, to be sent twice.
            Some((shadow, slot)) => match body.collect().await {
                Ok(collected) => {
                    let bytes = collected.to_bytes();
                    let mut judging =
                        |comparator: Option<&Arc<Comparator>>, binning: Option<&Arc<Binning>>| {
                            if comparator.is_none() && binning.is_none() {
                                return None;
                            }
                            let (sender, primary) = oneshot::channel();
                            primary_answers.push(sender);
                            Some(Judging {
                                comparator: comparator.cloned(),
                                binning: binning.cloned(),
                                primary,
                            })
                        };
                    let candidate = judging(routes.agreement.as_ref(), routes.drift.as_ref());
                    self.shadow.send(
                        CopyKind::Candidate,
                        slot,
                        &parts,
                        bytes.clone(),
                        shadow,
                        candidate,
                    );
                    if let Some(comparator) = &routes.agreement
                        && revision == routes.table.stable
                        && self.shadow.noise_wanted(routes.noise_sample_percent)
                        && let Some(slot) = self.shadow.reserve(CopyKind::Noise)
                    {
                        let second = self.other_endpoint(routes, revision, endpoint);
                        let noise = judging(Some(comparator), None);
                        self.shadow.send(
                            CopyKind::Noise,
                            slot,
                            &parts,
                            bytes.clone(),
                            second,
                            noise,
                        );
                    }
                    Full::new(bytes).map_err(|never| match never {}).boxed()
                }
                Err(_) => {
                    return plain(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "request body too large",
                        revision,
                    );
                }
            },
            None => body.boxed(),
        };
        let outgoing = Request::from_parts(parts, body);
        let answered =
            tokio::time::timeout(self.limits.request_timeout, self.client.request(outgoing)).await;
        let response = match answered {
            Err(_) => {
                return plain(
                    StatusCode::GATEWAY_TIMEOUT,
                    "the model did not answer in time",
                    revision,
                );
            }
            Ok(Err(error)) => {
                debug!(%revision, %endpoint, %error, "backend request failed");
                return plain(
                    StatusCode::BAD_GATEWAY,
                    "the model could not be reached",
                    revision,
                );
            }
            Ok(Ok(response)) => response,
        };
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        if let Ok(value) = HeaderValue::from_str(revision) {
            parts.headers.insert(REVISION_HEADER, value);
        }
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if !primary_answers.is_empty() && declared.is_some_and(|n| n <= MAX_COMPARED_BYTES) {
            // Kept whole for the comparison; the client gets it as soon as it is read, never
            // after the shadow.
            return match body.collect().await {
                Ok(collected) => {
                    let bytes = collected.to_bytes();
                    for sender in primary_answers {
                        let _ = sender.send(bytes.clone());
                    }
                    Response::from_parts(
                        parts,
                        Full::new(bytes).map_err(|never| match never {}).boxed(),
                    )
                }
                Err(error) => {
                    debug!(%revision, %error, "backend answer broke off");
                    plain(
                        StatusCode::BAD_GATEWAY,
                        "the model's answer broke off",
                        revision,
                    )
                }
            };
        }
        let body = body.map_err(|e| Box::new(e) as BodyError);
        Response::from_parts(parts, body.boxed())
    }

    /// What the copies of requests did so far.
    pub fn shadow_counts(&self) -> &ShadowCounts {
        self.shadow.counts()
    }

    /// Client connections open now.
    pub fn connections(&self) -> &prometheus_client::metrics::gauge::Gauge {
        &self.metrics.connections
    }

    /// Requests being answered now.
    pub fn in_flight(&self) -> i64 {
        self.metrics.in_flight.get()
    }

    /// Where to copy a request with `method` to, if it is to be copied.
    fn shadow_endpoint(&self, routes: &Routes, method: &http::Method) -> Option<SocketAddr> {
        let candidate = routes.table.candidate.as_ref()?;
        let percent = candidate.mirror_percent?;
        if !self
            .shadow
            .wanted(method, percent, candidate.mirror_all_methods)
        {
            return None;
        }
        self.endpoint(routes, &candidate.revision)
    }

    /// An endpoint of `revision` other than `used`, or `used` when it is the only one: a
    /// second opinion from the same model.
    fn other_endpoint(&self, routes: &Routes, revision: &str, used: SocketAddr) -> SocketAddr {
        routes
            .endpoints
            .get(revision)
            .and_then(|endpoints| endpoints.iter().find(|e| **e != used))
            .copied()
            .unwrap_or(used)
    }

    fn endpoint(&self, routes: &Routes, revision: &str) -> Option<SocketAddr> {
        let endpoints = routes.endpoints.get(revision).filter(|e| !e.is_empty())?;
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        endpoints.get(turn % endpoints.len()).copied()
    }
}

/// Headers that describe one connection, not the request (RFC 9110, section 7.6.1).
fn strip_hop_by_hop(headers: &mut http::HeaderMap) {
    use http::header::{
        CONNECTION, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE, TRAILER, TRANSFER_ENCODING,
        UPGRADE,
    };
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        CONNECTION,
        PROXY_AUTHENTICATE,
        PROXY_AUTHORIZATION,
        TE,
        TRAILER,
        TRANSFER_ENCODING,
        UPGRADE,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
}

fn plain(status: StatusCode, message: &'static str, revision: &str) -> Response<ProxyBody> {
    let body = Full::new(Bytes::from_static(message.as_bytes()))
        .map_err(|never| match never {})
        .boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    if let Ok(value) = HeaderValue::from_str(revision) {
        response.headers_mut().insert(REVISION_HEADER, value);
    }
    response
}
