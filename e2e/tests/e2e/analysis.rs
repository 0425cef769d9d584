//! Analysis with real traffic and the real Prometheus: demo model servers answer requests sent
//! through the Gateway, Prometheus scrapes them, and the operator measures the candidate and
//! promotes or rolls back by itself.

use std::time::Duration;

use k8s_openapi::api::events::v1::Event;
use kube::Api;
use modeldeploy_api::v1alpha1::{
    AbDecision, AbTestStrategy, AnalysisSpec, AnalysisTemplateRef, BuiltInCheck, CanaryStep,
    CanaryStrategy, DecisionGoal, DecisionPhase, DecisionStatus, Duration as ApiDuration,
    LatencyCheck, Metric, MetricProvider, MetricStatus, ModelAnalysisTemplate,
    ModelAnalysisTemplateSpec, ModelDeployment, ModelDeploymentStatus, NoDataPolicy, PauseReason,
    PrometheusMetric, ProportionDecision, RolloutStage, StrategySpec, SuccessRateCheck,
};
use modeldeploy_e2e::load::{LoadSpec, Stop};
use modeldeploy_e2e::prometheus::PrivatePrometheus;
use modeldeploy_e2e::rollout::{reported_weight, until_status};
use modeldeploy_e2e::traffic::{Gateway, demo_model, set_version, until_gateway_serves};
use modeldeploy_e2e::{Scenario, until};

use crate::metrics::scrape;
use crate::strategies::{pause, weight};
use crate::{apply_md, deploy, events_about};

/// Requests answered with 5xx by `{{revision}}`, as a share of its requests; no data until it
/// has answered any.
pub(crate) const ERROR_RATE: &str = r#"(sum(rate(demo_model_inference_requests_total{namespace="{{namespace}}",modeldeploy_io_revision="{{revision}}",code=~"5.."}[{{interval}}])) or vector(0)) / sum(rate(demo_model_inference_requests_total{namespace="{{namespace}}",modeldeploy_io_revision="{{revision}}"}[{{interval}}]))"#;

/// The candidate's 99th percentile latency, in seconds.
pub(crate) const P99: &str = r#"histogram_quantile(0.99, sum by (le) (rate(demo_model_inference_duration_seconds_bucket{namespace="{{namespace}}",modeldeploy_io_revision="{{revision}}"}[{{interval}}])))"#;

const INTERVAL: &str = "10s";

pub(crate) fn metric(name: &str, query: &str, failure: &str, count: Option<i32>) -> Metric {
    Metric {
        interval: Some(ApiDuration(INTERVAL.into())),
        count,
        // The first window holds only requests of the new split.
        initial_delay: Some(ApiDuration(INTERVAL.into())),
        failure_condition: Some(failure.into()),
        // The candidate's first series may not be scraped yet.
        inconclusive_limit: Some(2),
        ..Metric::new(name, MetricProvider::prometheus(query))
    }
}

pub(crate) fn analysis(metrics: Vec<Metric>) -> AnalysisSpec {
    AnalysisSpec {
        metrics,
        ..AnalysisSpec::default()
    }
}

fn canary(steps: Vec<CanaryStep>, background: Metric) -> Option<StrategySpec> {
    Some(StrategySpec {
        canary: Some(CanaryStrategy {
            steps,
            analysis: Some(analysis(vec![background])),
            ..CanaryStrategy::default()
        }),
        ..StrategySpec::default()
    })
}

/// Serves version 1 of `iris` with `strategy`, then rolls out version 2 with the server
/// settings `env`, under steady load until the returned handle is dropped.
async fn rolling_out(
    scenario: &Scenario,
    strategy: Option<StrategySpec>,
    env: &[(&str, &str)],
) -> (Api<ModelDeployment>, String, tokio::task::JoinHandle<()>) {
    Box::pin(rolling_out_from(scenario, strategy, &[], env)).await
}

/// As [`rolling_out`], with the server settings `stable_env` for version 1.
pub(crate) async fn rolling_out_from(
    scenario: &Scenario,
    strategy: Option<StrategySpec>,
    stable_env: &[(&str, &str)],
    env: &[(&str, &str)],
) -> (Api<ModelDeployment>, String, tokio::task::JoinHandle<()>) {
    let models: Api<ModelDeployment> = scenario.api();
    let gateway = Gateway::local();
    let host = format!("{}.models.local", scenario.ns.name);
    let mut md = demo_model("iris", "1", 2, gateway.traffic(&host), strategy, stable_env);
    let old = deploy(&models, &md).await;
    until_gateway_serves(&scenario.cluster.client, &scenario.ns.name, "iris").await;
    let load = tokio::spawn(async move {
        let _ = modeldeploy_e2e::load::run(LoadSpec {
            stop: Stop::After(Duration::from_secs(240)),
            ..gateway.load(&host, 100.0, 0)
        })
        .await;
    });
    set_version(&mut md, "2", env);
    apply_md(&models, &md).await;
    (models, old, load)
}

#[tokio::test]
async fn a_healthy_canary_promotes_by_itself_through_background_and_step_analysis() {
    let scenario = Scenario::start("analysis-healthy", false).await;
    // The step's metric comes from a template in the namespace.
    let templates: Api<ModelAnalysisTemplate> = scenario.api();
    let template = ModelAnalysisTemplate::new(
        "error-rate",
        ModelAnalysisTemplateSpec {
            metrics: vec![metric("error-rate", ERROR_RATE, "result > 0.05", Some(2))],
            args: Vec::new(),
        },
    );
    templates
        .create(&kube::api::PostParams::default(), &template)
        .await
        .unwrap();
    let gate = CanaryStep {
        analysis: Some(AnalysisSpec {
            templates: vec![AnalysisTemplateRef {
                name: "error-rate".into(),
                cluster_scope: false,
            }],
            ..AnalysisSpec::default()
        }),
        ..CanaryStep::default()
    };
    let strategy = canary(
        vec![weight(50), gate],
        metric("background-error-rate", ERROR_RATE, "result > 0.05", None),
    );
    let (models, old, load) = rolling_out(&scenario, strategy, &[]).await;
    // The step's analysis is the template's metric.
    Box::pin(promoted_by_analysis(
        &scenario,
        &models,
        &old,
        load,
        "analysis step-2 ",
    ))
    .await;
    scenario.finish().await;
}

/// Waits until the rollout of `iris` is aborted: traffic all back on stable.
pub(crate) async fn until_aborted(
    models: &Api<ModelDeployment>,
    description: &str,
) -> ModelDeploymentStatus {
    until_status(models, "iris", Duration::from_secs(180), description, |s| {
        s.rollout
            .as_ref()
            .is_some_and(|r| r.stage == RolloutStage::Aborted)
    })
    .await
}

/// Waits until the candidate replaces `old` with all traffic, stops `load`, and checks that an
/// `AnalysisSuccessful` event whose note holds `verdict` says why.
async fn promoted_by_analysis(
    scenario: &Scenario,
    models: &Api<ModelDeployment>,
    old: &str,
    load: tokio::task::JoinHandle<()>,
    verdict: &str,
) {
    let status = until_status(
        models,
        "iris",
        Duration::from_secs(180),
        "the candidate is promoted by its analysis",
        |s| s.stable_revision.as_deref().is_some_and(|r| r != old) && s.rollout.is_none(),
    )
    .await;
    load.abort();
    assert_eq!(status.traffic.len(), 1, "{status:?}");
    let events: Api<Event> = scenario.api();
    let events = events_about(&events, "iris").await;
    assert!(
        events
            .iter()
            .any(|(reason, note)| reason == "AnalysisSuccessful" && note.contains(verdict)),
        "no AnalysisSuccessful event about {verdict}: {events:?}"
    );
}

/// Rolls out a candidate with `env` under a background analysis of `failing`, and checks it is
/// rolled back: the abort names the metric, and traffic is all on stable when the rollout
/// reports itself aborted.
async fn rolled_back(prefix: &str, env: &[(&str, &str)], failing: Metric) {
    let name = failing.name.clone();
    let strategy = canary(vec![weight(50), pause(None)], failing);
    Box::pin(rolled_back_by(prefix, env, strategy, &name)).await;
}

/// Rolls out a candidate with `env` under `strategy`, whose background analysis fails on the
/// metric `name`.
async fn rolled_back_by(
    prefix: &str,
    env: &[(&str, &str)],
    strategy: Option<StrategySpec>,
    name: &str,
) {
    let scenario = Scenario::start(prefix, false).await;
    let (models, old, load) = rolling_out(&scenario, strategy, env).await;
    let status = Box::pin(until_aborted(
        &models,
        "the failing candidate is rolled back",
    ))
    .await;
    load.abort();
    let rollout = status.rollout.as_ref().unwrap();
    let reason = rollout.abort_reason.as_deref().unwrap_or_default();
    assert!(reason.contains(&format!("{name} Failed")), "{reason}");
    assert_eq!(reported_weight(&status, &old), 100, "{status:?}");
    assert_eq!(reported_weight(&status, &rollout.revision), 0, "{status:?}");
    let background = rollout
        .analysis
        .iter()
        .find(|a| a.name == "background")
        .unwrap();
    let failed = background.metrics[0].failed;
    assert_eq!(
        failed, 1,
        "rolled back at the first failed measurement: {background:?}"
    );
    scenario.finish().await;
}

#[tokio::test]
async fn a_canary_failing_a_fifth_of_its_requests_is_rolled_back() {
    rolled_back(
        "analysis-errors",
        &[("ERROR_RATE", "0.2")],
        metric("error-rate", ERROR_RATE, "result > 0.05", None),
    )
    .await;
}

#[tokio::test]
async fn a_canary_whose_latency_breaches_its_p99_is_rolled_back() {
    rolled_back(
        "analysis-latency",
        &[("LATENCY_MS", "300")],
        metric("p99-latency", P99, "result > 0.2", None),
    )
    .await;
}

/// A canary held at 50 % with `check` as its background analysis.
fn half_canary_checked_by(check: BuiltInCheck) -> Option<StrategySpec> {
    Some(StrategySpec {
        canary: Some(CanaryStrategy {
            steps: vec![weight(50), pause(None)],
            analysis: Some(AnalysisSpec {
                checks: vec![check],
                ..AnalysisSpec::default()
            }),
            ..CanaryStrategy::default()
        }),
        ..StrategySpec::default()
    })
}

#[tokio::test]
async fn a_built_in_check_against_stable_rolls_back_a_canary_worse_than_stable() {
    let check = BuiltInCheck {
        source: None,
        interval: Some(ApiDuration(INTERVAL.into())),
        count: None,
        failure_limit: None,
        min_requests: None,
        success_rate: Some(SuccessRateCheck {
            min_percent: None,
            max_drop_percent: Some("5".into()),
        }),
        latency: Some(LatencyCheck {
            percentile: None,
            max_ms: Some(200),
            max_increase_percent: None,
        }),
    };
    let strategy = half_canary_checked_by(check);
    Box::pin(rolled_back_by(
        "analysis-builtin",
        &[("ERROR_RATE", "0.2")],
        strategy,
        "success-rate-vs-stable",
    ))
    .await;
}

#[tokio::test]
async fn a_built_in_check_over_too_few_requests_pauses_and_never_promotes() {
    let scenario = Scenario::start("analysis-minreq", false).await;
    let check = BuiltInCheck {
        source: None,
        interval: Some(ApiDuration(INTERVAL.into())),
        count: Some(2),
        failure_limit: None,
        // Far more than the load sends in a window: every window is too small to judge.
        min_requests: Some(1_000_000),
        success_rate: Some(SuccessRateCheck {
            min_percent: None,
            max_drop_percent: Some("5".into()),
        }),
        latency: None,
    };
    let strategy = half_canary_checked_by(check);
    let (models, old, load) = rolling_out(&scenario, strategy, &[]).await;
    let status = Box::pin(until_status(
        &models,
        "iris",
        Duration::from_secs(120),
        "the check is inconclusive for want of requests",
        |s| pause_reason(s) == Some(PauseReason::AnalysisInconclusive),
    ))
    .await;
    load.abort();
    assert_eq!(status.stable_revision.as_deref(), Some(old.as_str()));
    let check = status
        .rollout
        .iter()
        .flat_map(|r| &r.analysis)
        .flat_map(|a| &a.metrics)
        .find(|m| m.name == "success-rate-vs-stable")
        .unwrap_or_else(|| panic!("no success-rate-vs-stable metric: {status:?}"));
    let message = check
        .measurements
        .last()
        .and_then(|m| m.message.clone())
        .unwrap_or_default();
    // The count is real: the fewer of the two revisions' requests in the window, not zero.
    let counted: f64 = message
        .strip_suffix(" samples, fewer than minSamples 1000000")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected message {message:?}: {check:?}"));
    assert!(counted > 0.0, "{message}");

    // The verdict and the value are exported per object while the rollout lasts.
    let series = |name: &str| {
        format!(
            r#"{name}{{namespace="{}",name="iris",analysis="background",metric="success-rate-vs-stable""#,
            scenario.ns.name
        )
    };
    let address = scenario.operator.http_address();
    let exported = until(
        Duration::from_secs(30),
        "the operator exports the check's phase and value",
        || async {
            let text = scrape(address).await;
            let phase = format!(
                r#"{},phase="Inconclusive"}} 1"#,
                series("modeldeploy_analysis_phase")
            );
            (text.contains(&phase) && text.contains(&series("modeldeploy_analysis_value")))
                .then_some(text)
        },
    )
    .await;
    assert!(
        !exported.contains(&format!(
            r#"{},phase="Running""#,
            series("modeldeploy_analysis_phase")
        )),
        "one phase at a time"
    );
    scenario.finish().await;
}

/// Answers of `{{revision}}` since the A/B test started; with `code!~"5.."` only those without
/// error.
fn answers(filter: &str) -> MetricProvider {
    MetricProvider {
        prometheus: Some(PrometheusMetric {
            address: None,
            query: format!(
                r#"sum(increase(demo_model_inference_requests_total{{namespace="{{{{namespace}}}}",modeldeploy_io_revision="{{{{revision}}}}"{filter}}}[{{{{elapsed}}}}]))"#
            ),
            timeout: None,
            bearer_token_secret_ref: None,
        }),
        web: None,
    }
}

/// The A/B decision of `iris` once it names a winner (or gives up).
pub(crate) async fn until_decided(models: &Api<ModelDeployment>) -> DecisionStatus {
    let decided = until_status(
        models,
        "iris",
        Duration::from_secs(180),
        "the A/B decision names a winner",
        |s| {
            s.rollout
                .as_ref()
                .and_then(|r| r.decision.as_ref())
                .is_some_and(|d| d.phase != DecisionPhase::Measuring)
        },
    )
    .await;
    decided
        .rollout
        .and_then(|r| r.decision)
        .expect("a decision in status")
}

/// An A/B test at 50 % decided every 5 s on the share of `successes` among `trials`, more being
/// better, once each side has 1,000 trials.
pub(crate) fn ab_by_proportion(
    successes: MetricProvider,
    trials: MetricProvider,
) -> Option<StrategySpec> {
    Some(StrategySpec {
        ab_test: Some(AbTestStrategy {
            weight: Some(50),
            stickiness: None,
            matches: Vec::new(),
            max_duration: ApiDuration("10m".into()),
            analysis: None,
            decision: Some(Box::new(AbDecision {
                goal: DecisionGoal::Maximize,
                interval: Some(ApiDuration("5s".into())),
                confidence_percent: None,
                minimum_detectable_effect_percent: None,
                min_samples: Some(1000),
                on_inconclusive: None,
                proportion: Some(ProportionDecision { successes, trials }),
                mean: None,
            })),
        }),
        ..StrategySpec::default()
    })
}

#[tokio::test]
async fn an_ab_test_promotes_the_candidate_that_answers_more_requests_without_error() {
    let scenario = Scenario::start("analysis-abtest", false).await;
    let strategy = ab_by_proportion(answers(r#",code!~"5..""#), answers(""));
    // The stable version fails a tenth of its requests; the candidate none.
    let (models, old, load) = Box::pin(rolling_out_from(
        &scenario,
        strategy,
        &[("ERROR_RATE", "0.1")],
        &[],
    ))
    .await;
    let decision = Box::pin(until_decided(&models)).await;
    assert_eq!(decision.phase, DecisionPhase::CandidateWins, "{decision:?}");
    let effect: f64 = decision.effect.as_deref().unwrap().parse().unwrap();
    assert!((0.05..0.15).contains(&effect), "{decision:?}");
    let ratio: f64 = decision
        .sample_ratio_p_value
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ratio >= 0.001, "the split is sound: {decision:?}");
    Box::pin(promoted_by_analysis(
        &scenario,
        &models,
        &old,
        load,
        "A/B decision",
    ))
    .await;
    scenario.finish().await;
}

/// The candidate's error rate over the last 10 s, measured every 2 s.
fn quick(name: &str, query: &str) -> Metric {
    Metric {
        interval: Some(ApiDuration("2s".into())),
        initial_delay: Some(ApiDuration("2s".into())),
        ..metric(name, query, "result > 0.05", Some(12))
    }
}

fn gated(gate: Metric) -> Option<StrategySpec> {
    Some(StrategySpec {
        canary: Some(CanaryStrategy {
            steps: vec![
                weight(50),
                CanaryStep {
                    analysis: Some(analysis(vec![gate])),
                    ..CanaryStep::default()
                },
            ],
            ..CanaryStrategy::default()
        }),
        ..StrategySpec::default()
    })
}

fn step_metric(status: &ModelDeploymentStatus) -> Option<MetricStatus> {
    status
        .rollout
        .as_ref()?
        .analysis
        .iter()
        .find(|a| a.name == "step-2")?
        .metrics
        .first()
        .cloned()
}

pub(crate) fn pause_reason(status: &ModelDeploymentStatus) -> Option<PauseReason> {
    status.rollout.as_ref()?.pause.as_ref().map(|p| p.reason)
}

#[tokio::test]
async fn prometheus_down_mid_analysis_holds_the_rollout_and_back_it_goes_on() {
    let scenario = Scenario::start("analysis-outage", false).await;
    let mut prometheus = PrivatePrometheus::start(&scenario.ns.name).await;
    let mut gate = quick("error-rate", &ERROR_RATE.replace("[{{interval}}]", "[10s]"));
    gate.consecutive_error_limit = Some(1);
    // The first windows after Prometheus comes back may be empty.
    gate.inconclusive_limit = Some(4);
    if let Some(p) = gate.provider.prometheus.as_mut() {
        p.address = Some(prometheus.url());
    }
    let (models, old, load) = rolling_out(&scenario, gated(gate), &[]).await;
    Box::pin(until_status(
        &models,
        "iris",
        Duration::from_secs(120),
        "the step analysis has measured twice",
        |s| step_metric(s).is_some_and(|m| m.measured - m.errors >= 2),
    ))
    .await;

    prometheus.stop();
    let held = Box::pin(until_status(
        &models,
        "iris",
        Duration::from_secs(60),
        "the rollout holds for the measurement errors",
        |s| pause_reason(s) == Some(PauseReason::AnalysisError),
    ))
    .await;
    assert_eq!(held.stable_revision.as_deref(), Some(old.as_str()));
    // It stays held, and keeps trying, for as long as Prometheus is down.
    let still = Box::pin(until_status(
        &models,
        "iris",
        Duration::from_secs(60),
        "more errors are recorded",
        |s| step_metric(s).is_some_and(|m| m.errors >= 4),
    ))
    .await;
    assert_eq!(pause_reason(&still), Some(PauseReason::AnalysisError));
    assert_eq!(
        still.stable_revision.as_deref(),
        Some(old.as_str()),
        "never promoted"
    );

    prometheus.resume().await;
    let status = Box::pin(until_status(
        &models,
        "iris",
        Duration::from_secs(120),
        "the analysis goes on and the candidate is promoted",
        |s| s.stable_revision.as_deref().is_some_and(|r| r != old) && s.rollout.is_none(),
    ))
    .await;
    load.abort();
    assert_eq!(status.traffic.len(), 1, "{status:?}");
    scenario.finish().await;
}

/// Rolls out a candidate whose only gate queries a series that does not exist, under `policy`.
async fn no_data(prefix: &str, policy: NoDataPolicy) -> ModelDeploymentStatus {
    let scenario = Scenario::start(prefix, false).await;
    let mut gate = quick(
        "missing",
        r#"sum(rate(no_such_metric_total{modeldeploy_io_revision="{{revision}}"}[10s]))"#,
    );
    gate.no_data = Some(policy);
    gate.inconclusive_limit = None;
    let (models, old, load) = rolling_out(&scenario, gated(gate), &[]).await;
    let status = Box::pin(until_status(
        &models,
        "iris",
        Duration::from_secs(120),
        "the empty query decides as noData says",
        |s| {
            let promoted = s.stable_revision.as_deref().is_some_and(|r| r != old);
            let stage = s.rollout.as_ref().map(|r| r.stage);
            promoted
                || stage == Some(RolloutStage::Aborted)
                || pause_reason(s) == Some(PauseReason::AnalysisInconclusive)
        },
    ))
    .await;
    load.abort();
    scenario.finish().await;
    status
}

#[tokio::test]
async fn an_empty_query_is_inconclusive_by_default_and_pauses() {
    let status = no_data("analysis-nodata-i", NoDataPolicy::Inconclusive).await;
    assert_eq!(
        pause_reason(&status),
        Some(PauseReason::AnalysisInconclusive)
    );
    assert_eq!(
        step_metric(&status).map(|m| m.inconclusive),
        Some(1),
        "{status:?}"
    );
}

#[tokio::test]
async fn an_empty_query_with_no_data_fail_rolls_back() {
    let status = no_data("analysis-nodata-f", NoDataPolicy::Fail).await;
    let rollout = status.rollout.as_ref().unwrap();
    assert_eq!(rollout.stage, RolloutStage::Aborted);
    assert!(
        rollout
            .abort_reason
            .as_deref()
            .unwrap_or_default()
            .contains("missing Failed"),
        "{rollout:?}"
    );
}

#[tokio::test]
async fn an_empty_query_with_no_data_pass_promotes() {
    let status = no_data("analysis-nodata-p", NoDataPolicy::Pass).await;
    assert!(status.rollout.is_none(), "{status:?}");
}
