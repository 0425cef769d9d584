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
use crate::drift::{Binning, Predictions};
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
    /// Copies sent to a second stable endpoint, to measure the stable model against itself.
    pub noise_sent: Counter,
    /// Those whose prediction agreed with the primary's.
    pub noise_agreed: Counter,
    /// Those whose prediction differed from the primary's: the stable model's own noise.
    pub noise_disagreed: Counter,
    /// Those that got no answer, or no comparable one.
    pub noise_uncompared: Counter,
    /// Both answers of compared pairs by value, for `shadow.drift`.
    pub predictions: Predictions,
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
            (
                "noise_sent",
                "Copies sent to a second stable endpoint to measure the stable model's own disagreement",
                &self.noise_sent,
            ),
            (
                "noise_agreed",
                "Second stable answers whose prediction agreed with the primary's",
                &self.noise_agreed,
            ),
            (
                "noise_disagreed",
                "Second stable answers whose prediction differed from the primary's",
                &self.noise_disagreed,
            ),
            (
                "noise_uncompared",
                "Second stable copies with no answer or no comparable answer",
                &self.noise_uncompared,
            ),
        ] {
            registry.register(name, help, counter.clone());
        }
        self.predictions.register(registry);
    }
}

/// Where a copy goes, which decides what its answer counts towards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyKind {
    /// To the candidate, compared with the primary answer as the shadow.
    Candidate,
    /// To another stable endpoint, compared with the primary answer as the noise floor.
    Noise,
}

/// What is done with a copy's answer once the primary's arrives on `primary` (a dropped
/// sender: there is nothing to compare with).
#[derive(Debug)]
pub struct Judging {
    pub comparator: Option<Arc<Comparator>>,
    /// Counted by value for drift; only for the candidate's copies.
    pub binning: Option<Arc<Binning>>,
    pub primary: oneshot::Receiver<Bytes>,
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
    noise_split: split::Counter,
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
            noise_split: split::Counter::default(),
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

    /// A slot for one copy of `kind`, or none when every slot is taken or, for the candidate,
    /// when it could not be reached a moment ago (counted as dropped). Taken before the request
    /// body is read, so that a dropped copy costs the primary nothing.
    pub fn reserve(&self, kind: CopyKind) -> Option<Slot> {
        let resting = || Self::now_millis(self.epoch) < self.resting_until.load(Ordering::Relaxed);
        let slot = match kind {
            CopyKind::Candidate if resting() => None,
            _ => Arc::clone(&self.slots)
                .try_acquire_owned()
                .ok()
                .map(|permit| Slot { _permit: permit }),
        };
        if slot.is_none() && kind == CopyKind::Candidate {
            self.counts.dropped.inc();
        }
        slot
    }

    /// Whether this copied request also goes to a second stable endpoint, for `percent` % of
    /// copies.
    pub fn noise_wanted(&self, percent: u8) -> bool {
        percent > 0 && self.noise_split.next_to_candidate(percent)
    }

    /// Sends a copy of the request (`head` without its body, and `body`) to `endpoint` in
    /// `slot` and returns at once; with `judging`, its answer is compared with the primary's.
    pub fn send(
        &self,
        kind: CopyKind,
        slot: Slot,
        head: &http::request::Parts,
        body: Bytes,
        endpoint: SocketAddr,
        judging: Option<Judging>,
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
        match kind {
            CopyKind::Candidate => counts.sent.inc(),
            CopyKind::Noise => counts.noise_sent.inc(),
        };
        tokio::spawn(async move {
            let answered = tokio::time::timeout(timeout, async {
                let response = client.request(request).await.map_err(|e| {
                    if e.is_connect() && kind == CopyKind::Candidate {
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
            let answer = match answered {
                Ok(Ok(answer)) => Some(answer.to_bytes()),
                Ok(Err(error)) => {
                    debug!(%endpoint, %error, ?kind, "copy failed");
                    None
                }
                Err(_) => None,
            };
            judge(&counts, kind, answer, judging).await;
            drop(slot);
        });
    }
}

/// Counts what became of one copy: failed or answered, and how its answer compared.
async fn judge(
    counts: &ShadowCounts,
    kind: CopyKind,
    answer: Option<Bytes>,
    judging: Option<Judging>,
) {
    let Some(answer) = answer else {
        match kind {
            CopyKind::Candidate => counts.failed.inc(),
            CopyKind::Noise => counts.noise_uncompared.inc(),
        };
        return;
    };
    if kind == CopyKind::Candidate {
        counts.answered.inc();
    }
    let verdict = match judging {
        Some(judging) => match judging.primary.await {
            Ok(primary) => {
                if let Some(binning) = &judging.binning {
                    counts.predictions.count(binning, &primary, &answer);
                }
                judging
                    .comparator
                    .map_or(Compared::Unreadable, |c| c.compare(&primary, &answer))
            }
            Err(_) => Compared::Unreadable,
        },
        None => Compared::Unreadable,
    };
    let count = match (kind, verdict) {
        (CopyKind::Candidate, Compared::Agree) => &counts.agreed,
        (CopyKind::Candidate, Compared::Disagree) => &counts.disagreed,
        (CopyKind::Candidate, Compared::Unreadable) => &counts.uncompared,
        (CopyKind::Noise, Compared::Agree) => &counts.noise_agreed,
        (CopyKind::Noise, Compared::Disagree) => &counts.noise_disagreed,
        (CopyKind::Noise, Compared::Unreadable) => &counts.noise_uncompared,
    };
    count.inc();
}
