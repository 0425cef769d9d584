//! Analysis templates and built-in checks inlined into the spec: each `analysis.templates` entry
//! is replaced by the template's metrics (its arguments join `analysis.args`), and each
//! `analysis.checks` entry by the metrics it stands for. Done before planning, so that the
//! planner, the validation and the measurements see one plain list of metrics.

use std::collections::BTreeSet;

use modeldeploy_api::v1alpha1::{
    AnalysisArg, AnalysisSpec, AnalysisTemplateRef, Metric, ModelDeploymentSpec, TemplateArg,
};

use super::location::Location;

/// What a template holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TemplateBody {
    pub metrics: Vec<Metric>,
    pub args: Vec<TemplateArg>,
}

/// Where templates are looked up: the watch caches, or a table in tests.
pub trait TemplateSource {
    /// The template `reference` names, in the ModelDeployment's namespace or the cluster; None
    /// when there is none this operator can read.
    fn template(&self, reference: &AnalysisTemplateRef) -> Option<TemplateBody>;
}

/// `spec` with every template and check inlined; `Ok(None)` when no analysis has any, so that
/// the common case copies nothing. The error names the analysis and what is wrong.
pub fn inline(
    spec: &ModelDeploymentSpec,
    source: &dyn TemplateSource,
) -> Result<Option<ModelDeploymentSpec>, String> {
    let locations: Vec<Location> = Location::all(spec)
        .into_iter()
        .filter(|l| {
            l.get(spec)
                .is_some_and(|a| !a.templates.is_empty() || !a.checks.is_empty())
        })
        .collect();
    if locations.is_empty() {
        return Ok(None);
    }
    let mut inlined = spec.clone();
    for location in locations {
        if let Some(analysis) = location.get_mut(&mut inlined) {
            inline_one(analysis, source).map_err(|problem| format!("{location}: {problem}"))?;
        }
    }
    Ok(Some(inlined))
}

fn inline_one(analysis: &mut AnalysisSpec, source: &dyn TemplateSource) -> Result<(), String> {
    let mut names: BTreeSet<String> = analysis.metrics.iter().map(|m| m.name.clone()).collect();
    let given: BTreeSet<String> = analysis.args.iter().map(|a| a.name.clone()).collect();
    for check in std::mem::take(&mut analysis.checks) {
        for metric in super::checks::metrics(&check)? {
            if !names.insert(metric.name.clone()) {
                return Err(format!(
                    "the built-in check metric {} is defined twice: give each bound once",
                    metric.name
                ));
            }
            analysis.metrics.push(metric);
        }
    }
    for reference in std::mem::take(&mut analysis.templates) {
        let kind = if reference.cluster_scope {
            "ClusterModelAnalysisTemplate"
        } else {
            "ModelAnalysisTemplate"
        };
        let body = source.template(&reference).ok_or_else(|| {
            if reference.cluster_scope {
                format!(
                    "{kind} {} does not exist, or the operator may not read \
                     ClusterModelAnalysisTemplates (it watches one namespace)",
                    reference.name
                )
            } else {
                format!("{kind} {} does not exist in this namespace", reference.name)
            }
        })?;
        for metric in body.metrics {
            if !names.insert(metric.name.clone()) {
                return Err(format!(
                    "metric {} of {kind} {} is defined twice: metric names must be unique across \
                     the analysis and its templates",
                    metric.name, reference.name
                ));
            }
            analysis.metrics.push(metric);
        }
        for arg in body.args {
            if given.contains(&arg.name) || analysis.args.iter().any(|a| a.name == arg.name) {
                continue;
            }
            if arg.value.is_none() && arg.value_from.is_none() {
                return Err(format!(
                    "{kind} {} needs the argument {}: give it in args",
                    reference.name, arg.name
                ));
            }
            analysis.args.push(AnalysisArg {
                name: arg.name,
                value: arg.value,
                value_from: arg.value_from,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use modeldeploy_api::v1alpha1::{CanaryStrategy, MetricProvider, StrategySpec, ValueSource};

    use super::*;

    struct Table(Vec<(AnalysisTemplateRef, TemplateBody)>);

    impl TemplateSource for Table {
        fn template(&self, reference: &AnalysisTemplateRef) -> Option<TemplateBody> {
            self.0
                .iter()
                .find(|(r, _)| r == reference)
                .map(|(_, b)| b.clone())
        }
    }

    fn metric(name: &str) -> Metric {
        Metric {
            success_condition: Some("result < 1".into()),
            ..Metric::new(name, MetricProvider::prometheus("up"))
        }
    }

    fn reference(name: &str, cluster_scope: bool) -> AnalysisTemplateRef {
        AnalysisTemplateRef {
            name: name.into(),
            cluster_scope,
        }
    }

    fn arg(name: &str, value: Option<&str>) -> TemplateArg {
        TemplateArg {
            name: name.into(),
            value: value.map(str::to_owned),
            value_from: None,
        }
    }

    fn with_background(analysis: AnalysisSpec) -> ModelDeploymentSpec {
        let mut spec = crate::testing::spec("1.0.0");
        spec.strategy = Some(StrategySpec {
            canary: Some(CanaryStrategy {
                analysis: Some(analysis),
                ..CanaryStrategy::default()
            }),
            ..StrategySpec::default()
        });
        spec
    }

    fn background(spec: &ModelDeploymentSpec) -> &AnalysisSpec {
        Location::CanaryBackground.get(spec).unwrap()
    }

    fn table() -> Table {
        Table(vec![
            (
                reference("errors", false),
                TemplateBody {
                    metrics: vec![metric("error-rate")],
                    args: vec![arg("job", Some("default")), arg("threshold", None)],
                },
            ),
            (
                reference("latency", true),
                TemplateBody {
                    metrics: vec![metric("p99")],
                    args: vec![TemplateArg {
                        name: "token".into(),
                        value: None,
                        value_from: Some(ValueSource {
                            secret_key_ref: Some(modeldeploy_api::v1alpha1::KeyReference {
                                name: "prom".into(),
                                key: "token".into(),
                            }),
                            config_map_key_ref: None,
                        }),
                    }],
                },
            ),
            (
                reference("errors-again", false),
                TemplateBody {
                    metrics: vec![metric("error-rate")],
                    args: Vec::new(),
                },
            ),
        ])
    }

    #[test]
    fn a_spec_without_templates_is_not_copied() {
        let spec = with_background(AnalysisSpec {
            metrics: vec![metric("own")],
            ..AnalysisSpec::default()
        });
        assert_eq!(inline(&spec, &table()), Ok(None));
    }

    #[test]
    fn templates_join_the_metrics_and_their_defaults_yield_to_the_analysis_args() {
        let spec = with_background(AnalysisSpec {
            metrics: vec![metric("own")],
            templates: vec![reference("errors", false), reference("latency", true)],
            args: vec![
                AnalysisArg {
                    name: "threshold".into(),
                    value: Some("0.05".into()),
                    value_from: None,
                },
                AnalysisArg {
                    name: "job".into(),
                    value: Some("fraud".into()),
                    value_from: None,
                },
            ],
            ..AnalysisSpec::default()
        });
        let inlined = inline(&spec, &table()).unwrap().unwrap();
        let analysis = background(&inlined);
        assert!(analysis.templates.is_empty());
        let names: Vec<&str> = analysis.metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["own", "error-rate", "p99"]);
        let args: Vec<(&str, Option<&str>, bool)> = analysis
            .args
            .iter()
            .map(|a| (a.name.as_str(), a.value.as_deref(), a.value_from.is_some()))
            .collect();
        assert_eq!(
            args,
            [
                ("threshold", Some("0.05"), false),
                ("job", Some("fraud"), false),
                ("token", None, true)
            ]
        );
    }

    #[test]
    fn each_problem_names_the_analysis_and_the_fix() {
        let cases = [
            (
                vec![reference("nope", false)],
                vec![],
                "canary.analysis: ModelAnalysisTemplate nope does not exist in this namespace",
            ),
            (
                vec![reference("errors", true)],
                vec![],
                "canary.analysis: ClusterModelAnalysisTemplate errors does not exist, or the operator may not read",
            ),
            (
                vec![reference("errors", false)],
                vec![],
                "canary.analysis: ModelAnalysisTemplate errors needs the argument threshold: give it in args",
            ),
            (
                vec![reference("errors-again", false)],
                vec![metric("error-rate")],
                "metric error-rate of ModelAnalysisTemplate errors-again is defined twice",
            ),
        ];
        for (templates, metrics, expected) in cases {
            let spec = with_background(AnalysisSpec {
                metrics,
                templates,
                ..AnalysisSpec::default()
            });
            let problem = inline(&spec, &table()).unwrap_err();
            assert!(problem.contains(expected), "{problem}");
        }
    }
}
