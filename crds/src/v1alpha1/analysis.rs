use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Duration;

/// Checks that decide whether a rollout goes on: metrics measured while the rollout runs, each
/// judged by CEL conditions.
///
/// Queries and URLs may use `{{name}}` (the ModelDeployment), `{{namespace}}`, `{{revision}}`
/// (the candidate), `{{stableRevision}}`, `{{service}}` (the candidate's Service),
/// `{{interval}}` (the metric's interval, e.g. `1m`) and `{{args.<name>}}`. Any other `{{...}}` is
/// refused before traffic moves.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.metrics) && size(self.metrics) > 0) || (has(self.templates) && size(self.templates) > 0) || (has(self.checks) && size(self.checks) > 0)")
    .message("an analysis needs metrics, checks, or templates that hold metrics"))]
pub struct AnalysisSpec {
    /// The metrics, each measured `count` times, `interval` apart.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub metrics: Vec<Metric>,
    /// Built-in checks of the candidate's success rate and latency, written as metrics for you.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 4))]
    pub checks: Vec<super::BuiltInCheck>,
    /// `ModelAnalysisTemplate`s (or, with `clusterScope: true`,
    /// `ClusterModelAnalysisTemplate`s) whose metrics join `metrics`. A template that is missing,
    /// a metric name used twice, or a template argument left without a value stalls the rollout
    /// before traffic moves. Templates are read at each measurement, so an edit applies from
    /// the next one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub templates: Vec<AnalysisTemplateRef>,
    /// Values for `{{args.<name>}}` in queries and URLs, the templates' arguments included; a
    /// value here replaces a template's default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub args: Vec<AnalysisArg>,
    /// What a failed analysis does: `Rollback` (the default) returns traffic to the stable
    /// revision; `Pause` holds the rollout for a person, for teams still building trust in a
    /// query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<FailurePolicy>,
}

/// What a failed analysis does.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum FailurePolicy {
    /// Roll back: traffic to the stable revision first, then the candidate's pods go.
    #[default]
    Rollback,
    /// Hold the rollout where it is until a person promotes, resumes or aborts it.
    Pause,
}

/// A reference to an analysis template.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisTemplateRef {
    /// The template's name: a `ModelAnalysisTemplate` in the ModelDeployment's namespace, or a
    /// `ClusterModelAnalysisTemplate` with `clusterScope: true`.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Refer to a `ClusterModelAnalysisTemplate`. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cluster_scope: bool,
}

/// A value for `{{args.<name>}}`. Set exactly one of `value` or `valueFrom`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.value) != has(self.valueFrom)")
    .message("an analysis argument sets exactly one of value or valueFrom"))]
pub struct AnalysisArg {
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z][A-Za-z0-9_-]*$')").message("argument names start with a letter and hold letters, digits, '_' and '-', e.g. errorBudget"))]
    #[schemars(length(max = 63))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<ValueSource>,
}

/// A value read from a key of a Secret or a ConfigMap in the ModelDeployment's namespace. Set
/// exactly one field. Values from Secrets are never written to status, events or logs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.secretKeyRef) != has(self.configMapKeyRef)")
    .message("valueFrom sets exactly one of secretKeyRef or configMapKeyRef"))]
pub struct ValueSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<KeyReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<KeyReference>,
}

/// A key of a Secret or ConfigMap in the ModelDeployment's namespace.
#[derive(
    Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct KeyReference {
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// One measured quantity and the conditions on it.
///
/// Each measurement is judged on its own: `failureCondition` true → failed; else
/// `successCondition` true → successful; a `successCondition` that is false with no
/// `failureCondition` → failed; a `failureCondition` that is false with no `successCondition` →
/// successful; both set and both false → inconclusive. A query that returns nothing (an empty
/// vector, or NaN such as 0/0 with no traffic) counts as `noData` says, before any condition.
/// The metric then fails when its failed measurements exceed `failureLimit`, is inconclusive
/// when its inconclusive measurements exceed `inconclusiveLimit`, errs when errors in a row
/// exceed `consecutiveErrorLimit`, and succeeds once `count` conclusive measurements
/// (successful, or failed within `failureLimit`) are taken without any of those: inconclusive
/// measurements and errors never count towards `count`, so no data never passes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.successCondition) || has(self.failureCondition)")
    .message("a metric needs a successCondition or a failureCondition, e.g. successCondition: result < 0.01"))]
#[x_kube(validation = Rule::new("!has(self.count) || self.count == 1 || has(self.interval)")
    .message("a metric measured more than once needs an interval between measurements, e.g. interval: 1m"))]
#[x_kube(validation = Rule::new("!has(self.minSamples) || has(self.provider.prometheus)")
    .message("minSamples counts samples with a PromQL query, so it needs a prometheus provider"))]
pub struct Metric {
    /// Unique name within the analysis.
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')").message("metric name must be lowercase letters, digits and '-', e.g. error-rate"))]
    #[schemars(length(max = 63))]
    pub name: String,
    /// Time between measurements. Unset: one measurement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// Number of measurements. Unset: one for a metric without an interval; for one with an
    /// interval, as many as the rollout lasts in background analysis and one elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub count: Option<i32>,
    /// Wait this long after the analysis starts before the first measurement, so that a window
    /// such as `rate(...[1m])` holds only requests of the new split. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay: Option<Duration>,
    /// CEL expression over `result` (a number, or a list of numbers when the query returns a
    /// vector) that marks a measurement successful, e.g. `result <= 0.01` or
    /// `result.all(x, x <= 0.01)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub success_condition: Option<String>,
    /// CEL expression over `result` that marks a measurement failed, e.g. `result > 0.05`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub failure_condition: Option<String>,
    /// Failed measurements tolerated: the metric fails at failed measurement number
    /// `failureLimit + 1`. Default 0: the first failure fails it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 10000))]
    pub failure_limit: Option<i32>,
    /// Inconclusive measurements tolerated: at number `inconclusiveLimit + 1` the rollout
    /// pauses for a person. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 10000))]
    pub inconclusive_limit: Option<i32>,
    /// Measurement errors in a row tolerated (Prometheus down, a timeout, a bad answer): at
    /// `consecutiveErrorLimit + 1` in a row the rollout holds (paused, `AnalysisError`) and
    /// keeps measuring; the first measurement that is not an error resets the run and the
    /// rollout goes on by itself. Errors never count as failures. Default 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 10000))]
    pub consecutive_error_limit: Option<i32>,
    /// What a measurement without data counts as: `Inconclusive` (the default: no data never
    /// passes), `Fail` or `Pass`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_data: Option<NoDataPolicy>,
    /// Measure and report, but never decide: a dry-run metric's verdict is shown and never
    /// holds, promotes or rolls back the rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// The fewest samples a measurement may rest on: a measurement over fewer (an error rate of
    /// three requests) counts as `noData` says, so it never passes by default. Needs a
    /// `prometheus` provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_samples: Option<MinSamples>,
    /// Where the measurement comes from.
    pub provider: MetricProvider,
}

/// How many samples a measurement rests on, counted by a second PromQL query taken with each
/// measurement, from the same Prometheus, with the same variables.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MinSamples {
    /// PromQL that counts the samples, e.g.
    /// `sum(increase(requests_total{revision="{{revision}}"}[{{interval}}]))`. When it returns
    /// several series, the smallest counts (each must hold enough); an empty answer, or NaN, is
    /// no samples. A failing count query is a measurement error.
    #[schemars(length(min = 1, max = 8192))]
    pub query: String,
    /// Fewest samples for a measurement to be judged by its conditions.
    #[schemars(range(min = 1))]
    pub count: i64,
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

/// A PromQL instant query: a scalar or a vector of numbers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusMetric {
    /// Prometheus base URL, e.g. `http://prometheus.monitoring:9090`; the operator's
    /// `--prometheus-url` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^https?://.+')").message("prometheus.address must be an http:// or https:// URL"))]
    #[schemars(length(max = 2048))]
    pub address: Option<String>,
    /// The query, with the variables listed on the analysis substituted.
    #[schemars(length(min = 1, max = 8192))]
    pub query: String,
    /// Time allowed for an answer. Default 10s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// A bearer token sent as `Authorization: Bearer <token>`, from a Secret key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_secret_ref: Option<KeyReference>,
}

/// An HTTP endpoint that returns a JSON document.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebMetric {
    /// The URL, with the variables listed on the analysis substituted.
    #[x_kube(validation = Rule::new("self.matches('^https?://.+')").message("web.url must be an http:// or https:// URL"))]
    #[schemars(length(max = 2048))]
    pub url: String,
    /// JSONPath (RFC 9535) of the number, or the numbers, in the response, e.g.
    /// `$.data.errorRate`; the whole document when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub json_path: Option<String>,
    /// Headers sent with the request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub headers: Vec<WebMetricHeader>,
    /// Time allowed for an answer. Default 10s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}

/// A header sent with a web metric request. Set exactly one of `value` or `valueFrom`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.value) != has(self.valueFrom)")
    .message("a web metric header sets exactly one of value or valueFrom, e.g. valueFrom: {secretKeyRef: {name: api, key: token}}"))]
pub struct WebMetricHeader {
    #[schemars(length(min = 1, max = 256))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<ValueSource>,
}

impl Metric {
    /// A metric of `provider` measured once, without conditions yet and with every limit at its
    /// default: a start for code that writes metrics (built-in checks, templates in tests).
    pub fn new(name: impl Into<String>, provider: MetricProvider) -> Metric {
        Metric {
            name: name.into(),
            interval: None,
            count: None,
            initial_delay: None,
            success_condition: None,
            failure_condition: None,
            failure_limit: None,
            inconclusive_limit: None,
            consecutive_error_limit: None,
            no_data: None,
            dry_run: None,
            min_samples: None,
            provider,
        }
    }
}

impl MetricProvider {
    /// A PromQL query of the operator's `--prometheus-url`.
    pub fn prometheus(query: impl Into<String>) -> MetricProvider {
        MetricProvider {
            prometheus: Some(PrometheusMetric {
                address: None,
                query: query.into(),
                timeout: None,
                bearer_token_secret_ref: None,
            }),
            web: None,
        }
    }
}
