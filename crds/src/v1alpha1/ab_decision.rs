//! The statistical decision of an A/B test.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Duration, MetricProvider};

/// Chooses the A/B test's winner by an always-valid sequential test (a mixture sequential
/// probability ratio test), so that reading the counts every `interval` does not inflate false
/// winners, with a sample-ratio-mismatch guard.
///
/// Each query is asked once per variant, with `{{revision}}` set to that variant's revision, and
/// must return the variant's cumulative total since the test started counting, one interval
/// after the split went live: use `{{elapsed}}` (the time since then, e.g. `3600s`) as the
/// range, e.g.
/// `sum(increase(conversions_total{revision="{{revision}}"}[{{elapsed}}]))`. The other
/// variables of an analysis apply too (`{{name}}`, `{{namespace}}`, `{{stableRevision}}`,
/// `{{service}}`, `{{interval}}`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.proportion) != has(self.mean)")
    .message("abTest.decision sets exactly one of proportion (successes out of trials per variant) or mean (a per-request value from its count, sum and sum of squares)"))]
pub struct AbDecision {
    /// Which way is better: `Maximize` (conversions, success rate, a score) or `Minimize`
    /// (latency, errors).
    pub goal: DecisionGoal,
    /// Time between readings. Default 1m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Confidence of a decision, in percent: a winner is declared once the always-valid p-value
    /// is below 1 − confidence/100. Default 95.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 80, max = 99))]
    pub confidence_percent: Option<i32>,
    /// The smallest difference worth finding, in percent of the stable variant's mean. It tunes
    /// the test's sensitivity: the test finds effects near this size fastest. Default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub minimum_detectable_effect_percent: Option<i32>,
    /// Fewest samples (trials, or requests) per variant before any decision. Default 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub min_samples: Option<i64>,
    /// What the test does at `maxDuration` without a winner: `KeepStable` (the default) rolls
    /// the candidate back; `Pause` waits for a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_inconclusive: Option<InconclusivePolicy>,
    /// Successes out of trials per variant: conversions out of visits, answers without error
    /// out of requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proportion: Option<ProportionDecision>,
    /// A value per request (latency, a score), from its count, sum and sum of squares per
    /// variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<MeanDecision>,
}

/// Which way is better.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum DecisionGoal {
    Maximize,
    Minimize,
}

/// What an A/B test without a winner at `maxDuration` does.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum InconclusivePolicy {
    /// Roll the candidate back, without blame.
    #[default]
    KeepStable,
    /// Hold the test for a person to promote or abort.
    Pause,
}

/// Counts per variant, each a query returning one number.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProportionDecision {
    pub successes: MetricProvider,
    pub trials: MetricProvider,
}

/// Moments of a per-request value per variant, each a query returning one number: for a value
/// `x` per request, the number of requests, the sum of `x` and the sum of `x²`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeanDecision {
    pub count: MetricProvider,
    pub sum: MetricProvider,
    pub sum_of_squares: MetricProvider,
}

/// Where an A/B decision stands, with the figures behind it. Numbers are decimal strings, as
/// the API keeps no floating-point fields.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DecisionStatus {
    pub phase: DecisionPhase,
    /// When the test starts counting: one interval after the split is live, so that the counts
    /// hold only requests of the split. `{{elapsed}}` counts from here.
    pub started_at: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
    /// When the counts were last read completely.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_at: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    /// Complete readings so far.
    #[serde(default)]
    pub readings: i32,
    /// Readings in a row that failed (a query error, or a value that is not a count).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub consecutive_errors: i32,
    /// The verdict, or what the test waits for, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable: Option<VariantStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<VariantStatus>,
    /// The candidate's mean minus the stable's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
    /// The always-valid confidence interval of `effect`, at `confidencePercent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect_low: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect_high: Option<String>,
    /// `effect` in percent of the stable's mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative_effect_percent: Option<String>,
    /// The always-valid p-value: the smallest so far, as it stays valid however often it is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_value: Option<String>,
    /// The p-value of the χ² test of the samples per variant against the configured split;
    /// below 0.001 the split is broken and the test cannot decide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_ratio_p_value: Option<String>,
    /// Samples per variant at which an effect of the size seen now would be found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_samples: Option<String>,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

/// One variant's figures.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VariantStatus {
    pub revision: String,
    /// Trials, or requests.
    pub samples: String,
    /// Success rate, or mean value.
    pub mean: String,
}

/// Where an A/B decision stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum DecisionPhase {
    /// Reading the counts; no winner yet.
    Measuring,
    /// The candidate is better: it is promoted.
    CandidateWins,
    /// The stable revision is better: the candidate is rolled back.
    StableWins,
    /// `maxDuration` passed without a winner.
    Inconclusive,
    /// The samples do not split as configured: the test cannot decide, and a person does.
    SampleRatioMismatch,
    /// The counts could not be read past the error limit: a person decides.
    Error,
}

impl DecisionPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionPhase::Measuring => "Measuring",
            DecisionPhase::CandidateWins => "CandidateWins",
            DecisionPhase::StableWins => "StableWins",
            DecisionPhase::Inconclusive => "Inconclusive",
            DecisionPhase::SampleRatioMismatch => "SampleRatioMismatch",
            DecisionPhase::Error => "Error",
        }
    }
}
