//! Per-ModelDeployment analysis metrics: the latest value and the phase of every metric of the
//! rollout's analyses, and the A/B decision's phase and figures. Series exist only while a
//! rollout runs; those of a finished rollout or a deleted ModelDeployment are removed, so the
//! cardinality is bounded by the analyses in progress.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use modeldeploy_api::v1alpha1::RolloutStatus;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct MetricLabels {
    pub namespace: String,
    pub name: String,
    /// The analysis run, e.g. `background`, `step-2`, or `decision` for the A/B decision.
    pub analysis: String,
    /// The metric, or for the decision a figure: `effect`, `p_value`, `sample_ratio_p_value`.
    pub metric: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct PhaseLabels {
    pub namespace: String,
    pub name: String,
    pub analysis: String,
    pub metric: String,
    /// The phase, as in status: `Running`, `Successful`, `Failed`, ..., or the decision's.
    pub phase: String,
}

type Value = Gauge<f64, AtomicU64>;

/// The series of every ModelDeployment with an analysis in progress.
#[derive(Debug, Default)]
pub struct AnalysisMetrics {
    values: Family<MetricLabels, Value>,
    phases: Family<PhaseLabels, Gauge>,
    /// What is exported per ModelDeployment, to remove what its next status no longer has.
    exported: Mutex<BTreeMap<(String, String), Exported>>,
}

#[derive(Debug, Default, PartialEq)]
struct Exported {
    values: BTreeSet<MetricLabels>,
    phases: BTreeSet<PhaseLabels>,
}

impl AnalysisMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "analysis_value",
            "Latest measured value of each analysis metric of a rollout in progress (for the A/B decision: its effect and p-values)",
            self.values.clone(),
        );
        registry.register(
            "analysis_phase",
            "1 for the current phase of each analysis metric of a rollout in progress, and of the A/B decision",
            self.phases.clone(),
        );
    }

    /// Exports what `rollout` holds for ModelDeployment `namespace/name`; `None` (no rollout, or
    /// the object is gone) removes its series.
    pub fn observe(&self, namespace: &str, name: &str, rollout: Option<&RolloutStatus>) {
        let mut now = Exported::default();
        let mut values = Vec::new();
        if let Some(rollout) = rollout {
            for run in &rollout.analysis {
                for metric in &run.metrics {
                    let labels = MetricLabels {
                        namespace: namespace.to_owned(),
                        name: name.to_owned(),
                        analysis: run.name.clone(),
                        metric: metric.name.clone(),
                    };
                    let latest = metric
                        .measurements
                        .last()
                        .and_then(|m| m.value.as_deref())
                        .and_then(|v| v.parse::<f64>().ok());
                    if let Some(value) = latest {
                        values.push((labels.clone(), value));
                    }
                    now.phases.insert(PhaseLabels {
                        namespace: labels.namespace,
                        name: labels.name,
                        analysis: labels.analysis,
                        metric: labels.metric,
                        phase: metric.phase.as_str().to_owned(),
                    });
                }
            }
            if let Some(decision) = &rollout.decision {
                let figure = |metric: &str| MetricLabels {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    analysis: "decision".to_owned(),
                    metric: metric.to_owned(),
                };
                for (metric, value) in [
                    ("effect", &decision.effect),
                    ("p_value", &decision.p_value),
                    ("sample_ratio_p_value", &decision.sample_ratio_p_value),
                ] {
                    if let Some(value) = value.as_deref().and_then(|v| v.parse::<f64>().ok()) {
                        values.push((figure(metric), value));
                    }
                }
                now.phases.insert(PhaseLabels {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    analysis: "decision".to_owned(),
                    metric: "decision".to_owned(),
                    phase: decision.phase.as_str().to_owned(),
                });
            }
        }
        for (labels, value) in values {
            self.values.get_or_create(&labels).set(value);
            now.values.insert(labels);
        }
        for labels in &now.phases {
            self.phases.get_or_create(labels).set(1);
        }
        let key = (namespace.to_owned(), name.to_owned());
        let mut exported = self
            .exported
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(before) = exported.get(&key) {
            for gone in before.values.difference(&now.values) {
                self.values.remove(gone);
            }
            for gone in before.phases.difference(&now.phases) {
                self.phases.remove(gone);
            }
        }
        if now == Exported::default() {
            exported.remove(&key);
        } else {
            exported.insert(key, now);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use modeldeploy_api::v1alpha1::{
        AnalysisPhase, AnalysisRunStatus, MeasurementPhase, MeasurementStatus, MetricStatus,
        RolloutStage,
    };

    use super::*;

    fn rollout(value: &str, phase: AnalysisPhase) -> RolloutStatus {
        let at = Time(jiff::Timestamp::UNIX_EPOCH);
        RolloutStatus {
            revision: "b".into(),
            model_version: "2".into(),
            started_at: at.clone(),
            strategy: "canary".into(),
            stage: RolloutStage::Steps,
            step_index: 0,
            step_count: 2,
            steps: Vec::new(),
            step: None,
            step_started_at: None,
            pause: None,
            paused_by_user: false,
            abort_reason: None,
            analysis: vec![AnalysisRunStatus {
                name: "background".into(),
                phase,
                started_at: at.clone(),
                message: None,
                metrics: vec![MetricStatus {
                    name: "error-rate".into(),
                    phase,
                    dry_run: false,
                    measured: 1,
                    successful: 1,
                    failed: 0,
                    inconclusive: 0,
                    errors: 0,
                    consecutive_errors: 0,
                    measurements: vec![MeasurementStatus {
                        phase: MeasurementPhase::Successful,
                        value: Some(value.into()),
                        measured_at: at,
                        message: None,
                    }],
                }],
            }],
            decision: None,
        }
    }

    fn text(metrics: &AnalysisMetrics) -> String {
        let mut registry = Registry::with_prefix("modeldeploy");
        metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        text
    }

    #[test]
    fn values_and_phases_follow_the_status_and_go_with_the_rollout() {
        let metrics = AnalysisMetrics::default();
        metrics.observe("ml", "iris", Some(&rollout("0.01", AnalysisPhase::Running)));
        let first = text(&metrics);
        assert!(
            first.contains(r#"modeldeploy_analysis_value{namespace="ml",name="iris",analysis="background",metric="error-rate"} 0.01"#),
            "{first}"
        );
        assert!(
            first.contains(r#"modeldeploy_analysis_phase{namespace="ml",name="iris",analysis="background",metric="error-rate",phase="Running"} 1"#),
            "{first}"
        );
        metrics.observe("ml", "iris", Some(&rollout("0.2", AnalysisPhase::Failed)));
        let second = text(&metrics);
        assert!(second.contains(r#"metric="error-rate"} 0.2"#), "{second}");
        assert!(second.contains(r#"phase="Failed"} 1"#), "{second}");
        assert!(
            !second.contains(r#"phase="Running""#),
            "one phase at a time: {second}"
        );
        metrics.observe("ml", "iris", None);
        let gone = text(&metrics);
        assert!(!gone.contains("iris"), "{gone}");
    }
}
