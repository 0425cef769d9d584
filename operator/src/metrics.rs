//! The operator's own Prometheus metrics.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    /// `success` or `error`.
    pub result: &'static str,
    /// The error category, empty on success.
    pub category: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KubeRequestLabels {
    /// get, list, watch, create, update, patch or delete.
    pub verb: &'static str,
    /// Resource and subresource, e.g. `deployments` or `modeldeployments/status`.
    pub resource: String,
    /// `2xx`, `4xx`, `5xx` or `error` when no response came back.
    pub code: &'static str,
}

/// Every metric the operator exports, in one registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    reconcile_duration: Histogram,
    kube_requests: Family<KubeRequestLabels, Counter>,
    leader: Gauge,
    /// Per-ModelDeployment values and phases of the analyses in progress.
    pub analysis: crate::analysis_metrics::AnalysisMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("modeldeploy");
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        registry.register(
            "reconciles",
            "Reconciles of ModelDeployments by result",
            reconciles.clone(),
        );
        let reconcile_duration = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        registry.register(
            "reconcile_duration_seconds",
            "Time taken by one reconcile of a ModelDeployment",
            reconcile_duration.clone(),
        );
        let kube_requests = Family::<KubeRequestLabels, Counter>::default();
        registry.register(
            "kube_requests",
            "Requests sent to the Kubernetes API server, by verb, resource and response class",
            kube_requests.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 while this replica holds the leader lease",
            leader.clone(),
        );
        let analysis = crate::analysis_metrics::AnalysisMetrics::default();
        analysis.register(&mut registry);
        Self {
            registry,
            reconciles,
            reconcile_duration,
            kube_requests,
            leader,
            analysis,
        }
    }

    pub fn reconciled(&self, took: Duration, error_category: Option<&'static str>) {
        let labels = match error_category {
            None => ReconcileLabels {
                result: "success",
                category: "",
            },
            Some(category) => ReconcileLabels {
                result: "error",
                category,
            },
        };
        self.reconciles.get_or_create(&labels).inc();
        self.reconcile_duration.observe(took.as_secs_f64());
    }

    pub fn kube_request(&self, labels: KubeRequestLabels) {
        self.kube_requests.get_or_create(&labels).inc();
    }

    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}
