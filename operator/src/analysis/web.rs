//! The web provider: a GET of a JSON document, and the number (or numbers) at a JSONPath in it.
//!
//! `null`, or a path that selects an empty list, is no data. A path that selects nothing is an
//! error, not an absence of data: the document is not what the metric expects.

use http::header::{HeaderName, HeaderValue};
use modeldeploy_api::v1alpha1::WebMetric;
use serde_json::Value;
use serde_json_path::JsonPath;

use super::{MeasureError, MetricSource, Request, number, shorten};
use crate::plan::analysis::{MeasuredValue, template};
use crate::registry::HttpClient;

pub(super) struct Web<'a> {
    pub http: &'a HttpClient,
    pub metric: &'a WebMetric,
}

impl MetricSource for Web<'_> {
    async fn measure(&self, request: &Request<'_>) -> Result<MeasuredValue, MeasureError> {
        let url = template::render(&self.metric.url, request.values);
        let uri = url
            .parse()
            .map_err(|e| MeasureError::Failed(format!("invalid URL {url}: {e}")))?;
        let mut headers = Vec::new();
        for header in &self.metric.headers {
            let value = match (&header.value, &header.value_from) {
                (Some(value), _) => template::render(value, request.values),
                (None, Some(from)) => request.lookup.value_from(from)?,
                (None, None) => String::new(),
            };
            let name = HeaderName::from_bytes(header.name.as_bytes()).map_err(|_| {
                MeasureError::Failed(format!("{:?} is not a header name", header.name))
            })?;
            let value = HeaderValue::from_str(&value).map_err(|_| {
                MeasureError::Reference(format!(
                    "the value of header {} is not usable",
                    header.name
                ))
            })?;
            headers.push((name, value));
        }
        let answer = self
            .http
            .get_with(uri, &headers)
            .await
            .map_err(|e| MeasureError::Failed(format!("{url}: {e}")))?;
        if !answer.status.is_success() {
            return Err(MeasureError::Failed(format!(
                "{url} answered {}",
                answer.status.as_u16()
            )));
        }
        let body: Value = serde_json::from_slice(&answer.body).map_err(|e| {
            MeasureError::Failed(format!("{url} answered something that is not JSON: {e}"))
        })?;
        extract(&body, self.metric.json_path.as_deref())
    }
}

/// The value at `path` in `body` (the whole document when there is no path).
pub(super) fn extract(body: &Value, path: Option<&str>) -> Result<MeasuredValue, MeasureError> {
    let nodes: Vec<&Value> = match path {
        None => vec![body],
        Some(path) => {
            let parsed = JsonPath::parse(path)
                .map_err(|e| MeasureError::Failed(format!("invalid JSONPath {path}: {e}")))?;
            let nodes = parsed.query(body).all();
            if nodes.is_empty() {
                return Err(MeasureError::Failed(format!(
                    "the JSONPath {path} selects nothing in {}",
                    shorten(&body.to_string())
                )));
            }
            nodes
        }
    };
    match nodes.as_slice() {
        [Value::Array(items)] => Ok(MeasuredValue::vector(
            items.iter().map(number).collect::<Result<Vec<f64>, _>>()?,
        )),
        [one] => Ok(MeasuredValue::Scalar(number(one)?)),
        many => Ok(MeasuredValue::vector(
            many.iter()
                .map(|v| number(v))
                .collect::<Result<Vec<f64>, _>>()?,
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_lists_and_strings_at_a_path() {
        let body =
            json!({"data": {"errorRate": 0.02, "p99": "0.4", "shards": [1, 2], "none": null}});
        let at = |path: &str| extract(&body, Some(path));
        assert_eq!(
            at("$.data.errorRate").ok(),
            Some(MeasuredValue::Scalar(0.02))
        );
        assert_eq!(at("$.data.p99").ok(), Some(MeasuredValue::Scalar(0.4)));
        assert_eq!(
            at("$.data.shards").ok(),
            Some(MeasuredValue::Vector(vec![1.0, 2.0]))
        );
        assert_eq!(
            at("$.data.shards[*]").ok(),
            Some(MeasuredValue::Vector(vec![1.0, 2.0]))
        );
        assert!(at("$.data.none").is_ok_and(|v| v.is_empty()));
        assert_eq!(
            extract(&json!(7), None).ok(),
            Some(MeasuredValue::Scalar(7.0))
        );
    }

    #[test]
    fn a_missing_path_or_a_value_that_is_no_number_is_an_error() {
        let body = json!({"data": {"status": "ok", "flag": true}});
        let error = extract(&body, Some("$.data.errorRate"))
            .err()
            .map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("selects nothing")));
        assert!(extract(&body, Some("$.data.status")).is_err());
        assert!(extract(&body, Some("$.data.flag")).is_err());
    }
}
