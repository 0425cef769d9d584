//! Analysis, the pure part: which analyses run at this point of a rollout, which metrics are due
//! for a measurement, and what the measurements the shell took mean. Measuring itself is I/O
//! and lives in [`crate::analysis`].
//!
//! An analysis run is recorded in `status.rollout.analysis` when it starts; each measurement is
//! folded into it in the same status write that acts on it, so a killed operator neither loses a
//! recorded measurement nor counts one twice: a measurement taken but not recorded is simply
//! taken again.

pub mod agreement;
pub mod checks;
mod condition;
pub mod decision;
#[cfg(test)]
mod decision_tests;
mod judge;
pub mod location;
pub mod template;
pub mod templates;
#[cfg(test)]
mod tests;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use modeldeploy_api::v1alpha1::{
    AnalysisArg, AnalysisPhase, AnalysisRunStatus, AnalysisSpec, FailurePolicy, Metric,
    MetricStatus, RolloutStage, RolloutStatus,
};

pub use judge::{DEFAULT_CONSECUTIVE_ERROR_LIMIT, measurement, metric_phase, run_phase};
pub use validate::problems;

use super::steps::{Step, Steps};
use super::time::{add, until};

/// Name of the background analysis run.
pub const BACKGROUND: &str = "background";
/// Name of the post-promotion analysis run.
pub const POST_PROMOTION: &str = "postPromotion";

/// How long to wait before measuring again after an error, when the metric has no interval.
const ERROR_RETRY: Duration = Duration::from_secs(10);

/// What a provider measured: a number, or the numbers of a vector.
#[derive(Clone, Debug, PartialEq)]
pub enum MeasuredValue {
    Scalar(f64),
    Vector(Vec<f64>),
}

impl MeasuredValue {
    /// A vector; elements that are not finite numbers (NaN from 0/0, ±Inf) carry no data and are
    /// left out.
    pub fn vector(values: impl IntoIterator<Item = f64>) -> MeasuredValue {
        MeasuredValue::Vector(values.into_iter().filter(|v| v.is_finite()).collect())
    }

    /// No data: an empty vector, or a scalar that is not a finite number.
    pub fn is_empty(&self) -> bool {
        match self {
            MeasuredValue::Scalar(x) => !x.is_finite(),
            MeasuredValue::Vector(xs) => xs.is_empty(),
        }
    }
}

impl fmt::Display for MeasuredValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MeasuredValue::Scalar(x) => write!(f, "{x}"),
            MeasuredValue::Vector(xs) => {
                let items: Vec<String> = xs.iter().map(f64::to_string).collect();
                write!(f, "[{}]", items.join(", "))
            }
        }
    }
}

/// A measurement the shell took, for the planner to record and judge.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// The analysis run it belongs to, e.g. `background` or `step-3`.
    pub analysis: String,
    pub metric: String,
    pub at: Timestamp,
    /// The value, or why there is none (the provider's error).
    pub value: Result<MeasuredValue, String>,
    /// How many samples the value rests on, when the metric has `minSamples`: the count
    /// query's smallest series, 0 for an empty answer.
    pub samples: Option<f64>,
}

/// A measurement to take now.
#[derive(Clone, Debug, PartialEq)]
pub struct Due {
    pub analysis: String,
    pub metric: Metric,
    /// The analysis' arguments, for `{{args.<name>}}`.
    pub args: Vec<AnalysisArg>,
    /// The built-in template variables: `name`, `namespace`, `revision`, `stableRevision`,
    /// `service` and, when the metric has one, `interval`.
    pub variables: BTreeMap<String, String>,
}

/// A gate on the way: an analysis that must pass before the rollout goes on.
#[derive(Clone, Debug, PartialEq)]
pub struct Gate {
    /// The run's name in status, e.g. `step-3`, `prePromotion`, `shadow`.
    pub run: String,
    /// For people, e.g. `pre-promotion`.
    pub label: &'static str,
    pub spec: AnalysisSpec,
}

/// The analysis that runs beside the steps.
#[derive(Clone, Debug, PartialEq)]
pub struct Background {
    pub spec: AnalysisSpec,
    /// The step index from which it measures.
    pub from_index: i32,
}

/// An analysis that runs now.
#[derive(Clone, Copy, Debug)]
pub(super) struct Active<'a> {
    pub run: &'a str,
    pub spec: &'a AnalysisSpec,
    /// Background analysis measures for as long as the rollout lasts.
    pub background: bool,
}

/// The analyses that measure at this point of `rollout`. `promoted` says whether the candidate
/// has all traffic at full size (post-promotion analysis measures only then).
pub(super) fn active<'a>(
    steps: &'a Steps,
    rollout: &RolloutStatus,
    promoted: bool,
) -> Vec<Active<'a>> {
    if rollout.paused_by_user {
        return Vec::new();
    }
    let mut runs = Vec::new();
    let background = |runs: &mut Vec<Active<'a>>| {
        if let Some(b) = &steps.background
            && rollout.step_index >= b.from_index
        {
            runs.push(Active {
                run: BACKGROUND,
                spec: &b.spec,
                background: true,
            });
        }
    };
    match rollout.stage {
        RolloutStage::Steps => {
            background(&mut runs);
            if let Some(Step::Analysis(gate)) = steps.get(rollout.step_index) {
                runs.push(Active {
                    run: &gate.run,
                    spec: &gate.spec,
                    background: false,
                });
            }
        }
        RolloutStage::Promoting => {
            background(&mut runs);
            if let (true, Some(spec)) = (promoted, &steps.post_promotion) {
                runs.push(Active {
                    run: POST_PROMOTION,
                    spec,
                    background: false,
                });
            }
        }
        RolloutStage::Aborting | RolloutStage::Aborted => {}
    }
    runs
}

/// Measurements a metric takes before it is done, `None` for as long as the analysis runs:
/// background metrics with an interval and no count.
fn count(metric: &Metric, background: bool) -> Option<i32> {
    match (metric.count, &metric.interval) {
        (Some(count), _) => Some(count),
        (None, Some(_)) if background => None,
        (None, _) => Some(1),
    }
}

fn duration(value: Option<&modeldeploy_api::v1alpha1::Duration>) -> Option<Duration> {
    value.and_then(|d| d.to_std().ok())
}

/// A new run of `active`, started `now`.
fn started(active: &Active<'_>, now: Timestamp) -> AnalysisRunStatus {
    AnalysisRunStatus {
        name: active.run.to_owned(),
        phase: AnalysisPhase::Running,
        started_at: Time(now),
        message: None,
        metrics: active
            .spec
            .metrics
            .iter()
            .map(|m| MetricStatus {
                name: m.name.clone(),
                phase: AnalysisPhase::Running,
                dry_run: m.dry_run.unwrap_or(false),
                measured: 0,
                successful: 0,
                failed: 0,
                inconclusive: 0,
                errors: 0,
                consecutive_errors: 0,
                measurements: Vec::new(),
            })
            .collect(),
    }
}

/// Folds `measured` into the runs of `active` (starting those that have no run yet) and judges
/// them. Measurements of runs that are not active, or of metrics that are done, are dropped.
pub(super) fn record(
    runs: &mut Vec<AnalysisRunStatus>,
    active: &[Active<'_>],
    measured: &[Measured],
    now: Timestamp,
) {
    for a in active {
        let index = match runs.iter().position(|r| r.name == a.run) {
            Some(index) => index,
            None => {
                runs.push(started(a, now));
                runs.len() - 1
            }
        };
        let run = &mut runs[index];
        if run.phase.is_final() {
            continue;
        }
        for m in measured.iter().filter(|m| m.analysis == a.run) {
            let (Some(metric), Some(status)) = (
                a.spec.metrics.iter().find(|x| x.name == m.metric),
                run.metrics.iter_mut().find(|x| x.name == m.metric),
            ) else {
                continue;
            };
            if status.phase.is_final() {
                continue;
            }
            judge::record(
                metric,
                count(metric, a.background),
                status,
                &m.value,
                m.samples,
                m.at,
            );
        }
        run.phase = run_phase(&run.metrics);
        run.message = run.phase.is_verdict().then(|| judge::summary(&run.metrics));
    }
}

/// Starts the runs of `active` that have none yet, so that their delays count from now.
pub(super) fn start(runs: &mut Vec<AnalysisRunStatus>, active: &[Active<'_>], now: Timestamp) {
    for a in active {
        if !runs.iter().any(|r| r.name == a.run) {
            runs.push(started(a, now));
        }
    }
}

/// When each metric of the active runs is next due: `None` for metrics that are done.
fn next_at<'a>(
    runs: &'a [AnalysisRunStatus],
    active: &'a [Active<'a>],
    now: Timestamp,
) -> impl Iterator<Item = (&'a Active<'a>, &'a Metric, Timestamp)> + 'a {
    active.iter().flat_map(move |a| {
        let run = runs.iter().find(|r| r.name == a.run);
        let stopped = run.is_some_and(|r| r.phase.is_final());
        let started_at = run.map_or(now, |r| r.started_at.0);
        a.spec.metrics.iter().filter_map(move |metric| {
            if stopped {
                return None;
            }
            let status = run.and_then(|r| r.metrics.iter().find(|m| m.name == metric.name));
            if status.is_some_and(|s| s.phase.is_final()) {
                return None;
            }
            let last = status.and_then(|s| s.measurements.last());
            let at = match last {
                None => add(
                    started_at,
                    duration(metric.initial_delay.as_ref()).unwrap_or_default(),
                ),
                Some(last) => add(
                    last.measured_at.0,
                    duration(metric.interval.as_ref()).unwrap_or(ERROR_RETRY),
                ),
            };
            Some((a, metric, at))
        })
    })
}

/// The metrics of the active runs due for a measurement at `now`.
pub(super) fn due(
    runs: &[AnalysisRunStatus],
    active: &[Active<'_>],
    variables: &BTreeMap<String, String>,
    now: Timestamp,
) -> Vec<Due> {
    next_at(runs, active, now)
        .filter(|(_, _, at)| *at <= now)
        .map(|(a, metric, _)| {
            let mut variables = variables.clone();
            if let Some(interval) = &metric.interval {
                variables.insert("interval".to_owned(), interval.0.clone());
            }
            Due {
                analysis: a.run.to_owned(),
                metric: metric.clone(),
                args: a.spec.args.clone(),
                variables,
            }
        })
        .collect()
}

/// How long until the next measurement of the active runs is due.
pub(super) fn wake(
    runs: &[AnalysisRunStatus],
    active: &[Active<'_>],
    now: Timestamp,
) -> Option<Duration> {
    next_at(runs, active, now)
        .map(|(_, _, at)| until(now, at))
        .min()
}

/// The run named `name`, if it was recorded.
pub(super) fn run<'a>(runs: &'a [AnalysisRunStatus], name: &str) -> Option<&'a AnalysisRunStatus> {
    runs.iter().find(|r| r.name == name)
}

/// What a failed analysis does.
pub(super) fn on_failure(spec: &AnalysisSpec) -> FailurePolicy {
    spec.on_failure.unwrap_or_default()
}
