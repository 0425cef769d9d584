//! The next status: what runs, where traffic goes, where the rollout stands, and the conditions
//! that `kubectl wait`, kstatus (Flux, Helm, kpt) and Argo CD read.

use std::time::Duration;

use modeldeploy_api::v1alpha1::{ModelDeploymentStatus, Phase, RequestStatus, RolloutStage};

use super::conditions::{
    self, CONDITION_DEGRADED, CONDITION_PROGRESSING, CONDITION_READY, CONDITION_RECONCILING,
    CONDITION_STALLED, Wanted,
};
use super::engine::Decision;
use super::retire::Retirement;
use super::time::{add, until};
use super::traffic::TrafficPlan;
use super::{Input, PlannedEvent, summary};

/// The first revision the decision runs whose pods cannot start, and why.
fn stuck_pods<'a>(
    input: &'a Input<'_>,
    decision: &'a Decision,
) -> Option<(&'a str, &'a crate::pod_health::PodProblem)> {
    decision.run.iter().find_map(|run| {
        let observed = input.observed.revisions.get(&run.revision)?;
        let problem = observed
            .problem
            .as_ref()
            .filter(|_| !observed.is_available())?;
        Some((run.revision.as_str(), problem))
    })
}

pub(super) fn next(
    input: &Input<'_>,
    decision: &Decision,
    retirement: Retirement,
    events: &mut Vec<PlannedEvent>,
) -> (ModelDeploymentStatus, Option<Duration>) {
    let spec = input.spec;
    let stable = decision.stable.as_deref();
    let stable_seen = stable.and_then(|s| input.observed.revisions.get(s));
    let stable_desired = stable
        .and_then(|s| decision.run.iter().find(|r| r.revision == s))
        .map_or(0, |r| r.replicas);
    let stable_ready = stable_seen.map_or(0, |s| s.ready_replicas);
    let stable_available =
        stable_seen.is_some_and(|s| s.is_available() && s.replicas == stable_desired);
    let ready_text = summary::ready(stable_ready, stable_desired);
    let rollout = decision.rollout.as_ref();

    // The progress deadline runs while the rollout waits for pods, from the step that asked.
    let mut wake = None;
    let mut deadline_exceeded = false;
    if let (Some(_), Some(rollout)) = (&decision.waiting_for_pods, rollout) {
        let since = rollout
            .step_started_at
            .as_ref()
            .map_or(rollout.started_at.0, |t| t.0);
        let deadline = add(since, spec.progress_deadline());
        if input.now >= deadline {
            deadline_exceeded = true;
        } else {
            wake = Some(until(input.now, deadline));
        }
    }

    let spec_serves = stable == Some(input.revision) && rollout.is_none();
    // Ready once the provider carries the settled plan too, so that nothing of the rollout (a
    // candidate backend, a mirror) is left on the live route when Ready is read.
    let settled_available = spec_serves
        && stable_available
        && input.observed.traffic.as_ref() == Some(&decision.traffic);
    let (phase, message) = describe(input, decision, &ready_text, stable_available);
    // Aborted once the candidate's routes are gone too; until then it is still rolling back.
    let cleaned = input.observed.traffic.as_ref() == Some(&decision.traffic);
    let aborted = rollout.is_some_and(|r| r.stage == RolloutStage::Aborted) && cleaned;

    let ready = Wanted::new(
        CONDITION_READY,
        settled_available,
        if settled_available {
            "Available"
        } else if !spec_serves {
            "RolloutInProgress"
        } else {
            "ReplicasNotReady"
        },
        message.clone(),
    );
    let (progressing, reconciling, stalled, degraded) = if deadline_exceeded {
        let text = format!(
            "revision {} did not become available within {}s: {message}",
            decision.waiting_for_pods.as_deref().unwrap_or_default(),
            spec.progress_deadline().as_secs()
        );
        (
            Wanted::new(
                CONDITION_PROGRESSING,
                false,
                "ProgressDeadlineExceeded",
                text.clone(),
            ),
            Wanted::new(CONDITION_RECONCILING, false, "ProgressDeadlineExceeded", ""),
            Wanted::new(
                CONDITION_STALLED,
                true,
                "ProgressDeadlineExceeded",
                text.clone(),
            ),
            Wanted::new(CONDITION_DEGRADED, true, "ProgressDeadlineExceeded", text),
        )
    } else if aborted {
        (
            Wanted::new(
                CONDITION_PROGRESSING,
                false,
                "RolloutAborted",
                message.clone(),
            ),
            Wanted::new(CONDITION_RECONCILING, false, "RolloutAborted", ""),
            Wanted::new(CONDITION_STALLED, true, "RolloutAborted", message.clone()),
            Wanted::new(CONDITION_DEGRADED, true, "RolloutAborted", message.clone()),
        )
    } else if settled_available {
        (
            Wanted::new(
                CONDITION_PROGRESSING,
                false,
                "RolloutComplete",
                message.clone(),
            ),
            Wanted::new(CONDITION_RECONCILING, false, "RolloutComplete", ""),
            Wanted::new(CONDITION_STALLED, false, "AsExpected", ""),
            Wanted::new(CONDITION_DEGRADED, false, "AsExpected", ""),
        )
    } else {
        let reason = reconciling_reason(decision, phase);
        // Pods that need a person are said at once; the progress deadline still applies.
        let degraded = match stuck_pods(input, decision) {
            Some((revision, problem)) => Wanted::new(
                CONDITION_DEGRADED,
                true,
                problem.reason,
                format!("revision {revision}: {}", problem.message),
            ),
            None => Wanted::new(CONDITION_DEGRADED, false, "AsExpected", ""),
        };
        (
            Wanted::new(CONDITION_PROGRESSING, true, reason, message.clone()),
            Wanted::new(CONDITION_RECONCILING, true, reason, message.clone()),
            Wanted::new(CONDITION_STALLED, false, "AsExpected", ""),
            degraded,
        )
    };
    if deadline_exceeded
        && !conditions::holds(
            &input.status.conditions,
            CONDITION_DEGRADED,
            true,
            "ProgressDeadlineExceeded",
        )
    {
        events.push(PlannedEvent::warning(
            "ProgressDeadlineExceeded",
            "Deploy",
            decision.waiting_for_pods.as_deref().unwrap_or_default(),
            degraded.message.clone(),
        ));
    }
    let phase = if deadline_exceeded {
        Phase::Degraded
    } else {
        phase
    };
    let message = if deadline_exceeded || degraded.status {
        degraded.message.clone()
    } else {
        message
    };

    // Weights as the provider carries them now; until it carries the plan, what it carried.
    let (traffic, mirror) = match &input.observed.traffic {
        Some(applied) => (
            crate::traffic::effective(spec.traffic.provider, applied, &input.observed.revisions),
            applied.mirror(),
        ),
        None => (input.status.traffic.clone(), input.status.mirror.clone()),
    };

    let mut leading: Vec<(&str, i32, Option<&str>)> = Vec::new();
    for run in &decision.run {
        let version = (run.revision == input.revision).then_some(input.version);
        leading.push((run.revision.as_str(), run.replicas, version));
    }
    let serving_model_version = stable.and_then(|s| {
        if s == input.revision {
            Some(input.version.to_owned())
        } else {
            stable_seen.and_then(|seen| seen.model_version.clone())
        }
    });

    let status = ModelDeploymentStatus {
        observed_generation: input.generation,
        phase: Some(phase),
        stable_revision: decision.stable.clone(),
        serving_model_version,
        candidate_revision: rollout.map(|r| r.revision.clone()),
        rollout: decision.rollout.clone(),
        replicas: stable_desired,
        ready_replicas: stable_ready,
        ready: Some(ready_text),
        revisions: summary::revisions(input.observed, &leading, &retirement.delete),
        traffic_summary: summary::traffic(&traffic, mirror.as_ref()),
        traffic,
        mirror,
        retired_revisions: retirement.retired,
        conditions: conditions::merge(
            &input.status.conditions,
            &[ready, progressing, degraded, reconciling, stalled],
            input.generation,
            input.now,
        ),
        message: Some(message),
        last_request: last_request(input, decision),
        registry: input.registry.cloned(),
        undo: None,
        history: Vec::new(),
    };
    (status, wake)
}

fn last_request(input: &Input<'_>, decision: &Decision) -> Option<RequestStatus> {
    if let Some(handled) = &decision.request {
        return Some(handled.clone());
    }
    if let Some(Err(problem)) = input.request
        && input
            .status
            .last_request
            .as_ref()
            .is_none_or(|l| &l.message != problem)
    {
        return Some(RequestStatus {
            id: String::new(),
            action: String::new(),
            accepted: false,
            message: problem.clone(),
        });
    }
    input.status.last_request.clone()
}

fn reconciling_reason(decision: &Decision, phase: Phase) -> &'static str {
    if decision.superseded.is_some() {
        return "Superseded";
    }
    match phase {
        Phase::Paused => "Paused",
        Phase::Promoting => "Promoting",
        Phase::RollingBack => "RollingBack",
        Phase::Pending => "Deploying",
        _ if decision.rollout.is_some() => "RolloutInProgress",
        _ => "ScalingReplicas",
    }
}

/// The phase and one sentence about it.
fn describe(
    input: &Input<'_>,
    decision: &Decision,
    ready_text: &str,
    stable_available: bool,
) -> (Phase, String) {
    let version = input.version;
    let Some(stable) = decision.stable.as_deref() else {
        let seen = input.observed.revisions.get(input.revision);
        return (
            Phase::Pending,
            format!(
                "revision {} (model {version}): {}/{} replicas ready",
                input.revision,
                seen.map_or(0, |s| s.ready_replicas),
                input.spec.replicas
            ),
        );
    };
    if let Some(old) = &decision.superseded {
        return (
            Phase::RollingBack,
            format!(
                "revision {old} was superseded by revision {}: traffic returns to {stable} before the new rollout starts",
                input.revision
            ),
        );
    }
    let traffic = describe_traffic(&decision.traffic);
    let Some(rollout) = &decision.rollout else {
        return if stable_available {
            (
                Phase::Healthy,
                format!(
                    "revision {stable} (model {version}) serves all traffic with {ready_text} replicas ready"
                ),
            )
        } else {
            (
                Phase::Progressing,
                format!("revision {stable} has {ready_text} replicas ready"),
            )
        };
    };
    let candidate = &rollout.revision;
    let step = rollout.step.as_deref().unwrap_or("-");
    let waiting = decision
        .waiting_for_pods
        .as_deref()
        .map(|r| {
            let seen = input.observed.revisions.get(r);
            format!(
                "; waiting for revision {r}: {}/{} replicas available",
                seen.map_or(0, |s| s.available_replicas),
                decision
                    .run
                    .iter()
                    .find(|run| run.revision == r)
                    .map_or(0, |run| run.replicas)
            )
        })
        .unwrap_or_default();
    match rollout.stage {
        RolloutStage::Steps => match &rollout.pause {
            Some(pause) => (
                Phase::Paused,
                format!(
                    "revision {candidate} at step {step} ({traffic}), paused: {}{}",
                    pause.reason.as_str(),
                    pause
                        .until
                        .as_ref()
                        .map(|u| format!(" until {}", u.0))
                        .unwrap_or_default()
                ),
            ),
            None => (
                Phase::Progressing,
                format!("revision {candidate} at step {step} ({traffic}){waiting}"),
            ),
        },
        RolloutStage::Promoting => match &rollout.pause {
            Some(pause) => (
                Phase::Paused,
                format!(
                    "revision {candidate} promoted ({traffic}) but not done, paused: {}",
                    pause.reason.as_str()
                ),
            ),
            None => (
                Phase::Promoting,
                format!("promoting revision {candidate} ({traffic}){waiting}"),
            ),
        },
        RolloutStage::Aborting => (
            Phase::RollingBack,
            format!(
                "{}: traffic returns to {stable} ({traffic})",
                rollout.abort_reason.as_deref().unwrap_or("aborted")
            ),
        ),
        RolloutStage::Aborted if input.observed.traffic.as_ref() != Some(&decision.traffic) => (
            Phase::RollingBack,
            format!(
                "{}: all traffic is back on {stable}; removing the candidate's routes",
                rollout.abort_reason.as_deref().unwrap_or("aborted")
            ),
        ),
        RolloutStage::Aborted => (
            Phase::Aborted,
            format!(
                "{}; revision {stable} serves all traffic. Retry with `kubectl modeldeploy retry`, or change the spec",
                rollout.abort_reason.as_deref().unwrap_or("aborted")
            ),
        ),
    }
}

fn describe_traffic(plan: &TrafficPlan) -> String {
    let mut text = summary::traffic(&plan.targets(), plan.mirror().as_ref()).unwrap_or_default();
    if let Some(c) = plan.candidate.as_ref().filter(|c| !c.matches.is_empty()) {
        text.push_str(&format!(
            " {} match rule(s)→{}",
            c.matches.len(),
            c.revision
        ));
    }
    text
}
