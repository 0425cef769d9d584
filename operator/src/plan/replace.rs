//! The replace rollout: the new revision comes up beside the serving one, the Service switches
//! once every new replica is available, and the old revision is scaled down after
//! `scaleDownDelaySeconds`. Serving capacity never drops below the desired replicas.
//!
//! The other strategies build on the same skeleton; until they are available, a rollout that
//! asks for one holds the serving revision and says so in the status.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use modeldeploy_api::v1alpha1::{
    ModelDeploymentStatus, Phase, RetiredRevision, RolloutStatus, StrategyKind, TrafficTarget,
};

use super::conditions::{self, CONDITION_DEGRADED, CONDITION_PROGRESSING, CONDITION_READY, Wanted};
use super::{Input, Plan, PlannedEvent, RunRevision, summary};

/// What the rollout decided before retirement and status are worked out.
struct Decision {
    run: Option<RunRevision>,
    serving: Option<String>,
    stable: Option<String>,
    candidate: Option<String>,
    rollout: Option<RolloutStatus>,
    /// Set when the spec asks for a strategy this operator cannot run yet.
    unsupported: Option<StrategyKind>,
}

pub(super) fn plan(input: Input<'_>, kind: StrategyKind) -> Plan {
    let mut events = Vec::new();
    let decision = decide(&input, kind, &mut events);
    let (delete, retired, retire_requeue) = retire(&input, &decision, &mut events);
    let (status, deadline_requeue) = next_status(&input, &decision, &delete, retired, &mut events);
    Plan {
        run: decision.run,
        service_revision: decision.serving,
        delete,
        status,
        events,
        requeue_after: [retire_requeue, deadline_requeue]
            .into_iter()
            .flatten()
            .min(),
    }
}

impl Decision {
    /// The spec's revision runs, serves and is stable: nothing is in flight.
    fn settled(input: &Input<'_>) -> Self {
        Decision {
            run: Some(run_spec_revision(input)),
            serving: Some(input.revision.to_owned()),
            stable: Some(input.revision.to_owned()),
            candidate: None,
            rollout: None,
            unsupported: None,
        }
    }
}

fn run_spec_revision(input: &Input<'_>) -> RunRevision {
    RunRevision {
        revision: input.revision.to_owned(),
        replicas: input.spec.replicas,
    }
}

fn decide(input: &Input<'_>, kind: StrategyKind, events: &mut Vec<PlannedEvent>) -> Decision {
    let revision = input.revision;
    let version = &input.spec.model.version;
    let recorded_stable = input.status.stable_revision.as_deref();
    let stable = recorded_stable.filter(|s| input.observed.revisions.contains_key(*s));
    if let (Some(lost), None) = (recorded_stable, stable)
        && lost != revision
    {
        events.push(PlannedEvent {
            warning: true,
            reason: "StableRevisionMissing",
            revision: lost.to_owned(),
            action: "Deploy",
            note: format!("the Deployment of stable revision {lost} is gone; serving revision {revision} as soon as it is ready"),
        });
    }

    match stable {
        Some(stable) if stable == revision => Decision::settled(input),
        Some(stable) if kind != StrategyKind::Replace => Decision {
            run: None,
            serving: Some(stable.to_owned()),
            stable: Some(stable.to_owned()),
            candidate: None,
            rollout: None,
            unsupported: Some(kind),
        },
        stable => {
            let note = match stable {
                Some(stable) => {
                    format!("rolling out revision {revision} (model {version}) to replace {stable}")
                }
                None => format!("deploying revision {revision} (model {version})"),
            };
            let rollout = rollout_for(input, events, note);
            let available = input
                .observed
                .revisions
                .get(revision)
                .is_some_and(|r| r.is_available() && r.replicas == input.spec.replicas);
            if !available {
                // The stable revision keeps the traffic; with none, nothing is lost by letting
                // the Service select the new revision right away.
                return Decision {
                    run: Some(run_spec_revision(input)),
                    serving: Some(stable.unwrap_or(revision).to_owned()),
                    stable: stable.map(str::to_owned),
                    candidate: Some(revision.to_owned()),
                    rollout: Some(rollout),
                    unsupported: None,
                };
            }
            let replicas = input.spec.replicas;
            let available = format!(
                "all {replicas} replicas of revision {revision} (model {version}) are available"
            );
            events.push(match stable {
                Some(stable) => PlannedEvent {
                    warning: false,
                    reason: "TrafficSwitched",
                    revision: revision.to_owned(),
                    action: "SwitchTraffic",
                    note: format!("{available}; the Service now selects it instead of {stable}"),
                },
                None => PlannedEvent {
                    warning: false,
                    reason: "RevisionAvailable",
                    revision: revision.to_owned(),
                    action: "Deploy",
                    note: available,
                },
            });
            Decision::settled(input)
        }
    }
}

/// The rollout record for the spec's revision: carried over when it is already under way, so the
/// progress deadline counts from the real start across operator restarts.
fn rollout_for(input: &Input<'_>, events: &mut Vec<PlannedEvent>, note: String) -> RolloutStatus {
    if let Some(current) = input
        .status
        .rollout
        .as_ref()
        .filter(|r| r.revision == input.revision)
    {
        return current.clone();
    }
    events.push(PlannedEvent {
        warning: false,
        reason: "RolloutStarted",
        revision: input.revision.to_owned(),
        action: "Deploy",
        note,
    });
    RolloutStatus {
        revision: input.revision.to_owned(),
        model_version: input.spec.model.version.clone(),
        started_at: Time(input.now),
    }
}

/// Revisions that neither run, serve nor are being rolled out lose their pods. One that served
/// traffic until now keeps them for the scale-down delay; one that never did goes at once.
fn retire(
    input: &Input<'_>,
    decision: &Decision,
    events: &mut Vec<PlannedEvent>,
) -> (Vec<String>, Vec<RetiredRevision>, Option<Duration>) {
    let keep = |name: &str| {
        decision.run.as_ref().is_some_and(|r| r.revision == name)
            || decision.serving.as_deref() == Some(name)
            || decision.stable.as_deref() == Some(name)
            || decision.candidate.as_deref() == Some(name)
    };
    let mut delete = Vec::new();
    let mut retired = Vec::new();
    let mut requeue: Option<Duration> = None;
    for (name, _) in input
        .observed
        .revisions
        .iter()
        .filter(|(name, _)| !keep(name))
    {
        let recorded = input
            .status
            .retired_revisions
            .iter()
            .find(|r| &r.name == name);
        let was_serving = input.observed.service_revision.as_deref() == Some(name.as_str())
            || input.status.stable_revision.as_deref() == Some(name.as_str());
        let scale_down_at = match recorded {
            Some(r) => r.scale_down_at.0,
            None if was_serving => add(input.now, input.spec.scale_down_delay()),
            None => input.now,
        };
        if scale_down_at <= input.now {
            events.push(PlannedEvent {
                warning: false,
                reason: "RevisionScaledDown",
                revision: name.clone(),
                action: "Scale",
                note: format!("removed the pods of revision {name}, which no longer takes traffic"),
            });
            delete.push(name.clone());
        } else {
            let wait =
                Duration::try_from(scale_down_at.duration_since(input.now)).unwrap_or_default();
            requeue = Some(requeue.map_or(wait, |r| r.min(wait)));
            retired.push(RetiredRevision {
                name: name.clone(),
                scale_down_at: Time(scale_down_at),
            });
        }
    }
    (delete, retired, requeue)
}

fn add(at: Timestamp, delay: Duration) -> Timestamp {
    jiff::SignedDuration::try_from(delay)
        .ok()
        .and_then(|d| at.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

fn next_status(
    input: &Input<'_>,
    decision: &Decision,
    deleted: &[String],
    retired: Vec<RetiredRevision>,
    events: &mut Vec<PlannedEvent>,
) -> (ModelDeploymentStatus, Option<Duration>) {
    let spec = input.spec;
    let serving = decision.serving.as_deref();
    let serving_seen = serving.and_then(|s| input.observed.revisions.get(s));
    let serving_desired = match serving {
        Some(s) if s == input.revision => spec.replicas,
        _ => serving_seen.map_or(0, |s| s.replicas),
    };
    let serving_ready = serving_seen.map_or(0, |s| s.ready_replicas);
    let serving_available =
        serving_seen.is_some_and(|s| s.is_available() && s.replicas == serving_desired);
    let ready_text = summary::ready(serving_ready, serving_desired);

    // Progress deadline of the revision being rolled out.
    let mut requeue = None;
    let mut deadline_exceeded = false;
    if let Some(rollout) = &decision.rollout {
        let deadline = add(rollout.started_at.0, spec.progress_deadline());
        if input.now >= deadline {
            deadline_exceeded = true;
        } else {
            requeue = Duration::try_from(deadline.duration_since(input.now)).ok();
        }
    }

    let candidate_text = decision.candidate.as_deref().map(|c| {
        let seen = input.observed.revisions.get(c);
        format!(
            "revision {c} (model {}): {}/{} replicas ready",
            spec.model.version,
            seen.map_or(0, |s| s.ready_replicas),
            spec.replicas
        )
    });

    let ready = Wanted::new(
        CONDITION_READY,
        serving_available,
        if serving_available {
            "Available"
        } else {
            "ReplicasNotReady"
        },
        match serving {
            Some(s) => format!("revision {s} serves with {ready_text} replicas ready"),
            None => "no revision serves yet".to_owned(),
        },
    );

    let (progressing, phase, message) = if let Some(kind) = decision.unsupported {
        let stable = decision.stable.as_deref().unwrap_or_default();
        let message = format!(
            "strategy {} is not available in this operator version; revision {stable} keeps serving and revision {} is not started. Remove spec.strategy to replace revisions at once",
            kind.as_str(),
            input.revision
        );
        (
            Wanted::new(
                CONDITION_PROGRESSING,
                false,
                "StrategyNotSupported",
                message.clone(),
            ),
            Phase::Paused,
            message,
        )
    } else if let Some(text) = candidate_text {
        let phase = if decision.stable.is_none() {
            Phase::Pending
        } else {
            Phase::Progressing
        };
        let message = match decision.stable.as_deref() {
            Some(stable) => format!("{text}; revision {stable} serves until then"),
            None => text,
        };
        (
            Wanted::new(
                CONDITION_PROGRESSING,
                true,
                "RolloutInProgress",
                message.clone(),
            ),
            phase,
            message,
        )
    } else if !serving_available {
        let message = format!(
            "revision {} has {ready_text} replicas ready",
            serving.unwrap_or_default()
        );
        (
            Wanted::new(
                CONDITION_PROGRESSING,
                true,
                "ScalingReplicas",
                message.clone(),
            ),
            Phase::Progressing,
            message,
        )
    } else {
        let message = format!(
            "revision {} (model {}) serves all traffic with {ready_text} replicas ready",
            serving.unwrap_or_default(),
            spec.model.version
        );
        (
            Wanted::new(
                CONDITION_PROGRESSING,
                false,
                "RolloutComplete",
                message.clone(),
            ),
            Phase::Healthy,
            message,
        )
    };

    let rollout_revision = decision
        .rollout
        .as_ref()
        .map_or("", |r| r.revision.as_str());
    let degraded = if deadline_exceeded {
        Wanted::new(
            CONDITION_DEGRADED,
            true,
            "ProgressDeadlineExceeded",
            format!(
                "revision {rollout_revision} did not become available within {}s: {message}",
                spec.progress_deadline().as_secs()
            ),
        )
    } else {
        Wanted::new(CONDITION_DEGRADED, false, "AsExpected", "")
    };
    if deadline_exceeded
        && !conditions::holds(
            &input.status.conditions,
            CONDITION_DEGRADED,
            true,
            "ProgressDeadlineExceeded",
        )
    {
        events.push(PlannedEvent {
            warning: true,
            reason: "ProgressDeadlineExceeded",
            revision: rollout_revision.to_owned(),
            action: "Deploy",
            note: degraded.message.clone(),
        });
    }
    if let Some(kind) = decision.unsupported
        && !conditions::holds(
            &input.status.conditions,
            CONDITION_PROGRESSING,
            false,
            "StrategyNotSupported",
        )
    {
        events.push(PlannedEvent {
            warning: true,
            reason: "StrategyNotSupported",
            revision: input.revision.to_owned(),
            action: "Deploy",
            note: format!(
                "strategy {} cannot run yet; revision {} is held back",
                kind.as_str(),
                input.revision
            ),
        });
    }
    let phase = if deadline_exceeded {
        Phase::Degraded
    } else {
        phase
    };
    let message = if deadline_exceeded {
        degraded.message.clone()
    } else {
        message
    };

    let traffic: Vec<TrafficTarget> = serving
        .map(|s| TrafficTarget {
            revision: s.to_owned(),
            weight: 100,
        })
        .into_iter()
        .collect();
    let mut leading: Vec<(&str, i32, Option<&str>)> = Vec::new();
    if let Some(s) = serving {
        let version = (s == input.revision).then_some(spec.model.version.as_str());
        leading.push((s, serving_desired, version));
    }
    if let Some(run) = &decision.run {
        leading.push((
            run.revision.as_str(),
            run.replicas,
            Some(spec.model.version.as_str()),
        ));
    }

    let status = ModelDeploymentStatus {
        observed_generation: input.generation,
        phase: Some(phase),
        stable_revision: decision.stable.clone(),
        candidate_revision: decision.candidate.clone(),
        rollout: decision.rollout.clone(),
        replicas: serving_desired,
        ready_replicas: serving_ready,
        ready: Some(ready_text),
        revisions: summary::revisions(input.observed, &leading, deleted),
        traffic_summary: summary::traffic(&traffic),
        traffic,
        retired_revisions: retired,
        conditions: conditions::merge(
            &input.status.conditions,
            &[ready, progressing, degraded],
            input.generation,
            input.now,
        ),
        message: Some(message),
    };
    (status, requeue)
}
