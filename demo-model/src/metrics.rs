//! What the server exports on `/metrics`: requests by status code, latency, predictions by class.
//! Every series carries the model name and version, so a query can tell revisions apart.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PredictionLabels {
    pub class: &'static str,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Histogram,
    pub predictions: Family<PredictionLabels, Counter>,
}

impl Metrics {
    pub fn new(model_name: &str, model_version: &str) -> Metrics {
        let labels = [
            ("model".into(), model_name.to_owned().into()),
            ("model_version".into(), model_version.to_owned().into()),
        ];
        let mut registry = Registry::with_prefix_and_labels("demo_model", labels.into_iter());
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "inference_requests",
            "Inference requests by HTTP status code",
            requests.clone(),
        );
        let latency = Histogram::new(exponential_buckets(0.0005, 2.0, 16));
        registry.register(
            "inference_duration_seconds",
            "Time to answer an inference request",
            latency.clone(),
        );
        let predictions = Family::<PredictionLabels, Counter>::default();
        registry.register("predictions", "Predictions by class", predictions.clone());
        Metrics {
            registry,
            requests,
            latency,
            predictions,
        }
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}
