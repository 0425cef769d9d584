//! The A/B decision in the planner, against the simulated cluster: a better candidate is
//! promoted, a worse one rolled back, no winner ends the test at `maxDuration`, a broken split
//! and unreadable counts hold the test for a person.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use modeldeploy_api::v1alpha1::{
    AbDecision, AbTestStrategy, DecisionGoal, DecisionPhase, Duration as ApiDuration,
    InconclusivePolicy, MetricProvider, ModelDeploymentSpec, PauseReason, Phase,
    ProportionDecision, RequestAction, RolloutStage, StrategySpec,
};

use super::MeasuredValue;
use super::decision::DECISION;
use crate::plan::sim::World;
use crate::testing::spec;

fn prometheus(query: &str) -> MetricProvider {
    MetricProvider::prometheus(query)
}

fn decision() -> AbDecision {
    AbDecision {
        goal: DecisionGoal::Maximize,
        interval: Some(ApiDuration("1m".into())),
        confidence_percent: None,
        minimum_detectable_effect_percent: None,
        min_samples: Some(1000),
        on_inconclusive: None,
        proportion: Some(ProportionDecision {
            successes: prometheus(
                "sum(increase(conversions_total{revision=\"{{revision}}\"}[{{elapsed}}]))",
            ),
            trials: prometheus(
                "sum(increase(requests_total{revision=\"{{revision}}\"}[{{elapsed}}]))",
            ),
        }),
        mean: None,
    }
}

fn ab_test(decision: AbDecision, max_duration: &str) -> ModelDeploymentSpec {
    let mut s = spec("1.0.0");
    s.replicas = 4;
    s.traffic = crate::plan::tests::gateway();
    s.strategy = Some(StrategySpec {
        ab_test: Some(AbTestStrategy {
            weight: Some(50),
            stickiness: None,
            matches: Vec::new(),
            max_duration: ApiDuration(max_duration.into()),
            analysis: None,
            decision: Some(Box::new(decision)),
        }),
        ..StrategySpec::default()
    });
    s
}

/// Traffic of the simulated test: per second, `per_second` trials per variant (scaled by
/// `candidate_share` for the candidate against 50/50), converting at the variant's rate.
#[derive(Clone, Copy)]
struct Traffic {
    per_second: f64,
    stable_rate: f64,
    candidate_rate: f64,
    candidate_share: f64,
}

/// Serves 1.0.0, then rolls out 2.0.0 as an A/B test whose counts follow `traffic`.
fn testing(spec: ModelDeploymentSpec, traffic: Traffic) -> (World, String, String) {
    let mut world = World::new(spec);
    world.settle(10);
    let old = world.revision();
    assert_eq!(world.status.phase, Some(Phase::Healthy));
    world.spec.model.version = "2.0.0".into();
    let new = world.revision();
    let candidate = new.clone();
    world.measure = Some(Box::new(move |due| {
        assert_eq!(due.analysis, DECISION);
        let elapsed: f64 = due.variables["elapsed"]
            .trim_end_matches('s')
            .parse()
            .unwrap();
        let is_candidate = due.variables["revision"] == candidate;
        let (share, rate) = if is_candidate {
            (traffic.candidate_share, traffic.candidate_rate)
        } else {
            (1.0 - traffic.candidate_share, traffic.stable_rate)
        };
        let trials = (traffic.per_second * 2.0 * share * elapsed).round();
        Ok(MeasuredValue::vector([
            if due.metric.name.ends_with("successes") {
                (trials * rate).round()
            } else {
                trials
            },
        ]))
    }));
    (world, old, new)
}

fn run_minutes(world: &mut World, minutes: usize) {
    for _ in 0..minutes {
        world.now += 60;
        world.settle(20);
    }
}

fn decision_status(world: &World) -> &modeldeploy_api::v1alpha1::DecisionStatus {
    world
        .status
        .rollout
        .as_ref()
        .and_then(|r| r.decision.as_ref())
        .unwrap_or_else(|| panic!("no decision in {:?}", world.status.rollout))
}

const REALISTIC: Traffic = Traffic {
    per_second: 5.0,
    stable_rate: 0.10,
    candidate_rate: 0.10,
    candidate_share: 0.5,
};

#[test]
fn a_better_candidate_is_promoted_with_its_effect_and_interval_in_status() {
    let traffic = Traffic {
        candidate_rate: 0.12,
        ..REALISTIC
    };
    let (mut world, _old, new) = testing(ab_test(decision(), "72h"), traffic);
    world.settle(20);
    assert_eq!(world.weight_of(&new), 50);
    assert!(
        world.measured.is_empty(),
        "the counts are all zero at the start"
    );
    let mut minutes = 0;
    while world.status.stable_revision.as_deref() != Some(new.as_str()) {
        run_minutes(&mut world, 1);
        minutes += 1;
        assert!(
            minutes < 24 * 60,
            "never decided: {:?}",
            world.status.rollout
        );
        if let Some(d) = world
            .status
            .rollout
            .as_ref()
            .and_then(|r| r.decision.as_ref())
            && d.phase == DecisionPhase::CandidateWins
        {
            let message = d.message.as_deref().unwrap();
            assert!(message.contains("the candidate wins"), "{message}");
            let (low, high): (f64, f64) = (
                d.effect_low.as_deref().unwrap().parse().unwrap(),
                d.effect_high.as_deref().unwrap().parse().unwrap(),
            );
            assert!(0.0 < low && low < 0.02 && 0.02 < high, "[{low}, {high}]");
            assert!(d.p_value.as_deref().unwrap().parse::<f64>().unwrap() <= 0.05);
            assert!(d.sample_ratio_p_value.is_some());
        }
    }
    assert_eq!(world.weight_of(&new), 100);
    assert_eq!(world.count("AnalysisSuccessful"), 1);
    // Six readings per interval (three per variant would be a mean decision): two sources, two
    // variants, once a minute, and none after the decision.
    let readings = world.measured.len();
    assert_eq!(readings % 4, 0, "{readings}");
    assert!(
        readings / 4 <= minutes,
        "{readings} readings in {minutes} minutes"
    );
}

/// Minutes until the candidate of `traffic` is promoted under `decision`, and the expected
/// sample size the status gave on the way.
fn minutes_to_promotion(decision: AbDecision, traffic: Traffic) -> (usize, f64) {
    let (mut world, _old, new) = testing(ab_test(decision, "72h"), traffic);
    world.settle(20);
    let mut expected = None;
    for minute in 1..=24 * 60 {
        run_minutes(&mut world, 1);
        if let Some(d) = world
            .status
            .rollout
            .as_ref()
            .and_then(|r| r.decision.as_ref())
        {
            expected = d.expected_samples.as_deref().and_then(|e| e.parse().ok());
        }
        if world.status.stable_revision.as_deref() == Some(new.as_str()) {
            return (
                minute,
                expected.unwrap_or_else(|| panic!("no expected samples")),
            );
        }
    }
    panic!("never decided: {:?}", world.status.rollout)
}

#[test]
fn a_stricter_confidence_decides_later_and_a_smaller_effect_expects_more_samples() {
    let traffic = Traffic {
        candidate_rate: 0.12,
        ..REALISTIC
    };
    let (default, _) = minutes_to_promotion(decision(), traffic);
    let (strict, _) = minutes_to_promotion(
        AbDecision {
            confidence_percent: Some(99),
            ..decision()
        },
        traffic,
    );
    assert!(default < strict, "95 %: {default} min, 99 %: {strict} min");
    let (_, coarse) = minutes_to_promotion(
        AbDecision {
            minimum_detectable_effect_percent: Some(40),
            ..decision()
        },
        traffic,
    );
    let (_, fine) = minutes_to_promotion(
        AbDecision {
            minimum_detectable_effect_percent: Some(5),
            ..decision()
        },
        traffic,
    );
    assert!(
        coarse < fine,
        "expected samples: 40 % effect {coarse}, 5 % effect {fine}"
    );
}

#[test]
fn a_worse_candidate_is_rolled_back() {
    let traffic = Traffic {
        candidate_rate: 0.08,
        ..REALISTIC
    };
    let (mut world, old, new) = testing(ab_test(decision(), "72h"), traffic);
    run_minutes(&mut world, 24 * 60);
    let rollout = world.status.rollout.as_ref().unwrap();
    assert_eq!(rollout.stage, RolloutStage::Aborted);
    assert_eq!(decision_status(&world).phase, DecisionPhase::StableWins);
    assert!(
        rollout
            .abort_reason
            .as_deref()
            .unwrap()
            .contains("the A/B decision keeps the stable revision"),
        "{:?}",
        rollout.abort_reason
    );
    assert_eq!(world.weight_of(&old), 100);
    assert_eq!(world.weight_of(&new), 0);
    assert_eq!(world.count("AnalysisFailed"), 1);
}

#[test]
fn minimizing_flips_the_winner() {
    let traffic = Traffic {
        candidate_rate: 0.08,
        ..REALISTIC
    };
    let mut minimize = decision();
    minimize.goal = DecisionGoal::Minimize;
    let (mut world, _old, new) = testing(ab_test(minimize, "72h"), traffic);
    run_minutes(&mut world, 24 * 60);
    assert_eq!(world.status.stable_revision.as_deref(), Some(new.as_str()));
}

#[test]
fn no_winner_at_max_duration_keeps_the_stable_or_waits_for_a_person() {
    let (mut world, old, new) = testing(ab_test(decision(), "2h"), REALISTIC);
    run_minutes(&mut world, 121);
    let rollout = world.status.rollout.as_ref().unwrap();
    assert_eq!(rollout.stage, RolloutStage::Aborted);
    assert!(
        rollout
            .abort_reason
            .as_deref()
            .unwrap()
            .contains("without a winner"),
        "{:?}",
        rollout.abort_reason
    );
    assert_eq!(decision_status(&world).phase, DecisionPhase::Inconclusive);
    assert_eq!(world.weight_of(&old), 100);

    let mut waiting = decision();
    waiting.on_inconclusive = Some(InconclusivePolicy::Pause);
    let (mut world, old, new_too) = testing(ab_test(waiting, "2h"), REALISTIC);
    assert_eq!(new, new_too);
    run_minutes(&mut world, 180);
    let rollout = world.status.rollout.as_ref().unwrap();
    assert_eq!(rollout.stage, RolloutStage::Steps);
    assert_eq!(
        rollout.pause.as_ref().map(|p| p.reason),
        Some(PauseReason::AnalysisInconclusive)
    );
    assert_eq!(
        world.weight_of(&old),
        50,
        "still split, waiting for a person"
    );
    world.ask(RequestAction::Promote);
    world.settle(20);
    assert_eq!(world.status.stable_revision.as_deref(), Some(new.as_str()));
}

#[test]
fn a_split_that_is_not_the_one_configured_holds_the_test_however_large_the_effect() {
    let traffic = Traffic {
        candidate_rate: 0.30,
        candidate_share: 0.45,
        ..REALISTIC
    };
    let (mut world, _old, new) = testing(ab_test(decision(), "72h"), traffic);
    run_minutes(&mut world, 60);
    let d = decision_status(&world);
    assert_eq!(d.phase, DecisionPhase::SampleRatioMismatch);
    assert!(
        d.sample_ratio_p_value
            .as_deref()
            .unwrap()
            .parse::<f64>()
            .unwrap()
            < 0.001,
        "{d:?}"
    );
    let rollout = world.status.rollout.as_ref().unwrap();
    assert_eq!(
        rollout.pause.as_ref().map(|p| p.reason),
        Some(PauseReason::AnalysisInconclusive)
    );
    assert_eq!(world.weight_of(&new), 50, "never promoted");
    assert_eq!(world.count("AnalysisInconclusive"), 1);
}

#[test]
fn no_decision_before_min_samples() {
    let traffic = Traffic {
        candidate_rate: 0.5,
        per_second: 1.0,
        ..REALISTIC
    };
    let mut patient = decision();
    patient.min_samples = Some(5000);
    let (mut world, _old, new) = testing(ab_test(patient, "72h"), traffic);
    // 60 trials per variant a minute: 5,000 take 84 minutes.
    run_minutes(&mut world, 83);
    assert_eq!(decision_status(&world).phase, DecisionPhase::Measuring);
    assert!(
        decision_status(&world)
            .message
            .as_deref()
            .unwrap()
            .contains("waiting for 5000 samples"),
        "{:?}",
        decision_status(&world).message
    );
    run_minutes(&mut world, 3);
    assert_eq!(world.status.stable_revision.as_deref(), Some(new.as_str()));
}

#[test]
fn counts_that_cannot_be_read_past_the_limit_hold_and_resume_reads_again() {
    let (mut world, _old, new) = testing(ab_test(decision(), "72h"), REALISTIC);
    world.settle(20);
    let working = world.measure.take();
    world.measure = Some(Box::new(|_| Err("connection refused".to_owned())));
    // Counting starts a minute after the split; the first reading a minute later.
    run_minutes(&mut world, 5);
    assert_eq!(decision_status(&world).phase, DecisionPhase::Measuring);
    assert_eq!(decision_status(&world).consecutive_errors, 4);
    run_minutes(&mut world, 1);
    assert_eq!(decision_status(&world).phase, DecisionPhase::Error);
    assert_eq!(
        world
            .status
            .rollout
            .as_ref()
            .and_then(|r| r.pause.as_ref())
            .map(|p| p.reason),
        Some(PauseReason::AnalysisError)
    );
    run_minutes(&mut world, 30);
    assert_eq!(world.weight_of(&new), 50, "never promoted while unmeasured");
    world.measure = working;
    world.ask(RequestAction::Resume);
    world.settle(20);
    assert_eq!(decision_status(&world).phase, DecisionPhase::Measuring);
    assert_eq!(decision_status(&world).consecutive_errors, 0);
}

#[test]
fn a_killed_operator_neither_loses_nor_repeats_a_reading_or_a_verdict() {
    let traffic = Traffic {
        candidate_rate: 0.12,
        ..REALISTIC
    };
    let (mut world, _old, new) = testing(ab_test(decision(), "72h"), traffic);
    world.settle(20);
    let mut minutes = 0;
    while world.status.stable_revision.as_deref() != Some(new.as_str()) {
        world.now += 60;
        minutes += 1;
        // Killed after every status write, then the next replica reconciles at once.
        world.reconcile_killed_after_status();
        world.settle(20);
        assert!(minutes < 24 * 60, "never decided");
        let readings = world
            .status
            .rollout
            .as_ref()
            .and_then(|r| r.decision.as_ref())
            .map_or(0, |d| d.readings);
        if world.status.rollout.is_some() {
            assert_eq!(
                usize::try_from(readings).unwrap(),
                world.measured.len() / 4,
                "one reading per interval, each recorded once"
            );
        }
    }
    // A kill between the status write and the announcement loses the event, by design: an
    // event is never announced twice.
    assert!(
        world.count("AnalysisSuccessful") <= 1,
        "the verdict is not repeated"
    );
}

#[test]
fn a_decision_query_with_an_unknown_variable_stalls_before_traffic_moves() {
    let mut broken = decision();
    if let Some(p) = broken.proportion.as_mut() {
        p.trials = prometheus("sum(increase(requests_total[{{elapsd}}]))");
    }
    let (mut world, old, new) = testing(ab_test(broken, "72h"), REALISTIC);
    world.settle(20);
    assert_eq!(world.weight_of(&old), 100);
    assert_eq!(world.weight_of(&new), 0);
    let stalled = world.condition("Stalled");
    assert_eq!(stalled.reason, "InvalidAnalysis");
    assert!(
        stalled
            .message
            .contains("abTest.decision.proportion.trials")
            && stalled.message.contains("{{elapsd}}")
            && stalled.message.contains("{{elapsed}}"),
        "{}",
        stalled.message
    );
}

#[test]
fn a_failing_guard_rail_rolls_back_a_test_held_by_a_broken_split() {
    let traffic = Traffic {
        candidate_share: 0.45,
        ..REALISTIC
    };
    let mut spec = ab_test(decision(), "72h");
    if let Some(ab) = spec.strategy.as_mut().and_then(|s| s.ab_test.as_mut()) {
        ab.analysis = Some(modeldeploy_api::v1alpha1::AnalysisSpec {
            metrics: vec![modeldeploy_api::v1alpha1::Metric {
                interval: Some(ApiDuration("1m".into())),
                initial_delay: Some(ApiDuration("30m".into())),
                failure_condition: Some("result > 0.05".into()),
                ..modeldeploy_api::v1alpha1::Metric::new(
                    "error-rate",
                    prometheus("errors{revision=\"{{revision}}\"}"),
                )
            }],
            ..modeldeploy_api::v1alpha1::AnalysisSpec::default()
        });
    }
    let (mut world, old, _new) = testing(spec, traffic);
    let mut counts = world.measure.take().unwrap();
    // The guard rail's error rate is 0.3; the decision's counts come from `traffic`.
    world.measure = Some(Box::new(move |due| {
        if due.analysis == DECISION {
            counts(due)
        } else {
            Ok(MeasuredValue::Scalar(0.3))
        }
    }));
    run_minutes(&mut world, 20);
    assert_eq!(
        decision_status(&world).phase,
        DecisionPhase::SampleRatioMismatch
    );
    run_minutes(&mut world, 15);
    let rollout = world.status.rollout.as_ref().unwrap();
    assert_eq!(rollout.stage, RolloutStage::Aborted, "{rollout:?}");
    assert_eq!(world.weight_of(&old), 100);
}
