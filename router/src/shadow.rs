//! Shadow traffic: a copy of some requests goes to the candidate beside the primary request,
//! never in front of it. Copies run on their own connection pool, at most `concurrency` at a
//! time, each within its own timeout; when all slots are taken the copy is dropped and counted,
//! so a slow or dead candidate costs users nothing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tracing::debug;

use crate::compare::{Comparator, Compared};
use crate::split;

/// Limits of the copies.
#[derive(Clone, Debug)]
pub struct ShadowLimits {
    /// Copies in flight at once; a copy beyond them is dropped.
    pub concurrency: usize,
    /// Longest a copy may take, answer body included.
    pub timeout: Duration,
}

impl Default for ShadowLimits {
    fn default() -> ShadowLimits {
        ShadowLimits {
            concurrency: 64,
            timeout: Duration::from_secs(10),
        }
    }
}

/// What happened to the copies so far; each count is also a Prometheus counter
/// ([`ShadowCounts::register`]).
#[derive(Debug, Default)]
pub struct ShadowCounts {
    /// Copies sent to the candidate.
    pub sent: Counter,
    /// Copies not sent because every slot was taken, or because the shadow could not be
    /// reached a moment ago.
    pub dropped: Counter,
    /// Copies sent that got no answer (refused, reset or timed out).
    pub failed: Counter,
    /// Copies answered.
    pub answered: Counter,
    /// Answered copies whose prediction agreed with the primary's.
    pub agreed: Counter,
    /// Answered copies whose prediction differed from the primary's.
    pub disagreed: Counter,
    /// Answered copies not compared: no comparison asked for, no primary answer to compare
    /// with, or an answer that holds no prediction.
    pub uncompared: Counter,
}

impl ShadowCounts {
    pub fn register(&self, registry: &mut Registry) {
        for (name, help, counter) in [
            (
                "mirror_sent",
                "Copies of requests sent to the shadow",
                &self.sent,
            ),
            (
                "mirror_dropped",
                "Copies not sent because every shadow slot was taken or the shadow was unreachable a moment ago",
                &self.dropped,
            ),
            (
                "mirror_failed",
                "Copies sent that got no answer (refused, reset or timed out)",
                &self.failed,
            ),
            (
                "mirror_answered",
                "Copies the shadow answered",
                &self.answered,
            ),
            (
                "comparisons_agreed",
                "Shadow answers whose prediction agreed with the primary's",
                &self.agreed,
            ),
            (
                "comparisons_disagreed",
                "Shadow answers whose prediction differed from the primary's",
                &self.disagreed,
            ),
            (
                "comparisons_uncompared",
                "Shadow answers not compared (no primary answer, no prediction, or no comparison set)",
                &self.uncompared,
            ),
        ] {
            registry.register(name, help, counter.clone());
        }
    }
}

/// After a copy cannot connect, copies are dropped for this long: a shadow that is down would
/// otherwise cost a refused connection per request, which at thousands of requests a second
/// takes CPU from the primary's answers.
const CONNECT_BACKOFF: Duration = Duration::from_secs(1);

/// One copy's share of the shadow's concurrency, held until its answer is in.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
}

#[derive(Debug)]
pub struct Shadow {
    client: Client<HttpConnector, Full<Bytes>>,
    slots: Arc<Semaphore>,
    timeout: Duration,
    split: split::Counter,
    counts: Arc<ShadowCounts>,
    /// Copies are dropped until this instant (milliseconds after `epoch`).
    resting_until: Arc<AtomicU64>,
    epoch: Instant,
}

impl Shadow {
    pub fn new(limits: &ShadowLimits) -> Shadow {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(limits.timeout));
        Shadow {
            client: Client::builder(TokioExecutor::new())
                .pool_timer(TokioTimer::new())
                .build(connector),
            slots: Arc::new(Semaphore::new(limits.concurrency)),
            timeout: limits.timeout,
            split: split::Counter::default(),
            counts: Arc::new(ShadowCounts::default()),
            resting_until: Arc::new(AtomicU64::new(0)),
            epoch: Instant::now(),
        }
    }

    fn now_millis(epoch: Instant) -> u64 {
        u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub fn counts(&self) -> &ShadowCounts {
        &self.counts
    }

    /// Whether this request is to be copied at `percent`: only methods without side effects
    /// (RFC 9110 idempotent methods) unless `all_methods`, since a copy of a POST that changes
    /// something changes it twice.
    pub fn wanted(&self, method: &Method, percent: u8, all_methods: bool) -> bool {
        let idempotent = matches!(
            *method,
            Method::GET
                | Method::HEAD
                | Method::OPTIONS
                | Method::PUT
                | Method::DELETE
                | Method::TRACE
        );
        (all_methods || idempotent) && self.split.next_to_candidate(percent)
    }

    /// A slot for one copy, or none (the copy is dropped and counted) when every slot is taken
    /// or the shadow could not be reached a moment ago. Taken before the request body is read,
    /// so that a dropped copy costs the primary nothing.
    pub fn reserve(&self) -> Option<Slot> {
        if Self::now_millis(self.epoch) < self.resting_until.load(Ordering::Relaxed) {
            self.counts.dropped.inc();
            return None;
        }
        match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(permit) => Some(Slot { _permit: permit }),
            Err(_) => {
                self.counts.dropped.inc();
                None
            }
        }
    }

    /// Sends a copy of the request (`head` without its body, and `body`) to `endpoint` in
    /// `slot` and returns at once. With a `comparison`, the copy's answer is compared with the
    /// primary's answer body once that arrives on the channel (a dropped sender: nothing to
    /// compare).
    pub fn send(
        &self,
        slot: Slot,
        head: &http::request::Parts,
        body: Bytes,
        endpoint: SocketAddr,
        comparison: Option<(Arc<Comparator>, oneshot::Receiver<Bytes>)>,
    ) {
        let path = head.uri.path_and_query().map_or("/", |p| p.as_str());
        let Ok(uri) = format!("http://{endpoint}{path}").parse::<Uri>() else {
            self.counts.dropped.inc();
            return;
        };
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = head.method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = head.headers.clone();
        let (client, counts, timeout) =
            (self.client.clone(), Arc::clone(&self.counts), self.timeout);
        let (resting_until, epoch) = (Arc::clone(&self.resting_until), self.epoch);
        counts.sent.inc();
        tokio::spawn(async move {
            let answered = tokio::time::timeout(timeout, async {
                let response = client.request(request).await.map_err(|e| {
                    if e.is_connect() {
                        let until = Self::now_millis(epoch) + CONNECT_BACKOFF.as_millis() as u64;
                        resting_until.fetch_max(until, Ordering::Relaxed);
                    }
                    e.to_string()
                })?;
                response
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| e.to_string())
            })
            .await;
            match answered {
                Ok(Ok(shadow)) => {
                    counts.answered.inc();
                    let verdict = match comparison {
                        Some((comparator, primary)) => match primary.await {
                            Ok(primary) => comparator.compare(&primary, &shadow.to_bytes()),
                            Err(_) => Compared::Unreadable,
                        },
                        None => Compared::Unreadable,
                    };
                    let count = match verdict {
                        Compared::Agree => &counts.agreed,
                        Compared::Disagree => &counts.disagreed,
                        Compared::Unreadable => &counts.uncompared,
                    };
                    count.inc()
                }
                Ok(Err(error)) => {
                    debug!(%endpoint, %error, "shadow copy failed");
                    counts.failed.inc()
                }
                Err(_) => counts.failed.inc(),
            };
            drop(slot);
        });
    }
}
