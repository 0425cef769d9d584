//! Measuring: the I/O half of analysis. The planner says which metrics are due
//! ([`crate::plan::due`]); this module reads the Secrets and ConfigMaps they name, fills in
//! their templates, asks each metric's provider, and hands back what it measured for the
//! planner to judge.
//!
//! [`MetricSource`] is the extension point; each provider is a module ([`prometheus`], [`web`]).

mod prometheus;
#[cfg(test)]
mod tests;
pub mod values;
mod web;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use futures::future::join_all;
use jiff::Timestamp;
use modeldeploy_api::v1alpha1::PrometheusMetric;
use tracing::debug;

use crate::plan::analysis::{Due, Measured, MeasuredValue};
use crate::registry::HttpClient;
pub use values::{Lookup, Values};

/// Time a provider has to answer when the metric does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The transport's own deadline: above any metric's timeout, which is enforced per request.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);

/// Why a measurement has no value. Messages never hold a credential.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    #[error("no answer within {}s", .0.as_secs_f64())]
    Timeout(Duration),
    #[error("{0}")]
    Failed(String),
    /// A Secret or ConfigMap key the metric needs is missing or unreadable.
    #[error("{0}")]
    Reference(String),
}

/// A rendered request to one provider.
#[derive(Debug)]
pub struct Request<'a> {
    pub due: &'a Due,
    /// Template values: the built-ins and `args.<name>`.
    pub values: &'a BTreeMap<String, String>,
    /// Values from Secrets, to look up credentials by reference.
    pub lookup: &'a Lookup,
}

/// A source of measurements.
pub trait MetricSource {
    fn measure(
        &self,
        request: &Request<'_>,
    ) -> impl Future<Output = Result<MeasuredValue, MeasureError>> + Send;
}

/// Takes measurements for the planner.
#[derive(Clone, Debug)]
pub struct Measurer {
    http: HttpClient,
    /// `--prometheus-url`: the Prometheus of metrics that name no address.
    default_prometheus: Option<String>,
}

impl Measurer {
    pub fn new(http: HttpClient, default_prometheus: Option<String>) -> Measurer {
        Measurer {
            http,
            default_prometheus,
        }
    }

    /// Measures every metric of `due`, at once, each within its timeout. A metric whose
    /// references cannot be read is an error measurement like any other: it counts towards
    /// `consecutiveErrorLimit`, and the status says what is missing.
    pub async fn measure(&self, lookup: &Lookup, due: &[Due], now: Timestamp) -> Vec<Measured> {
        join_all(due.iter().map(|d| async move {
            let measured = self.measure_one(lookup, d).await;
            if let Err(error) = &measured {
                debug!(analysis = %d.analysis, metric = %d.metric.name, %error, "measurement failed");
            }
            let (value, samples) = match measured {
                Ok((value, samples)) => (Ok(value), samples),
                Err(error) => (Err(lookup.redact(&error.to_string())), None),
            };
            Measured {
                analysis: d.analysis.clone(),
                metric: d.metric.name.clone(),
                at: now,
                value,
                samples,
            }
        }))
        .await
    }

    /// The value of `due`, and the samples it rests on when the metric counts them.
    async fn measure_one(
        &self,
        lookup: &Lookup,
        due: &Due,
    ) -> Result<(MeasuredValue, Option<f64>), MeasureError> {
        let mut values = due.variables.clone();
        for arg in &due.args {
            values.insert(format!("args.{}", arg.name), lookup.arg(arg)?);
        }
        let request = Request {
            due,
            values: &values,
            lookup,
        };
        let provider = &due.metric.provider;
        if let Some(metric) = &provider.prometheus {
            let source = prometheus::Prometheus {
                http: &self.http,
                metric,
                default_address: self.default_prometheus.as_deref(),
            };
            let Some(min) = &due.metric.min_samples else {
                let value = within(metric.timeout.as_ref(), source.measure(&request)).await?;
                return Ok((value, None));
            };
            let counting = PrometheusMetric {
                query: min.query.clone(),
                ..metric.clone()
            };
            let counter = prometheus::Prometheus {
                metric: &counting,
                ..source
            };
            let (value, samples) = futures::join!(
                within(metric.timeout.as_ref(), source.measure(&request)),
                within(metric.timeout.as_ref(), counter.measure(&request)),
            );
            let samples = samples
                .map_err(|e| MeasureError::Failed(format!("counting samples (minSamples): {e}")))?;
            Ok((value?, Some(fewest(&samples))))
        } else if let Some(metric) = &provider.web {
            let source = web::Web {
                http: &self.http,
                metric,
            };
            let value = within(metric.timeout.as_ref(), source.measure(&request)).await?;
            Ok((value, None))
        } else {
            Err(MeasureError::Failed(
                "the metric names no provider".to_owned(),
            ))
        }
    }
}

/// The samples a count query found: its smallest series, each of which must hold enough; no
/// samples when it found nothing.
fn fewest(counted: &MeasuredValue) -> f64 {
    let fewest = match counted {
        MeasuredValue::Scalar(n) => *n,
        MeasuredValue::Vector(ns) => ns.iter().copied().reduce(f64::min).unwrap_or(0.0),
    };
    if fewest.is_finite() { fewest } else { 0.0 }
}

async fn within(
    timeout: Option<&modeldeploy_api::v1alpha1::Duration>,
    measuring: impl Future<Output = Result<MeasuredValue, MeasureError>>,
) -> Result<MeasuredValue, MeasureError> {
    let timeout = timeout
        .and_then(|t| t.to_std().ok())
        .unwrap_or(DEFAULT_TIMEOUT);
    tokio::time::timeout(timeout, measuring)
        .await
        .map_err(|_| MeasureError::Timeout(timeout))?
}

/// A number from JSON: a number, or a string holding one (Prometheus writes samples as strings);
/// `null` is no data.
fn number(value: &serde_json::Value) -> Result<f64, MeasureError> {
    match value {
        serde_json::Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| MeasureError::Failed(format!("{n} is not a number"))),
        serde_json::Value::String(s) => s
            .parse()
            .map_err(|_| MeasureError::Failed(format!("{s:?} is not a number"))),
        serde_json::Value::Null => Ok(f64::NAN),
        other => Err(MeasureError::Failed(format!(
            "{} is not a number",
            shorten(&other.to_string())
        ))),
    }
}

/// At most 200 characters of `text`, for messages.
fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(200).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}
