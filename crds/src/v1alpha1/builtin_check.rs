//! Checks of the candidate that need no PromQL: its success rate and latency, absolute or
//! against the stable revision, from the metrics of the demo model server or of Istio/Envoy.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Duration;

/// A check of the candidate's answers, written for you as Prometheus metrics: set
/// `successRate`, `latency` or both. Each bound becomes one metric of the analysis, named
/// `success-rate`, `success-rate-vs-stable`, `latency-p<N>` or `latency-p<N>-vs-stable`,
/// measured every `interval` (default 1m) over a window of that interval, starting one interval
/// after the analysis starts.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.successRate) || has(self.latency)")
    .message("a check sets successRate, latency or both"))]
pub struct BuiltInCheck {
    /// Whose metrics: `DemoModel` (the demo model server's `demo_model_inference_*`, the
    /// default), `Istio` (`istio_requests_total` and
    /// `istio_request_duration_milliseconds_bucket` of the revision's workload) or `Router`
    /// (the model router's `modeldeploy_router_requests_total` and
    /// `modeldeploy_router_request_duration_seconds_bucket` by revision, which see every
    /// request whatever the model server; with `traffic.provider: router`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<CheckSource>,
    /// Time between measurements, and the window each one looks at. Default 1m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Measurements of each bound; unset: as in a metric (as long as the rollout lasts in
    /// background analysis, one elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub count: Option<i32>,
    /// Failed measurements tolerated per bound, as a metric's `failureLimit`. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 10000))]
    pub failure_limit: Option<i32>,
    /// Fewest requests the candidate (and, for a bound against stable, the stable too) must
    /// have answered in a window for its measurement to be judged; a window with fewer is
    /// inconclusive, as a window without requests always is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000000000))]
    pub min_requests: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_rate: Option<SuccessRateCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyCheck>,
}

/// Where a built-in check reads.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum CheckSource {
    #[default]
    DemoModel,
    Istio,
    Router,
}

/// The share of the candidate's answers that are not 5xx. Set `minPercent`, `maxDropPercent` or
/// both.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.minPercent) || has(self.maxDropPercent)")
    .message("successRate sets minPercent (e.g. \"99\"), maxDropPercent (e.g. \"0.5\") or both"))]
pub struct SuccessRateCheck {
    /// Lowest success rate, in percent, e.g. `"99"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16))]
    #[x_kube(validation = Rule::new("self.matches('^[0-9]+(\\\\.[0-9]+)?$') && double(self) <= 100.0").message("successRate.minPercent is a decimal percentage from 0 to 100, e.g. \"99.5\""))]
    pub min_percent: Option<String>,
    /// Most the candidate's success rate may be below the stable's, in percentage points, e.g.
    /// `"0.5"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16))]
    #[x_kube(validation = Rule::new("self.matches('^[0-9]+(\\\\.[0-9]+)?$') && double(self) <= 100.0").message("successRate.maxDropPercent is a decimal number of percentage points from 0 to 100, e.g. \"0.5\""))]
    pub max_drop_percent: Option<String>,
}

/// A latency percentile of the candidate's answers. Set `maxMs`, `maxIncreasePercent` or both.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.maxMs) || has(self.maxIncreasePercent)")
    .message("latency sets maxMs (e.g. 500), maxIncreasePercent (e.g. 10) or both"))]
pub struct LatencyCheck {
    /// The percentile, from 50 to 99. Default 99.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 50, max = 99))]
    pub percentile: Option<i32>,
    /// Highest latency at that percentile, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600000))]
    pub max_ms: Option<i32>,
    /// Most the candidate's latency at that percentile may exceed the stable's, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 10000))]
    pub max_increase_percent: Option<i32>,
}
