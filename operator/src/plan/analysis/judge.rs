//! Judging: one measurement by the metric's conditions, a metric by its limits, an analysis by
//! its metrics.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use modeldeploy_api::v1alpha1::{
    AnalysisPhase, MEASUREMENTS_KEPT, MeasurementPhase, MeasurementStatus, Metric, MetricStatus,
    NoDataPolicy,
};

use super::MeasuredValue;
use super::condition::Condition;

/// Measurement errors in a row tolerated when the metric does not say.
pub const DEFAULT_CONSECUTIVE_ERROR_LIMIT: i32 = 4;

/// The verdict on one measurement.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub phase: MeasurementPhase,
    pub message: Option<String>,
}

impl Verdict {
    fn new(phase: MeasurementPhase, message: Option<String>) -> Verdict {
        Verdict { phase, message }
    }
}

/// Judges `value` (or the measurement error) by `metric`'s no-data policy, sample guard and
/// conditions. `samples` is what the `minSamples` query counted with the value.
pub fn measurement(
    metric: &Metric,
    value: &Result<MeasuredValue, String>,
    samples: Option<f64>,
) -> Verdict {
    let value = match value {
        Ok(value) => value,
        Err(error) => return Verdict::new(MeasurementPhase::Error, Some(error.clone())),
    };
    let no_data = |message: String| {
        let phase = match metric.no_data.unwrap_or(NoDataPolicy::Inconclusive) {
            NoDataPolicy::Fail => MeasurementPhase::Failed,
            NoDataPolicy::Inconclusive => MeasurementPhase::Inconclusive,
            NoDataPolicy::Pass => MeasurementPhase::Successful,
        };
        Verdict::new(phase, Some(message))
    };
    if value.is_empty() {
        return no_data("no data".to_owned());
    }
    if let Some(min) = &metric.min_samples {
        // A guard whose count is missing never lets a measurement through.
        let counted = samples.filter(|n| n.is_finite()).unwrap_or(0.0);
        // Sample counts are far below 2^53: the conversion is exact.
        #[allow(clippy::cast_precision_loss)]
        let needed = min.count as f64;
        if counted < needed {
            return no_data(format!(
                "{counted} samples, fewer than minSamples {}",
                min.count
            ));
        }
    }
    let evaluate = |source: &Option<String>| -> Result<Option<bool>, String> {
        source
            .as_deref()
            .map(|s| Condition::compile(s)?.holds(value))
            .transpose()
    };
    let failure = match evaluate(&metric.failure_condition) {
        Ok(holds) => holds,
        Err(error) => return Verdict::new(MeasurementPhase::Error, Some(error)),
    };
    if failure == Some(true) {
        let condition = metric.failure_condition.as_deref().unwrap_or_default();
        return Verdict::new(
            MeasurementPhase::Failed,
            Some(format!("failureCondition `{condition}` holds")),
        );
    }
    let success = match evaluate(&metric.success_condition) {
        Ok(holds) => holds,
        Err(error) => return Verdict::new(MeasurementPhase::Error, Some(error)),
    };
    match (success, failure) {
        (Some(true), _) | (None, Some(false)) => Verdict::new(MeasurementPhase::Successful, None),
        (Some(false), None) => Verdict::new(
            MeasurementPhase::Failed,
            Some(format!(
                "successCondition `{}` does not hold",
                metric.success_condition.as_deref().unwrap_or_default()
            )),
        ),
        (Some(false), Some(false)) => Verdict::new(
            MeasurementPhase::Inconclusive,
            Some("neither successCondition nor failureCondition holds".to_owned()),
        ),
        // A failure that holds returned above; admission requires one condition at least.
        (None, None) | (_, Some(true)) => Verdict::new(MeasurementPhase::Successful, None),
    }
}

/// `status` with one more measurement, and the metric's phase after it. `count` is the number
/// of measurements that complete the metric; `None` measures for as long as the analysis runs.
pub fn record(
    metric: &Metric,
    count: Option<i32>,
    status: &mut MetricStatus,
    value: &Result<MeasuredValue, String>,
    samples: Option<f64>,
    at: Timestamp,
) {
    let verdict = measurement(metric, value, samples);
    status.measured += 1;
    match verdict.phase {
        MeasurementPhase::Successful => status.successful += 1,
        MeasurementPhase::Failed => status.failed += 1,
        MeasurementPhase::Inconclusive => status.inconclusive += 1,
        MeasurementPhase::Error => status.errors += 1,
    }
    if verdict.phase == MeasurementPhase::Error {
        status.consecutive_errors += 1;
    } else {
        status.consecutive_errors = 0;
    }
    status.measurements.push(MeasurementStatus {
        phase: verdict.phase,
        value: value.as_ref().ok().map(MeasuredValue::to_string),
        measured_at: Time(at),
        message: verdict.message,
    });
    let excess = status.measurements.len().saturating_sub(MEASUREMENTS_KEPT);
    status.measurements.drain(..excess);
    status.phase = metric_phase(metric, count, status);
}

/// Where a metric stands after its measurements so far. Limits are strict: a limit of `n`
/// tolerates `n` and acts at `n + 1`.
pub fn metric_phase(metric: &Metric, count: Option<i32>, status: &MetricStatus) -> AnalysisPhase {
    if status.failed > metric.failure_limit.unwrap_or(0) {
        AnalysisPhase::Failed
    } else if status.inconclusive > metric.inconclusive_limit.unwrap_or(0) {
        AnalysisPhase::Inconclusive
    } else if status.consecutive_errors
        > metric
            .consecutive_error_limit
            .unwrap_or(DEFAULT_CONSECUTIVE_ERROR_LIMIT)
    {
        AnalysisPhase::Error
    } else if count.is_some_and(|count| status.successful + status.failed >= count) {
        // Errors are retried, so only real measurements count towards `count`.
        AnalysisPhase::Successful
    } else {
        AnalysisPhase::Running
    }
}

/// Where an analysis stands, from its metrics: dry-run metrics never decide; the worst deciding
/// verdict wins; the analysis succeeds once every deciding metric has, and every dry-run metric
/// is done.
pub fn run_phase(metrics: &[MetricStatus]) -> AnalysisPhase {
    let deciding = || metrics.iter().filter(|m| !m.dry_run).map(|m| m.phase);
    for worst in [
        AnalysisPhase::Failed,
        AnalysisPhase::Error,
        AnalysisPhase::Inconclusive,
    ] {
        if deciding().any(|p| p == worst) {
            return worst;
        }
    }
    let done = deciding().all(|p| p == AnalysisPhase::Successful)
        && metrics
            .iter()
            .filter(|m| m.dry_run)
            .all(|m| m.phase.is_verdict());
    if done {
        AnalysisPhase::Successful
    } else {
        AnalysisPhase::Running
    }
}

/// One line for people on where the metrics stand, e.g.
/// `error-rate Failed (0.21: failureCondition `result > 0.05` holds)`.
pub fn summary(metrics: &[MetricStatus]) -> String {
    metrics
        .iter()
        .map(|m| {
            let last = m.measurements.last();
            let value = last.and_then(|l| l.value.as_deref()).unwrap_or("no value");
            let detail = match last.and_then(|l| l.message.as_deref()) {
                Some(message) => format!("{value}: {message}"),
                None => value.to_owned(),
            };
            let dry_run = if m.dry_run { " (dry run)" } else { "" };
            format!(
                "{} {}{dry_run} after {} measurement(s) ({detail})",
                m.name,
                m.phase.as_str(),
                m.measured
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use modeldeploy_api::v1alpha1::{MetricProvider, MinSamples};

    use super::*;

    fn guarded(no_data: Option<NoDataPolicy>) -> Metric {
        Metric {
            success_condition: Some("result < 0.05".into()),
            no_data,
            min_samples: Some(MinSamples {
                query: "sum(increase(requests_total[1m]))".into(),
                count: 100,
            }),
            ..Metric::new("error-rate", MetricProvider::prometheus("errors"))
        }
    }

    #[test]
    fn a_measurement_over_too_few_samples_counts_as_no_data_says() {
        let good = Ok(MeasuredValue::Scalar(0.0));
        for (policy, phase) in [
            (None, MeasurementPhase::Inconclusive),
            (
                Some(NoDataPolicy::Inconclusive),
                MeasurementPhase::Inconclusive,
            ),
            (Some(NoDataPolicy::Fail), MeasurementPhase::Failed),
            (Some(NoDataPolicy::Pass), MeasurementPhase::Successful),
        ] {
            let verdict = measurement(&guarded(policy), &good, Some(3.0));
            assert_eq!(verdict.phase, phase, "{policy:?}");
            assert_eq!(
                verdict.message.as_deref(),
                Some("3 samples, fewer than minSamples 100")
            );
        }
        // A count that is missing or NaN is no samples.
        for samples in [None, Some(f64::NAN)] {
            let verdict = measurement(&guarded(None), &good, samples);
            assert_eq!(verdict.phase, MeasurementPhase::Inconclusive, "{samples:?}");
        }
    }

    #[test]
    fn with_enough_samples_the_conditions_judge() {
        let metric = guarded(None);
        let pass = measurement(&metric, &Ok(MeasuredValue::Scalar(0.01)), Some(100.0));
        assert_eq!(pass.phase, MeasurementPhase::Successful);
        let fail = measurement(&metric, &Ok(MeasuredValue::Scalar(0.2)), Some(5000.0));
        assert_eq!(fail.phase, MeasurementPhase::Failed);
        // Without a guard, samples are not looked at.
        let unguarded = Metric {
            min_samples: None,
            ..metric
        };
        let few = measurement(&unguarded, &Ok(MeasuredValue::Scalar(0.01)), None);
        assert_eq!(few.phase, MeasurementPhase::Successful);
    }
}
