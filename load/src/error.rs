//! Why a run was refused. Every check happens before the first request, so an error here means
//! nothing was sent.

use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "target {target} is not a loopback address: the load generator only sends to \
         127.0.0.0/8 or [::1]; port-forward the gateway to loopback and target that"
    )]
    NotLoopback { target: SocketAddr },
    #[error("rate {rate}/s is out of range: it must be above 0 and at most {max}/s")]
    Rate { rate: f64, max: f64 },
    #[error(
        "the run would last {planned:.1?}, over the limit of {limit:?}: \
         lower the duration or the request count"
    )]
    TooLong { planned: Duration, limit: Duration },
    #[error(
        "the run would send no request: give a duration of at least one interval (1/rate) \
         or a request count above 0"
    )]
    Nothing,
    #[error("timeout {timeout:?} is out of range: it must be above 0 and at most {max:?}")]
    Timeout { timeout: Duration, max: Duration },
    #[error("max in-flight {value} is out of range: it must be from 1 to {max}")]
    InFlight { value: usize, max: usize },
    #[error("{value} users is over the limit of {max}")]
    Users { value: u32, max: u32 },
    #[error("path {path:?} is not a request path: {reason}")]
    Path { path: String, reason: String },
    #[error("header {name:?}: {reason}")]
    Header { name: String, reason: String },
    #[error(
        "a timeline of {planned} requests is over the cap of {cap}: \
         record a shorter or slower run, or leave the timeline off"
    )]
    TimelineTooLong { planned: u64, cap: u64 },
    #[error("could not set up the latency histogram: {0}")]
    Histogram(#[from] hdrhistogram::CreationError),
}
