//! Shadow prediction agreement as an analysis: the share of the shadow's answers that agreed
//! with the stable's, over the model router's comparison counts for the shadow's whole run,
//! judged against `shadow.agreement.minPercent`.

use modeldeploy_api::v1alpha1::{
    AnalysisSpec, Duration, Metric, MetricProvider, MinSamples, PredictionAgreement,
};

/// Name of the metric, in status and events.
pub const METRIC: &str = "agreement";

/// The router's count of comparisons ending `outcome`, over the window.
fn compared(outcome: &str) -> String {
    format!(
        "sum(increase(modeldeploy_router_comparisons_{outcome}_total{{namespace=\"{{{{namespace}}}}\",modeldeploy_io_router=\"{{{{name}}}}\"}}[{{{{interval}}}}]))"
    )
}

/// The analysis of `agreement` over a shadow that ran for `window`: one measurement, taken as
/// the shadow ends, of the percentage of compared answers that agreed. No comparison at all is
/// no data, never a pass.
pub fn analysis(agreement: &PredictionAgreement, window: &Duration) -> AnalysisSpec {
    let (agreed, disagreed) = (compared("agreed"), compared("disagreed"));
    let metric = Metric {
        interval: Some(window.clone()),
        count: Some(1),
        failure_condition: Some(format!("result < {:?}", f64::from(agreement.min_percent))),
        min_samples: agreement.min_samples.map(|count| MinSamples {
            count: count.into(),
            query: format!("{agreed} + {disagreed}"),
        }),
        ..Metric::new(
            METRIC,
            MetricProvider::prometheus(format!("100 * {agreed} / ({agreed} + {disagreed})")),
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

    #[test]
    fn agreement_is_the_share_of_agreeing_comparisons_of_this_router_over_the_shadow() {
        let spec = analysis(
            &PredictionAgreement {
                min_percent: 98,
                tolerance: None,
                json_path: None,
                min_samples: Some(500),
            },
            &Duration("10m".into()),
        );
        let metric = &spec.metrics[0];
        let query = &metric.provider.prometheus.as_ref().map(|p| p.query.clone());
        let query = query.as_deref().unwrap_or_default();
        assert!(query.starts_with("100 * sum(increase(modeldeploy_router_comparisons_agreed_total{namespace=\"{{namespace}}\",modeldeploy_io_router=\"{{name}}\"}[{{interval}}]))"), "{query}");
        assert!(query.contains("comparisons_disagreed_total"), "{query}");
        assert_eq!(metric.failure_condition.as_deref(), Some("result < 98.0"));
        assert_eq!(metric.interval, Some(Duration("10m".into())));
        assert_eq!(metric.count, Some(1));
        assert_eq!(metric.min_samples.as_ref().map(|m| m.count), Some(500));
    }
}
