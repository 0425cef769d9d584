//! Scenario tests of the planner against a simulated cluster, with an injected clock: every
//! strategy walks its steps, and pauses, promotion, abort, retry, supersede and restarts behave.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use modeldeploy_api::v1alpha1::{
    AbTestStrategy, BlueGreenStrategy, CanaryStep, CanaryStrategy, Duration as ApiDuration,
    GatewayApiTraffic, HeaderMatch, HeaderMatchType, ModelDeploymentSpec, ParentReference,
    PauseReason, PauseStep, Phase, RequestAction, RolloutStage, RouteMatch, ShadowStrategy,
    StrategySpec, TrafficProvider, TrafficSpec,
};

use super::sim::World;
use crate::testing::spec;

fn condition(world: &World, type_: &str) -> (String, String) {
    world
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone()))
        .unwrap_or_default()
}

fn phase(world: &World) -> Option<Phase> {
    world.status.phase
}

pub(super) fn gateway() -> TrafficSpec {
    TrafficSpec {
        provider: TrafficProvider::GatewayApi,
        gateway_api: Some(GatewayApiTraffic {
            parent_refs: vec![ParentReference {
                group: None,
                kind: None,
                namespace: None,
                name: "inference".into(),
                section_name: None,
                port: None,
            }],
            hostnames: vec![],
        }),
        istio: None,
    }
}

fn weight(w: i32) -> CanaryStep {
    CanaryStep {
        set_weight: Some(w),
        ..CanaryStep::default()
    }
}

fn pause(duration: Option<&str>) -> CanaryStep {
    CanaryStep {
        pause: Some(PauseStep {
            duration: duration.map(|d| ApiDuration(d.into())),
        }),
        ..CanaryStep::default()
    }
}

fn canary(steps: Vec<CanaryStep>) -> ModelDeploymentSpec {
    let mut s = spec("1.0.0");
    s.replicas = 4;
    s.strategy = Some(StrategySpec {
        canary: Some(CanaryStrategy {
            steps,
            ..CanaryStrategy::default()
        }),
        ..StrategySpec::default()
    });
    s
}

/// A world whose spec's revision serves; then the spec moves to model `version`.
fn serving_then(spec: ModelDeploymentSpec, version: &str) -> (World, String, String) {
    let mut world = World::new(spec);
    world.settle(10);
    let old = world.revision();
    assert_eq!(phase(&world), Some(Phase::Healthy));
    world.spec.model.version = version.into();
    let new = world.revision();
    (world, old, new)
}

#[test]
fn first_deploy_serves_at_once_and_is_ready_when_available() {
    let mut world = World::new(spec("1.0.0"));
    let revision = world.revision();
    world.stuck.insert(revision.clone());
    let plan = world.reconcile();
    assert_eq!(plan.traffic.stable, revision);
    assert_eq!(phase(&world), Some(Phase::Pending));
    assert_eq!(condition(&world, "Ready").0, "False");
    assert_eq!(condition(&world, "Reconciling").0, "True");
    world.pods_ready(&revision);
    world.settle(5);
    assert_eq!(phase(&world), Some(Phase::Healthy));
    assert_eq!(
        condition(&world, "Ready"),
        ("True".into(), "Available".into())
    );
    assert_eq!(condition(&world, "Reconciling").0, "False");
    assert_eq!(condition(&world, "Stalled").0, "False");
    assert_eq!(world.count("RolloutStarted"), 1);
    assert_eq!(world.count("RevisionAvailable"), 1);
    // At rest, a plan changes nothing and announces nothing.
    let again = world.plan();
    assert_eq!(again.status, world.status);
    assert!(again.events.is_empty(), "{:?}", again.events);
}

#[test]
fn replace_switches_once_the_new_revision_is_available_then_drains_the_old() {
    let (mut world, old, new) = serving_then(spec("1.0.0"), "1.1.0");
    world.stuck.insert(new.clone());
    world.settle(5);
    assert_eq!(world.weight_of(&old), 100);
    assert_eq!(world.replicas_of(&new), 2);
    assert_eq!(phase(&world), Some(Phase::Promoting));
    assert_eq!(condition(&world, "Ready").0, "False");
    world.pods_ready(&new);
    world.settle(5);
    assert_eq!(world.weight_of(&new), 100);
    assert_eq!(world.status.stable_revision.as_deref(), Some(new.as_str()));
    assert_eq!(phase(&world), Some(Phase::Healthy));
    assert_eq!(world.count("TrafficSwitched"), 1);
    // The old revision keeps its pods for the scale-down delay (30 s by default).
    assert_eq!(world.replicas_of(&old), 2);
    world.now += 29;
    world.settle(3);
    assert!(world.observed.revisions.contains_key(&old));
    world.now += 1;
    world.settle(3);
    assert!(!world.observed.revisions.contains_key(&old));
    assert_eq!(world.count("RevisionScaledDown"), 1);
}

#[test]
fn canary_walks_its_steps_scaling_before_shifting_and_waits_on_pauses() {
    let (mut world, old, new) = serving_then(
        canary(vec![
            weight(25),
            pause(Some("60s")),
            weight(50),
            pause(None),
        ]),
        "2.0.0",
    );
    world.stuck.insert(new.clone());
    world.settle(5);
    // The candidate is scaled for 25 % but gets nothing until its pods are ready.
    assert_eq!(world.replicas_of(&new), 1);
    assert_eq!(world.weight_of(&new), 0);
    let rollout = world.status.rollout.clone().unwrap();
    assert_eq!(rollout.step.as_deref(), Some("1/4 setWeight 25"));
    world.pods_ready(&new);
    world.settle(5);
    assert_eq!(world.weight_of(&new), 25);
    assert_eq!(world.weight_of(&old), 75);
    let rollout = world.status.rollout.clone().unwrap();
    assert_eq!(rollout.step_index, 1);
    assert_eq!(
        rollout.pause.as_ref().map(|p| p.reason),
        Some(PauseReason::Timed)
    );
    assert_eq!(phase(&world), Some(Phase::Paused));
    // The timed pause holds for its whole minute, then the next step begins.
    world.now += 59;
    world.settle(5);
    assert_eq!(world.status.rollout.as_ref().unwrap().step_index, 1);
    world.now += 1;
    world.settle(5);
    assert_eq!(world.weight_of(&new), 50);
    assert_eq!(world.replicas_of(&new), 2);
    let rollout = world.status.rollout.clone().unwrap();
    assert_eq!(rollout.step_index, 3);
    assert_eq!(
        rollout.pause.as_ref().map(|p| p.reason),
        Some(PauseReason::Indefinite)
    );
    // An indefinite pause waits for a person, however long.
    world.now += 3600;
    world.settle(5);
    assert_eq!(world.status.rollout.as_ref().unwrap().step_index, 3);
    assert_eq!(condition(&world, "Stalled").0, "False");
    world.ask(RequestAction::Promote);
    world.settle(10);
    assert_eq!(world.status.stable_revision.as_deref(), Some(new.as_str()));
    assert_eq!(world.weight_of(&new), 100);
    assert_eq!(world.replicas_of(&new), 4);
    assert_eq!(phase(&world), Some(Phase::Healthy));
    assert!(world.status.last_request.as_ref().unwrap().accepted);
    assert_eq!(world.count("StepStarted"), 3);
    assert_eq!(world.count("RequestAccepted"), 1);
    assert_eq!(world.count("TrafficSwitched"), 1);
}

#[test]
fn a_flat_capacity_canary_shrinks_the_stable_side_only_after_the_shift() {
    let mut s = canary(vec![weight(50), pause(None)]);
    if let Some(c) = s.strategy.as_mut().and_then(|s| s.canary.as_mut()) {
        c.dynamic_stable_scale = Some(true);
    }
    let (mut world, old, new) = serving_then(s, "2.0.0");
    world.reconcile();
    assert_eq!(world.replicas_of(&new), 2);
    assert_eq!(
        world.replicas_of(&old),
        4,
        "the stable side keeps its pods until the shift"
    );
    world.settle(5);
    assert_eq!(world.weight_of(&new), 50);
    assert_eq!(world.replicas_of(&old), 2);
    // Abort: the stable side grows back before it takes the traffic back.
    world.ask(RequestAction::Abort);
    world.reconcile();
    assert_eq!(world.replicas_of(&old), 4);
    assert_eq!(
        world.weight_of(&old),
        50,
        "2 ready pods of 4 can take only half"
    );
    world.settle(5);
    assert_eq!(world.weight_of(&old), 100);
}

#[test]
fn abort_returns_traffic_first_then_removes_the_candidate_after_the_delay_and_retry_starts_over() {
    let (mut world, old, new) = serving_then(canary(vec![weight(50), pause(None)]), "2.0.0");
    world.settle(5);
    assert_eq!(world.weight_of(&new), 50);
    world.ask(RequestAction::Abort);
    let plan = world.reconcile();
    assert_eq!(plan.traffic.candidate_weight(), 0);
    assert!(plan.delete.is_empty(), "pods stay until traffic has left");
    assert_eq!(phase(&world), Some(Phase::RollingBack));
    world.settle(5);
    assert_eq!(world.weight_of(&old), 100);
    assert_eq!(phase(&world), Some(Phase::Aborted));
    assert_eq!(
        condition(&world, "Stalled"),
        ("True".into(), "RolloutAborted".into())
    );
    assert_eq!(condition(&world, "Degraded").0, "True");
    assert!(world.observed.traffic.as_ref().unwrap().candidate.is_none());
    assert!(world.observed.revisions.contains_key(&new), "abort delay");
    world.now += 30;
    world.settle(5);
    assert!(!world.observed.revisions.contains_key(&new));
    assert_eq!(world.count("RollbackStarted"), 1);
    assert_eq!(world.count("RolloutAborted"), 1);
    // Pause and promote are refused while aborted; retry starts from the first step.
    world.ask(RequestAction::Promote);
    world.reconcile();
    assert!(!world.status.last_request.as_ref().unwrap().accepted);
    world.ask(RequestAction::Retry);
    world.settle(5);
    assert_eq!(world.weight_of(&new), 50);
    assert_eq!(world.status.rollout.as_ref().unwrap().step_index, 1);
    assert_eq!(world.count("RolloutRetried"), 1);
}

#[test]
fn a_new_spec_mid_rollout_returns_traffic_to_stable_before_the_new_candidate_starts() {
    let (mut world, old, first) = serving_then(canary(vec![weight(50), pause(None)]), "2.0.0");
    world.settle(5);
    assert_eq!(world.weight_of(&first), 50);
    world.spec.model.version = "3.0.0".into();
    let second = world.revision();
    let plan = world.reconcile();
    assert_eq!(plan.traffic.candidate_weight(), 0);
    assert!(
        plan.run.iter().all(|r| r.revision != second),
        "{:?}",
        plan.run
    );
    assert_eq!(phase(&world), Some(Phase::RollingBack));
    world.reconcile();
    assert_eq!(
        world.status.rollout.as_ref().map(|r| r.revision.clone()),
        Some(second.clone())
    );
    // Without a mesh the Service would select the superseded pods too, so the split waits
    // until they are gone (the abort delay, 30 s).
    world.settle(5);
    assert_eq!(world.weight_of(&second), 0);
    assert_eq!(world.replicas_of(&second), 2);
    world.now += 30;
    world.settle(5);
    assert!(!world.observed.revisions.contains_key(&first));
    assert_eq!(world.weight_of(&second), 50);
    assert_eq!(world.weight_of(&old), 50);
}

#[test]
fn blue_green_previews_then_switches_all_at_once_when_promoted() {
    let mut s = spec("1.0.0");
    s.replicas = 3;
    s.strategy = Some(StrategySpec {
        blue_green: Some(BlueGreenStrategy {
            auto_promotion: Some(false),
            preview_replicas: Some(1),
            ..BlueGreenStrategy::default()
        }),
        ..StrategySpec::default()
    });
    let (mut world, old, new) = serving_then(s, "2.0.0");
    world.settle(5);
    assert_eq!(world.replicas_of(&new), 1);
    assert_eq!(world.weight_of(&old), 100);
    let traffic = world.observed.traffic.clone().unwrap();
    assert_eq!(
        traffic.candidate.map(|c| c.role),
        Some(super::CandidateRole::Preview)
    );
    let rollout = world.status.rollout.clone().unwrap();
    assert_eq!(
        rollout.pause.map(|p| p.reason),
        Some(PauseReason::AwaitingPromotion)
    );
    world.ask(RequestAction::Promote);
    world.reconcile();
    assert_eq!(
        world.status.rollout.as_ref().unwrap().stage,
        RolloutStage::Promoting
    );
    assert_eq!(world.replicas_of(&new), 3);
    assert_eq!(world.weight_of(&old), 100, "full size first");
    world.settle(5);
    assert_eq!(world.weight_of(&new), 100);
    assert_eq!(world.status.stable_revision.as_deref(), Some(new.as_str()));
}

#[test]
fn shadow_mirrors_for_its_duration_then_promotes() {
    let mut s = spec("1.0.0");
    s.traffic = gateway();
    s.strategy = Some(StrategySpec {
        shadow: Some(ShadowStrategy {
            mirror_percent: Some(50),
            mirror_all_methods: None,
            duration: ApiDuration("10m".into()),
            agreement: None,
            drift: None,
            analysis: None,
            auto_promotion: None,
        }),
        ..StrategySpec::default()
    });
    let (mut world, old, new) = serving_then(s, "2.0.0");
    world.settle(5);
    assert_eq!(world.weight_of(&old), 100);
    assert_eq!(world.status.mirror.as_ref().map(|m| m.percent), Some(50));
    assert_eq!(
        world.status.traffic_summary.as_deref(),
        Some(format!("{old}=100% mirror:{new}=50%").as_str())
    );
    world.now += 600;
    world.settle(10);
    assert_eq!(world.weight_of(&new), 100);
    assert!(world.status.mirror.is_none());
}

#[test]
fn an_ab_test_routes_matches_splits_the_rest_and_keeps_stable_at_max_duration() {
    let mut s = spec("1.0.0");
    s.traffic = gateway();
    s.strategy = Some(StrategySpec {
        ab_test: Some(AbTestStrategy {
            weight: Some(20),
            stickiness: None,
            matches: vec![RouteMatch {
                headers: vec![HeaderMatch {
                    name: "x-tester".into(),
                    value: "yes".into(),
                    match_type: HeaderMatchType::Exact,
                }],
            }],
            max_duration: ApiDuration("1h".into()),
            analysis: None,
            decision: None,
        }),
        ..StrategySpec::default()
    });
    let (mut world, old, new) = serving_then(s, "2.0.0");
    world.settle(5);
    assert_eq!(world.weight_of(&new), 20);
    let carried = world.observed.traffic.clone().unwrap();
    assert_eq!(carried.candidate.map(|c| c.matches.len()), Some(1));
    world.now += 3600;
    world.settle(10);
    assert_eq!(phase(&world), Some(Phase::Aborted));
    assert_eq!(world.weight_of(&old), 100);
    assert!(
        world
            .status
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("maximum duration"),
        "{:?}",
        world.status.message
    );
}

#[test]
fn a_provider_that_cannot_carry_the_strategy_keeps_the_stable_revision_and_says_why() {
    let mut s = spec("1.0.0");
    s.strategy = Some(StrategySpec {
        shadow: Some(ShadowStrategy {
            mirror_percent: None,
            mirror_all_methods: None,
            duration: ApiDuration("1m".into()),
            agreement: None,
            drift: None,
            analysis: None,
            auto_promotion: None,
        }),
        ..StrategySpec::default()
    });
    let (mut world, old, new) = serving_then(s, "2.0.0");
    world.settle(5);
    assert_eq!(world.weight_of(&old), 100);
    assert!(!world.observed.revisions.contains_key(&new));
    assert_eq!(
        condition(&world, "Stalled"),
        ("True".into(), "TrafficNotSupported".into())
    );
    assert!(
        world
            .status
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("gatewayAPI")
    );
}

#[test]
fn pause_and_resume_hold_and_release_a_canary_and_each_request_counts_once() {
    let (mut world, _old, new) =
        serving_then(canary(vec![weight(25), weight(50), weight(75)]), "2.0.0");
    world.reconcile();
    world.ask(RequestAction::Pause);
    world.settle(10);
    let held = world.status.rollout.clone().unwrap();
    assert!(held.paused_by_user);
    assert_eq!(phase(&world), Some(Phase::Paused));
    let weight_while_paused = world.weight_of(&new);
    world.now += 3600;
    world.settle(10);
    assert_eq!(world.weight_of(&new), weight_while_paused);
    // The same request seen again does nothing more.
    world.settle(3);
    assert_eq!(world.count("RequestAccepted"), 1);
    world.ask(RequestAction::Resume);
    world.settle(20);
    assert_eq!(world.status.stable_revision.as_deref(), Some(new.as_str()));
    assert_eq!(world.count("RequestAccepted"), 2);
}

#[test]
fn promote_full_skips_the_remaining_steps() {
    let (mut world, _old, new) = serving_then(
        canary(vec![weight(10), pause(None), weight(50), pause(None)]),
        "2.0.0",
    );
    world.settle(5);
    world.ask(RequestAction::PromoteFull);
    world.settle(10);
    assert_eq!(world.status.stable_revision.as_deref(), Some(new.as_str()));
    assert_eq!(world.count("StepStarted"), 1);
}

#[test]
fn a_request_without_a_rollout_is_refused_plainly() {
    let mut world = World::new(spec("1.0.0"));
    world.settle(5);
    world.ask(RequestAction::Abort);
    world.reconcile();
    let answer = world.status.last_request.clone().unwrap();
    assert!(!answer.accepted);
    assert_eq!(answer.message, "no rollout in progress for iris");
    assert_eq!(world.count("RequestRefused"), 1);
    world.settle(3);
    assert_eq!(world.count("RequestRefused"), 1);
}

#[test]
fn a_kill_after_the_status_write_neither_repeats_nor_skips_a_step() {
    let (mut world, _old, new) = serving_then(
        canary(vec![weight(25), pause(Some("1m")), weight(50), pause(None)]),
        "2.0.0",
    );
    // Kill the operator after every status write once, then let it carry on.
    let mut seen = vec![];
    for _ in 0..12 {
        world.reconcile_killed_after_status();
        seen.extend(world.status.rollout.as_ref().map(|r| r.step_index));
        world.reconcile();
        seen.extend(world.status.rollout.as_ref().map(|r| r.step_index));
        world.now += 30;
    }
    assert!(
        seen.windows(2).all(|w| w[1] == w[0] || w[1] == w[0] + 1),
        "steps skipped: {seen:?}"
    );
    assert_eq!(world.status.rollout.as_ref().map(|r| r.step_index), Some(3));
    assert_eq!(world.weight_of(&new), 50);
    // Every transition happened in a reconcile killed before its events went out: they are
    // lost, never announced late by a later reconcile and never twice.
    assert_eq!(world.count("StepStarted"), 0);
    assert!(
        !world.announced.iter().any(|(_, revision)| revision == &new),
        "{:?}",
        world.announced
    );
}

#[test]
fn the_progress_deadline_counts_from_the_step_that_waits_for_pods_and_degrades_once() {
    let mut s = canary(vec![pause(Some("20m")), weight(50)]);
    s.progress_deadline_seconds = Some(600);
    let (mut world, _old, new) = serving_then(s, "2.0.0");
    world.stuck.insert(new.clone());
    world.settle(5);
    world.now += 1200;
    world.settle(5);
    assert_eq!(
        condition(&world, "Stalled").0,
        "False",
        "a pause is not a stall"
    );
    world.now += 599;
    world.settle(5);
    assert_eq!(condition(&world, "Degraded").0, "False");
    world.now += 1;
    world.settle(5);
    assert_eq!(
        condition(&world, "Stalled"),
        ("True".into(), "ProgressDeadlineExceeded".into())
    );
    world.now += 60;
    world.settle(5);
    assert_eq!(world.count("ProgressDeadlineExceeded"), 1);
}

#[test]
fn a_failure_to_carry_out_the_plan_keeps_the_last_status_and_says_why() {
    let mut world = World::new(spec("1.0.0"));
    world.settle(5);
    let failed = super::failed(
        &world.status,
        Some(2),
        "ChildRejected",
        "the API server said no",
        super::sim::at(5),
    );
    assert_eq!(failed.phase, Some(Phase::Degraded));
    assert_eq!(failed.stable_revision, world.status.stable_revision);
    assert!(failed.message.unwrap_or_default().contains("said no"));
}

#[test]
fn undo_serves_the_previous_revision_until_the_spec_changes() {
    let (mut world, first, second) = serving_then(spec("1.0.0"), "2.0.0");
    world.settle(10);
    assert_eq!(
        world.status.stable_revision.as_deref(),
        Some(second.as_str())
    );
    let numbers: Vec<(i64, String)> = world
        .status
        .history
        .iter()
        .map(|h| (h.number, h.revision.clone()))
        .collect();
    assert_eq!(numbers, [(2, second.clone()), (1, first.clone())]);
    world.ask(RequestAction::Undo);
    world.settle(10);
    assert_eq!(
        world.status.stable_revision.as_deref(),
        Some(first.as_str())
    );
    assert_eq!(world.status.serving_model_version.as_deref(), Some("1.0.0"));
    assert_eq!(world.weight_of(&first), 100);
    assert!(world.status.last_request.as_ref().unwrap().accepted);
    assert_eq!(
        condition(&world, "Ready"),
        ("False".into(), "UndoInEffect".into())
    );
    assert_eq!(condition(&world, "Stalled").0, "True");
    assert!(
        world
            .status
            .message
            .as_deref()
            .unwrap()
            .contains("until the spec changes")
    );
    // Nothing earlier than the first revision.
    world.ask(RequestAction::Undo);
    world.reconcile();
    assert!(!world.status.last_request.as_ref().unwrap().accepted);
    // A new spec ends the undo and rolls out as usual.
    world.spec.model.version = "3.0.0".into();
    let third = world.revision();
    world.settle(10);
    assert_eq!(
        world.status.stable_revision.as_deref(),
        Some(third.as_str())
    );
    assert!(world.status.undo.is_none());
    assert_eq!(condition(&world, "Ready").0, "True");
}

#[test]
fn the_history_keeps_at_most_the_limit_and_always_what_serves() {
    let mut s = spec("1.0.0");
    s.revision_history_limit = Some(2);
    let mut world = World::new(s);
    for version in ["1.0.0", "2.0.0", "3.0.0", "4.0.0"] {
        world.spec.model.version = version.into();
        world.settle(10);
    }
    let versions: Vec<Option<String>> = world
        .status
        .history
        .iter()
        .map(|h| h.model_version.clone())
        .collect();
    assert_eq!(
        versions,
        [Some("4.0.0".to_owned()), Some("3.0.0".to_owned())]
    );
}

#[test]
fn a_stable_revision_deleted_by_hand_mid_rollout_is_rebuilt_from_its_template() {
    let (mut world, old, new) = serving_then(canary(vec![weight(50), pause(None)]), "2.0.0");
    world.settle(5);
    world.observed.revisions.remove(&old);
    let plan = world.reconcile();
    assert!(
        plan.run
            .iter()
            .any(|r| r.revision == old && r.replicas == 4),
        "{:?}",
        plan.run
    );
    world.settle(5);
    assert_eq!(world.status.stable_revision.as_deref(), Some(old.as_str()));
    assert_eq!(world.weight_of(&new), 50);
    assert_eq!(world.count("StableRevisionMissing"), 0);
}

#[test]
fn undo_replaces_at_once_instead_of_walking_the_steps_again() {
    let (mut world, first, _second) = serving_then(canary(vec![weight(10), pause(None)]), "2.0.0");
    world.settle(5);
    world.ask(RequestAction::PromoteFull);
    world.settle(10);
    world.ask(RequestAction::Undo);
    world.reconcile();
    assert_eq!(
        world.status.rollout.as_ref().map(|r| r.stage),
        Some(RolloutStage::Promoting)
    );
    world.settle(10);
    assert_eq!(
        world.status.stable_revision.as_deref(),
        Some(first.as_str())
    );
    assert_eq!(world.count("StepStarted"), 1, "only the canary's own step");
}

#[test]
fn a_new_strategy_mid_flight_starts_the_candidate_over_and_leaves_no_stale_role() {
    let (mut world, old, new) = serving_then(canary(vec![weight(50), pause(None)]), "2.0.0");
    world.settle(5);
    assert_eq!(world.weight_of(&new), 50);
    world.spec.strategy = Some(StrategySpec {
        blue_green: Some(BlueGreenStrategy {
            auto_promotion: Some(false),
            ..BlueGreenStrategy::default()
        }),
        ..StrategySpec::default()
    });
    world.settle(5);
    let rollout = world.status.rollout.clone().unwrap();
    assert_eq!(rollout.strategy, "blueGreen");
    assert_eq!(rollout.revision, new);
    assert_eq!(world.weight_of(&old), 100);
    assert_eq!(
        world
            .observed
            .traffic
            .as_ref()
            .and_then(|t| t.candidate.as_ref())
            .map(|c| c.role),
        Some(super::CandidateRole::Preview)
    );
}

#[test]
fn a_kill_between_recording_a_due_scale_down_and_the_deletion_neither_waits_again_nor_announces_twice()
 {
    let (mut world, _old, new) = serving_then(canary(vec![weight(50), pause(None)]), "2.0.0");
    world.settle(5);
    world.ask(RequestAction::Abort);
    world.settle(5);
    world.now += 30;
    // The plan that deletes the aborted candidate is recorded, then the operator dies.
    let plan = world.reconcile_killed_after_status();
    assert_eq!(plan.delete, vec![new.clone()]);
    world.announce(&plan);
    let plan = world.reconcile();
    assert_eq!(
        plan.delete,
        vec![new.clone()],
        "deleted at once, not after a new delay"
    );
    assert_eq!(world.count("RevisionScaledDown"), 1);
    world.settle(5);
    assert_eq!(world.count("RevisionScaledDown"), 1);
}

#[test]
fn pods_that_cannot_start_are_degraded_at_once_with_their_reason_then_clear() {
    let (mut world, _old, new) = serving_then(canary(vec![weight(20), pause(None)]), "1.1.0");
    world.stuck.insert(new.clone());
    world.settle(5);
    if let Some(revision) = world.observed.revisions.get_mut(&new) {
        revision.problem = Some(crate::pod_health::PodProblem {
            reason: "ImagePullBackOff",
            message: "pod iris-1: container model-server: ImagePullBackOff: not found".into(),
        });
    }
    world.reconcile();
    assert_eq!(
        condition(&world, "Degraded"),
        ("True".into(), "ImagePullBackOff".into())
    );
    assert_eq!(
        condition(&world, "Stalled").0,
        "False",
        "the deadline still runs"
    );
    assert!(
        world
            .status
            .message
            .as_deref()
            .unwrap_or_default()
            .contains(&new),
        "{:?}",
        world.status.message
    );
    assert_eq!(
        world.weight_of(&new),
        0,
        "no traffic to pods that cannot start"
    );

    if let Some(revision) = world.observed.revisions.get_mut(&new) {
        revision.problem = None;
    }
    world.pods_ready(&new);
    world.settle(5);
    assert_eq!(condition(&world, "Degraded").0, "False");
    assert_eq!(world.weight_of(&new), 20);
}
