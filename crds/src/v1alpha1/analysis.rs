use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Duration;

/// Checks that decide whether a rollout goes on: references to reusable templates and inline
/// metrics.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.templates) || has(self.metrics)")
    .message("an analysis needs at least one template or metric"))]
pub struct AnalysisSpec {
    /// Reusable analysis templates in the same namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(min = 1, max = 16))]
    pub templates: Vec<AnalysisTemplateRef>,
    /// Metrics written inline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(min = 1, max = 32), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub metrics: Vec<Metric>,
}

/// A reference to an analysis template.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisTemplateRef {
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// One measured quantity and the conditions on it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.successCondition) || has(self.failureCondition)")
    .message("a metric needs a successCondition or a failureCondition, e.g. successCondition: result < 0.01"))]
pub struct Metric {
    /// Unique name within the analysis.
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')").message("metric name must be lowercase letters, digits and '-', e.g. error-rate"))]
    #[schemars(length(max = 63))]
    pub name: String,
    /// Time between measurements; one measurement when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Number of measurements; unbounded for background analysis when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub count: Option<i32>,
    /// CEL expression over `result` that marks a measurement successful.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub success_condition: Option<String>,
    /// CEL expression over `result` that marks a measurement failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub failure_condition: Option<String>,
    /// Failed measurements tolerated before the analysis fails. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub failure_limit: Option<i32>,
    /// Inconclusive measurements tolerated before the rollout pauses for a person. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub inconclusive_limit: Option<i32>,
    /// Measurement errors in a row tolerated before the analysis errs. Default 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub consecutive_error_limit: Option<i32>,
    /// What a query that returns no data counts as. Default `Inconclusive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_data: Option<NoDataPolicy>,
    /// Where the measurement comes from.
    pub provider: MetricProvider,
}

/// What an empty measurement means.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum NoDataPolicy {
    Fail,
    Inconclusive,
    Pass,
}

/// The source of a measurement. Set exactly one field.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.prometheus) != has(self.web)")
    .message("a metric provider sets exactly one of prometheus or web"))]
pub struct MetricProvider {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusMetric>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<WebMetric>,
}

/// A PromQL query that returns one number.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusMetric {
    /// Prometheus base URL; the operator's default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The query. `{{revision}}`, `{{stableRevision}}` and `{{namespace}}` are substituted.
    #[schemars(length(min = 1, max = 8192))]
    pub query: String,
}

/// An HTTP endpoint that returns a JSON document.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebMetric {
    #[x_kube(validation = Rule::new("self.matches('^https?://.+')").message("web.url must be an http:// or https:// URL"))]
    #[schemars(length(max = 2048))]
    pub url: String,
    /// JSONPath of the number in the response, e.g. `$.data.errorRate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_path: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub headers: Vec<WebMetricHeader>,
    /// Time allowed for an answer. Default 10s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}

/// A header sent with a web metric request.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebMetricHeader {
    pub name: String,
    pub value: String,
}
