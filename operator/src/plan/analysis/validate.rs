//! What admission cannot check in an analysis: that its CEL conditions compile and read only
//! `result`, and that its queries use only known variables. Checked before a rollout moves any
//! traffic; a problem stalls the rollout with the position of the error.

use modeldeploy_api::v1alpha1::{AnalysisSpec, Metric, ModelDeploymentSpec};

use super::condition::Condition;
use super::template;

/// Every analysis of the spec, with where it is written.
fn analyses(spec: &ModelDeploymentSpec) -> Vec<(String, &AnalysisSpec)> {
    let Some(strategy) = &spec.strategy else {
        return Vec::new();
    };
    let mut found = Vec::new();
    if let Some(canary) = &strategy.canary {
        found.extend(
            canary
                .analysis
                .iter()
                .map(|a| ("canary.analysis".to_owned(), a)),
        );
        found.extend(
            canary
                .post_promotion_analysis
                .iter()
                .map(|a| ("canary.postPromotionAnalysis".to_owned(), a)),
        );
        for (index, step) in canary.steps.iter().enumerate() {
            if let Some(a) = &step.analysis {
                found.push((format!("canary.steps[{index}].analysis"), a));
            }
        }
    }
    if let Some(blue_green) = &strategy.blue_green {
        found.extend(
            blue_green
                .pre_promotion_analysis
                .iter()
                .map(|a| ("blueGreen.prePromotionAnalysis".to_owned(), a)),
        );
        found.extend(
            blue_green
                .post_promotion_analysis
                .iter()
                .map(|a| ("blueGreen.postPromotionAnalysis".to_owned(), a)),
        );
    }
    if let Some(shadow) = &strategy.shadow {
        found.extend(
            shadow
                .analysis
                .iter()
                .map(|a| ("shadow.analysis".to_owned(), a)),
        );
    }
    if let Some(ab) = &strategy.ab_test {
        found.extend(
            ab.analysis
                .iter()
                .map(|a| ("abTest.analysis".to_owned(), a)),
        );
    }
    found
}

/// The first problem of the spec's analyses, for the status: where, and what.
pub fn problems(spec: &ModelDeploymentSpec) -> Option<String> {
    analyses(spec).into_iter().find_map(|(path, analysis)| {
        let args: Vec<&str> = analysis.args.iter().map(|a| a.name.as_str()).collect();
        analysis.metrics.iter().find_map(|metric| {
            metric_problem(metric, &args)
                .map(|problem| format!("{path} metric {}: {problem}", metric.name))
        })
    })
}

fn metric_problem(metric: &Metric, args: &[&str]) -> Option<String> {
    for (field, source) in [
        ("successCondition", &metric.success_condition),
        ("failureCondition", &metric.failure_condition),
    ] {
        if let Some(source) = source
            && let Err(error) = Condition::compile(source)
        {
            return Some(format!("{field} `{source}` does not compile: {error}"));
        }
    }
    for (field, value) in [
        ("interval", &metric.interval),
        ("initialDelay", &metric.initial_delay),
    ] {
        if let Some(Err(error)) = value.as_ref().map(|d| d.to_std()) {
            return Some(format!("{field}: {error}"));
        }
    }
    let has_interval = metric.interval.is_some();
    let mut templates: Vec<(&str, &str)> = Vec::new();
    if let Some(p) = &metric.provider.prometheus {
        templates.push(("prometheus.query", &p.query));
        if let Some(Err(error)) = p.timeout.as_ref().map(|d| d.to_std()) {
            return Some(format!("prometheus.timeout: {error}"));
        }
    }
    if let Some(web) = &metric.provider.web {
        templates.push(("web.url", &web.url));
        templates.extend(
            web.headers
                .iter()
                .filter_map(|h| h.value.as_deref().map(|v| ("web.headers", v))),
        );
        if let Some(path) = &web.json_path
            && let Err(error) = serde_json_path::JsonPath::parse(path)
        {
            return Some(format!("web.jsonPath `{path}` is not a JSONPath: {error}"));
        }
        if let Some(Err(error)) = web.timeout.as_ref().map(|d| d.to_std()) {
            return Some(format!("web.timeout: {error}"));
        }
    }
    templates.into_iter().find_map(|(field, text)| {
        template::check(text, args, has_interval)
            .err()
            .map(|error| format!("{field}: {error}"))
    })
}
