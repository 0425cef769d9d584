//! The Prometheus provider: an instant query through the HTTP API (`/api/v1/query`).
//!
//! A scalar, or a vector of one sample, is a number; a vector of several samples is a list;
//! an empty vector is no data.

use http::header::{AUTHORIZATION, HeaderValue};
use modeldeploy_api::v1alpha1::PrometheusMetric;
use serde_json::Value;

use super::{MeasureError, MetricSource, Request, number, shorten};
use crate::plan::analysis::{MeasuredValue, template};
use crate::registry::HttpClient;

pub(super) struct Prometheus<'a> {
    pub http: &'a HttpClient,
    pub metric: &'a PrometheusMetric,
    pub default_address: Option<&'a str>,
}

impl MetricSource for Prometheus<'_> {
    async fn measure(&self, request: &Request<'_>) -> Result<MeasuredValue, MeasureError> {
        let address = self
            .metric
            .address
            .as_deref()
            .or(self.default_address)
            .ok_or_else(|| {
                MeasureError::Failed(
                    "the metric names no prometheus.address and the operator has no --prometheus-url"
                        .to_owned(),
                )
            })?;
        let query = template::render(&self.metric.query, request.values);
        let encoded: String = form_urlencoded::byte_serialize(query.as_bytes()).collect();
        let uri = format!(
            "{}/api/v1/query?query={encoded}",
            address.trim_end_matches('/')
        )
        .parse()
        .map_err(|e| MeasureError::Failed(format!("invalid Prometheus address {address}: {e}")))?;
        let mut headers = Vec::new();
        if let Some(key) = &self.metric.bearer_token_secret_ref {
            let token = request.lookup.secret(key)?;
            let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                MeasureError::Reference(format!(
                    "the key {} of the Secret {} is not a usable bearer token",
                    key.key, key.name
                ))
            })?;
            headers.push((AUTHORIZATION, value));
        }
        let answer = self
            .http
            .get_with(uri, &headers)
            .await
            .map_err(|e| MeasureError::Failed(format!("Prometheus at {address}: {e}")))?;
        let body: Option<Value> = serde_json::from_slice(&answer.body).ok();
        if !answer.status.is_success() {
            let detail = body
                .as_ref()
                .and_then(|b| b["error"].as_str())
                .map(|e| format!(": {}", shorten(e)))
                .unwrap_or_default();
            return Err(MeasureError::Failed(format!(
                "Prometheus answered {}{detail}",
                answer.status.as_u16()
            )));
        }
        let body = body.ok_or_else(|| {
            MeasureError::Failed("Prometheus answered something that is not JSON".to_owned())
        })?;
        parse(&body)
    }
}

/// The value of a query answer's `data`.
pub(super) fn parse(body: &Value) -> Result<MeasuredValue, MeasureError> {
    let data = &body["data"];
    match data["resultType"].as_str() {
        Some("scalar") => Ok(MeasuredValue::Scalar(number(&data["result"][1])?)),
        Some("vector") => {
            let samples = data["result"].as_array().cloned().unwrap_or_default();
            let values = samples
                .iter()
                .map(|s| number(&s["value"][1]))
                .collect::<Result<Vec<f64>, _>>()?;
            Ok(match values.as_slice() {
                [one] => MeasuredValue::Scalar(*one),
                _ => MeasuredValue::vector(values),
            })
        }
        Some(other) => Err(MeasureError::Failed(format!(
            "the query gives a {other}; a metric needs a scalar or an instant vector"
        ))),
        None => Err(MeasureError::Failed(
            "Prometheus answered without data.resultType".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn scalars_single_samples_and_vectors() {
        let scalar = json!({"data": {"resultType": "scalar", "result": [1.0, "0.25"]}});
        assert_eq!(parse(&scalar).ok(), Some(MeasuredValue::Scalar(0.25)));
        let one = json!({"data": {"resultType": "vector", "result": [{"metric": {}, "value": [1.0, "3"]}]}});
        assert_eq!(parse(&one).ok(), Some(MeasuredValue::Scalar(3.0)));
        let two = json!({"data": {"resultType": "vector", "result": [
            {"metric": {"a": "1"}, "value": [1.0, "1"]},
            {"metric": {"a": "2"}, "value": [1.0, "NaN"]},
            {"metric": {"a": "3"}, "value": [1.0, "2"]}]}});
        assert_eq!(
            parse(&two).ok(),
            Some(MeasuredValue::Vector(vec![1.0, 2.0]))
        );
        let empty = json!({"data": {"resultType": "vector", "result": []}});
        assert!(parse(&empty).is_ok_and(|v| v.is_empty()));
        let nan = json!({"data": {"resultType": "vector", "result": [{"metric": {}, "value": [1.0, "NaN"]}]}});
        assert!(parse(&nan).is_ok_and(|v| v.is_empty()));
    }

    #[test]
    fn ranges_and_strings_are_refused() {
        let matrix = json!({"data": {"resultType": "matrix", "result": []}});
        assert!(parse(&matrix).is_err());
        assert!(parse(&json!({})).is_err());
    }
}
