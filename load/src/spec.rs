//! What a run sends, and the limits that keep every run small and local.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use http::Method;
use hyper::body::Bytes;

/// The longest run accepted: a load generator left running by a forgotten test or demo should
/// end on its own within minutes.
pub const MAX_DURATION: Duration = Duration::from_secs(600);
/// The highest rate accepted, per second. Far above what one loopback gateway in a test needs;
/// it exists so that a typo (an extra zero or two) is refused rather than obeyed.
pub const MAX_RATE: f64 = 100_000.0;
/// The longest per-request timeout accepted. The run's end waits for the last request, so this
/// bounds how far a run can overrun its duration.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);
/// Requests allowed in flight at once unless the spec says otherwise.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 256;
/// The most requests in flight a spec may ask for: each holds a task and often a connection.
pub const MAX_IN_FLIGHT: usize = 4096;
/// The most distinct user ids: their header values are built once, before the run.
pub const MAX_USERS: u32 = 100_000;
/// The most requests a run that records a timeline may plan. A sample is under 100 bytes, so a
/// full timeline stays under about 20 MB; a run over the cap is refused rather than recorded in
/// part, because a partial timeline would answer "were there errors in this window" wrongly.
pub const TIMELINE_CAPACITY: u64 = 200_000;
/// One row of the iris data set, as the demo model's `/predict` takes it.
pub const DEFAULT_BODY: &str = r#"{"instances": [[5.1, 3.5, 1.4, 0.2]]}"#;

/// When a run stops sending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Send for this long (at most [`MAX_DURATION`]).
    After(Duration),
    /// Send this many requests (taking at most [`MAX_DURATION`] at the spec's rate).
    Requests(u64),
}

/// What to send, where and how fast. Start from [`LoadSpec::new`] and override fields with
/// struct update syntax; [`run`](super::run) checks the whole spec before sending anything.
#[derive(Clone, Debug)]
pub struct LoadSpec {
    /// Where to connect. Loopback only (127.0.0.0/8 or `[::1]`): this tool is for a gateway that
    /// was port-forwarded to the local machine, never for hosts elsewhere.
    pub target: SocketAddr,
    /// The `Host` header, which picks the route at a gateway; the target address when unset.
    pub host: Option<String>,
    pub method: Method,
    /// Path and query, starting with `/`.
    pub path: String,
    pub body: Bytes,
    /// Requests started per second, whatever the answers' latency (an open loop).
    pub rate: f64,
    pub stop: Stop,
    /// Extra headers, sent as given on every request. `content-type: application/json` is added
    /// unless one is given here.
    pub headers: Vec<(String, String)>,
    /// When set to n, request i carries `x-user-id: user-<i mod n>`, so that a route which keeps
    /// each user on one variant can be checked for stickiness.
    pub users: Option<NonZeroU32>,
    /// The most a request may take, connecting and reading the whole answer included.
    pub timeout: Duration,
    /// Requests allowed in flight at once. When the target is too slow to keep up, a request
    /// due while this many are outstanding is not sent and is counted as skipped, so that the
    /// rate stays what was asked and the shortfall shows in the report.
    pub max_in_flight: usize,
    /// Keep every request's outcome in [`LoadReport::timeline`](super::LoadReport::timeline),
    /// for questions about time windows. Refused for runs of more than [`TIMELINE_CAPACITY`].
    pub record_timeline: bool,
}

impl LoadSpec {
    /// 100 requests per second for 10 seconds: `POST /predict` with [`DEFAULT_BODY`], a timeout
    /// of 5 seconds, no timeline.
    pub fn new(target: SocketAddr) -> LoadSpec {
        LoadSpec {
            target,
            host: None,
            method: Method::POST,
            path: "/predict".to_owned(),
            body: Bytes::from_static(DEFAULT_BODY.as_bytes()),
            rate: 100.0,
            stop: Stop::After(Duration::from_secs(10)),
            headers: Vec::new(),
            users: None,
            timeout: Duration::from_secs(5),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            record_timeline: false,
        }
    }
}
