//! Table tests of the planner: every rollout decision, with an injected clock.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use modeldeploy_api::v1alpha1::{
    CanaryStep, CanaryStrategy, ModelDeploymentSpec, ModelDeploymentStatus, Phase, RetiredRevision,
    StrategySpec,
};

use super::{Input, Observed, ObservedRevision, Plan, plan};
use crate::testing::spec;

const NEW: &str = "newrev0001";
const OLD: &str = "oldrev0001";
const OTHER: &str = "otherrev01";

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A revision with `replicas` desired, of which `available` are available.
fn revision(name: &str, replicas: i32, available: i32) -> (String, ObservedRevision) {
    (
        name.to_owned(),
        ObservedRevision {
            model_version: None,
            replicas,
            ready_replicas: available,
            available_replicas: available,
            updated_replicas: replicas,
            observed_latest: true,
        },
    )
}

fn observed(revisions: &[(String, ObservedRevision)], service: Option<&str>) -> Observed {
    Observed {
        revisions: revisions.iter().cloned().collect(),
        service_revision: service.map(str::to_owned),
    }
}

fn serving(stable: &str) -> ModelDeploymentStatus {
    ModelDeploymentStatus {
        stable_revision: Some(stable.to_owned()),
        ..ModelDeploymentStatus::default()
    }
}

fn run(
    spec: &ModelDeploymentSpec,
    status: &ModelDeploymentStatus,
    observed: &Observed,
    now: Timestamp,
) -> Plan {
    plan(Input {
        spec,
        generation: Some(3),
        status,
        revision: NEW,
        observed,
        now,
    })
}

fn reasons(plan: &Plan) -> Vec<&'static str> {
    plan.events.iter().map(|e| e.reason).collect()
}

fn condition(plan: &Plan, type_: &str) -> (String, String) {
    let c = plan
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone()));
    c.unwrap_or_default()
}

#[test]
fn first_deploy_creates_the_revision_and_points_the_service_at_it() {
    let plan = run(
        &spec("1.0.0"),
        &ModelDeploymentStatus::default(),
        &Observed::default(),
        at(0),
    );
    assert_eq!(
        plan.run.as_ref().map(|r| (r.revision.as_str(), r.replicas)),
        Some((NEW, 2))
    );
    assert_eq!(plan.service_revision.as_deref(), Some(NEW));
    assert_eq!(plan.status.phase, Some(Phase::Pending));
    assert_eq!(plan.status.stable_revision, None);
    assert_eq!(plan.status.candidate_revision.as_deref(), Some(NEW));
    assert_eq!(plan.status.observed_generation, Some(3));
    assert_eq!(
        condition(&plan, "Ready"),
        ("False".into(), "ReplicasNotReady".into())
    );
    assert_eq!(
        condition(&plan, "Progressing"),
        ("True".into(), "RolloutInProgress".into())
    );
    assert_eq!(reasons(&plan), ["RolloutStarted"]);
    assert_eq!(
        plan.status.rollout.as_ref().map(|r| r.started_at.clone()),
        Some(Time(at(0)))
    );
}

#[test]
fn first_deploy_becomes_stable_when_every_replica_is_available() {
    let pending = run(
        &spec("1.0.0"),
        &ModelDeploymentStatus::default(),
        &Observed::default(),
        at(0),
    );
    let live = observed(&[revision(NEW, 2, 2)], Some(NEW));
    let plan = run(&spec("1.0.0"), &pending.status, &live, at(5));
    assert_eq!(plan.status.stable_revision.as_deref(), Some(NEW));
    assert_eq!(plan.status.candidate_revision, None);
    assert_eq!(plan.status.rollout, None);
    assert_eq!(plan.status.phase, Some(Phase::Healthy));
    assert_eq!(plan.status.ready.as_deref(), Some("2/2"));
    assert_eq!(
        plan.status.traffic_summary.as_deref(),
        Some("newrev0001=100%")
    );
    assert_eq!(
        condition(&plan, "Ready"),
        ("True".into(), "Available".into())
    );
    assert_eq!(
        condition(&plan, "Degraded"),
        ("False".into(), "AsExpected".into())
    );
    assert_eq!(reasons(&plan), ["RevisionAvailable"]);
}

#[test]
fn a_steady_state_plans_the_same_status_and_no_events() {
    let live = observed(&[revision(NEW, 2, 2)], Some(NEW));
    let settled = run(&spec("1.0.0"), &serving(NEW), &live, at(0));
    let again = run(&spec("1.0.0"), &settled.status, &live, at(600));
    assert_eq!(again.status, settled.status, "no status churn");
    assert!(again.events.is_empty());
    assert!(again.delete.is_empty());
    assert_eq!(again.requeue_after, None);
}

#[test]
fn a_new_revision_runs_beside_the_stable_one_which_keeps_the_service() {
    let live = observed(&[revision(OLD, 2, 2), revision(NEW, 2, 1)], Some(OLD));
    let plan = run(&spec("1.1.0"), &serving(OLD), &live, at(0));
    assert_eq!(plan.run.as_ref().map(|r| r.revision.as_str()), Some(NEW));
    assert_eq!(plan.service_revision.as_deref(), Some(OLD));
    assert!(plan.delete.is_empty());
    assert_eq!(plan.status.stable_revision.as_deref(), Some(OLD));
    assert_eq!(plan.status.candidate_revision.as_deref(), Some(NEW));
    assert_eq!(plan.status.phase, Some(Phase::Progressing));
    assert_eq!(
        condition(&plan, "Ready"),
        ("True".into(), "Available".into())
    );
    assert_eq!(plan.status.revisions.len(), 2);
}

#[test]
fn the_service_switches_once_the_new_revision_is_available_and_the_old_one_drains() {
    let starting = observed(&[revision(OLD, 2, 2), revision(NEW, 2, 0)], Some(OLD));
    let started = run(&spec("1.1.0"), &serving(OLD), &starting, at(-20));
    let live = observed(&[revision(OLD, 2, 2), revision(NEW, 2, 2)], Some(OLD));
    let plan = run(&spec("1.1.0"), &started.status, &live, at(0));
    assert_eq!(plan.service_revision.as_deref(), Some(NEW));
    assert_eq!(plan.status.stable_revision.as_deref(), Some(NEW));
    assert_eq!(plan.status.rollout, None);
    assert!(
        plan.delete.is_empty(),
        "the old revision keeps its pods while clients move"
    );
    assert_eq!(
        plan.status.retired_revisions,
        [RetiredRevision {
            name: OLD.into(),
            scale_down_at: Time(at(30))
        }]
    );
    assert_eq!(plan.requeue_after, Some(Duration::from_secs(30)));
    assert_eq!(reasons(&plan), ["TrafficSwitched"]);
}

#[test]
fn a_retired_revision_is_removed_when_its_delay_ends_and_not_before() {
    let live = observed(&[revision(OLD, 2, 2), revision(NEW, 2, 2)], Some(NEW));
    let mut status = serving(NEW);
    status.retired_revisions = vec![RetiredRevision {
        name: OLD.into(),
        scale_down_at: Time(at(30)),
    }];

    let early = run(&spec("1.1.0"), &status, &live, at(20));
    assert!(early.delete.is_empty());
    assert_eq!(early.requeue_after, Some(Duration::from_secs(10)));
    assert_eq!(early.status.retired_revisions, status.retired_revisions);

    let due = run(&spec("1.1.0"), &status, &live, at(30));
    assert_eq!(due.delete, [OLD]);
    assert!(due.status.retired_revisions.is_empty());
    assert_eq!(due.status.revisions.len(), 1);
    assert_eq!(reasons(&due), ["RevisionScaledDown"]);
}

#[test]
fn a_restart_after_the_switch_but_before_the_status_write_still_drains_the_old_revision() {
    // The Service already selects the new revision; the status still says the old one is stable.
    let live = observed(&[revision(OLD, 2, 2), revision(NEW, 2, 2)], Some(NEW));
    let mut status = serving(OLD);
    status.candidate_revision = Some(NEW.into());
    let plan = run(&spec("1.1.0"), &status, &live, at(100));
    assert_eq!(plan.service_revision.as_deref(), Some(NEW));
    assert!(plan.delete.is_empty());
    assert_eq!(
        plan.status.retired_revisions[0].scale_down_at,
        Time(at(130))
    );
}

#[test]
fn a_superseded_candidate_that_never_served_is_removed_at_once() {
    let live = observed(&[revision(OLD, 2, 2), revision(OTHER, 2, 0)], Some(OLD));
    let mut status = serving(OLD);
    status.candidate_revision = Some(OTHER.into());
    let plan = run(&spec("1.2.0"), &status, &live, at(0));
    assert_eq!(plan.delete, [OTHER]);
    assert_eq!(plan.status.candidate_revision.as_deref(), Some(NEW));
    assert_eq!(plan.service_revision.as_deref(), Some(OLD));
    assert!(reasons(&plan).contains(&"RolloutStarted"));
}

#[test]
fn the_rollout_start_survives_replanning_and_the_deadline_degrades_once() {
    let live = observed(&[revision(OLD, 2, 2), revision(NEW, 2, 0)], Some(OLD));
    let started = run(&spec("1.1.0"), &serving(OLD), &live, at(0));
    assert_eq!(started.requeue_after, Some(Duration::from_secs(600)));

    let waiting = run(&spec("1.1.0"), &started.status, &live, at(300));
    assert_eq!(
        waiting.status.rollout, started.status.rollout,
        "the start is not reset"
    );
    assert!(waiting.events.is_empty());
    assert_eq!(waiting.requeue_after, Some(Duration::from_secs(300)));

    let late = run(&spec("1.1.0"), &waiting.status, &live, at(600));
    assert_eq!(late.status.phase, Some(Phase::Degraded));
    assert_eq!(
        condition(&late, "Degraded"),
        ("True".into(), "ProgressDeadlineExceeded".into())
    );
    assert_eq!(
        condition(&late, "Ready"),
        ("True".into(), "Available".into()),
        "the old revision still serves"
    );
    assert_eq!(late.service_revision.as_deref(), Some(OLD));
    assert_eq!(reasons(&late), ["ProgressDeadlineExceeded"]);

    let later = run(&spec("1.1.0"), &late.status, &live, at(700));
    assert!(later.events.is_empty(), "the warning is published once");
    assert_eq!(later.status, late.status);
}

#[test]
fn a_strategy_not_yet_available_holds_the_stable_revision() {
    let mut canary = spec("1.1.0");
    canary.strategy = Some(StrategySpec {
        canary: Some(CanaryStrategy {
            steps: vec![CanaryStep {
                set_weight: Some(10),
                ..CanaryStep::default()
            }],
            ..CanaryStrategy::default()
        }),
        ..StrategySpec::default()
    });
    let live = observed(&[revision(OLD, 2, 2)], Some(OLD));
    let plan = run(&canary, &serving(OLD), &live, at(0));
    assert_eq!(plan.run, None, "the new revision is not started");
    assert_eq!(plan.service_revision.as_deref(), Some(OLD));
    assert_eq!(plan.status.phase, Some(Phase::Paused));
    assert_eq!(
        condition(&plan, "Progressing"),
        ("False".into(), "StrategyNotSupported".into())
    );
    assert_eq!(reasons(&plan), ["StrategyNotSupported"]);
    let again = run(&canary, &plan.status, &live, at(10));
    assert!(again.events.is_empty());

    // A first deploy has nothing to protect, so any strategy deploys.
    let first = run(
        &canary,
        &ModelDeploymentStatus::default(),
        &Observed::default(),
        at(0),
    );
    assert_eq!(first.run.as_ref().map(|r| r.revision.as_str()), Some(NEW));
}

#[test]
fn a_stable_revision_deleted_by_hand_mid_rollout_hands_the_service_to_the_new_one() {
    let live = observed(&[revision(NEW, 2, 1)], Some(OLD));
    let mut status = serving(OLD);
    status.candidate_revision = Some(NEW.into());
    let plan = run(&spec("1.1.0"), &status, &live, at(0));
    assert_eq!(plan.service_revision.as_deref(), Some(NEW));
    assert!(reasons(&plan).contains(&"StableRevisionMissing"));
}

#[test]
fn scaling_the_stable_revision_reports_progress_until_the_new_replicas_are_ready() {
    let mut scaled = spec("1.0.0");
    scaled.replicas = 4;
    let live = observed(&[revision(NEW, 4, 2)], Some(NEW));
    let plan = run(&scaled, &serving(NEW), &live, at(0));
    assert_eq!(plan.run.as_ref().map(|r| r.replicas), Some(4));
    assert_eq!(plan.status.phase, Some(Phase::Progressing));
    assert_eq!(plan.status.ready.as_deref(), Some("2/4"));
    assert_eq!(
        condition(&plan, "Progressing"),
        ("True".into(), "ScalingReplicas".into())
    );
}

#[test]
fn a_failure_to_carry_out_the_plan_keeps_the_last_status_and_says_why() {
    let live = observed(&[revision(NEW, 2, 2)], Some(NEW));
    let settled = run(&spec("1.0.0"), &serving(NEW), &live, at(0)).status;
    let failed = super::failed(
        &settled,
        Some(4),
        "ChildRejected",
        "Deployment iris-x is invalid",
        at(10),
    );
    assert_eq!(failed.phase, Some(Phase::Degraded));
    assert_eq!(failed.stable_revision, settled.stable_revision);
    assert_eq!(failed.traffic, settled.traffic);
    assert!(
        failed
            .message
            .as_deref()
            .is_some_and(|m| m.contains("Deployment iris-x is invalid"))
    );
    let degraded = failed
        .conditions
        .iter()
        .find(|c| c.type_ == "Degraded")
        .map(|c| {
            (
                c.status.as_str(),
                c.reason.as_str(),
                c.last_transition_time.clone(),
            )
        });
    assert_eq!(degraded, Some(("True", "ChildRejected", Time(at(10)))));
    let ready =
        |s: &ModelDeploymentStatus| s.conditions.iter().find(|c| c.type_ == "Ready").cloned();
    assert_eq!(ready(&failed), ready(&settled));

    let retried = super::failed(
        &failed,
        Some(4),
        "ChildRejected",
        "Deployment iris-x is invalid",
        at(20),
    );
    assert_eq!(
        retried, failed,
        "a retry of the same failure writes nothing"
    );
}
