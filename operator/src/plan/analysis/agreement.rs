//! Shadow prediction agreement as an analysis: the share of the shadow's answers that agreed
//! with the stable's, less the stable model's disagreement with itself (the noise floor), over
//! the model router's comparison counts for the shadow's whole run, judged against
//! `shadow.agreement.minPercent`; and drift, the population stability index between the two
//! revisions' predictions over the same requests, judged against `shadow.drift.maxPsi`.

use modeldeploy_api::v1alpha1::{
    AnalysisSpec, Duration, Metric, MetricProvider, MinSamples, OutputDrift, PredictionAgreement,
};

/// Name of the metric, in status and events.
pub const METRIC: &str = "agreement";
/// The stable model's disagreement with itself, in percent: reported beside `agreement`.
pub const NOISE_METRIC: &str = "agreement-noise";
/// Name of the drift metric and its run.
pub const DRIFT_METRIC: &str = "drift";
/// `shadow.agreement.noiseSamplePercent` when unset.
pub const DEFAULT_NOISE_SAMPLE_PERCENT: i32 = 10;
/// Added to every bin's count before the shares are taken, so that a value one revision never
/// answered gives a large but finite index instead of an infinite one.
const PSI_SMOOTHING: f64 = 0.5;

/// The selector of this ModelDeployment's router series.
const ROUTER: &str = "namespace=\"{{namespace}}\",modeldeploy_io_router=\"{{name}}\"";

/// The router's count of `counter` (e.g. `comparisons_agreed`), over the window.
fn counted(counter: &str) -> String {
    format!("sum(increase(modeldeploy_router_{counter}_total{{{ROUTER}}}[{{{{interval}}}}]))")
}

/// Percent of the pairs counted by `agreed` and `disagreed` that disagreed; none without pairs.
fn disagreement(agreed: &str, disagreed: &str) -> String {
    let (agreed, disagreed) = (counted(agreed), counted(disagreed));
    format!("(100 * {disagreed} / (({agreed} + {disagreed}) > 0))")
}

/// The noise floor in percent: 0 when no second stable answer was compared.
fn noise() -> String {
    format!(
        "({} or vector(0))",
        disagreement("noise_agreed", "noise_disagreed")
    )
}

fn metric(name: &str, window: &Duration, query: String) -> Metric {
    Metric {
        interval: Some(window.clone()),
        count: Some(1),
        ..Metric::new(name, MetricProvider::prometheus(query))
    }
}

/// The analysis of `agreement` over a shadow that ran for `window`: one measurement, taken as
/// the shadow ends, of 100 less the shadow's disagreement beyond the noise floor; and the
/// noise floor itself, reported. No comparison at all is no data, never a pass.
pub fn analysis(agreement: &PredictionAgreement, window: &Duration) -> AnalysisSpec {
    let (agreed, disagreed) = (
        counted("comparisons_agreed"),
        counted("comparisons_disagreed"),
    );
    let shadow = disagreement("comparisons_agreed", "comparisons_disagreed");
    let agreement_metric = Metric {
        failure_condition: Some(format!("result < {:?}", f64::from(agreement.min_percent))),
        min_samples: agreement.min_samples.map(|count| MinSamples {
            count: count.into(),
            query: format!("{agreed} + {disagreed}"),
        }),
        ..metric(
            METRIC,
            window,
            format!("100 - clamp_min({shadow} - scalar({}), 0)", noise()),
        )
    };
    let mut metrics = vec![agreement_metric];
    if agreement
        .noise_sample_percent
        .unwrap_or(DEFAULT_NOISE_SAMPLE_PERCENT)
        > 0
    {
        metrics.push(metric(NOISE_METRIC, window, noise()));
    }
    AnalysisSpec {
        metrics,
        checks: vec![],
        templates: vec![],
        args: vec![],
        on_failure: None,
    }
}

/// The analysis of `drift` over a shadow that ran for `window`: the population stability
/// index Σ (s − p) · ln(s / p) over the values, s and p each revision's share of a value
/// (counts smoothed by one half), failing above `maxPsi`.
pub fn drift_analysis(drift: &OutputDrift, window: &Duration) -> AnalysisSpec {
    let counts = |role: &str| {
        format!(
            "sum by (value) (increase(modeldeploy_router_predictions_total{{{ROUTER},role=\"{role}\"}}[{{{{interval}}}}]))"
        )
    };
    let (shadow, primary) = (counts("shadow"), counts("primary"));
    // A value only one side answered counts 0 on the other.
    let shadow_all = format!("({shadow} or ({primary} * 0))");
    let primary_all = format!("({primary} or ({shadow} * 0))");
    let share =
        |all: &str| format!("(({all} + {PSI_SMOOTHING}) / scalar(sum({all} + {PSI_SMOOTHING})))");
    let (s, p) = (share(&shadow_all), share(&primary_all));
    let max_psi: f64 = drift.max_psi.parse().unwrap_or(0.0);
    let metric = Metric {
        failure_condition: Some(format!("result > {max_psi:?}")),
        min_samples: drift.min_samples.map(|count| MinSamples {
            count: count.into(),
            query: format!("sum({shadow})"),
        }),
        ..metric(
            DRIFT_METRIC,
            window,
            format!("sum(({s} - {p}) * ln({s} / {p}))"),
        )
    };
    AnalysisSpec {
        metrics: vec![metric],
        checks: vec![],
        templates: vec![],
        args: vec![],
        on_failure: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(metric: &Metric) -> String {
        metric
            .provider
            .prometheus
            .as_ref()
            .map(|p| p.query.clone())
            .unwrap_or_default()
    }

    #[test]
    fn agreement_is_the_shadows_agreement_beyond_the_stable_noise_of_this_router_over_the_shadow() {
        let spec = analysis(
            &PredictionAgreement {
                min_percent: 98,
                tolerance: None,
                relative_tolerance: None,
                top_k: None,
                json_path: None,
                noise_sample_percent: None,
                min_samples: Some(500),
            },
            &Duration("10m".into()),
        );
        let metric = &spec.metrics[0];
        let q = query(metric);
        assert!(q.starts_with("100 - clamp_min((100 * sum(increase(modeldeploy_router_comparisons_disagreed_total{namespace=\"{{namespace}}\",modeldeploy_io_router=\"{{name}}\"}[{{interval}}]))"), "{q}");
        assert!(
            q.contains("noise_disagreed_total") && q.contains("or vector(0)"),
            "{q}"
        );
        assert_eq!(metric.failure_condition.as_deref(), Some("result < 98.0"));
        assert_eq!(metric.interval, Some(Duration("10m".into())));
        assert_eq!(metric.count, Some(1));
        assert_eq!(metric.min_samples.as_ref().map(|m| m.count), Some(500));
        let noise = &spec.metrics[1];
        assert_eq!(noise.name, NOISE_METRIC);
        assert!(noise.failure_condition.is_none() && noise.success_condition.is_none());
    }

    #[test]
    fn drift_is_the_stability_index_of_the_two_revisions_predictions() {
        let spec = drift_analysis(
            &OutputDrift {
                json_path: None,
                bins: vec![],
                max_psi: "0.1".into(),
                min_samples: Some(200),
            },
            &Duration("5m".into()),
        );
        let metric = &spec.metrics[0];
        let q = query(metric);
        assert!(q.starts_with("sum(("), "{q}");
        assert!(
            q.contains("role=\"shadow\"") && q.contains("role=\"primary\"") && q.contains("ln("),
            "{q}"
        );
        assert_eq!(metric.failure_condition.as_deref(), Some("result > 0.1"));
        assert_eq!(metric.min_samples.as_ref().map(|m| m.count), Some(200));
    }
}
