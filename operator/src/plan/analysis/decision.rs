//! The A/B test's decision, the pure part: which counts are due for a reading, and what a
//! complete reading means, by an always-valid sequential test ([`modeldeploy_stats`]).
//!
//! The status holds every figure the next verdict needs (the running minimum of the p-value, the
//! readings so far, the errors in a row), and a reading is folded in by the same status write
//! that acts on it: a killed operator reads again, and counts are cumulative, so a reading is
//! never lost or counted twice.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use modeldeploy_api::v1alpha1::{
    AbDecision, DecisionGoal, DecisionPhase, DecisionStatus, InconclusivePolicy, Metric,
    MetricProvider, VariantStatus,
};
use modeldeploy_stats::{
    ArmSummary, SequentialTest, StatsError, expected_samples_per_arm, fold_p_value, mixing_sd_for,
    sample_ratio_mismatch,
};

use super::{DEFAULT_CONSECUTIVE_ERROR_LIMIT, Due, Measured, MeasuredValue};
use crate::plan::time::{add, until};

/// Name of the decision's measurements.
pub const DECISION: &str = "decision";

const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
const DEFAULT_CONFIDENCE_PERCENT: i32 = 95;
const DEFAULT_MDE_PERCENT: i32 = 10;
const DEFAULT_MIN_SAMPLES: i64 = 1000;

/// The two sides of the test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Variants<'a> {
    pub stable: &'a str,
    pub candidate: &'a str,
    /// The candidate's share of requests, in percent, as configured.
    pub candidate_weight: i32,
}

/// A decision under way: its spec and when the test must end.
#[derive(Clone, Debug, PartialEq)]
pub struct Decider {
    pub spec: AbDecision,
    /// The index of the step that waits for it.
    pub step: i32,
    pub max_duration: Duration,
}

impl Decider {
    pub fn interval(&self) -> Duration {
        self.spec
            .interval
            .as_ref()
            .and_then(|d| d.to_std().ok())
            .unwrap_or(DEFAULT_INTERVAL)
    }

    fn alpha(&self) -> f64 {
        let confidence = self
            .spec
            .confidence_percent
            .unwrap_or(DEFAULT_CONFIDENCE_PERCENT);
        1.0 - f64::from(confidence) / 100.0
    }

    /// The queries, by name, in the order they are read.
    pub fn sources(&self) -> Vec<(&'static str, &MetricProvider)> {
        match (&self.spec.proportion, &self.spec.mean) {
            (Some(p), _) => vec![("successes", &p.successes), ("trials", &p.trials)],
            (None, Some(m)) => vec![
                ("count", &m.count),
                ("sum", &m.sum),
                ("sumOfSquares", &m.sum_of_squares),
            ],
            (None, None) => Vec::new(),
        }
    }

    /// A new decision, counting from `start`.
    pub fn started(start: Timestamp) -> DecisionStatus {
        DecisionStatus {
            phase: DecisionPhase::Measuring,
            started_at: Time(start),
            measured_at: None,
            readings: 0,
            consecutive_errors: 0,
            message: None,
            stable: None,
            candidate: None,
            effect: None,
            effect_low: None,
            effect_high: None,
            relative_effect_percent: None,
            p_value: None,
            sample_ratio_p_value: None,
            expected_samples: None,
        }
    }

    /// When the next reading is due: an interval after the last one, or after the start (the
    /// counts are all zero at the start).
    fn next_at(&self, status: &DecisionStatus) -> Timestamp {
        add(
            status
                .measured_at
                .as_ref()
                .map_or(status.started_at.0, |t| t.0),
            self.interval(),
        )
    }

    /// `maxDuration` after the step started, one interval before counting started.
    fn ends_at(&self, status: &DecisionStatus) -> Timestamp {
        add(
            status.started_at.0,
            self.max_duration.saturating_sub(self.interval()),
        )
    }

    /// The queries due now, one per source and variant, with `{{revision}}` set to the
    /// variant's revision and `{{elapsed}}` to the time since the test started.
    pub fn due(
        &self,
        status: &DecisionStatus,
        variants: Variants<'_>,
        variables: &BTreeMap<String, String>,
        now: Timestamp,
    ) -> Vec<Due> {
        if status.phase != DecisionPhase::Measuring || self.next_at(status) > now {
            return Vec::new();
        }
        let elapsed = format!("{}s", until(status.started_at.0, now).as_secs().max(1));
        let interval = self
            .spec
            .interval
            .as_ref()
            .map_or_else(|| "1m".to_owned(), |d| d.0.clone());
        let mut due = Vec::new();
        for (variant, revision) in [
            ("stable", variants.stable),
            ("candidate", variants.candidate),
        ] {
            for (source, provider) in self.sources() {
                let mut variables = variables.clone();
                variables.insert("revision".to_owned(), revision.to_owned());
                variables.insert("elapsed".to_owned(), elapsed.clone());
                variables.insert("interval".to_owned(), interval.clone());
                due.push(Due {
                    analysis: DECISION.to_owned(),
                    metric: query(&format!("{variant}-{source}"), provider),
                    args: Vec::new(),
                    variables,
                });
            }
        }
        due
    }

    /// How long until the next reading, or the end of the test.
    pub fn wake(&self, status: &DecisionStatus, now: Timestamp) -> Option<Duration> {
        (status.phase == DecisionPhase::Measuring)
            .then(|| until(now, self.next_at(status).min(self.ends_at(status))))
    }

    /// Folds the reading in `measured` (if complete) into `status`, and ends the test at
    /// `maxDuration` without a winner.
    pub fn record(
        &self,
        status: &mut DecisionStatus,
        measured: &[Measured],
        variants: Variants<'_>,
        now: Timestamp,
    ) {
        if status.phase != DecisionPhase::Measuring {
            return;
        }
        let reading: Vec<&Measured> = measured.iter().filter(|m| m.analysis == DECISION).collect();
        if !reading.is_empty() {
            status.measured_at = Some(Time(now));
            match self.counts(&reading) {
                Ok((stable, candidate)) => {
                    status.readings += 1;
                    status.consecutive_errors = 0;
                    self.judge(status, &stable, &candidate, variants);
                }
                Err(error) => {
                    status.consecutive_errors += 1;
                    status.message = Some(error);
                    if status.consecutive_errors > DEFAULT_CONSECUTIVE_ERROR_LIMIT {
                        status.phase = DecisionPhase::Error;
                    }
                }
            }
        }
        if status.phase == DecisionPhase::Measuring && now >= self.ends_at(status) {
            status.phase = DecisionPhase::Inconclusive;
            status.message = Some(format!(
                "no winner within maxDuration{}",
                status
                    .message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ));
        }
    }

    /// What the test does at `maxDuration` without a winner.
    pub fn on_inconclusive(&self) -> InconclusivePolicy {
        self.spec.on_inconclusive.unwrap_or_default()
    }

    /// The values of a complete reading, per variant in source order.
    fn counts(&self, reading: &[&Measured]) -> Result<(Vec<f64>, Vec<f64>), String> {
        let mut sides = (Vec::new(), Vec::new());
        for (variant, values) in [("stable", &mut sides.0), ("candidate", &mut sides.1)] {
            for (source, _) in self.sources() {
                let name = format!("{variant}-{source}");
                let m = reading
                    .iter()
                    .find(|m| m.metric == name)
                    .ok_or_else(|| format!("{name} was not read"))?;
                let value = match &m.value {
                    Err(error) => return Err(format!("could not read {name}: {error}")),
                    Ok(MeasuredValue::Scalar(x)) => *x,
                    Ok(MeasuredValue::Vector(xs)) => match xs.as_slice() {
                        // No series yet: no requests of this kind, a count of zero.
                        [] => 0.0,
                        [x] => *x,
                        more => {
                            return Err(format!(
                                "{name} returned {} series; sum them into one number",
                                more.len()
                            ));
                        }
                    },
                };
                values.push(if value.is_finite() { value } else { 0.0 });
            }
        }
        Ok(sides)
    }

    fn arm(&self, values: &[f64]) -> Result<ArmSummary, StatsError> {
        match values {
            [successes, trials] => ArmSummary::from_proportion(*successes, *trials),
            [count, sum, squares] => ArmSummary::from_moments(*count, *sum, *squares),
            _ => Err(StatsError::TooFewSamples {
                needed: 1.0,
                got: 0.0,
            }),
        }
    }

    fn judge(
        &self,
        status: &mut DecisionStatus,
        stable_values: &[f64],
        candidate_values: &[f64],
        variants: Variants<'_>,
    ) {
        let samples = |values: &[f64]| values.get(if values.len() == 2 { 1 } else { 0 }).copied();
        let (stable_n, candidate_n) = (
            samples(stable_values).unwrap_or_default(),
            samples(candidate_values).unwrap_or_default(),
        );
        let min_samples = self.spec.min_samples.unwrap_or(DEFAULT_MIN_SAMPLES) as f64;
        let (stable, candidate) = match (self.arm(stable_values), self.arm(candidate_values)) {
            (Ok(s), Ok(c)) => (s, c),
            (Err(error), _) | (_, Err(error)) => {
                status.message = Some(format!(
                    "waiting for samples ({stable_n} stable, {candidate_n} candidate): {error}"
                ));
                return;
            }
        };
        status.stable = Some(variant(variants.stable, &stable));
        status.candidate = Some(variant(variants.candidate, &candidate));
        if stable.samples < min_samples || candidate.samples < min_samples {
            status.message = Some(format!(
                "waiting for {min_samples} samples per variant ({} stable, {} candidate)",
                stable.samples, candidate.samples
            ));
            return;
        }
        let weight = f64::from(variants.candidate_weight.clamp(1, 99));
        match sample_ratio_mismatch(
            &[stable.samples, candidate.samples],
            &[100.0 - weight, weight],
        ) {
            Ok(ratio) => {
                status.sample_ratio_p_value = Some(number(ratio.p_value));
                if ratio.mismatched {
                    status.phase = DecisionPhase::SampleRatioMismatch;
                    status.message = Some(format!(
                        "sample ratio mismatch: {} stable and {} candidate samples do not fit a \
                         {}/{} split (χ² p = {}); check the routing before trusting any effect",
                        stable.samples,
                        candidate.samples,
                        100.0 - weight,
                        weight,
                        number(ratio.p_value)
                    ));
                    return;
                }
            }
            Err(error) => {
                status.message = Some(format!("cannot check the sample ratio: {error}"));
                return;
            }
        }
        let mde = f64::from(
            self.spec
                .minimum_detectable_effect_percent
                .unwrap_or(DEFAULT_MDE_PERCENT),
        ) / 100.0;
        let test = match SequentialTest::new(self.alpha(), mixing_sd_for(mde, stable.mean)) {
            Ok(test) => test,
            Err(error) => {
                status.message = Some(format!("cannot run the test: {error}"));
                return;
            }
        };
        let comparison = match test.compare(&stable, &candidate) {
            Ok(c) => c,
            Err(error) => {
                status.message = Some(format!("waiting for samples: {error}"));
                return;
            }
        };
        let previous = status.p_value.as_deref().and_then(|p| p.parse().ok());
        let p_value = fold_p_value(previous, comparison.p_value);
        status.p_value = Some(number(p_value));
        status.effect = Some(number(comparison.effect));
        status.effect_low = Some(number(comparison.interval.0));
        status.effect_high = Some(number(comparison.interval.1));
        status.relative_effect_percent = comparison.relative_effect.map(|r| number(r * 100.0));
        status.expected_samples = expected_samples_per_arm(
            stable.mean,
            stable.variance,
            candidate.mean,
            candidate.variance,
            &test,
        )
        .map(|n| number(n.ceil()));
        let relative = comparison
            .relative_effect
            .map(|r| format!(" ({:+.2} %)", r * 100.0))
            .unwrap_or_default();
        let figures = format!(
            "candidate {} vs stable {}, effect {}{relative}, {:.0} % interval [{}, {}], p = {}",
            number(candidate.mean),
            number(stable.mean),
            number(comparison.effect),
            (1.0 - self.alpha()) * 100.0,
            number(comparison.interval.0),
            number(comparison.interval.1),
            number(p_value)
        );
        if !comparison.significant {
            status.message = Some(format!("no winner yet: {figures}"));
            return;
        }
        let candidate_better = match self.spec.goal {
            DecisionGoal::Maximize => comparison.effect > 0.0,
            DecisionGoal::Minimize => comparison.effect < 0.0,
        };
        if candidate_better {
            status.phase = DecisionPhase::CandidateWins;
            status.message = Some(format!("the candidate wins: {figures}"));
        } else {
            status.phase = DecisionPhase::StableWins;
            status.message = Some(format!("the stable revision wins: {figures}"));
        }
    }
}

/// A reading of one source, as a metric for the measurer: only its provider and name count.
fn query(name: &str, provider: &MetricProvider) -> Metric {
    Metric::new(name, provider.clone())
}

fn variant(revision: &str, arm: &ArmSummary) -> VariantStatus {
    VariantStatus {
        revision: revision.to_owned(),
        samples: number(arm.samples),
        mean: number(arm.mean),
    }
}

/// Six significant digits: enough to read, stable across writes.
fn number(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = 6 - 1 - x.abs().log10().floor() as i32;
    if (0..=12).contains(&digits) {
        let text = format!("{x:.*}", digits as usize);
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            text
        }
    } else {
        format!("{x:.5e}")
    }
}
