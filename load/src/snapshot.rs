//! What happened in the last second of a run, for printing a split while a canary walks.

use std::fmt;
use std::time::Duration;

use super::counts::Counts;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The end of the window, from the start of the run.
    pub at: Duration,
    /// How long the window was: a second, except for the last one of a run.
    pub window: Duration,
    /// Requests sent in the window.
    pub sent: u64,
    /// Requests that finished in the window, whenever they were sent.
    pub counts: Counts,
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>6.1}s  sent {:>5}  {}",
            self.at.as_secs_f64(),
            self.sent,
            self.counts
        )
    }
}
