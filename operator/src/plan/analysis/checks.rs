//! Built-in checks written out as metrics: the PromQL for the candidate's success rate and
//! latency (absolute, or against the stable revision) over the demo model server's, Istio's or
//! the model router's metrics, and the conditions on them.

use modeldeploy_api::v1alpha1::{
    BuiltInCheck, CheckSource, Duration, Metric, MetricProvider, MinSamples,
};

const DEFAULT_INTERVAL: &str = "1m";
const DEFAULT_PERCENTILE: i32 = 99;

/// The PromQL pieces of one source, for the revision `{{<revision>}}` names.
struct Source(CheckSource);

impl Source {
    fn requests(&self, revision: &str, errors_only: bool) -> String {
        let errors = |label: &str| {
            if errors_only {
                format!(",{label}=~\"5..\"")
            } else {
                String::new()
            }
        };
        match self.0 {
            CheckSource::DemoModel => format!(
                "sum(rate(demo_model_inference_requests_total{{namespace=\"{{{{namespace}}}}\",modeldeploy_io_revision=\"{{{{{revision}}}}}\"{}}}[{{{{interval}}}}]))",
                errors("code")
            ),
            CheckSource::Istio => format!(
                "sum(rate(istio_requests_total{{reporter=\"destination\",destination_workload_namespace=\"{{{{namespace}}}}\",destination_workload=\"{{{{name}}}}-{{{{{revision}}}}}\"{}}}[{{{{interval}}}}]))",
                errors("response_code")
            ),
            // The router counts status classes: `5xx`.
            CheckSource::Router => format!(
                "sum(rate(modeldeploy_router_requests_total{{namespace=\"{{{{namespace}}}}\",modeldeploy_io_router=\"{{{{name}}}}\",revision=\"{{{{{revision}}}}}\"{}}}[{{{{interval}}}}]))",
                if errors_only { ",code=\"5xx\"" } else { "" }
            ),
        }
    }

    /// The requests answered in the window, the fewest of the revisions named: PromQL has no
    /// binary minimum of scalars, so `min(a, b)` is written `(a + b - |a - b|) / 2`; NaN (no series) stays
    /// NaN, which counts as no requests.
    fn answered(&self, revisions: &[&str]) -> String {
        let counted: Vec<String> = revisions
            .iter()
            .map(|revision| {
                format!(
                    "scalar({})",
                    self.requests(revision, false)
                        .replacen("sum(rate(", "sum(increase(", 1)
                )
            })
            .collect();
        match counted.as_slice() {
            // `abs` takes only a vector.
            [a, b] => format!("({a} + {b} - scalar(abs(vector({a} - {b})))) / 2"),
            _ => counted.join(" + "),
        }
    }

    /// The share of answers that are not 5xx: no data without requests.
    fn success_rate(&self, revision: &str) -> String {
        format!(
            "(1 - ((({}) or vector(0)) / {}))",
            self.requests(revision, true),
            self.requests(revision, false)
        )
    }

    /// The latency at `percentile`, in milliseconds.
    fn latency_ms(&self, revision: &str, percentile: i32) -> String {
        let q = f64::from(percentile) / 100.0;
        match self.0 {
            CheckSource::DemoModel => format!(
                "(histogram_quantile({q}, sum by (le) (rate(demo_model_inference_duration_seconds_bucket{{namespace=\"{{{{namespace}}}}\",modeldeploy_io_revision=\"{{{{{revision}}}}}\"}}[{{{{interval}}}}]))) * 1000)"
            ),
            CheckSource::Router => format!(
                "(histogram_quantile({q}, sum by (le) (rate(modeldeploy_router_request_duration_seconds_bucket{{namespace=\"{{{{namespace}}}}\",modeldeploy_io_router=\"{{{{name}}}}\",revision=\"{{{{{revision}}}}}\"}}[{{{{interval}}}}]))) * 1000)"
            ),
            CheckSource::Istio => format!(
                "histogram_quantile({q}, sum by (le) (rate(istio_request_duration_milliseconds_bucket{{reporter=\"destination\",destination_workload_namespace=\"{{{{namespace}}}}\",destination_workload=\"{{{{name}}}}-{{{{{revision}}}}}\"}}[{{{{interval}}}}])))"
            ),
        }
    }
}

/// The metrics `check` stands for, or what is wrong with it.
pub fn metrics(check: &BuiltInCheck) -> Result<Vec<Metric>, String> {
    let source = Source(check.source.unwrap_or_default());
    let interval = check
        .interval
        .clone()
        .unwrap_or_else(|| Duration(DEFAULT_INTERVAL.to_owned()));
    let metric = |name: String, query: String, failure: String| Metric {
        min_samples: check.min_requests.map(|count| MinSamples {
            query: if name.ends_with("-vs-stable") {
                source.answered(&["revision", "stableRevision"])
            } else {
                source.answered(&["revision"])
            },
            count: count.into(),
        }),
        interval: Some(interval.clone()),
        count: check.count,
        // The first window holds only requests of the split the analysis judges.
        initial_delay: Some(interval.clone()),
        failure_condition: Some(failure),
        failure_limit: check.failure_limit,
        ..Metric::new(name, MetricProvider::prometheus(query))
    };
    let mut metrics = Vec::new();
    if let Some(rate) = &check.success_rate {
        if let Some(min) = &rate.min_percent {
            let min = percent(min, "successRate.minPercent")?;
            metrics.push(metric(
                "success-rate".to_owned(),
                source.success_rate("revision"),
                format!("result < {:?}", min / 100.0),
            ));
        }
        if let Some(drop) = &rate.max_drop_percent {
            let drop = percent(drop, "successRate.maxDropPercent")?;
            metrics.push(metric(
                "success-rate-vs-stable".to_owned(),
                format!(
                    "scalar({}) - scalar({})",
                    source.success_rate("revision"),
                    source.success_rate("stableRevision")
                ),
                format!("result < {:?}", -drop / 100.0),
            ));
        }
    }
    if let Some(latency) = &check.latency {
        let percentile = latency.percentile.unwrap_or(DEFAULT_PERCENTILE);
        if let Some(max) = latency.max_ms {
            metrics.push(metric(
                format!("latency-p{percentile}"),
                source.latency_ms("revision", percentile),
                format!("result > {:?}", f64::from(max)),
            ));
        }
        if let Some(increase) = latency.max_increase_percent {
            metrics.push(metric(
                format!("latency-p{percentile}-vs-stable"),
                format!(
                    "scalar({}) / scalar({})",
                    source.latency_ms("revision", percentile),
                    source.latency_ms("stableRevision", percentile)
                ),
                format!("result > {:?}", 1.0 + f64::from(increase) / 100.0),
            ));
        }
    }
    Ok(metrics)
}

fn percent(text: &str, field: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|p| (0.0..=100.0).contains(p))
        .ok_or_else(|| format!("{field} {text:?} is not a percentage from 0 to 100"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use modeldeploy_api::v1alpha1::{LatencyCheck, SuccessRateCheck};

    use super::super::template;
    use super::*;

    fn check(source: CheckSource) -> BuiltInCheck {
        BuiltInCheck {
            source: Some(source),
            interval: Some(Duration("30s".into())),
            count: Some(4),
            failure_limit: Some(1),
            min_requests: None,
            success_rate: Some(SuccessRateCheck {
                min_percent: Some("99.5".into()),
                max_drop_percent: Some("1".into()),
            }),
            latency: Some(LatencyCheck {
                percentile: Some(95),
                max_ms: Some(500),
                max_increase_percent: Some(10),
            }),
        }
    }

    #[test]
    fn each_bound_is_one_metric_with_its_condition() {
        let metrics = metrics(&check(CheckSource::DemoModel)).unwrap();
        let summary: Vec<(&str, &str)> = metrics
            .iter()
            .map(|m| (m.name.as_str(), m.failure_condition.as_deref().unwrap()))
            .collect();
        assert_eq!(
            summary,
            [
                ("success-rate", "result < 0.995"),
                ("success-rate-vs-stable", "result < -0.01"),
                ("latency-p95", "result > 500.0"),
                ("latency-p95-vs-stable", "result > 1.1"),
            ]
        );
        for m in &metrics {
            assert_eq!(m.interval, Some(Duration("30s".into())));
            assert_eq!(m.initial_delay, Some(Duration("30s".into())));
            assert_eq!((m.count, m.failure_limit), (Some(4), Some(1)));
        }
    }

    #[test]
    fn the_queries_use_only_known_variables_and_read_the_right_series() {
        for source in [
            CheckSource::DemoModel,
            CheckSource::Istio,
            CheckSource::Router,
        ] {
            for m in metrics(&check(source)).unwrap() {
                let query = &m.provider.prometheus.as_ref().unwrap().query;
                assert_eq!(template::check(query, &[], true), Ok(()), "{query}");
                if m.name.ends_with("vs-stable") {
                    assert!(query.contains("{{stableRevision}}"), "{query}");
                }
            }
        }
        let demo = metrics(&check(CheckSource::DemoModel)).unwrap();
        let query = |i: usize| demo[i].provider.prometheus.as_ref().unwrap().query.clone();
        assert_eq!(
            query(0),
            "(1 - (((sum(rate(demo_model_inference_requests_total{namespace=\"{{namespace}}\",modeldeploy_io_revision=\"{{revision}}\",code=~\"5..\"}[{{interval}}]))) or vector(0)) / sum(rate(demo_model_inference_requests_total{namespace=\"{{namespace}}\",modeldeploy_io_revision=\"{{revision}}\"}[{{interval}}]))))"
        );
        assert!(query(2).starts_with("(histogram_quantile(0.95, sum by (le) (rate(demo_model_inference_duration_seconds_bucket"));
        let router = metrics(&check(CheckSource::Router)).unwrap();
        let errors = &router[0].provider.prometheus.as_ref().unwrap().query;
        assert!(
            errors.contains("modeldeploy_router_requests_total{namespace=\"{{namespace}}\",modeldeploy_io_router=\"{{name}}\",revision=\"{{revision}}\",code=\"5xx\"}"),
            "{errors}"
        );
        let istio = metrics(&check(CheckSource::Istio)).unwrap();
        let latency = &istio[2].provider.prometheus.as_ref().unwrap().query;
        assert!(
            latency.contains("istio_request_duration_milliseconds_bucket{reporter=\"destination\",destination_workload_namespace=\"{{namespace}}\",destination_workload=\"{{name}}-{{revision}}\"}"),
            "{latency}"
        );
    }

    #[test]
    fn min_requests_guards_each_bound_by_the_requests_it_rests_on() {
        for source in [
            CheckSource::DemoModel,
            CheckSource::Istio,
            CheckSource::Router,
        ] {
            let unguarded = metrics(&check(source)).unwrap();
            assert!(unguarded.iter().all(|m| m.min_samples.is_none()));
            let guarded = metrics(&BuiltInCheck {
                min_requests: Some(50),
                ..check(source)
            })
            .unwrap();
            for m in &guarded {
                let min = m.min_samples.as_ref().unwrap();
                assert_eq!(min.count, 50);
                assert_eq!(
                    template::check(&min.query, &[], true),
                    Ok(()),
                    "{}",
                    min.query
                );
                assert!(min.query.contains("increase("), "{}", min.query);
                assert_eq!(
                    min.query.contains("{{stableRevision}}"),
                    m.name.ends_with("vs-stable"),
                    "{}: {}",
                    m.name,
                    min.query
                );
            }
        }
    }
}
