//! The mixture sequential probability ratio test (mSPRT) of Johari, Pekelis and Walsh,
//! "Always valid inference: continuous monitoring of A/B tests" (Operations Research, 2022),
//! in its two-sample normal-approximation form with a normal mixing distribution.
//!
//! The operator looks at cumulative totals every interval and may stop at any look. A
//! fixed-horizon test would then be checked dozens of times and its false-positive rate would
//! climb far above α; the mSPRT's likelihood ratio is a martingale under the null, so by
//! Ville's inequality the chance it *ever* reaches 1/α is at most α, however often it is read.

use crate::arm::ArmSummary;
use crate::error::{StatsError, finite};

/// Smallest mixing standard deviation [`mixing_sd_for`] returns. The test stays valid for any
/// τ > 0 (τ only moves power between small and large effects), so the floor exists just to keep
/// the test defined when the baseline is still zero; it is tiny so it never masks a real τ.
pub const MIN_MIXING_SD: f64 = 1e-6;

/// The decision rule: significance level and the spread of the normal mixing distribution
/// over the effect under the alternative.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SequentialTest {
    /// Bound on the probability of ever declaring a difference when there is none.
    pub alpha: f64,
    /// τ, the standard deviation of the mixing distribution, in the metric's own units. Power
    /// is best for effects of about this size, so set it from the smallest effect worth
    /// detecting (see [`mixing_sd_for`]).
    pub mixing_sd: f64,
}

/// One look at the data, ready to show and to act on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// θ̂ = candidate mean − stable mean.
    pub effect: f64,
    /// θ̂ / |stable mean|, so a user reads "+10 %" whatever the metric's sign; `None` while
    /// the stable mean is zero.
    pub relative_effect: Option<f64>,
    /// Always-valid (1 − α) confidence sequence for the effect at this look. Intersecting it
    /// with earlier looks' intervals stays valid and is tighter.
    pub interval: (f64, f64),
    /// `interval` divided by |stable mean|. This treats the stable mean as known, so it is a
    /// display aid rather than a confidence sequence for the ratio.
    pub relative_interval: Option<(f64, f64)>,
    /// ln Λ, kept in log space because Λ overflows `f64` once an effect is clear.
    pub log_likelihood_ratio: f64,
    /// Always-valid p-value at this look, min(1, 1/Λ). Only the running minimum over looks
    /// is the sequential p-value; fold looks with [`fold_p_value`].
    pub p_value: f64,
    /// Λ ≥ 1/α. The guarantee covers stopping at the first such look, so callers should make
    /// the decision sticky rather than un-declare a winner when a later look dips.
    pub significant: bool,
}

impl SequentialTest {
    /// Validates the parameters once, so a misconfigured rollout fails at admission rather
    /// than at its first look.
    pub fn new(alpha: f64, mixing_sd: f64) -> Result<Self, StatsError> {
        let test = Self { alpha, mixing_sd };
        test.validate()?;
        Ok(test)
    }

    fn validate(&self) -> Result<(), StatsError> {
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(StatsError::InvalidAlpha(self.alpha));
        }
        if !(self.mixing_sd > 0.0 && self.mixing_sd.is_finite()) {
            return Err(StatsError::InvalidMixingSd(self.mixing_sd));
        }
        Ok(())
    }

    /// Compares the cumulative totals of both arms at one look.
    ///
    /// Fails with [`StatsError::NoVariance`] while both arms are constant (e.g. no conversion
    /// in either yet): the standard error is zero and any difference would look infinitely
    /// significant, so the caller should simply wait for more data.
    pub fn compare(
        &self,
        stable: &ArmSummary,
        candidate: &ArmSummary,
    ) -> Result<Comparison, StatsError> {
        self.validate()?;
        stable.validate()?;
        candidate.validate()?;
        let effect = candidate.mean - stable.mean;
        let v = stable.variance / stable.samples + candidate.variance / candidate.samples;
        let v = finite("variance of the effect", v)?;
        if v <= 0.0 {
            return Err(StatsError::NoVariance);
        }
        let tau2 = self.mixing_sd * self.mixing_sd;
        let log_lr = log_likelihood_ratio(effect, v, tau2);
        let log_threshold = -self.alpha.ln();
        // ln((V+τ²)/V) via ln_1p: when V ≪ τ² the naive ratio loses digits; when V ≫ τ² it
        // rounds to ln(1) = 0.
        let half_width = (v * (1.0 + v / tau2) * (2.0 * log_threshold + (tau2 / v).ln_1p())).sqrt();
        let interval = (effect - half_width, effect + half_width);
        let scale = stable.mean.abs();
        let (relative_effect, relative_interval) = if scale > 0.0 {
            (
                Some(effect / scale),
                Some((interval.0 / scale, interval.1 / scale)),
            )
        } else {
            (None, None)
        };
        Ok(Comparison {
            effect,
            relative_effect,
            interval,
            relative_interval,
            log_likelihood_ratio: log_lr,
            p_value: (-log_lr).exp().min(1.0),
            significant: log_lr >= log_threshold,
        })
    }
}

/// ln Λ = ½ ln(V/(V+τ²)) + θ̂²τ² / (2V(V+τ²)), rearranged so neither term overflows or
/// cancels when V is far from τ².
fn log_likelihood_ratio(effect: f64, v: f64, tau2: f64) -> f64 {
    -0.5 * (tau2 / v).ln_1p() + effect * effect / (2.0 * v) / (1.0 + v / tau2)
}

/// The always-valid p-value is the smallest per-look value seen so far; the operator stores
/// it between looks and folds in each new one.
pub fn fold_p_value(previous: Option<f64>, current: f64) -> f64 {
    previous.map_or(current, |p| p.min(current))
}

/// τ from the smallest relative effect worth detecting, because users think in "+5 %", not in
/// the metric's units. Floored at [`MIN_MIXING_SD`] (also for NaN inputs) so the result is
/// always a usable τ.
pub fn mixing_sd_for(minimum_detectable_effect_relative: f64, baseline_mean: f64) -> f64 {
    (minimum_detectable_effect_relative * baseline_mean)
        .abs()
        .max(MIN_MIXING_SD)
}

/// Per-arm sample size (equal arms) at which Λ would reach 1/α if θ̂ equalled the true effect
/// and the variances were exactly known: the operator's "expected sample size".
///
/// With S = σ²_stable + σ²_candidate and n per arm, V = S/n. Writing x = nτ²/S and c = θ²/τ²,
/// ln Λ = −½ ln(1+x) + c·x²/(2(1+x)), which starts at 0, dips, then rises without bound, so it
/// crosses ln(1/α) > 0 exactly once. We bracket the crossing by doubling x and bisect to
/// relative precision 1e-12, returning the upper end (Λ ≥ 1/α there).
///
/// `None` when the effect is zero (never reached), when both variances are zero (reached with
/// any data, and [`SequentialTest::compare`] refuses that case), or for invalid inputs.
pub fn expected_samples_per_arm(
    stable_mean: f64,
    stable_variance: f64,
    candidate_mean: f64,
    candidate_variance: f64,
    test: &SequentialTest,
) -> Option<f64> {
    test.validate().ok()?;
    let effect = candidate_mean - stable_mean;
    let total_variance = stable_variance + candidate_variance;
    let finite_inputs = effect.is_finite() && total_variance.is_finite();
    if !finite_inputs || stable_variance < 0.0 || candidate_variance < 0.0 {
        return None;
    }
    if effect == 0.0 || total_variance == 0.0 {
        return None;
    }
    let tau2 = test.mixing_sd * test.mixing_sd;
    let c = effect * effect / tau2;
    let threshold = -test.alpha.ln();
    let log_lr = |x: f64| -0.5 * x.ln_1p() + c * x * x / (2.0 * (1.0 + x));

    let mut lo = 0.0;
    let mut hi = 1.0;
    while log_lr(hi) < threshold {
        lo = hi;
        hi *= 2.0;
        if !hi.is_finite() {
            return None;
        }
    }
    while hi - lo > 1e-12 * hi {
        let mid = 0.5 * (lo + hi);
        if log_lr(mid) < threshold {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let samples = hi * total_variance / tau2;
    samples.is_finite().then_some(samples)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn arm(samples: f64, mean: f64, variance: f64) -> ArmSummary {
        ArmSummary {
            samples,
            mean,
            variance,
        }
    }

    fn test_05() -> SequentialTest {
        SequentialTest::new(0.05, 0.01).unwrap()
    }

    #[test]
    fn matches_the_closed_form() {
        let (n, p_s, p_c, tau) = (10_000.0, 0.10, 0.11, 0.01);
        let c = SequentialTest::new(0.05, tau)
            .unwrap()
            .compare(
                &arm(n, p_s, p_s * (1.0 - p_s)),
                &arm(n, p_c, p_c * (1.0 - p_c)),
            )
            .unwrap();
        let v: f64 = (p_s * (1.0 - p_s) + p_c * (1.0 - p_c)) / n;
        let t2 = tau * tau;
        let theta: f64 = p_c - p_s;
        let lambda = (v / (v + t2)).sqrt() * (theta * theta * t2 / (2.0 * v * (v + t2))).exp();
        assert!((c.log_likelihood_ratio - lambda.ln()).abs() < 1e-10);
        assert!((c.p_value - (1.0 / lambda).min(1.0)).abs() < 1e-10);
        assert_eq!(c.significant, lambda >= 20.0);
        let half = (v * (v + t2) / t2 * (2.0 * 20f64.ln() + ((v + t2) / v).ln())).sqrt();
        assert!((c.interval.0 - (theta - half)).abs() < 1e-12);
        assert!((c.interval.1 - (theta + half)).abs() < 1e-12);
        assert!((c.relative_effect.unwrap() - 0.1).abs() < 1e-9);
        let (lo, hi) = c.relative_interval.unwrap();
        assert!((lo - c.interval.0 / 0.1).abs() < 1e-12 && (hi - c.interval.1 / 0.1).abs() < 1e-12);
    }

    #[test]
    fn no_difference_is_never_significant() {
        let c = test_05()
            .compare(&arm(1e6, 0.1, 0.09), &arm(1e6, 0.1, 0.09))
            .unwrap();
        assert_eq!(c.effect, 0.0);
        assert!(c.log_likelihood_ratio < 0.0);
        assert_eq!(c.p_value, 1.0);
        assert!(!c.significant);
    }

    #[test]
    fn likelihood_ratio_grows_with_the_size_of_the_effect() {
        let test = test_05();
        let stable = arm(5_000.0, 0.1, 0.09);
        let mut previous = f64::NEG_INFINITY;
        for step in 0..200 {
            let effect = f64::from(step) * 0.0005;
            let up = test
                .compare(&stable, &arm(5_000.0, 0.1 + effect, 0.09))
                .unwrap();
            let down = test
                .compare(&stable, &arm(5_000.0, 0.1 - effect, 0.09))
                .unwrap();
            assert!(up.log_likelihood_ratio > previous || step == 0);
            assert!((up.log_likelihood_ratio - down.log_likelihood_ratio).abs() < 1e-9);
            previous = up.log_likelihood_ratio;
        }
    }

    #[test]
    fn huge_effects_stay_finite_in_log_space() {
        let c = test_05()
            .compare(&arm(1e9, 0.0, 1e-6), &arm(1e9, 1.0, 1e-6))
            .unwrap();
        assert!(c.log_likelihood_ratio.is_finite() && c.log_likelihood_ratio > 700.0);
        assert_eq!(c.p_value, 0.0);
        assert!(c.significant);
    }

    #[test]
    fn interval_excludes_zero_exactly_when_significant() {
        // A deterministic sweep over effect sizes, sample sizes and mixing spreads, with a
        // dense grid of effects around each boundary.
        let mut checked = 0;
        let mut significant = 0;
        for &tau in &[0.001, 0.01, 0.1, 1.0] {
            for &alpha in &[0.01, 0.05, 0.2] {
                let test = SequentialTest::new(alpha, tau).unwrap();
                for &n in &[10.0, 1_000.0, 100_000.0] {
                    for step in -300..=300 {
                        let effect = f64::from(step) * 1e-4;
                        let c = test
                            .compare(&arm(n, 0.5, 0.25), &arm(n, 0.5 + effect, 0.24))
                            .unwrap();
                        let excludes_zero = c.interval.0 > 0.0 || c.interval.1 < 0.0;
                        assert_eq!(
                            excludes_zero, c.significant,
                            "tau {tau} n {n} effect {effect}"
                        );
                        checked += 1;
                        significant += usize::from(c.significant);
                    }
                }
            }
        }
        assert!(significant > checked / 10 && significant < checked * 9 / 10);
    }

    #[test]
    fn relative_values_are_absent_for_a_zero_baseline() {
        let c = test_05()
            .compare(&arm(100.0, 0.0, 0.0), &arm(100.0, 0.02, 0.0196))
            .unwrap();
        assert_eq!(c.relative_effect, None);
        assert_eq!(c.relative_interval, None);
    }

    #[test]
    fn relative_values_use_the_magnitude_of_a_negative_baseline() {
        let c = test_05()
            .compare(&arm(100.0, -2.0, 1.0), &arm(100.0, -1.0, 1.0))
            .unwrap();
        assert_eq!(c.relative_effect, Some(0.5));
    }

    #[test]
    fn rejects_invalid_parameters_and_data() {
        for alpha in [0.0, 1.0, -0.1, f64::NAN] {
            assert!(matches!(
                SequentialTest::new(alpha, 0.1),
                Err(StatsError::InvalidAlpha(_))
            ));
        }
        for tau in [0.0, -1.0, f64::INFINITY, f64::NAN] {
            assert!(matches!(
                SequentialTest::new(0.05, tau),
                Err(StatsError::InvalidMixingSd(_))
            ));
        }
        let test = test_05();
        assert_eq!(
            test.compare(&arm(100.0, 0.0, 0.0), &arm(100.0, 0.0, 0.0)),
            Err(StatsError::NoVariance)
        );
        assert!(matches!(
            test.compare(&arm(0.0, 0.1, 0.09), &arm(100.0, 0.1, 0.09)),
            Err(StatsError::TooFewSamples { .. })
        ));
        assert!(matches!(
            test.compare(&arm(10.0, f64::NAN, 0.09), &arm(100.0, 0.1, 0.09)),
            Err(StatsError::NotFinite { name: "mean", .. })
        ));
        assert!(matches!(
            test.compare(&arm(10.0, 0.1, -0.09), &arm(100.0, 0.1, 0.09)),
            Err(StatsError::Negative {
                name: "variance",
                ..
            })
        ));
        let tampered = SequentialTest {
            alpha: 2.0,
            mixing_sd: 0.1,
        };
        assert!(
            tampered
                .compare(&arm(10.0, 0.1, 0.09), &arm(10.0, 0.1, 0.09))
                .is_err()
        );
    }

    #[test]
    fn p_value_fold_keeps_the_minimum() {
        assert_eq!(fold_p_value(None, 0.4), 0.4);
        assert_eq!(fold_p_value(Some(0.3), 0.4), 0.3);
        assert_eq!(fold_p_value(Some(0.3), 0.2), 0.2);
    }

    #[test]
    fn mixing_sd_scales_with_the_baseline_and_has_a_floor() {
        assert!((mixing_sd_for(0.1, 0.2) - 0.02).abs() < 1e-15);
        assert!((mixing_sd_for(0.1, -200.0) - 20.0).abs() < 1e-12);
        assert_eq!(mixing_sd_for(0.1, 0.0), MIN_MIXING_SD);
        assert_eq!(mixing_sd_for(f64::NAN, 1.0), MIN_MIXING_SD);
    }

    #[test]
    fn expected_samples_is_where_the_threshold_is_crossed() {
        let test = SequentialTest::new(0.05, mixing_sd_for(0.1, 0.1)).unwrap();
        let (p_s, p_c) = (0.10, 0.11);
        let (v_s, v_c) = (p_s * (1.0 - p_s), p_c * (1.0 - p_c));
        let n = expected_samples_per_arm(p_s, v_s, p_c, v_c, &test).unwrap();
        let at = |n: f64| test.compare(&arm(n, p_s, v_s), &arm(n, p_c, v_c)).unwrap();
        assert!(at(n).significant);
        assert!(!at(n * 0.999).significant);
        assert!((at(n).log_likelihood_ratio - 20f64.ln()).abs() < 1e-6);
        // The sign of the effect does not matter.
        let mirrored = expected_samples_per_arm(p_c, v_c, p_s, v_s, &test).unwrap();
        assert!((mirrored - n).abs() < 1e-6 * n);
    }

    #[test]
    fn expected_samples_grows_as_the_effect_shrinks() {
        let test = SequentialTest::new(0.05, 0.01).unwrap();
        let big = expected_samples_per_arm(0.1, 0.09, 0.12, 0.09, &test).unwrap();
        let small = expected_samples_per_arm(0.1, 0.09, 0.105, 0.09, &test).unwrap();
        assert!(small > big);
    }

    #[test]
    fn expected_samples_is_none_without_an_effect_or_variance() {
        let test = test_05();
        assert_eq!(expected_samples_per_arm(0.1, 0.09, 0.1, 0.09, &test), None);
        assert_eq!(expected_samples_per_arm(0.1, 0.0, 0.2, 0.0, &test), None);
        assert_eq!(expected_samples_per_arm(0.1, -1.0, 0.2, 0.09, &test), None);
        assert_eq!(
            expected_samples_per_arm(f64::NAN, 0.09, 0.2, 0.09, &test),
            None
        );
    }
}
