//! Per-arm sufficient statistics, built from the cumulative counters the operator scrapes.

use crate::error::{StatsError, finite, non_negative};

/// What the normal approximation needs to know about one arm: how many units, their mean,
/// and the per-unit variance (not the variance of the mean).
///
/// Counts are `f64` because they come from Prometheus counters, which are floats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArmSummary {
    /// Number of units (requests, sessions) observed so far.
    pub samples: f64,
    /// Mean value per unit.
    pub mean: f64,
    /// Per-unit variance.
    pub variance: f64,
}

impl ArmSummary {
    /// Summarises a conversion-style metric, whose per-unit values are 0 or 1, so the
    /// variance follows from the rate alone: p̂(1 − p̂).
    pub fn from_proportion(successes: f64, trials: f64) -> Result<Self, StatsError> {
        let successes = non_negative("successes", successes)?;
        let trials = non_negative("trials", trials)?;
        if trials == 0.0 {
            return Err(StatsError::TooFewSamples {
                needed: 1.0,
                got: trials,
            });
        }
        if successes > trials {
            return Err(StatsError::SuccessesExceedTrials { successes, trials });
        }
        let rate = successes / trials;
        Ok(Self {
            samples: trials,
            mean: rate,
            variance: rate * (1.0 - rate),
        })
    }

    /// Summarises a per-request value (latency, score) from running count, sum and sum of
    /// squares, which is all a counter-based scrape can give; the variance is the unbiased
    /// one, so at least two samples are needed.
    pub fn from_moments(count: f64, sum: f64, sum_of_squares: f64) -> Result<Self, StatsError> {
        let count = non_negative("count", count)?;
        let sum = finite("sum", sum)?;
        let sum_of_squares = non_negative("sum of squares", sum_of_squares)?;
        if count < 2.0 {
            return Err(StatsError::TooFewSamples {
                needed: 2.0,
                got: count,
            });
        }
        let mean = sum / count;
        let centred = sum_of_squares - sum * mean;
        // Cauchy–Schwarz makes `centred` non-negative for real data. Within `tolerance` of zero
        // it is rounding in float counters (equal values, or a coefficient of variation below
        // ~3e-5), so it becomes exactly zero and constant arms read as "no variance yet";
        // further below zero means the counters were scraped out of step.
        let tolerance = sum_of_squares * 1e-9;
        if centred < -tolerance {
            return Err(StatsError::InconsistentMoments {
                count,
                sum,
                sum_of_squares,
            });
        }
        let centred = if centred <= tolerance { 0.0 } else { centred };
        Ok(Self {
            samples: count,
            mean,
            variance: centred / (count - 1.0),
        })
    }

    /// Guards the public fields, which callers may have filled in by hand.
    pub(crate) fn validate(&self) -> Result<(), StatsError> {
        let samples = non_negative("samples", self.samples)?;
        if samples == 0.0 {
            return Err(StatsError::TooFewSamples {
                needed: 1.0,
                got: samples,
            });
        }
        finite("mean", self.mean)?;
        non_negative("variance", self.variance)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn proportion_uses_bernoulli_variance() {
        let arm = ArmSummary::from_proportion(100.0, 1000.0).unwrap();
        assert_eq!(arm.samples, 1000.0);
        assert!((arm.mean - 0.1).abs() < 1e-15);
        assert!((arm.variance - 0.09).abs() < 1e-15);
    }

    #[test]
    fn proportion_extremes_have_zero_variance() {
        assert_eq!(
            ArmSummary::from_proportion(0.0, 10.0).unwrap().variance,
            0.0
        );
        assert_eq!(
            ArmSummary::from_proportion(10.0, 10.0).unwrap().variance,
            0.0
        );
    }

    #[test]
    fn proportion_rejects_bad_counts() {
        assert_eq!(
            ArmSummary::from_proportion(11.0, 10.0),
            Err(StatsError::SuccessesExceedTrials {
                successes: 11.0,
                trials: 10.0
            })
        );
        assert_eq!(
            ArmSummary::from_proportion(0.0, 0.0),
            Err(StatsError::TooFewSamples {
                needed: 1.0,
                got: 0.0
            })
        );
        assert!(matches!(
            ArmSummary::from_proportion(-1.0, 10.0),
            Err(StatsError::Negative {
                name: "successes",
                ..
            })
        ));
        assert!(matches!(
            ArmSummary::from_proportion(1.0, f64::NAN),
            Err(StatsError::NotFinite { name: "trials", .. })
        ));
    }

    #[test]
    fn moments_match_direct_computation() {
        let values = [1.0, 2.0, 4.0, 7.0, 11.0];
        let sum: f64 = values.iter().sum();
        let squares: f64 = values.iter().map(|v| v * v).sum();
        let arm = ArmSummary::from_moments(5.0, sum, squares).unwrap();
        let mean = sum / 5.0;
        let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4.0;
        assert!((arm.mean - mean).abs() < 1e-12);
        assert!((arm.variance - variance).abs() < 1e-12);
    }

    #[test]
    fn moments_of_constant_values_round_to_zero_variance() {
        // 0.1 is not exact in binary, so the centred sum comes out a hair off zero.
        let arm = ArmSummary::from_moments(3.0, 0.3, 0.03).unwrap();
        assert_eq!(arm.variance, 0.0);
    }

    #[test]
    fn moments_reject_bad_inputs() {
        assert_eq!(
            ArmSummary::from_moments(1.0, 1.0, 1.0),
            Err(StatsError::TooFewSamples {
                needed: 2.0,
                got: 1.0
            })
        );
        assert!(matches!(
            ArmSummary::from_moments(10.0, 100.0, 10.0),
            Err(StatsError::InconsistentMoments { .. })
        ));
        assert!(matches!(
            ArmSummary::from_moments(10.0, f64::INFINITY, 10.0),
            Err(StatsError::NotFinite { name: "sum", .. })
        ));
        assert!(matches!(
            ArmSummary::from_moments(10.0, 1.0, -1.0),
            Err(StatsError::Negative {
                name: "sum of squares",
                ..
            })
        ));
    }
}
