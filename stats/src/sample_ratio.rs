//! Sample-ratio-mismatch (SRM) guard.
//!
//! If the arms receive traffic in a ratio other than the configured weights, the routing or
//! the metric pipeline is broken (requests dropped, retried or mislabelled in one arm), and
//! any effect the sequential test reports is suspect. The check is a Pearson χ² goodness of
//! fit of the observed per-arm trial counts against the weights.

use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::error::{StatsError, non_negative};

/// Significance level for declaring a mismatch. Much stricter than a usual α because the
/// guard is read at every look and a false alarm halts a healthy rollout; a real routing bug
/// produces p-values far below this within minutes.
pub const SRM_ALPHA: f64 = 0.001;

/// Outcome of one goodness-of-fit check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleRatio {
    /// Pearson's statistic Σ (observed − expected)² / expected.
    pub chi_square: f64,
    /// Upper-tail probability of `chi_square` under χ²(k − 1).
    pub p_value: f64,
    /// `p_value < SRM_ALPHA`.
    pub mismatched: bool,
}

/// Tests observed trial counts per arm against the configured traffic weights, which need not
/// sum to one (percentages work as they are).
///
/// Every weight must be positive: an arm meant to get no traffic is not part of the
/// experiment and should be left out.
pub fn sample_ratio_mismatch(
    observed: &[f64],
    expected_weights: &[f64],
) -> Result<SampleRatio, StatsError> {
    if observed.len() != expected_weights.len() {
        return Err(StatsError::LengthMismatch {
            observed: observed.len(),
            expected: expected_weights.len(),
        });
    }
    let arms = observed.len();
    if arms < 2 {
        return Err(StatsError::TooFewArms(arms));
    }
    for (arm, &value) in expected_weights.iter().enumerate() {
        if !(value > 0.0 && value.is_finite()) {
            return Err(StatsError::InvalidWeight { arm, value });
        }
    }
    let mut total = 0.0;
    for &count in observed {
        total += non_negative("observed count", count)?;
    }
    if total == 0.0 {
        return Err(StatsError::TooFewSamples {
            needed: 1.0,
            got: total,
        });
    }
    let weight_sum: f64 = expected_weights.iter().sum();
    let chi_square: f64 = observed
        .iter()
        .zip(expected_weights)
        .map(|(&o, &w)| {
            let expected = total * w / weight_sum;
            (o - expected) * (o - expected) / expected
        })
        .sum();
    // `arms >= 2` above, so the degrees of freedom are positive and this cannot fail.
    let degrees_of_freedom = (arms - 1) as f64;
    let distribution =
        ChiSquared::new(degrees_of_freedom).map_err(|_| StatsError::TooFewArms(arms))?;
    // The survival function evaluates the upper incomplete gamma directly; 1 − cdf would
    // round every p-value below ~1e-16 to zero and lose how extreme a mismatch is.
    let p_value = distribution.sf(chi_square);
    Ok(SampleRatio {
        chi_square,
        p_value,
        mismatched: p_value < SRM_ALPHA,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn known_two_arm_value() {
        let r = sample_ratio_mismatch(&[4_500.0, 5_500.0], &[50.0, 50.0]).unwrap();
        assert!((r.chi_square - 100.0).abs() < 1e-9);
        // P(χ²₁ > 100) = erfc(√50) ≈ 1.524e-23; the survival function keeps it non-zero.
        assert!(r.p_value > 1.5e-23 && r.p_value < 1.55e-23, "{}", r.p_value);
        assert!(r.mismatched);
    }

    #[test]
    fn perfect_split_has_p_one() {
        let r = sample_ratio_mismatch(&[900.0, 100.0], &[0.9, 0.1]).unwrap();
        assert!(r.chi_square.abs() < 1e-9);
        assert!((r.p_value - 1.0).abs() < 1e-12);
        assert!(!r.mismatched);
    }

    #[test]
    fn three_arms_use_two_degrees_of_freedom() {
        // For two degrees of freedom the tail is exactly exp(−χ²/2).
        let r = sample_ratio_mismatch(&[2_400.0, 2_600.0, 5_000.0], &[1.0, 1.0, 2.0]).unwrap();
        assert!((r.chi_square - 8.0).abs() < 1e-9);
        assert!((r.p_value - (-4f64).exp()).abs() < 1e-12);
        assert!(!r.mismatched);
        let r = sample_ratio_mismatch(&[2_300.0, 2_700.0, 5_000.0], &[1.0, 1.0, 2.0]).unwrap();
        assert!((r.chi_square - 32.0).abs() < 1e-9);
        assert!((r.p_value / (-16f64).exp() - 1.0).abs() < 1e-9);
        assert!(r.mismatched);
    }

    #[test]
    fn rejects_invalid_inputs() {
        assert_eq!(
            sample_ratio_mismatch(&[1.0, 2.0], &[1.0]),
            Err(StatsError::LengthMismatch {
                observed: 2,
                expected: 1
            })
        );
        assert_eq!(
            sample_ratio_mismatch(&[1.0], &[1.0]),
            Err(StatsError::TooFewArms(1))
        );
        assert_eq!(
            sample_ratio_mismatch(&[1.0, 2.0], &[1.0, 0.0]),
            Err(StatsError::InvalidWeight { arm: 1, value: 0.0 })
        );
        assert!(matches!(
            sample_ratio_mismatch(&[1.0, 2.0], &[f64::NAN, 1.0]),
            Err(StatsError::InvalidWeight { arm: 0, .. })
        ));
        assert!(matches!(
            sample_ratio_mismatch(&[-1.0, 2.0], &[1.0, 1.0]),
            Err(StatsError::Negative { .. })
        ));
        assert!(matches!(
            sample_ratio_mismatch(&[0.0, 0.0], &[1.0, 1.0]),
            Err(StatsError::TooFewSamples { .. })
        ));
    }
}
