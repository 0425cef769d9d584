//! What admission cannot check in an analysis: that its CEL conditions compile and read only
//! `result`, and that its queries use only known variables. Checked before a rollout moves any
//! traffic; a problem stalls the rollout with the position of the error.

use modeldeploy_api::v1alpha1::{Metric, ModelDeploymentSpec};

use super::condition::Condition;
use super::location::Location;
use super::template;

/// The first problem of the spec's analyses, for the status: where, and what.
pub fn problems(spec: &ModelDeploymentSpec) -> Option<String> {
    decision_problem(spec).or_else(|| metric_problems(spec))
}

/// A query of the A/B decision that uses an unknown variable.
fn decision_problem(spec: &ModelDeploymentSpec) -> Option<String> {
    let decision = spec
        .strategy
        .as_ref()?
        .ab_test
        .as_ref()?
        .decision
        .as_ref()?;
    let sources = match (&decision.proportion, &decision.mean) {
        (Some(p), _) => vec![
            ("proportion.successes", &p.successes),
            ("proportion.trials", &p.trials),
        ],
        (None, Some(m)) => vec![
            ("mean.count", &m.count),
            ("mean.sum", &m.sum),
            ("mean.sumOfSquares", &m.sum_of_squares),
        ],
        (None, None) => Vec::new(),
    };
    if let Some(Err(error)) = decision.interval.as_ref().map(|d| d.to_std()) {
        return Some(format!("abTest.decision.interval: {error}"));
    }
    sources.into_iter().find_map(|(field, provider)| {
        let text = match (&provider.prometheus, &provider.web) {
            (Some(p), _) => p.query.as_str(),
            (None, Some(w)) => w.url.as_str(),
            (None, None) => return None,
        };
        template::check_decision(text)
            .err()
            .map(|error| format!("abTest.decision.{field}: {error}"))
    })
}

fn metric_problems(spec: &ModelDeploymentSpec) -> Option<String> {
    Location::all(spec).into_iter().find_map(|path| {
        let analysis = path.get(spec)?;
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
    if let Some(min) = &metric.min_samples {
        templates.push(("minSamples.query", &min.query));
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
