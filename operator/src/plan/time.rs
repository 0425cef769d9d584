//! Time arithmetic for the planner, saturating instead of failing.

use std::time::Duration;

use jiff::Timestamp;

/// `at + delay`, or the end of time when that overflows.
pub(super) fn add(at: Timestamp, delay: Duration) -> Timestamp {
    jiff::SignedDuration::try_from(delay)
        .ok()
        .and_then(|d| at.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

/// How long from `now` until `at`; zero when `at` has passed.
pub(super) fn until(now: Timestamp, at: Timestamp) -> Duration {
    Duration::try_from(at.duration_since(now)).unwrap_or_default()
}
