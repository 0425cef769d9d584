//! The rollout engine, shared by every strategy: one transition per reconcile, decided from the
//! recorded progress and what the cluster shows, then the children that the new progress asks
//! for. The transition is recorded before its effects are applied, and a step counts as done only
//! once the cluster shows its effects, so an operator killed at any instant resumes exactly.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use modeldeploy_api::v1alpha1::{
    AnalysisPhase, DecisionPhase, FailurePolicy, InconclusivePolicy, PauseReason, PauseStatus,
    RequestStatus, RolloutStage, RolloutStatus, TrafficProvider,
};

use super::analysis;
use super::analysis::decision::{Decider, Variants};
use super::steps::{PauseEnd, Step, Steps, TrafficStep, Waiting};
use super::time::{add, until};
use super::traffic::{CandidateTraffic, TrafficPlan, capacity_weight, replicas_for_weight};
use super::{Input, ObservedRevision, PlannedEvent, RunRevision, requests};

/// What the engine decided for this reconcile.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Decision {
    pub stable: Option<String>,
    pub rollout: Option<RolloutStatus>,
    pub run: Vec<RunRevision>,
    pub traffic: TrafficPlan,
    /// The revision whose pods the rollout waits for, if any; the progress deadline runs then.
    pub waiting_for_pods: Option<String>,
    /// Set while traffic returns to the stable revision from a superseded candidate.
    pub superseded: Option<String>,
    pub request: Option<RequestStatus>,
    /// When to look again for the engine's own sake (a timed pause ending).
    pub wake: Option<std::time::Duration>,
}

pub(super) fn decide(input: &Input<'_>, steps: &Steps, events: &mut Vec<PlannedEvent>) -> Decision {
    let spec_revision = input.revision;
    let recorded = input.status.stable_revision.as_deref();
    // A stable revision whose Deployment was deleted by hand is rebuilt from its kept template.
    let stable = recorded.filter(|s| {
        input.observed.revisions.contains_key(*s)
            || input.observed.history.iter().any(|h| h.revision == *s)
    });
    if let (Some(lost), None) = (recorded, stable)
        && lost != spec_revision
    {
        events.push(PlannedEvent::warning(
            "StableRevisionMissing",
            "Deploy",
            lost,
            format!("the Deployment of stable revision {lost} is gone; serving revision {spec_revision} as soon as it is ready"),
        ));
    }
    let Some(stable) = stable else {
        return first_deploy(input, steps);
    };
    let request = input.request.and_then(|r| r.as_ref().ok());

    // A candidate that is no longer the spec's: traffic comes back to the stable revision first.
    let in_flight = input.status.rollout.as_ref();
    if let Some(old) = in_flight.filter(|r| r.revision != spec_revision && r.revision != stable)
        && !traffic_all_on(input, stable)
    {
        let mut decision = returning(input, stable, &old.revision, in_flight.cloned());
        decision.superseded = Some(old.revision.clone());
        if let Some(r) = request {
            decision.request = refuse_while_superseding(r, input, &old.revision);
        }
        return decision;
    }
    if stable == spec_revision {
        let mut decision = settled(input, stable);
        if let Some(r) = request
            && input.status.last_request.as_ref().map(|l| &l.id) != Some(&r.id)
        {
            decision.request =
                requests::handle(r, None, None, steps, input.name).map(|handled| handled.status);
        }
        return decision;
    }

    let mut rollout = match in_flight.filter(|r| r.revision == spec_revision) {
        // The strategy changed mid-flight: the same candidate starts over under the new one.
        Some(current)
            if current.strategy != steps.strategy
                && matches!(current.stage, RolloutStage::Steps | RolloutStage::Promoting) =>
        {
            RolloutStatus {
                strategy: steps.strategy.to_owned(),
                stage: RolloutStage::Steps,
                step_index: 0,
                step_started_at: None,
                pause: None,
                paused_by_user: false,
                analysis: Vec::new(),
                ..current.clone()
            }
        }
        Some(current) => current.clone(),
        None => RolloutStatus {
            revision: spec_revision.to_owned(),
            model_version: input.version.to_owned(),
            started_at: Time(input.now),
            strategy: steps.strategy.to_owned(),
            stage: RolloutStage::Steps,
            step_index: 0,
            step_count: steps.count(),
            steps: Vec::new(),
            step: None,
            step_started_at: Some(Time(input.now)),
            pause: None,
            paused_by_user: false,
            abort_reason: None,
            analysis: Vec::new(),
            decision: None,
        },
    };
    let mut request_status = None;
    if let Some(r) = request
        && let Some(handled) = requests::handle(
            r,
            input.status.last_request.as_ref(),
            Some(&rollout),
            steps,
            input.name,
        )
    {
        request_status = Some(handled.status);
        if let Some(next) = handled.rollout {
            rollout = next;
        }
    } else {
        // Measurements are judged against the analyses that ran when they were taken, before the
        // transition that acts on their verdict.
        let promoted = promoted_now(input, steps, stable, &rollout);
        let active = analysis::active(steps, &rollout, promoted);
        analysis::record(
            &mut rollout.analysis,
            &active,
            input.measurements,
            input.now,
        );
        if let (Some(decision), Some(status)) = (deciding(steps, &rollout), &mut rollout.decision) {
            let variants = variants(steps, stable, &rollout.revision);
            decision.record(status, input.measurements, variants, input.now);
        }
        rollout = transition(input, steps, stable, rollout);
    }
    if rollout.step_started_at.is_none() {
        rollout.step_started_at = Some(Time(input.now));
    }
    let Some(rollout) = finish_if_promoted(input, steps, stable, rollout) else {
        // Promotion confirmed: the candidate is the stable revision from now on.
        let mut decision = settled(input, spec_revision);
        decision.request = request_status;
        return decision;
    };
    let mut decision = target(input, steps, stable, rollout);
    decision.request = request_status;
    decision
}

/// Nothing serves yet (or the stable revision's Deployment was deleted): the spec's revision
/// takes the traffic as soon as it runs.
fn first_deploy(input: &Input<'_>, steps: &Steps) -> Decision {
    let revision = input.revision;
    let replicas = input.spec.replicas;
    if available_at(input.observed.revisions.get(revision), replicas) {
        return settled(input, revision);
    }
    let rollout = input
        .status
        .rollout
        .clone()
        .filter(|r| r.revision == revision)
        .unwrap_or_else(|| RolloutStatus {
            revision: revision.to_owned(),
            model_version: input.version.to_owned(),
            started_at: Time(input.now),
            strategy: steps.strategy.to_owned(),
            stage: RolloutStage::Promoting,
            step_index: steps.count(),
            step_count: steps.count(),
            steps: Vec::new(),
            step: None,
            step_started_at: Some(Time(input.now)),
            pause: None,
            paused_by_user: false,
            abort_reason: None,
            analysis: Vec::new(),
            decision: None,
        });
    Decision {
        stable: None,
        rollout: Some(rollout),
        run: vec![RunRevision::new(revision, replicas)],
        traffic: TrafficPlan::only(revision),
        waiting_for_pods: Some(revision.to_owned()),
        superseded: None,
        request: None,
        wake: None,
    }
}

/// The stable revision alone, at full size, with all traffic.
pub(super) fn settled(input: &Input<'_>, stable: &str) -> Decision {
    Decision {
        stable: Some(stable.to_owned()),
        rollout: None,
        run: vec![RunRevision::new(stable, input.spec.replicas)],
        traffic: TrafficPlan::only(stable),
        waiting_for_pods: None,
        superseded: None,
        request: None,
        wake: None,
    }
}

/// Traffic going back to `stable` from `candidate`, never faster than the stable revision's
/// ready pods can take it.
fn returning(
    input: &Input<'_>,
    stable: &str,
    candidate: &str,
    rollout: Option<RolloutStatus>,
) -> Decision {
    let replicas = input.spec.replicas;
    let capacity = capacity_weight(ready(input, stable), replicas);
    let candidate_replicas = input
        .observed
        .revisions
        .get(candidate)
        .map_or(0, |r| r.replicas);
    let role = input
        .observed
        .traffic
        .as_ref()
        .and_then(|t| t.candidate.as_ref())
        .map_or(super::traffic::CandidateRole::Canary, |c| c.role);
    let mut run = vec![RunRevision::new(stable, replicas)];
    if candidate_replicas > 0 {
        run.push(RunRevision::new(candidate, candidate_replicas));
    }
    Decision {
        stable: Some(stable.to_owned()),
        rollout,
        run,
        traffic: TrafficPlan {
            stable: stable.to_owned(),
            candidate: Some(CandidateTraffic {
                revision: candidate.to_owned(),
                role,
                weight: returning_weight(input, stable, candidate, capacity),
                mirror_percent: None,
                matches: Vec::new(),
                stickiness: None,
            }),
        },
        waiting_for_pods: None,
        superseded: None,
        request: None,
        wake: None,
    }
}

/// The candidate's share while traffic returns: what the stable revision cannot take yet, and
/// never more than the candidate has now or its ready pods can take.
fn returning_weight(input: &Input<'_>, stable: &str, candidate: &str, stable_capacity: i32) -> i32 {
    let carried = input
        .observed
        .traffic
        .as_ref()
        .and_then(|t| t.candidate.as_ref())
        .filter(|c| c.revision == candidate)
        .map_or(0, |c| c.weight);
    let candidate_capacity = input.observed.revisions.get(candidate).map_or(0, |r| {
        capacity_weight(r.ready_replicas, input.spec.replicas)
    });
    if ready(input, stable) == 0 {
        // Nothing to return to yet: moving the share would only send it to pods that are not
        // there.
        return carried;
    }
    (100 - stable_capacity)
        .min(carried)
        .min(candidate_capacity)
        .max(0)
}

fn refuse_while_superseding(
    request: &modeldeploy_api::v1alpha1::RolloutRequest,
    input: &Input<'_>,
    old: &str,
) -> Option<RequestStatus> {
    (input.status.last_request.as_ref().map(|l| &l.id) != Some(&request.id)).then(|| {
        RequestStatus {
            id: request.id.clone(),
            action: request.action.as_str().to_owned(),
            accepted: false,
            message: format!(
                "revision {old} was superseded by a new spec; traffic is returning to the stable revision before revision {} starts",
                input.revision
            ),
        }
    })
}

/// True when the live routing sends every request to `stable`.
fn traffic_all_on(input: &Input<'_>, stable: &str) -> bool {
    input
        .observed
        .traffic
        .as_ref()
        .is_some_and(|t| t.stable == stable && t.all_on_stable())
}

/// One transition of the recorded progress, at most.
fn transition(
    input: &Input<'_>,
    steps: &Steps,
    stable: &str,
    mut rollout: RolloutStatus,
) -> RolloutStatus {
    let judged = judged(steps, &rollout);
    if matches!(rollout.stage, RolloutStage::Steps | RolloutStage::Promoting)
        && !rollout.paused_by_user
    {
        match judged {
            Judged::Abort(reason) => {
                rollout.stage = RolloutStage::Aborting;
                rollout.abort_reason = Some(reason);
                rollout.step_started_at = None;
                return rollout;
            }
            Judged::Hold(_) => return rollout,
            Judged::Go => {}
        }
    }
    match rollout.stage {
        RolloutStage::Steps => {
            if rollout.paused_by_user {
                return rollout;
            }
            let index = rollout.step_index;
            let Some(step) = steps.get(index) else {
                rollout.stage = RolloutStage::Promoting;
                rollout.step_started_at = None;
                return rollout;
            };
            let done = match step {
                Step::Traffic(t) => {
                    ready_for(input, steps, stable, &rollout.revision, t)
                        && input.observed.traffic.as_ref()
                            == Some(&step_plan(stable, &rollout.revision, steps, t))
                        // Measurements of the next step must judge this split, not the last.
                        && !input.observed.route_pending
                }
                Step::Pause { .. }
                    if deciding(steps, &rollout).is_some()
                        && rollout
                            .decision
                            .as_ref()
                            .is_some_and(|d| d.phase == DecisionPhase::CandidateWins) =>
                {
                    true
                }
                Step::Pause {
                    duration: Some(d),
                    end,
                    ..
                } => {
                    let started = rollout.step_started_at.as_ref().map_or(input.now, |t| t.0);
                    if input.now >= add(started, *d) && *end == PauseEnd::KeepStable {
                        rollout.stage = RolloutStage::Aborting;
                        rollout.abort_reason = Some(format!(
                            "the {} reached its maximum duration without a decision; keeping the stable revision",
                            steps.strategy
                        ));
                        rollout.step_started_at = None;
                        return rollout;
                    }
                    input.now >= add(started, *d)
                }
                Step::Pause { duration: None, .. } => false,
                Step::Analysis(gate) => analysis::run(&rollout.analysis, &gate.run)
                    .is_some_and(|run| run.phase == AnalysisPhase::Successful),
            };
            if done {
                rollout.step_index = index + 1;
                rollout.step_started_at = None;
            }
            rollout
        }
        RolloutStage::Aborting => {
            if traffic_all_on(input, stable) {
                rollout.stage = RolloutStage::Aborted;
                rollout.step_started_at = None;
            }
            rollout
        }
        RolloutStage::Promoting | RolloutStage::Aborted => rollout,
    }
}

/// What the analyses of the rollout say, now.
#[derive(Clone, Debug, PartialEq)]
enum Judged {
    /// Nothing holds the rollout back.
    Go,
    /// A person decides.
    Hold(PauseReason),
    /// Roll back, for this reason.
    Abort(String),
}

/// The verdict of the analyses that bear on the rollout where it stands: the background
/// analysis, the current gate, the post-promotion analysis. A failure outweighs a hold.
fn judged(steps: &Steps, rollout: &RolloutStatus) -> Judged {
    let mut bearing = Vec::new();
    if let Some(background) = &steps.background {
        bearing.push((analysis::BACKGROUND, &background.spec));
    }
    match rollout.stage {
        RolloutStage::Steps => {
            if let Some(Step::Analysis(gate)) = steps.get(rollout.step_index) {
                bearing.push((gate.run.as_str(), &gate.spec));
            }
        }
        RolloutStage::Promoting => {
            if let Some(spec) = &steps.post_promotion {
                bearing.push((analysis::POST_PROMOTION, spec));
            }
        }
        RolloutStage::Aborting | RolloutStage::Aborted => return Judged::Go,
    }
    // The decision's hold, like an analysis hold, yields to a guard rail's failure.
    let mut verdict = match decision_verdict(steps, rollout) {
        Some(abort @ Judged::Abort(_)) => return abort,
        Some(verdict) => verdict,
        None => Judged::Go,
    };
    for (name, spec) in bearing {
        let Some(run) = analysis::run(&rollout.analysis, name) else {
            continue;
        };
        let hold = match run.phase {
            AnalysisPhase::Failed => match analysis::on_failure(spec) {
                FailurePolicy::Rollback => {
                    return Judged::Abort(format!(
                        "analysis {name} failed: {}",
                        run.message.as_deref().unwrap_or("a metric failed")
                    ));
                }
                FailurePolicy::Pause => PauseReason::AnalysisFailed,
            },
            AnalysisPhase::Error => PauseReason::AnalysisError,
            AnalysisPhase::Inconclusive => PauseReason::AnalysisInconclusive,
            AnalysisPhase::Running | AnalysisPhase::Successful => continue,
        };
        if verdict == Judged::Go {
            verdict = Judged::Hold(hold);
        }
    }
    verdict
}

/// The A/B decision that the rollout waits for where it stands, if any.
pub(super) fn deciding<'a>(steps: &'a Steps, rollout: &RolloutStatus) -> Option<&'a Decider> {
    steps
        .decision
        .as_ref()
        .filter(|d| rollout.stage == RolloutStage::Steps && rollout.step_index == d.step)
}

/// The two sides of the A/B test and its configured split.
pub(super) fn variants<'a>(steps: &Steps, stable: &'a str, candidate: &'a str) -> Variants<'a> {
    Variants {
        stable,
        candidate,
        candidate_weight: steps.in_force(steps.count()).map_or(50, |t| t.weight),
    }
}

/// What the A/B decision says, where the rollout waits for it: the stable revision winning, or
/// no winner at `maxDuration`, rolls back (or, for the latter with `onInconclusive: Pause`,
/// holds); a broken split or unreadable counts hold for a person.
fn decision_verdict(steps: &Steps, rollout: &RolloutStatus) -> Option<Judged> {
    let decision = deciding(steps, rollout)?;
    let status = rollout.decision.as_ref()?;
    let message = status.message.as_deref().unwrap_or("-");
    match status.phase {
        DecisionPhase::Measuring | DecisionPhase::CandidateWins => None,
        DecisionPhase::StableWins => Some(Judged::Abort(format!(
            "the A/B decision keeps the stable revision: {message}"
        ))),
        DecisionPhase::Inconclusive => Some(match decision.on_inconclusive() {
            InconclusivePolicy::KeepStable => Judged::Abort(format!(
                "the A/B test ended without a winner; keeping the stable revision: {message}"
            )),
            InconclusivePolicy::Pause => Judged::Hold(PauseReason::AnalysisInconclusive),
        }),
        DecisionPhase::SampleRatioMismatch => Some(Judged::Hold(PauseReason::AnalysisInconclusive)),
        DecisionPhase::Error => Some(Judged::Hold(PauseReason::AnalysisError)),
    }
}

/// The candidate has all traffic at full size.
pub(super) fn promoted_now(
    input: &Input<'_>,
    steps: &Steps,
    stable: &str,
    rollout: &RolloutStatus,
) -> bool {
    rollout.stage == RolloutStage::Promoting
        && available_at(
            input.observed.revisions.get(&rollout.revision),
            input.spec.replicas,
        )
        && input.observed.traffic.as_ref() == Some(&promoted_plan(steps, stable, rollout))
}

/// `None` once the candidate has all traffic at full size and its post-promotion analysis (if
/// any) passed: the rollout is over.
fn finish_if_promoted(
    input: &Input<'_>,
    steps: &Steps,
    stable: &str,
    rollout: RolloutStatus,
) -> Option<RolloutStatus> {
    let analysed = steps.post_promotion.is_none()
        || analysis::run(&rollout.analysis, analysis::POST_PROMOTION)
            .is_some_and(|run| run.phase == AnalysisPhase::Successful);
    let over = promoted_now(input, steps, stable, &rollout)
        && analysed
        && judged(steps, &rollout) == Judged::Go;
    (!over).then_some(rollout)
}

fn promoted_plan(steps: &Steps, stable: &str, rollout: &RolloutStatus) -> TrafficPlan {
    let role = steps.role;
    TrafficPlan {
        stable: stable.to_owned(),
        candidate: Some(CandidateTraffic {
            revision: rollout.revision.clone(),
            role,
            weight: 100,
            mirror_percent: None,
            matches: Vec::new(),
            stickiness: None,
        }),
    }
}

/// The plan a traffic step asks for.
pub(super) fn step_plan(
    stable: &str,
    candidate: &str,
    steps: &Steps,
    step: &TrafficStep,
) -> TrafficPlan {
    TrafficPlan {
        stable: stable.to_owned(),
        candidate: Some(CandidateTraffic {
            revision: candidate.to_owned(),
            role: steps.role,
            weight: step.weight,
            mirror_percent: step.mirror_percent,
            matches: step.matches.clone(),
            stickiness: step.stickiness.clone(),
        }),
    }
}

/// What the route carries now, if it is this rollout's and still safe; else the way back from
/// it to what the steps allow, no faster than the stable revision's ready pods can take.
fn carried_or_idle(
    input: &Input<'_>,
    steps: &Steps,
    stable: &str,
    candidate: &str,
    upto: Option<i32>,
) -> TrafficPlan {
    let idle = || idle_plan(stable, candidate, steps);
    let Some((carried, share)) = input.observed.traffic.as_ref().and_then(|t| {
        let c = t.candidate.as_ref().filter(|c| c.revision == candidate)?;
        (t.stable == stable).then_some((t, c))
    }) else {
        return idle();
    };
    // A candidate left with no ready pods loses its share to a stable revision that has some;
    // with none on either side, moving traffic helps nobody.
    if carried.candidate_receives_requests()
        && ready(input, candidate) == 0
        && ready(input, stable) > 0
    {
        return idle();
    }
    if share.role == steps.role && upto.is_none_or(|index| within(steps, index, carried)) {
        return carried.clone();
    }
    let allowed = upto.map_or(100, |index| allowed_weight(steps, index));
    let capacity = capacity_weight(ready(input, stable), input.spec.replicas);
    let weight = share.weight.min(allowed.max(100 - capacity));
    if weight == 0 {
        return idle();
    }
    TrafficPlan {
        stable: stable.to_owned(),
        candidate: Some(CandidateTraffic {
            revision: candidate.to_owned(),
            role: share.role,
            weight,
            mirror_percent: None,
            matches: Vec::new(),
            stickiness: None,
        }),
    }
}

/// The largest weight the traffic steps up to `index` give the candidate.
fn allowed_weight(steps: &Steps, index: i32) -> i32 {
    let end = usize::try_from(index.saturating_add(1))
        .unwrap_or(0)
        .min(steps.steps.len());
    steps.steps[..end]
        .iter()
        .filter_map(|s| match s {
            Step::Traffic(t) => Some(t.weight),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// Whether `plan` gives the candidate no more than the steps up to `index` do: after a change of
/// strategy, what the route carries may belong to the old one.
fn within(steps: &Steps, index: i32, plan: &TrafficPlan) -> bool {
    let Some(candidate) = &plan.candidate else {
        return true;
    };
    let end = usize::try_from(index.saturating_add(1))
        .unwrap_or(0)
        .min(steps.steps.len());
    let traffic: Vec<&TrafficStep> = steps.steps[..end]
        .iter()
        .filter_map(|s| match s {
            Step::Traffic(t) => Some(t),
            _ => None,
        })
        .collect();
    let weight = traffic.iter().map(|t| t.weight).max().unwrap_or(0);
    let mirror = traffic.iter().filter_map(|t| t.mirror_percent).max();
    candidate.weight <= weight
        && candidate
            .mirror_percent
            .is_none_or(|m| mirror.is_some_and(|allowed| m <= allowed))
        && (candidate.matches.is_empty() || traffic.iter().any(|t| !t.matches.is_empty()))
}

/// The candidate beside the stable revision, receiving nothing yet.
fn idle_plan(stable: &str, candidate: &str, steps: &Steps) -> TrafficPlan {
    step_plan(stable, candidate, steps, &TrafficStep::weight(0))
}

/// Pods the stable revision needs to take `100 - weight` percent.
fn stable_needed(input: &Input<'_>, steps: &Steps, weight: i32) -> i32 {
    let replicas = input.spec.replicas;
    if !steps.dynamic_stable_scale || weight <= 0 {
        return replicas;
    }
    let share = 100 - weight.clamp(0, 100);
    if share == 0 {
        return 0;
    }
    replicas_for_weight(replicas, share)
}

/// Whether the step's traffic may be written now: the candidate has the pods for it, the stable
/// revision has the pods for what it keeps, and (without a mesh) no other revision's pods would
/// join the Service.
fn ready_for(
    input: &Input<'_>,
    steps: &Steps,
    stable: &str,
    candidate: &str,
    step: &TrafficStep,
) -> bool {
    let replicas = input.spec.replicas;
    let needed = step.candidate_replicas(replicas);
    let candidate_ok = input.observed.revisions.get(candidate).is_some_and(|r| {
        r.observed_latest && r.replicas >= needed && r.available_replicas >= needed
    });
    let stable_ok = ready(input, stable) >= stable_needed(input, steps, step.weight);
    let alone = input.spec.traffic.provider != TrafficProvider::Replicas
        || step.weight == 0
        || input
            .observed
            .revisions
            .keys()
            .all(|r| r == stable || r == candidate);
    candidate_ok && stable_ok && alone
}

/// The children and traffic the recorded progress asks for.
fn target(input: &Input<'_>, steps: &Steps, stable: &str, mut rollout: RolloutStatus) -> Decision {
    let replicas = input.spec.replicas;
    let candidate = rollout.revision.clone();
    // What a step that moves no traffic holds: the traffic step in force, once the pods can take
    // it (a promote may have skipped ahead of them); until then what the route carries now.
    let held = |index: i32| match steps.in_force(index) {
        Some(t) if ready_for(input, steps, stable, &candidate, t) => {
            step_plan(stable, &candidate, steps, t)
        }
        _ => carried_or_idle(input, steps, stable, &candidate, Some(index)),
    };
    let held_replicas = |index: i32| {
        steps
            .in_force(index)
            .map_or(1, |t| t.candidate_replicas(replicas))
    };
    let held_weight = |index: i32| steps.in_force(index).map_or(0, |t| t.weight);
    let mut wake = None;
    let mut waiting_for_pods = None;
    rollout.pause = None;
    rollout.step_count = steps.count();
    rollout.steps = steps.steps.iter().map(Step::describe).collect();
    rollout.step = Some(match rollout.stage {
        RolloutStage::Steps => steps.label(rollout.step_index),
        RolloutStage::Promoting => "promoting".to_owned(),
        RolloutStage::Aborting => "aborting".to_owned(),
        RolloutStage::Aborted => "aborted".to_owned(),
    });

    let (traffic, candidate_replicas, stable_replicas) = match rollout.stage {
        RolloutStage::Steps => {
            let index = rollout.step_index;
            match steps.get(index) {
                Some(Step::Traffic(step)) => {
                    let before = steps.before(index);
                    let before_weight = before.map_or(0, |t| t.weight);
                    let stable_replicas = stable_needed(input, steps, before_weight)
                        .max(stable_needed(input, steps, step.weight));
                    let traffic = if ready_for(input, steps, stable, &candidate, step) {
                        step_plan(stable, &candidate, steps, step)
                    } else {
                        waiting_for_pods = Some(candidate.clone());
                        match before {
                            Some(t) if ready_for(input, steps, stable, &candidate, t) => {
                                step_plan(stable, &candidate, steps, t)
                            }
                            _ => carried_or_idle(input, steps, stable, &candidate, Some(index - 1)),
                        }
                    };
                    let candidate_replicas = step
                        .candidate_replicas(replicas)
                        .max(before.map_or(0, |t| t.candidate_replicas(replicas)));
                    (traffic, candidate_replicas, stable_replicas)
                }
                Some(Step::Pause {
                    duration, waiting, ..
                }) => {
                    let reason = if rollout.paused_by_user {
                        PauseReason::ByUser
                    } else {
                        match (duration, waiting) {
                            (Some(_), _) => PauseReason::Timed,
                            (None, Waiting::Indefinite) => PauseReason::Indefinite,
                            (None, Waiting::Promotion) => PauseReason::AwaitingPromotion,
                        }
                    };
                    let end = duration.map(|d| {
                        add(
                            rollout.step_started_at.as_ref().map_or(input.now, |t| t.0),
                            d,
                        )
                    });
                    if !rollout.paused_by_user {
                        wake = end.map(|e| until(input.now, e));
                    }
                    rollout.pause = Some(PauseStatus {
                        reason,
                        until: end.map(Time),
                    });
                    (
                        held(index),
                        held_replicas(index),
                        stable_needed(input, steps, held_weight(index)),
                    )
                }
                Some(Step::Analysis(_)) | None => {
                    if rollout.paused_by_user {
                        rollout.pause = Some(PauseStatus {
                            reason: PauseReason::ByUser,
                            until: None,
                        });
                    }
                    (
                        held(index),
                        held_replicas(index),
                        stable_needed(input, steps, held_weight(index)),
                    )
                }
            }
        }
        RolloutStage::Promoting => {
            let last = steps.count();
            let stable_replicas = stable_needed(input, steps, held_weight(last));
            if available_at(input.observed.revisions.get(&candidate), replicas) {
                (
                    promoted_plan(steps, stable, &rollout),
                    replicas,
                    stable_replicas,
                )
            } else {
                waiting_for_pods = Some(candidate.clone());
                (held(last), replicas, stable_replicas)
            }
        }
        RolloutStage::Aborting => {
            let mut decision = returning(input, stable, &candidate, None);
            decision.rollout = Some(rollout);
            return decision;
        }
        RolloutStage::Aborted => {
            let mut decision = settled(input, stable);
            decision.rollout = Some(rollout);
            return decision;
        }
    };
    // Whatever the step, the stable revision keeps the pods for the share it is given.
    let stable_replicas =
        stable_replicas.max(stable_needed(input, steps, traffic.candidate_weight()));
    if rollout.paused_by_user && rollout.stage == RolloutStage::Steps {
        rollout.pause = Some(PauseStatus {
            reason: PauseReason::ByUser,
            until: None,
        });
    } else if let Judged::Hold(reason) = judged(steps, &rollout) {
        rollout.pause = Some(PauseStatus {
            reason,
            until: None,
        });
        wake = None;
    }
    // A decision starts counting one interval after its step starts, once the split is live and
    // the candidate's series are scraped, so that the counts hold only requests of the split.
    if let Some(decision) = deciding(steps, &rollout) {
        let status = rollout
            .decision
            .get_or_insert_with(|| Decider::started(add(input.now, decision.interval())));
        if rollout
            .pause
            .as_ref()
            .is_none_or(|p| p.reason != PauseReason::ByUser)
        {
            wake = [wake, decision.wake(status, input.now)]
                .into_iter()
                .flatten()
                .min();
        }
    }
    // Analyses that start with this step start now, so their delays count from here.
    let promoted = promoted_now(input, steps, stable, &rollout);
    let active = analysis::active(steps, &rollout, promoted);
    analysis::start(&mut rollout.analysis, &active, input.now);
    if rollout
        .pause
        .as_ref()
        .is_none_or(|p| p.reason != PauseReason::ByUser)
    {
        wake = [wake, analysis::wake(&rollout.analysis, &active, input.now)]
            .into_iter()
            .flatten()
            .min();
    }
    Decision {
        stable: Some(stable.to_owned()),
        rollout: Some(rollout),
        run: vec![
            RunRevision::new(stable, stable_replicas),
            RunRevision::new(&candidate, candidate_replicas),
        ],
        traffic,
        waiting_for_pods,
        superseded: None,
        request: None,
        wake,
    }
}

fn ready(input: &Input<'_>, revision: &str) -> i32 {
    input
        .observed
        .revisions
        .get(revision)
        .map_or(0, |r| r.ready_replicas)
}

/// The revision runs exactly `replicas` pods of its latest template, all available.
fn available_at(revision: Option<&ObservedRevision>, replicas: i32) -> bool {
    revision.is_some_and(|r| r.is_available() && r.replicas == replicas)
}
