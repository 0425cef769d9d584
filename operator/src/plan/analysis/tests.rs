//! Analysis in the planner, against the simulated cluster: what each verdict does to a
//! rollout, and that measurements are neither lost nor counted twice across restarts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use modeldeploy_api::v1alpha1::{
    AnalysisPhase, AnalysisSpec, BlueGreenStrategy, CanaryStep, CanaryStrategy,
    Duration as ApiDuration, FailurePolicy, Metric, MetricProvider, ModelDeploymentSpec,
    NoDataPolicy, PauseReason, Phase, PredictionAgreement, RequestAction, RolloutStage,
    ShadowStrategy, StrategySpec,
};

use super::MeasuredValue;
use crate::plan::sim::World;
use crate::testing::spec;

fn metric(name: &str, success: &str) -> Metric {
    Metric {
        interval: Some(ApiDuration("1m".into())),
        count: Some(3),
        success_condition: Some(success.into()),
        ..Metric::new(
            name,
            MetricProvider::prometheus("errors{revision=\"{{revision}}\"}[{{interval}}]"),
        )
    }
}

fn analysis(metrics: Vec<Metric>) -> AnalysisSpec {
    AnalysisSpec {
        metrics,
        ..AnalysisSpec::default()
    }
}

fn weight(w: i32) -> CanaryStep {
    CanaryStep {
        set_weight: Some(w),
        ..CanaryStep::default()
    }
}

fn gate(spec: AnalysisSpec) -> CanaryStep {
    CanaryStep {
        analysis: Some(spec),
        ..CanaryStep::default()
    }
}

fn canary(strategy: CanaryStrategy) -> ModelDeploymentSpec {
    let mut s = spec("1.0.0");
    s.replicas = 4;
    s.strategy = Some(StrategySpec {
        canary: Some(strategy),
        ..StrategySpec::default()
    });
    s
}

fn steps(steps: Vec<CanaryStep>) -> CanaryStrategy {
    CanaryStrategy {
        steps,
        ..CanaryStrategy::default()
    }
}

/// Serving `spec` at 1.0.0; then the spec moves to 2.0.0, measured by `values` (a value per
/// call, by metric name).
fn rolling_out(
    spec: ModelDeploymentSpec,
    mut value: impl FnMut(&str) -> Result<MeasuredValue, String> + 'static,
) -> (World, String, String) {
    let mut world = World::new(spec);
    world.settle(10);
    let old = world.revision();
    assert_eq!(world.status.phase, Some(Phase::Healthy));
    world.spec.model.version = "2.0.0".into();
    let new = world.revision();
    world.measure = Some(Box::new(move |due| value(&due.metric.name)));
    (world, old, new)
}

/// Moves the clock `seconds` at a time, settling after each move, `times` times.
fn run(world: &mut World, seconds: i64, times: usize) {
    for _ in 0..times {
        world.now += seconds;
        world.settle(20);
    }
}

fn scalar(x: f64) -> Result<MeasuredValue, String> {
    Ok(MeasuredValue::Scalar(x))
}

fn run_named<'a>(world: &'a World, name: &str) -> &'a modeldeploy_api::v1alpha1::AnalysisRunStatus {
    world
        .status
        .rollout
        .as_ref()
        .and_then(|r| r.analysis.iter().find(|a| a.name == name))
        .unwrap_or_else(|| panic!("no analysis {name} in {:?}", world.status.rollout))
}

fn pause_reason(world: &World) -> Option<PauseReason> {
    world
        .status
        .rollout
        .as_ref()?
        .pause
        .as_ref()
        .map(|p| p.reason)
}

#[test]
fn a_step_analysis_that_passes_promotes_after_count_measurements_an_interval_apart() {
    let spec = canary(steps(vec![
        weight(20),
        gate(analysis(vec![metric("error-rate", "result < 0.05")])),
    ]));
    let (mut world, _old, new) = rolling_out(spec, |_| scalar(0.01));
    world.settle(20);
    assert_eq!(world.weight_of(&new), 20);
    assert_eq!(
        world.measured.len(),
        1,
        "the first measurement is taken at once"
    );
    run(&mut world, 60, 3);
    assert_eq!(world.status.stable_revision.as_deref(), Some(new.as_str()));
    assert_eq!(world.weight_of(&new), 100);
    let times: Vec<i64> = world.measured.iter().map(|m| m.2).collect();
    assert_eq!(
        times,
        [0, 60, 120],
        "three measurements, one interval apart"
    );
    assert_eq!(world.count("AnalysisSuccessful"), 1);
}

#[test]
fn a_failing_step_analysis_rolls_back_at_once_and_says_which_value_failed() {
    let spec = canary(steps(vec![
        weight(20),
        gate(analysis(vec![metric("error-rate", "result < 0.05")])),
        weight(50),
    ]));
    let (mut world, old, new) = rolling_out(spec, |_| scalar(0.2));
    world.settle(20);
    let rollout = world.status.rollout.as_ref().unwrap();
    assert_eq!(rollout.stage, RolloutStage::Aborted);
    let reason = rollout.abort_reason.as_deref().unwrap();
    assert!(
        reason.contains("error-rate Failed") && reason.contains("0.2"),
        "{reason}"
    );
    assert_eq!(world.weight_of(&old), 100);
    assert_eq!(world.weight_of(&new), 0);
    assert_eq!(world.count("AnalysisFailed"), 1);
    assert_eq!(world.measured.len(), 1);
}

#[test]
fn background_analysis_rolls_back_within_one_interval_of_a_breach() {
    let mut strategy = steps(vec![
        weight(20),
        CanaryStep {
            pause: Some(modeldeploy_api::v1alpha1::PauseStep {
                duration: Some(ApiDuration("10m".into())),
            }),
            ..CanaryStep::default()
        },
    ]);
    let mut background = metric("error-rate", "result < 0.05");
    background.count = None;
    strategy.analysis = Some(analysis(vec![background]));
    let mut calls = 0;
    let (mut world, old, new) = rolling_out(canary(strategy), move |_| {
        calls += 1;
        scalar(if calls <= 3 { 0.01 } else { 0.3 })
    });
    world.settle(20);
    run(&mut world, 60, 2);
    assert_eq!(world.weight_of(&new), 20, "healthy so far");
    assert_eq!(
        run_named(&world, "background").phase,
        AnalysisPhase::Running
    );
    run(&mut world, 60, 1);
    assert_eq!(
        world.weight_of(&old),
        100,
        "rolled back at the first bad measurement"
    );
    assert_eq!(
        world.status.rollout.as_ref().unwrap().stage,
        RolloutStage::Aborted
    );
}

#[test]
fn background_analysis_starts_at_its_starting_step_and_not_before() {
    let ten_minutes = || CanaryStep {
        pause: Some(modeldeploy_api::v1alpha1::PauseStep {
            duration: Some(ApiDuration("10m".into())),
        }),
        ..CanaryStep::default()
    };
    let mut strategy = steps(vec![weight(20), ten_minutes(), weight(50), ten_minutes()]);
    let mut background = metric("error-rate", "result < 0.05");
    background.count = None;
    strategy.analysis = Some(analysis(vec![background]));
    strategy.analysis_starting_step = Some(3);
    // Every measurement fails: the rollout survives only as long as nothing is measured.
    let (mut world, old, new) = rolling_out(canary(strategy), |_| scalar(0.3));
    world.settle(20);
    run(&mut world, 60, 9);
    assert_eq!(world.weight_of(&new), 20, "steps 1 and 2 are not measured");
    assert!(world.measured.is_empty(), "{:?}", world.measured);
    run(&mut world, 60, 1);
    assert_eq!(world.measured.len(), 1, "measured from step 3");
    assert_eq!(world.weight_of(&old), 100, "and rolled back by it");
    assert_eq!(
        world.status.rollout.as_ref().unwrap().stage,
        RolloutStage::Aborted
    );
}

#[test]
fn no_data_is_inconclusive_by_default_and_pauses_without_ever_promoting() {
    let spec = canary(steps(vec![
        weight(20),
        gate(analysis(vec![metric("error-rate", "result < 0.05")])),
    ]));
    let (mut world, _old, new) = rolling_out(spec, |_| Ok(MeasuredValue::vector([])));
    world.settle(20);
    assert_eq!(
        pause_reason(&world),
        Some(PauseReason::AnalysisInconclusive)
    );
    assert_eq!(world.status.phase, Some(Phase::Paused));
    run(&mut world, 3600, 3);
    assert_eq!(world.weight_of(&new), 20, "never promoted");
    assert_eq!(world.measured.len(), 1, "a held analysis measures no more");
    assert_eq!(world.count("AnalysisInconclusive"), 1);
    // A person asks for another look: it measures again.
    world.ask(RequestAction::Resume);
    world.settle(20);
    assert_eq!(world.measured.len(), 2);
}

#[test]
fn no_data_policies_pass_and_fail() {
    for (policy, promoted) in [(NoDataPolicy::Pass, true), (NoDataPolicy::Fail, false)] {
        let mut m = metric("error-rate", "result < 0.05");
        m.count = Some(1);
        m.no_data = Some(policy);
        let spec = canary(steps(vec![weight(20), gate(analysis(vec![m]))]));
        let (mut world, _old, new) = rolling_out(spec, |_| scalar(f64::NAN));
        world.settle(20);
        let is_stable = world.status.stable_revision.as_deref() == Some(new.as_str());
        assert_eq!(is_stable, promoted, "{policy:?}");
    }
}

#[test]
fn errors_in_a_row_past_the_limit_pause_and_fewer_do_not_count_as_failures() {
    let mut m = metric("error-rate", "result < 0.05");
    m.count = Some(1);
    m.consecutive_error_limit = Some(2);
    let spec = canary(steps(vec![weight(20), gate(analysis(vec![m.clone()]))]));
    let mut calls = 0;
    let (mut world, _old, new) = rolling_out(spec, move |_| {
        calls += 1;
        if calls <= 2 {
            Err("Prometheus at http://prometheus:9090: connection refused".into())
        } else {
            scalar(0.01)
        }
    });
    world.settle(20);
    run(&mut world, 60, 3);
    assert_eq!(world.status.stable_revision.as_deref(), Some(new.as_str()));

    // Prometheus down for five minutes, then back.
    let spec = canary(steps(vec![weight(20), gate(analysis(vec![m]))]));
    let down = std::rc::Rc::new(std::cell::Cell::new(true));
    let prometheus = down.clone();
    let (mut world, _old, new) = rolling_out(spec, move |_| {
        if prometheus.get() {
            Err("no answer within 10s".into())
        } else {
            scalar(0.01)
        }
    });
    world.settle(20);
    run(&mut world, 60, 2);
    assert_eq!(pause_reason(&world), Some(PauseReason::AnalysisError));
    assert_eq!(
        world.measured.len(),
        3,
        "limit 2: the third error in a row holds"
    );
    assert_eq!(world.count("AnalysisError"), 1);
    run(&mut world, 60, 3);
    assert_eq!(pause_reason(&world), Some(PauseReason::AnalysisError));
    assert_eq!(world.weight_of(&new), 20, "never promoted while unmeasured");
    assert!(world.measured.len() > 3, "it keeps trying");
    assert_eq!(
        world.count("AnalysisError"),
        1,
        "the verdict is not repeated"
    );
    down.set(false);
    run(&mut world, 60, 1);
    assert_eq!(
        world.status.stable_revision.as_deref(),
        Some(new.as_str()),
        "back: measured, passed and promoted without a person"
    );
}

#[test]
fn a_dry_run_metric_is_reported_but_never_decides() {
    let mut noisy = metric("latency", "result < 0.5");
    noisy.count = Some(1);
    noisy.dry_run = Some(true);
    let mut good = metric("error-rate", "result < 0.05");
    good.count = Some(1);
    let spec = canary(steps(vec![weight(20), gate(analysis(vec![noisy, good]))]));
    let (mut world, _old, new) = rolling_out(spec, |name| {
        scalar(if name == "latency" { 2.0 } else { 0.0 })
    });
    world.settle(20);
    assert_eq!(world.status.stable_revision.as_deref(), Some(new.as_str()));
}

#[test]
fn on_failure_pause_holds_for_a_person_and_promote_skips_the_gate() {
    let mut spec_ = analysis(vec![metric("error-rate", "result < 0.05")]);
    spec_.on_failure = Some(FailurePolicy::Pause);
    let spec = canary(steps(vec![weight(20), gate(spec_)]));
    let (mut world, _old, new) = rolling_out(spec, |_| scalar(0.5));
    world.settle(20);
    assert_eq!(pause_reason(&world), Some(PauseReason::AnalysisFailed));
    assert_eq!(world.weight_of(&new), 20);
    world.ask(RequestAction::Promote);
    world.settle(20);
    assert_eq!(world.status.stable_revision.as_deref(), Some(new.as_str()));
}

#[test]
fn a_restart_between_measuring_and_acting_neither_loses_nor_double_counts() {
    let spec = canary(steps(vec![
        weight(20),
        gate(analysis(vec![metric("error-rate", "result < 0.05")])),
    ]));
    let (mut world, _old, new) = rolling_out(spec, |_| scalar(0.01));
    world.settle(20);
    for _ in 0..2 {
        world.now += 60;
        // Killed after the status write, then the next replica reconciles at once.
        world.reconcile_killed_after_status();
        world.settle(20);
    }
    assert_eq!(
        world.measured.len(),
        3,
        "three measurements, none taken twice"
    );
    assert_eq!(world.status.stable_revision.as_deref(), Some(new.as_str()));
}

#[test]
fn an_invalid_condition_stalls_the_rollout_before_any_traffic_moves() {
    let spec = canary(steps(vec![
        weight(20),
        gate(analysis(vec![metric("error-rate", "result <")])),
    ]));
    let (mut world, old, new) = rolling_out(spec, |_| scalar(0.0));
    world.settle(20);
    assert_eq!(world.weight_of(&old), 100);
    assert_eq!(world.weight_of(&new), 0);
    let stalled = world.condition("Stalled");
    assert_eq!(stalled.reason, "InvalidAnalysis");
    assert!(
        stalled
            .message
            .contains("canary.steps[1].analysis metric error-rate")
            && stalled.message.contains("column"),
        "{}",
        stalled.message
    );
    assert!(world.measured.is_empty());
}

#[test]
fn blue_green_waits_for_pre_promotion_analysis_before_its_timer_and_post_failure_switches_back() {
    let mut pre = metric("error-rate", "result < 0.05");
    pre.count = Some(2);
    let mut post = metric("error-rate", "result < 0.05");
    post.count = Some(1);
    let mut s = spec("1.0.0");
    s.replicas = 2;
    s.strategy = Some(StrategySpec {
        blue_green: Some(BlueGreenStrategy {
            auto_promotion_after: Some(ApiDuration("30s".into())),
            pre_promotion_analysis: Some(analysis(vec![pre])),
            post_promotion_analysis: Some(analysis(vec![post])),
            ..BlueGreenStrategy::default()
        }),
        ..StrategySpec::default()
    });
    let mut calls = 0;
    let (mut world, old, new) = rolling_out(s, move |_| {
        calls += 1;
        scalar(if calls <= 2 { 0.0 } else { 0.9 })
    });
    world.settle(20);
    // 40 s in, the timer would have run out had it started with the preview.
    run(&mut world, 40, 1);
    assert_eq!(
        world.weight_of(&old),
        100,
        "the timer waits for the analysis"
    );
    run(&mut world, 20, 1);
    assert_eq!(
        run_named(&world, "prePromotion").phase,
        AnalysisPhase::Successful
    );
    assert_eq!(world.weight_of(&old), 100, "then the 30 s timer runs");
    run(&mut world, 30, 1);
    // Switched, measured after the switch, failed, and switched back.
    assert_eq!(world.weight_of(&old), 100);
    assert_eq!(world.weight_of(&new), 0);
    assert_eq!(
        run_named(&world, "postPromotion").phase,
        AnalysisPhase::Failed
    );
    assert_eq!(world.status.stable_revision.as_deref(), Some(old.as_str()));
}

fn shadow_with_agreement(min_samples: Option<i32>) -> ModelDeploymentSpec {
    let mut s = spec("1.0.0");
    s.traffic.provider = modeldeploy_api::v1alpha1::TrafficProvider::Router;
    s.strategy = Some(StrategySpec {
        shadow: Some(ShadowStrategy {
            mirror_percent: None,
            mirror_all_methods: None,
            duration: ApiDuration("1m".into()),
            agreement: Some(PredictionAgreement {
                min_percent: 99,
                relative_tolerance: None,
                top_k: None,
                noise_sample_percent: None,
                tolerance: None,
                json_path: None,
                min_samples,
            }),
            drift: None,
            analysis: None,
            auto_promotion: None,
        }),
        ..StrategySpec::default()
    });
    s
}

#[test]
fn a_shadow_is_promoted_or_discarded_by_its_measured_agreement() {
    for (measured, promoted) in [(99.5, true), (90.0, false)] {
        let (mut world, old, new) =
            rolling_out(shadow_with_agreement(None), move |_| scalar(measured));
        world.settle(20);
        run(&mut world, 61, 2);
        let stable = world.status.stable_revision.clone();
        let expected = if promoted { &new } else { &old };
        assert_eq!(stable.as_deref(), Some(expected.as_str()), "{measured}");
        assert!(
            world
                .measured
                .iter()
                .any(|(run, metric, _)| run == "agreement" && metric == "agreement"),
            "{measured}"
        );
        if !promoted {
            // A discarded shadow keeps the figure it was judged by.
            let agreement = &run_named(&world, "agreement").metrics[0];
            assert_eq!(
                agreement
                    .measurements
                    .last()
                    .and_then(|m| m.value.clone())
                    .as_deref(),
                Some("90")
            );
        }
    }
}

#[test]
fn a_shadow_without_enough_comparisons_never_promotes() {
    // Every query answers 40: 40 % agreement would fail, but 40 comparisons are fewer than 100,
    // so the measurement is not judged at all.
    let (mut world, old, _new) = rolling_out(shadow_with_agreement(Some(100)), |_| scalar(40.0));
    world.settle(20);
    run(&mut world, 61, 3);
    assert_eq!(
        pause_reason(&world),
        Some(PauseReason::AnalysisInconclusive)
    );
    assert_eq!(world.status.stable_revision.as_deref(), Some(old.as_str()));
}

#[test]
fn an_ab_test_whose_guard_rail_fails_is_rolled_back_before_max_duration() {
    let mut guard = metric("error-rate", "result < 0.05");
    guard.count = None;
    let mut s = spec("1.0.0");
    s.traffic = crate::plan::tests::gateway();
    s.strategy = Some(StrategySpec {
        ab_test: Some(modeldeploy_api::v1alpha1::AbTestStrategy {
            weight: Some(20),
            stickiness: None,
            matches: Vec::new(),
            max_duration: ApiDuration("72h".into()),
            analysis: Some(analysis(vec![guard])),
            decision: None,
        }),
        ..StrategySpec::default()
    });
    let (mut world, old, new) = rolling_out(s, |_| scalar(0.3));
    world.settle(20);
    assert_eq!(world.weight_of(&old), 100);
    assert_eq!(world.weight_of(&new), 0);
    assert_eq!(
        world.status.rollout.as_ref().map(|r| r.stage),
        Some(RolloutStage::Aborted)
    );
}

fn template_ref(name: &str, cluster_scope: bool) -> modeldeploy_api::v1alpha1::AnalysisTemplateRef {
    modeldeploy_api::v1alpha1::AnalysisTemplateRef {
        name: name.into(),
        cluster_scope,
    }
}

#[test]
fn a_template_s_metrics_gate_the_step_with_its_arguments_filled_in() {
    use modeldeploy_api::v1alpha1::{AnalysisArg, TemplateArg};
    let mut shared = metric("error-rate", "result < 0.05");
    if let Some(p) = shared.provider.prometheus.as_mut() {
        p.query = "errors{job=\"{{args.job}}\",revision=\"{{revision}}\"}".into();
    }
    let gate_analysis = AnalysisSpec {
        templates: vec![template_ref("error-rate", true)],
        args: vec![AnalysisArg {
            name: "job".into(),
            value: Some("fraud".into()),
            value_from: None,
        }],
        ..AnalysisSpec::default()
    };
    let spec = canary(steps(vec![weight(20), gate(gate_analysis), weight(50)]));
    let queries = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let seen = queries.clone();
    let mut world = World::new(spec);
    world.templates.push((
        template_ref("error-rate", true),
        super::templates::TemplateBody {
            metrics: vec![shared],
            args: vec![TemplateArg {
                name: "job".into(),
                value: Some("default-job".into()),
                value_from: None,
            }],
        },
    ));
    world.settle(10);
    world.spec.model.version = "2.0.0".into();
    let (old, new) = (
        world.status.stable_revision.clone().unwrap(),
        world.revision(),
    );
    world.measure = Some(Box::new(move |due| {
        let query = &due.metric.provider.prometheus.as_ref().unwrap().query;
        let job = &due.args.iter().find(|a| a.name == "job").unwrap();
        seen.borrow_mut()
            .push((due.metric.name.clone(), query.clone(), job.value.clone()));
        Ok(MeasuredValue::Scalar(0.2))
    }));
    world.settle(20);
    assert_eq!(
        queries.borrow()[0],
        (
            "error-rate".to_owned(),
            "errors{job=\"{{args.job}}\",revision=\"{{revision}}\"}".to_owned(),
            Some("fraud".to_owned())
        ),
        "the template's metric is measured, with the analysis' value of its argument"
    );
    let rollout = world.status.rollout.as_ref().unwrap();
    assert_eq!(
        rollout.stage,
        RolloutStage::Aborted,
        "0.2 fails result < 0.05"
    );
    assert_eq!(world.weight_of(&old), 100);
    assert_eq!(world.weight_of(&new), 0);
}

#[test]
fn a_missing_template_stalls_the_rollout_before_any_traffic_moves() {
    let gate_analysis = AnalysisSpec {
        templates: vec![template_ref("latency", false)],
        ..AnalysisSpec::default()
    };
    let spec = canary(steps(vec![weight(20), gate(gate_analysis)]));
    let (mut world, old, new) = rolling_out(spec, |_| scalar(0.0));
    world.settle(20);
    assert_eq!(world.weight_of(&old), 100);
    assert_eq!(world.weight_of(&new), 0);
    let stalled = world.condition("Stalled");
    assert_eq!(stalled.reason, "InvalidAnalysis");
    assert!(
        stalled.message.contains("canary.steps[1].analysis")
            && stalled
                .message
                .contains("ModelAnalysisTemplate latency does not exist"),
        "{}",
        stalled.message
    );
    assert!(world.measured.is_empty());

    // Once the template exists, the rollout goes on.
    world.templates.push((
        template_ref("latency", false),
        super::templates::TemplateBody {
            metrics: vec![metric("p99", "result < 0.5")],
            args: Vec::new(),
        },
    ));
    world.settle(20);
    assert_eq!(world.weight_of(&new), 20);
    assert_eq!(world.measured.len(), 1);
}

#[test]
fn inconclusive_measurements_within_their_limit_never_count_towards_success() {
    let mut m = metric("error-rate", "result < 0.05");
    m.count = Some(2);
    m.inconclusive_limit = Some(2);
    let spec = canary(steps(vec![weight(20), gate(analysis(vec![m]))]));
    let (mut world, _old, new) = rolling_out(spec, |_| Ok(MeasuredValue::vector([])));
    world.settle(20);
    run(&mut world, 60, 4);
    assert_eq!(
        pause_reason(&world),
        Some(PauseReason::AnalysisInconclusive)
    );
    assert_eq!(world.weight_of(&new), 20, "no data never passes");
    assert_eq!(world.count("AnalysisSuccessful"), 0);
}

#[test]
fn a_step_is_reached_only_once_the_gateway_accepted_the_route_so_metrics_never_judge_the_last_split()
 {
    let spec = canary(steps(vec![
        weight(20),
        gate(analysis(vec![metric("error-rate", "result < 0.05")])),
    ]));
    let (mut world, _old, new) = rolling_out(spec, |_| scalar(0.01));
    world.lagging_gateway = true;
    world.settle(20);
    run(&mut world, 60, 2);
    assert_eq!(world.weight_of(&new), 20, "the split is written");
    assert_eq!(world.status.rollout.as_ref().unwrap().step_index, 0);
    assert!(
        world.measured.is_empty(),
        "nothing measured on an unconfirmed split"
    );
    world.observed.route_pending = false;
    world.lagging_gateway = false;
    world.settle(20);
    assert_eq!(world.status.rollout.as_ref().unwrap().step_index, 1);
    assert_eq!(world.measured.len(), 1);
}
