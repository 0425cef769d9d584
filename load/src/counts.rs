//! Outcomes added up: per version, per status, per transport failure. The same tally serves the
//! whole run and each second of it.

use std::collections::BTreeMap;
use std::fmt;

use super::outcome::{Outcome, TransportError, Variant};

/// The most distinct versions counted by name. A split has a handful; a server that named a new
/// one in every answer must not grow the tally without bound, so answers naming a version past
/// this many are counted as unparsed.
pub const MAX_VARIANTS: usize = 256;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Successful answers by the `model_version` they named.
    pub variants: BTreeMap<String, u64>,
    /// Answers with a status other than 2xx.
    pub error_responses: u64,
    /// Successful answers that named no version (or one past [`MAX_VARIANTS`]).
    pub unparsed: u64,
    /// Every answer by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that got no answer, by why.
    pub transport_errors: BTreeMap<TransportError, u64>,
}

impl Counts {
    pub(crate) fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Answered { status, variant } => {
                *self.statuses.entry(*status).or_default() += 1;
                match variant {
                    Variant::Version(version) => {
                        // Looked up before inserting so that the common case does not allocate.
                        let known = self.variants.len();
                        match self.variants.get_mut(version) {
                            Some(count) => *count += 1,
                            None if known < MAX_VARIANTS => {
                                self.variants.insert(version.clone(), 1);
                            }
                            None => self.unparsed += 1,
                        }
                    }
                    Variant::Error => self.error_responses += 1,
                    Variant::Unparsed => self.unparsed += 1,
                }
            }
            Outcome::Failed(error) => *self.transport_errors.entry(*error).or_default() += 1,
        }
    }

    /// Requests that finished: answered, failed or timed out.
    pub fn total(&self) -> u64 {
        self.responses() + self.transport_error_count()
    }

    /// Requests that got an HTTP answer, whatever its status.
    pub fn responses(&self) -> u64 {
        self.statuses.values().sum()
    }

    /// Answers that succeeded and named a version: the denominator of [`Counts::share`].
    pub fn successful(&self) -> u64 {
        self.variants.values().sum()
    }

    /// Successful answers from `version`.
    pub fn count(&self, version: &str) -> u64 {
        self.variants.get(version).copied().unwrap_or(0)
    }

    /// The share of successful answers that came from `version`, from 0 to 1; 0 when there were
    /// none.
    pub fn share(&self, version: &str) -> f64 {
        match self.successful() {
            0 => 0.0,
            successful => self.count(version) as f64 / successful as f64,
        }
    }

    /// Answers with the status `code`.
    pub fn status(&self, code: u16) -> u64 {
        self.statuses.get(&code).copied().unwrap_or(0)
    }

    pub fn transport_error_count(&self) -> u64 {
        self.transport_errors.values().sum()
    }

    /// Requests that did not succeed: error statuses and transport failures.
    pub fn errors(&self) -> u64 {
        self.error_responses + self.transport_error_count()
    }
}

/// One line: each version's count and share, then what went wrong, if anything.
impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut item = |f: &mut fmt::Formatter<'_>, text: fmt::Arguments<'_>| {
            let gap = if first { "" } else { "  " };
            first = false;
            write!(f, "{gap}{text}")
        };
        for (version, count) in &self.variants {
            let share = 100.0 * self.share(version);
            item(f, format_args!("{version}: {count} ({share:.1}%)"))?;
        }
        if self.unparsed > 0 {
            item(f, format_args!("unparsed: {}", self.unparsed))?;
        }
        if self.error_responses > 0 {
            let codes: Vec<String> = self
                .statuses
                .iter()
                .filter(|(code, _)| !(200..300).contains(*code))
                .map(|(code, n)| format!("{code}×{n}"))
                .collect();
            item(
                f,
                format_args!("error: {} ({})", self.error_responses, codes.join(" ")),
            )?;
        }
        for (error, count) in &self.transport_errors {
            item(f, format_args!("{error}: {count}"))?;
        }
        if self.total() == 0 {
            item(f, format_args!("no answers"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_of_successful_answers() {
        let mut counts = Counts::default();
        let answer = |status, variant| Outcome::Answered { status, variant };
        for _ in 0..3 {
            counts.add(&answer(200, Variant::Version("1".into())));
        }
        counts.add(&answer(200, Variant::Version("2".into())));
        counts.add(&answer(503, Variant::Error));
        counts.add(&answer(200, Variant::Unparsed));
        counts.add(&Outcome::Failed(TransportError::Refused));
        assert_eq!(counts.total(), 7);
        assert_eq!(counts.responses(), 6);
        assert_eq!(counts.successful(), 4);
        assert_eq!(counts.share("1"), 0.75);
        assert_eq!(counts.share("3"), 0.0);
        assert_eq!(counts.errors(), 2);
        assert_eq!(counts.status(200), 5);
        assert_eq!(
            counts.to_string(),
            "1: 3 (75.0%)  2: 1 (25.0%)  unparsed: 1  error: 1 (503×1)  connection refused: 1"
        );
        assert_eq!(Counts::default().to_string(), "no answers");
    }
}
