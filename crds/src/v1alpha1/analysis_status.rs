use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Most measurements kept per metric in status; older ones are summed up in the counts.
pub const MEASUREMENTS_KEPT: usize = 10;

/// One analysis of a rollout: a gate (a step, pre- or post-promotion) or the background
/// analysis, with every metric's measurements so far.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisRunStatus {
    /// `background`, `step-<n>` (the step's number from 1), `prePromotion`, `postPromotion` or
    /// `shadow`.
    pub name: String,
    pub phase: AnalysisPhase,
    /// When it started measuring; `initialDelay` counts from here.
    pub started_at: Time,
    /// The verdict for people, e.g. which metric failed with which value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricStatus>,
}

/// Where an analysis or a metric stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum AnalysisPhase {
    /// Still measuring.
    Running,
    /// Every deciding metric succeeded.
    Successful,
    /// A deciding metric failed.
    Failed,
    /// A deciding metric was inconclusive past its limit: a person decides.
    Inconclusive,
    /// A deciding metric could not be measured past its error limit: the rollout holds, and
    /// goes on once a measurement succeeds (or a person decides).
    Error,
}

impl AnalysisPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            AnalysisPhase::Running => "Running",
            AnalysisPhase::Successful => "Successful",
            AnalysisPhase::Failed => "Failed",
            AnalysisPhase::Inconclusive => "Inconclusive",
            AnalysisPhase::Error => "Error",
        }
    }

    /// No more measurements are taken. An analysis that cannot measure (`Error`) keeps
    /// trying, and goes on by itself once it can: a Prometheus that was down holds the rollout
    /// only while it is down.
    pub fn is_final(self) -> bool {
        !matches!(self, AnalysisPhase::Running | AnalysisPhase::Error)
    }

    /// A verdict people are told about: anything but `Running`.
    pub fn is_verdict(self) -> bool {
        self != AnalysisPhase::Running
    }
}

/// One metric of an analysis: its counts and its latest measurements.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricStatus {
    pub name: String,
    pub phase: AnalysisPhase,
    /// Measured and reported only; never decides.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// Measurements taken, of every outcome.
    #[serde(default)]
    pub measured: i32,
    #[serde(default)]
    pub successful: i32,
    #[serde(default)]
    pub failed: i32,
    #[serde(default)]
    pub inconclusive: i32,
    #[serde(default)]
    pub errors: i32,
    /// Errors since the last measurement that was not an error.
    #[serde(default)]
    pub consecutive_errors: i32,
    /// The latest measurements, oldest first; at most 10.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurements: Vec<MeasurementStatus>,
}

/// One measurement.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeasurementStatus {
    pub phase: MeasurementPhase,
    /// The value, as CEL saw it: a number, or a list of numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub measured_at: Time,
    /// Why it is not successful: the condition that failed, or the measurement error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The verdict on one measurement.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum MeasurementPhase {
    Successful,
    Failed,
    Inconclusive,
    /// Not measured: the provider failed or answered something that is not a number.
    Error,
}

impl MeasurementPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            MeasurementPhase::Successful => "Successful",
            MeasurementPhase::Failed => "Failed",
            MeasurementPhase::Inconclusive => "Inconclusive",
            MeasurementPhase::Error => "Error",
        }
    }
}
