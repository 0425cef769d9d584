//! Planning: the pure core of the operator.
//!
//! Given the spec, the last status, what exists in the cluster, a person's request and the time,
//! [`plan`] decides which revisions run with how many pods, where traffic goes, which revisions
//! are removed, the next status and the events to publish. It takes no client and does no I/O,
//! so every rollout decision is a table test away.
//!
//! The strategies ([`strategy`]) compile to steps; the engine walks steps the same way for all of
//! them; retirement, status and events are shared.

pub mod analysis;
mod conditions;
mod engine;
mod events;
mod history;
#[cfg(test)]
mod properties;
mod requests;
mod retire;
#[cfg(test)]
mod sim;
mod status;
mod steps;
mod strategy;
mod summary;
#[cfg(test)]
mod tests;
mod time;
mod traffic;
mod undo;

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use modeldeploy_api::v1alpha1::{
    HistoryEntry, ModelDeploymentSpec, ModelDeploymentStatus, RequestAction, RolloutRequest,
};

pub use crate::observed::ObservedRevision;
pub use conditions::{
    CONDITION_DEGRADED, CONDITION_PROGRESSING, CONDITION_READY, CONDITION_RECONCILING,
    CONDITION_STALLED,
};
pub use traffic::{CandidateRole, CandidateTraffic, TrafficPlan, capacity_weight};

/// What exists in the cluster for one ModelDeployment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    /// Revisions that have a Deployment, by revision.
    pub revisions: BTreeMap<String, ObservedRevision>,
    /// The traffic plan the provider's live objects carry, when they carry one exactly; `None`
    /// when they are missing, edited by hand, or carry no plan yet.
    pub traffic: Option<TrafficPlan>,
    /// Revisions whose pod templates are kept, so their Deployments can be rebuilt.
    pub history: Vec<HistoryEntry>,
    /// What the Gateways in front of the route support, as their classes publish it.
    pub gateway_features: crate::traffic::GatewayFeatures,
    /// A Gateway controller has not yet accepted the route's current generation with its
    /// backends resolved (`status.parents`): a traffic step is not reached until it has.
    pub route_pending: bool,
}

/// Everything a plan is made from.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// The ModelDeployment's name, for messages.
    pub name: &'a str,
    /// Its namespace, for analysis queries.
    pub namespace: &'a str,
    pub spec: &'a ModelDeploymentSpec,
    pub generation: Option<i64>,
    pub status: &'a ModelDeploymentStatus,
    /// The revision the spec describes. Inside the planner, after an undo is resolved: the
    /// revision that should serve.
    pub revision: &'a str,
    /// Model version of `revision`.
    pub version: &'a str,
    pub observed: &'a Observed,
    /// The request in the `modeldeploy.io/request` annotation, or why it cannot be read.
    pub request: Option<&'a Result<RolloutRequest, String>>,
    /// What `model.registry` is pinned to now, when the spec names one.
    pub registry: Option<&'a modeldeploy_api::v1alpha1::RegistryStatus>,
    /// Measurements taken for this plan, of the metrics [`due`] named.
    pub measurements: &'a [analysis::Measured],
    /// Why the analysis templates the spec names could not be inlined into it
    /// ([`analysis::templates::inline`]); the spec is planned with them inlined otherwise.
    pub template_problem: Option<&'a str>,
    pub now: Timestamp,
}

/// A revision that must run, with its replicas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRevision {
    pub revision: String,
    pub replicas: i32,
}

impl RunRevision {
    pub fn new(revision: &str, replicas: i32) -> Self {
        RunRevision {
            revision: revision.to_owned(),
            replicas,
        }
    }
}

/// An event to publish once the plan is carried out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedEvent {
    pub warning: bool,
    /// UpperCamelCase, machine-readable.
    pub reason: &'static str,
    /// The action taken, e.g. `Scale`, `SwitchTraffic`.
    pub action: &'static str,
    /// The revision the event is about; its Deployment becomes the event's related object, which
    /// also keeps events of different revisions from being merged into one series.
    pub revision: String,
    pub note: String,
}

impl PlannedEvent {
    pub fn normal(
        reason: &'static str,
        action: &'static str,
        revision: &str,
        note: String,
    ) -> Self {
        PlannedEvent {
            warning: false,
            reason,
            action,
            revision: revision.to_owned(),
            note,
        }
    }

    pub fn warning(
        reason: &'static str,
        action: &'static str,
        revision: &str,
        note: String,
    ) -> Self {
        PlannedEvent {
            warning: true,
            ..PlannedEvent::normal(reason, action, revision, note)
        }
    }
}

/// What the operator does next.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Revisions that run, with their replicas. The spec's revision is rendered from the spec;
    /// any other keeps its live pod template.
    pub run: Vec<RunRevision>,
    /// Where requests go; every traffic provider renders it.
    pub traffic: TrafficPlan,
    /// Revisions whose Deployments are deleted.
    pub delete: Vec<String>,
    pub status: ModelDeploymentStatus,
    pub events: Vec<PlannedEvent>,
    /// When to look again even if nothing changes, e.g. when a pause or scale-down delay ends.
    pub requeue_after: Option<Duration>,
}

/// Decides the next step for one ModelDeployment.
pub fn plan(input: Input<'_>) -> Plan {
    let target = undo::resolve(&input, &input.observed.history);
    // An undo request is answered above; the engine sees only the others.
    let engine_request = input
        .request
        .filter(|r| !matches!(r, Ok(r) if r.action == RequestAction::Undo));
    let input = Input {
        revision: &target.revision,
        version: &target.version,
        request: engine_request,
        ..input
    };
    // Going back is urgent: an undo replaces at once (full size, then all traffic) instead of
    // walking the strategy's steps again.
    let steps = if target.undo.is_some() {
        strategy::replace()
    } else {
        strategy::steps(input.spec)
    };
    let mut events = Vec::new();
    let mut decision = engine::decide(&input, &steps, &mut events);
    let blocked = blocked_by_provider(&input, &steps)
        .map(|problem| ("TrafficNotSupported", problem))
        .or_else(|| invalid_analysis(&input).map(|problem| ("InvalidAnalysis", problem)));
    if blocked.is_some()
        && let Some(stable) = decision.stable.clone()
    {
        decision = engine::settled(&input, &stable);
    }
    let retirement = retire::retire(&input, &decision);
    let retire_wake = retirement.wake;
    let delete = retirement.delete.clone();
    let (mut status, status_wake) = status::next(&input, &decision, retirement, &mut events);
    if let Some((reason, problem)) = blocked {
        status = blocked_status(&input, status, reason, &problem);
    }
    let mut keep: Vec<&str> = vec![input.revision];
    keep.extend(decision.stable.as_deref());
    status.history = history::next(&input, input.revision, input.version, &decision.run, &keep);
    if let Some(undo) = &target.undo {
        status = undone_status(&input, status, undo);
    }
    status.undo = target.undo;
    if let Some(answer) = target.answer {
        status.last_request = Some(answer);
    }
    events::derive(input.status, &status, input.version, &mut events);
    Plan {
        run: decision.run,
        traffic: decision.traffic,
        delete,
        status,
        events,
        requeue_after: [retire_wake, status_wake, decision.wake]
            .into_iter()
            .flatten()
            .min(),
    }
}

/// While an undo is in force the spec's revision does not serve: not Ready, and stalled until
/// the spec changes, which is what GitOps tools should report.
fn undone_status(
    input: &Input<'_>,
    status: ModelDeploymentStatus,
    undo: &modeldeploy_api::v1alpha1::UndoStatus,
) -> ModelDeploymentStatus {
    let message = format!(
        "revision {} (model {}) serves after kubectl modeldeploy undo; the spec's revision {} is not rolled out until the spec changes",
        undo.revision, undo.model_version, undo.spec_revision
    );
    let settled =
        status.rollout.is_none() && status.stable_revision.as_deref() == Some(input.revision);
    if !settled {
        return status;
    }
    stalled(input, status, "UndoInEffect", message, false)
}

/// Why the provider cannot carry some step of the strategy, if it cannot.
fn blocked_by_provider(input: &Input<'_>, steps: &steps::Steps) -> Option<String> {
    let provider = input.spec.traffic.provider;
    let stable = input.status.stable_revision.as_deref().unwrap_or_default();
    if stable.is_empty() || stable == input.revision {
        return None;
    }
    steps
        .steps
        .iter()
        .filter_map(|step| match step {
            steps::Step::Traffic(t) => Some(engine::step_plan(stable, input.revision, steps, t)),
            _ => None,
        })
        .chain([engine::step_plan(
            stable,
            input.revision,
            steps,
            &steps::TrafficStep::weight(100),
        )])
        .find_map(|plan| {
            crate::traffic::unsupported(provider, &plan, &input.observed.gateway_features)
        })
}

/// What is wrong with the spec's analyses, when a rollout would run them: checked before any
/// traffic moves.
fn invalid_analysis(input: &Input<'_>) -> Option<String> {
    let stable = input.status.stable_revision.as_deref().unwrap_or_default();
    if stable.is_empty() || stable == input.revision {
        return None;
    }
    match input.template_problem {
        Some(problem) => Some(problem.to_owned()),
        None => analysis::problems(input.spec),
    }
}

/// The metrics due for a measurement before planning at `input.now`: those of the analyses that
/// run where the recorded rollout stands.
pub fn due(input: &Input<'_>) -> Vec<analysis::Due> {
    let Some(rollout) = input.status.rollout.as_ref() else {
        return Vec::new();
    };
    let Some(stable) = input.status.stable_revision.as_deref() else {
        return Vec::new();
    };
    if rollout.revision != input.revision || invalid_analysis(input).is_some() {
        return Vec::new();
    }
    let steps = strategy::steps(input.spec);
    let promoted = engine::promoted_now(input, &steps, stable, rollout);
    let active = analysis::active(&steps, rollout, promoted);
    let service = format!("{}-{}", input.name, steps.role.suffix());
    let variables = [
        ("name", input.name),
        ("namespace", input.namespace),
        ("revision", input.revision),
        ("stableRevision", stable),
        ("service", service.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut due = analysis::due(&rollout.analysis, &active, &variables, input.now);
    if let (Some(decider), Some(status)) = (engine::deciding(&steps, rollout), &rollout.decision) {
        let variants = engine::variants(&steps, stable, &rollout.revision);
        due.extend(decider.due(status, variants, &variables, input.now));
    }
    due
}

/// The stable revision keeps serving because the rollout cannot start as the spec asks (the
/// traffic provider cannot carry a step, an analysis is invalid); the status says why.
fn blocked_status(
    input: &Input<'_>,
    status: ModelDeploymentStatus,
    reason: &'static str,
    problem: &str,
) -> ModelDeploymentStatus {
    let message = format!(
        "{problem}; revision {} keeps serving and revision {} is not rolled out",
        status.stable_revision.as_deref().unwrap_or_default(),
        input.revision
    );
    stalled(input, status, reason, message, true)
}

/// `status` waiting for a spec change for `reason`: not Ready, not progressing, stalled, and
/// `Degraded` when `degraded`.
fn stalled(
    input: &Input<'_>,
    status: ModelDeploymentStatus,
    reason: &'static str,
    message: String,
    degraded: bool,
) -> ModelDeploymentStatus {
    let wanted = [
        conditions::Wanted::new(CONDITION_READY, false, reason, message.clone()),
        conditions::Wanted::new(CONDITION_PROGRESSING, false, reason, message.clone()),
        if degraded {
            conditions::Wanted::new(CONDITION_DEGRADED, true, reason, message.clone())
        } else {
            conditions::Wanted::new(CONDITION_DEGRADED, false, "AsExpected", "")
        },
        conditions::Wanted::new(CONDITION_RECONCILING, false, reason, ""),
        conditions::Wanted::new(CONDITION_STALLED, true, reason, message.clone()),
    ];
    ModelDeploymentStatus {
        phase: if degraded {
            Some(modeldeploy_api::v1alpha1::Phase::Degraded)
        } else {
            status.phase
        },
        conditions: conditions::merge(
            &input.status.conditions,
            &wanted,
            input.generation,
            input.now,
        ),
        message: Some(message),
        ..status
    }
}

/// The status to show when carrying out a plan failed: the last status, unchanged in what it
/// says about revisions and traffic (none of the plan is known to have happened), with the
/// failure in `Degraded` and `message`, so that `kubectl get` tells what went wrong.
pub fn failed(
    status: &ModelDeploymentStatus,
    generation: Option<i64>,
    reason: &'static str,
    error: &str,
    now: Timestamp,
) -> ModelDeploymentStatus {
    let message = format!("cannot carry out the rollout: {error}");
    let degraded = conditions::Wanted::new(CONDITION_DEGRADED, true, reason, message.clone());
    let mut kept: Vec<_> = status
        .conditions
        .iter()
        .filter(|c| c.type_ != CONDITION_DEGRADED)
        .cloned()
        .collect();
    kept.extend(conditions::merge(
        &status.conditions,
        &[degraded],
        generation,
        now,
    ));
    ModelDeploymentStatus {
        phase: Some(modeldeploy_api::v1alpha1::Phase::Degraded),
        conditions: kept,
        message: Some(message),
        ..status.clone()
    }
}

/// `next` with the carry-out failure that `recorded` shows, if it shows one: the failure stays
/// visible until the plan is carried out, instead of flapping with every retry.
/// `failure_reasons` are the reasons [`failed`] may be given.
pub fn keeping_failure(
    next: &ModelDeploymentStatus,
    recorded: Option<&ModelDeploymentStatus>,
    failure_reasons: &[&str],
) -> ModelDeploymentStatus {
    let failure = recorded.and_then(|r| {
        r.conditions.iter().find(|c| {
            c.type_ == CONDITION_DEGRADED
                && c.status == "True"
                && failure_reasons.contains(&c.reason.as_str())
        })
    });
    let Some(failure) = failure else {
        return next.clone();
    };
    let mut conditions: Vec<_> = next
        .conditions
        .iter()
        .filter(|c| c.type_ != CONDITION_DEGRADED)
        .cloned()
        .collect();
    conditions.push(failure.clone());
    ModelDeploymentStatus {
        phase: Some(modeldeploy_api::v1alpha1::Phase::Degraded),
        conditions,
        message: Some(failure.message.clone()),
        ..next.clone()
    }
}
