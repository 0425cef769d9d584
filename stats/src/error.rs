//! The one error type of the crate.

/// Why a statistic could not be computed.
///
/// Every variant names the offending input, because the operator surfaces these messages
/// verbatim in a rollout's status and the user has to know which metric to fix.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// NaN or infinity reached a place where only real numbers make sense.
    #[error("{name} must be a finite number, got {value}")]
    NotFinite {
        /// The input's name.
        name: &'static str,
        /// The value received.
        value: f64,
    },
    /// A count, sum of squares or variance was negative.
    #[error("{name} must not be negative, got {value}")]
    Negative {
        /// The input's name.
        name: &'static str,
        /// The value received.
        value: f64,
    },
    /// More successes than trials: the two counters are out of step or swapped.
    #[error("successes ({successes}) exceed trials ({trials})")]
    SuccessesExceedTrials {
        /// Successes received.
        successes: f64,
        /// Trials received.
        trials: f64,
    },
    /// Too few samples for the statistic to exist (zero trials, or fewer than two values
    /// for an unbiased variance).
    #[error("need at least {needed} samples, got {got}")]
    TooFewSamples {
        /// The minimum the statistic needs.
        needed: f64,
        /// The count received.
        got: f64,
    },
    /// The sum of squares is smaller than the sum allows, so the counters disagree.
    #[error(
        "sum of squares ({sum_of_squares}) is inconsistent with sum ({sum}) over {count} samples"
    )]
    InconsistentMoments {
        /// Count received.
        count: f64,
        /// Sum received.
        sum: f64,
        /// Sum of squares received.
        sum_of_squares: f64,
    },
    /// Significance level outside the open unit interval.
    #[error("alpha must be in (0, 1), got {0}")]
    InvalidAlpha(f64),
    /// The mixing distribution needs a positive, finite spread.
    #[error("mixing standard deviation must be positive and finite, got {0}")]
    InvalidMixingSd(f64),
    /// Both arms are constant so far, so the effect's standard error is zero.
    #[error("no variance yet: both arms have constant values so far")]
    NoVariance,
    /// Per-arm inputs of different lengths.
    #[error("{observed} observed arms but {expected} expected weights")]
    LengthMismatch {
        /// Number of observed counts.
        observed: usize,
        /// Number of weights.
        expected: usize,
    },
    /// A comparison of fewer than two arms.
    #[error("need at least two arms, got {0}")]
    TooFewArms(usize),
    /// A configured traffic weight that is zero, negative or not finite.
    #[error("expected weight of arm {arm} must be positive and finite, got {value}")]
    InvalidWeight {
        /// Zero-based arm index.
        arm: usize,
        /// The weight received.
        value: f64,
    },
}

/// Rejects NaN and infinities, naming the input in the error.
pub(crate) fn finite(name: &'static str, value: f64) -> Result<f64, StatsError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(StatsError::NotFinite { name, value })
    }
}

/// Rejects non-finite and negative values.
pub(crate) fn non_negative(name: &'static str, value: f64) -> Result<f64, StatsError> {
    let value = finite(name, value)?;
    if value < 0.0 {
        Err(StatsError::Negative { name, value })
    } else {
        Ok(value)
    }
}
