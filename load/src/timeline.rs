//! Every request's outcome by when it was sent, for questions about time windows: "from 4 s on,
//! did only version 2 answer?", "how many errors between 2 s and 3 s?". Recorded only when the
//! spec asks, and only for runs of at most `TIMELINE_CAPACITY` requests, so it is always whole.

use std::time::Duration;

use super::outcome::{Outcome, Variant};

/// One request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// When it was sent, from the start of the run.
    pub sent_at: Duration,
    /// How long until the whole answer was read, or until it failed.
    pub latency: Duration,
    pub outcome: Outcome,
}

impl Sample {
    /// A success that named `version`.
    pub fn is_from(&self, version: &str) -> bool {
        matches!(
            &self.outcome,
            Outcome::Answered { variant: Variant::Version(v), .. } if v == version
        )
    }

    /// An error status or no answer at all.
    pub fn is_error(&self) -> bool {
        matches!(
            self.outcome,
            Outcome::Failed(_)
                | Outcome::Answered {
                    variant: Variant::Error,
                    ..
                }
        )
    }
}

/// The samples of a run, ordered by when each request was sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timeline {
    samples: Vec<Sample>,
}

impl Timeline {
    /// Requests finish out of order; sorting once at the end keeps recording cheap.
    pub(crate) fn from_unordered(mut samples: Vec<Sample>) -> Timeline {
        samples.sort_by_key(|s| s.sent_at);
        Timeline { samples }
    }

    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// The requests sent from `from` to `to`, both included.
    pub fn between(&self, from: Duration, to: Duration) -> &[Sample] {
        let start = self.samples.partition_point(|s| s.sent_at < from);
        let end = self.samples.partition_point(|s| s.sent_at <= to);
        self.samples.get(start..end).unwrap_or(&[])
    }

    /// Error statuses and failed requests among those sent from `from` to `to`, both included.
    pub fn errors_between(&self, from: Duration, to: Duration) -> usize {
        self.between(from, to)
            .iter()
            .filter(|s| s.is_error())
            .count()
    }

    /// Whether every request sent at or after `from` succeeded and named `version`. False when
    /// none was sent that late: an empty window proves nothing.
    pub fn all_from(&self, from: Duration, version: &str) -> bool {
        let later = self.between(from, Duration::MAX);
        !later.is_empty() && later.iter().all(|s| s.is_from(version))
    }

    /// The earliest time from which every request was answered by `version`: when a rollout
    /// settled, as the traffic saw it. None when the last request was not answered by it.
    pub fn settled_on(&self, version: &str) -> Option<Duration> {
        let first_of_tail = match self.samples.iter().rposition(|s| !s.is_from(version)) {
            Some(last_other) => last_other + 1,
            None => 0,
        };
        self.samples.get(first_of_tail).map(|s| s.sent_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TransportError;

    fn sample(millis: u64, outcome: Outcome) -> Sample {
        Sample {
            sent_at: Duration::from_millis(millis),
            latency: Duration::from_millis(1),
            outcome,
        }
    }

    fn version(v: &str) -> Outcome {
        Outcome::Answered {
            status: 200,
            variant: Variant::Version(v.to_owned()),
        }
    }

    #[test]
    fn answers_window_questions() {
        let timeline = Timeline::from_unordered(vec![
            sample(300, version("2")),
            sample(0, version("1")),
            sample(
                100,
                Outcome::Answered {
                    status: 500,
                    variant: Variant::Error,
                },
            ),
            sample(200, Outcome::Failed(TransportError::Reset)),
            sample(400, version("2")),
        ]);
        let ms = Duration::from_millis;
        assert_eq!(timeline.samples()[0].sent_at, ms(0));
        assert_eq!(timeline.errors_between(ms(100), ms(200)), 2);
        assert_eq!(timeline.errors_between(ms(201), ms(400)), 0);
        assert!(timeline.all_from(ms(250), "2"));
        assert!(!timeline.all_from(ms(200), "2"));
        assert!(!timeline.all_from(ms(401), "2"));
        assert_eq!(timeline.settled_on("2"), Some(ms(300)));
        assert_eq!(timeline.settled_on("1"), None);
    }
}
