//! A run's result, and the table it prints as.

use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::counts::Counts;
use super::timeline::Timeline;

#[derive(Clone, Debug)]
pub struct LoadReport {
    /// From the first request sent to the last one finished.
    pub elapsed: Duration,
    /// Requests the spec asked for.
    pub planned: u64,
    /// Requests sent.
    pub sent: u64,
    /// Requests not sent because `max_in_flight` were already outstanding: the target could
    /// not keep up with the rate.
    pub skipped: u64,
    pub counts: Counts,
    /// Latency of the requests that got an answer, any status; failures are left out because a
    /// refused connection's latency says nothing about the model.
    pub latency: Latency,
    /// Every request's outcome, when the spec asked for it.
    pub timeline: Option<Timeline>,
}

impl LoadReport {
    /// Requests that finished: answered, failed or timed out.
    pub fn total(&self) -> u64 {
        self.counts.total()
    }

    /// The share of successful answers that came from `version`, from 0 to 1.
    pub fn share(&self, version: &str) -> f64 {
        self.counts.share(version)
    }

    /// Successful answers from `version`.
    pub fn count(&self, version: &str) -> u64 {
        self.counts.count(version)
    }

    /// Error statuses and transport failures.
    pub fn errors(&self) -> u64 {
        self.counts.errors()
    }

    /// Answers with the status `code`.
    pub fn status(&self, code: u16) -> u64 {
        self.counts.status(code)
    }
}

/// Latency percentiles, to the histogram's precision of three significant digits (rounded up,
/// so a percentile is never below the latencies it stands for).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Latency {
    pub samples: u64,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Latency {
    /// From a histogram of microseconds.
    pub(crate) fn of(histogram: &Histogram<u64>) -> Latency {
        if histogram.is_empty() {
            return Latency::default();
        }
        let at = |q| Duration::from_micros(histogram.value_at_quantile(q));
        Latency {
            samples: histogram.len(),
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: Duration::from_micros(histogram.max()),
        }
    }
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.samples == 0 {
            return f.write_str("no answers");
        }
        write!(
            f,
            "p50 {}  p90 {}  p99 {}  max {}",
            millis(self.p50),
            millis(self.p90),
            millis(self.p99),
            millis(self.max)
        )
    }
}

/// Three significant digits below 10 ms (the histogram's precision), where loopback latencies
/// differ by tenths of a millisecond.
fn millis(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2}ms")
    } else {
        format!("{ms:.1}ms")
    }
}

/// A compact table: one row per version, then errors, statuses and latency.
impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.elapsed.as_secs_f64();
        let rate = if seconds > 0.0 {
            self.sent as f64 / seconds
        } else {
            0.0
        };
        write!(
            f,
            "sent {} of {} in {seconds:.1}s ({rate:.0}/s)",
            self.sent, self.planned
        )?;
        if self.skipped > 0 {
            write!(f, ", {} skipped: target too slow", self.skipped)?;
        }
        writeln!(f)?;
        writeln!(f, "{:<18} {:>8} {:>7}", "variant", "answers", "share")?;
        let counts = &self.counts;
        for (version, count) in &counts.variants {
            let share = 100.0 * counts.share(version);
            writeln!(f, "{version:<18} {count:>8} {share:>6.1}%")?;
        }
        for (label, count) in [
            ("unparsed", counts.unparsed),
            ("error", counts.error_responses),
        ] {
            if count > 0 {
                writeln!(f, "{label:<18} {count:>8}")?;
            }
        }
        for (error, count) in &counts.transport_errors {
            writeln!(f, "{:<18} {count:>8}", error.to_string())?;
        }
        let statuses: Vec<String> = counts
            .statuses
            .iter()
            .map(|(code, n)| format!("{code}×{n}"))
            .collect();
        if !statuses.is_empty() {
            writeln!(f, "statuses  {}", statuses.join("  "))?;
        }
        write!(f, "latency   {}", self.latency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Outcome, TransportError, Variant};

    #[test]
    fn prints_a_compact_table() {
        let mut counts = Counts::default();
        for (n, version) in [(9, "1"), (1, "2")] {
            for _ in 0..n {
                counts.add(&Outcome::Answered {
                    status: 200,
                    variant: Variant::Version(version.into()),
                });
            }
        }
        counts.add(&Outcome::Answered {
            status: 500,
            variant: Variant::Error,
        });
        counts.add(&Outcome::Failed(TransportError::TimedOut));
        let report = LoadReport {
            elapsed: Duration::from_millis(1200),
            planned: 12,
            sent: 12,
            skipped: 0,
            counts,
            latency: Latency {
                samples: 11,
                p50: Duration::from_micros(1500),
                p90: Duration::from_millis(3),
                p99: Duration::from_millis(4),
                max: Duration::from_millis(4),
            },
            timeline: None,
        };
        assert_eq!(
            report.to_string(),
            "sent 12 of 12 in 1.2s (10/s)\n\
             variant             answers   share\n\
             1                         9   90.0%\n\
             2                         1   10.0%\n\
             error                     1\n\
             timed out                 1\n\
             statuses  200×10  500×1\n\
             latency   p50 1.50ms  p90 3.00ms  p99 4.00ms  max 4.00ms"
        );
        assert_eq!(report.total(), 12);
        assert_eq!(report.share("1"), 0.9);
    }
}
