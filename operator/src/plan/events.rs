//! Rollout events, derived in one place by comparing the recorded progress with the next one.
//! The status is written before events are published and every plan starts from a fresh read of
//! it, so an event is announced at most once, whatever the restarts.

use modeldeploy_api::v1alpha1::{ModelDeploymentStatus, PauseReason, RolloutStage};

use super::PlannedEvent;

/// A pin that moved (the alias was followed) or a newer version that is only available.
fn registry_events(
    old: &ModelDeploymentStatus,
    new: &ModelDeploymentStatus,
    events: &mut Vec<PlannedEvent>,
) {
    let Some(after) = &new.registry else {
        return;
    };
    let revision = new.stable_revision.as_deref().unwrap_or_default();
    let before = old
        .registry
        .as_ref()
        .filter(|b| b.reference == after.reference);
    match before {
        None => events.push(PlannedEvent::normal(
            "ModelResolved",
            "Resolve",
            revision,
            format!(
                "{} is version {} at {}",
                after.reference, after.version, after.source
            ),
        )),
        Some(before) if before.version != after.version => events.push(PlannedEvent::normal(
            "AliasMoved",
            "Resolve",
            revision,
            format!(
                "{} moved from version {} to version {}; rolling it out",
                after.reference, before.version, after.version
            ),
        )),
        Some(before) => {
            if let Some(available) = after
                .available
                .as_ref()
                .filter(|a| before.available.as_ref() != Some(*a))
            {
                events.push(PlannedEvent::normal(
                    "UpdateAvailable",
                    "Resolve",
                    revision,
                    format!(
                        "{} points at version {available}; version {} keeps serving because followAlias is off",
                        after.reference, after.version
                    ),
                ));
            }
        }
    }
}

pub(super) fn derive(
    old: &ModelDeploymentStatus,
    new: &ModelDeploymentStatus,
    version: &str,
    events: &mut Vec<PlannedEvent>,
) {
    let old_rollout = old.rollout.as_ref();
    if let Some(rollout) = &new.rollout {
        let same = old_rollout.filter(|o| o.revision == rollout.revision);
        let revision = rollout.revision.as_str();
        match (same, new.stable_revision.as_deref()) {
            (None, Some(stable)) => events.push(PlannedEvent::normal(
                "RolloutStarted",
                "Deploy",
                revision,
                format!(
                    "rolling out revision {revision} (model {version}) to replace {stable} with the {} strategy; step {}",
                    rollout.strategy,
                    rollout.step.as_deref().unwrap_or("-")
                ),
            )),
            (None, None) => events.push(PlannedEvent::normal(
                "RolloutStarted",
                "Deploy",
                revision,
                format!("deploying revision {revision} (model {version})"),
            )),
            (Some(before), _) => {
                step_events(before, rollout, events);
            }
        }
        let paused = |s: &ModelDeploymentStatus| {
            s.rollout
                .as_ref()
                .filter(|r| r.revision == rollout.revision)
                .and_then(|r| r.pause.as_ref())
                .map(|p| p.reason)
        };
        if let Some(reason) = paused(new).filter(|r| *r != PauseReason::Timed)
            && paused(old) != Some(reason)
        {
            events.push(PlannedEvent::normal(
                "RolloutPaused",
                "Pause",
                revision,
                match reason {
                    PauseReason::ByUser => format!(
                        "paused at step {} by kubectl modeldeploy pause; resume to go on",
                        rollout.step.as_deref().unwrap_or("-")
                    ),
                    PauseReason::AwaitingPromotion => {
                        format!("revision {revision} waits for kubectl modeldeploy promote")
                    }
                    PauseReason::AnalysisFailed
                    | PauseReason::AnalysisInconclusive
                    | PauseReason::AnalysisError => format!(
                        "revision {revision} waits for a person at {} ({}): promote skips the gate, resume measures again, abort rolls back",
                        rollout.step.as_deref().unwrap_or("-"),
                        reason.as_str()
                    ),
                    _ => format!(
                        "step {} waits for kubectl modeldeploy promote",
                        rollout.step.as_deref().unwrap_or("-")
                    ),
                },
            ));
        }
    }
    if let (Some(before), Some(after)) = (&old.stable_revision, &new.stable_revision)
        && before != after
    {
        events.push(PlannedEvent::normal(
            "TrafficSwitched",
            "SwitchTraffic",
            after,
            format!("revision {after} (model {version}) takes all traffic instead of {before}"),
        ));
    }
    if let (None, Some(after)) = (&old.stable_revision, &new.stable_revision)
        && new.rollout.is_none()
    {
        events.push(PlannedEvent::normal(
            "RevisionAvailable",
            "Deploy",
            after,
            format!(
                "all {} replicas of revision {after} (model {version}) are available",
                new.replicas
            ),
        ));
    }
    // Derived from the status, like every event, so that a retried deletion is announced once.
    for gone in old
        .revisions
        .iter()
        .filter(|r| !new.revisions.iter().any(|n| n.name == r.name))
    {
        events.push(PlannedEvent::normal(
            "RevisionScaledDown",
            "Scale",
            &gone.name,
            format!(
                "removed the pods of revision {}, which no longer takes traffic",
                gone.name
            ),
        ));
    }
    if let Some(request) = &new.last_request
        && old.last_request.as_ref().map(|r| &r.id) != Some(&request.id)
    {
        let revision = new
            .rollout
            .as_ref()
            .map(|r| r.revision.clone())
            .or_else(|| new.stable_revision.clone())
            .unwrap_or_default();
        events.push(if request.accepted {
            PlannedEvent::normal(
                "RequestAccepted",
                "Request",
                &revision,
                format!("{}: {}", request.action, request.message),
            )
        } else {
            PlannedEvent::warning(
                "RequestRefused",
                "Request",
                &revision,
                format!("{}: {}", request.action, request.message),
            )
        });
    }
    registry_events(old, new, events);
}

/// An analysis reached a verdict: one event per run, when its verdict is first recorded.
fn analysis_events(
    before: &modeldeploy_api::v1alpha1::RolloutStatus,
    after: &modeldeploy_api::v1alpha1::RolloutStatus,
    events: &mut Vec<PlannedEvent>,
) {
    use modeldeploy_api::v1alpha1::AnalysisPhase;
    for run in after.analysis.iter().filter(|r| r.phase.is_verdict()) {
        let known = before
            .analysis
            .iter()
            .any(|b| b.name == run.name && b.phase == run.phase);
        if known {
            continue;
        }
        let note = format!(
            "analysis {} of revision {} is {}: {}",
            run.name,
            after.revision,
            run.phase.as_str(),
            run.message.as_deref().unwrap_or("-")
        );
        events.push(match run.phase {
            AnalysisPhase::Successful => {
                PlannedEvent::normal("AnalysisSuccessful", "Analyze", &after.revision, note)
            }
            AnalysisPhase::Failed => {
                PlannedEvent::warning("AnalysisFailed", "Analyze", &after.revision, note)
            }
            AnalysisPhase::Inconclusive => {
                PlannedEvent::warning("AnalysisInconclusive", "Analyze", &after.revision, note)
            }
            AnalysisPhase::Error | AnalysisPhase::Running => {
                PlannedEvent::warning("AnalysisError", "Analyze", &after.revision, note)
            }
        });
    }
}

/// The A/B decision reached a verdict: one event, when it is first recorded.
fn decision_events(
    before: &modeldeploy_api::v1alpha1::RolloutStatus,
    after: &modeldeploy_api::v1alpha1::RolloutStatus,
    events: &mut Vec<PlannedEvent>,
) {
    use modeldeploy_api::v1alpha1::DecisionPhase;
    let Some(decision) = &after.decision else {
        return;
    };
    if before.decision.as_ref().map(|d| d.phase) == Some(decision.phase) {
        return;
    }
    let note = format!(
        "A/B decision for revision {} is {}: {}",
        after.revision,
        decision.phase.as_str(),
        decision.message.as_deref().unwrap_or("-")
    );
    let revision = after.revision.as_str();
    events.push(match decision.phase {
        DecisionPhase::Measuring => return,
        DecisionPhase::CandidateWins => {
            PlannedEvent::normal("AnalysisSuccessful", "Decide", revision, note)
        }
        DecisionPhase::StableWins => {
            PlannedEvent::warning("AnalysisFailed", "Decide", revision, note)
        }
        DecisionPhase::Inconclusive | DecisionPhase::SampleRatioMismatch => {
            PlannedEvent::warning("AnalysisInconclusive", "Decide", revision, note)
        }
        DecisionPhase::Error => PlannedEvent::warning("AnalysisError", "Decide", revision, note),
    });
}

fn step_events(
    before: &modeldeploy_api::v1alpha1::RolloutStatus,
    after: &modeldeploy_api::v1alpha1::RolloutStatus,
    events: &mut Vec<PlannedEvent>,
) {
    let revision = after.revision.as_str();
    let step = after.step.as_deref().unwrap_or("-");
    analysis_events(before, after, events);
    decision_events(before, after, events);
    if before.stage != after.stage {
        events.push(match after.stage {
            RolloutStage::Steps => PlannedEvent::normal(
                "RolloutRetried",
                "Deploy",
                revision,
                format!("rolling out revision {revision} again from step {step}"),
            ),
            RolloutStage::Promoting => PlannedEvent::normal(
                "PromotionStarted",
                "Promote",
                revision,
                format!(
                    "promoting revision {revision}: full size first, then all traffic"
                ),
            ),
            RolloutStage::Aborting => PlannedEvent::warning(
                "RollbackStarted",
                "Abort",
                revision,
                format!(
                    "{}; traffic goes back to the stable revision first",
                    after.abort_reason.as_deref().unwrap_or("aborting")
                ),
            ),
            RolloutStage::Aborted => PlannedEvent::warning(
                "RolloutAborted",
                "Abort",
                revision,
                format!(
                    "all traffic is back on the stable revision; the pods of revision {revision} are removed after the abort delay"
                ),
            ),
        });
    } else if after.stage == RolloutStage::Steps
        && after.step_index != before.step_index
        && after.step_index < after.step_count
    {
        events.push(PlannedEvent::normal(
            "StepStarted",
            "Step",
            revision,
            format!("revision {revision}: step {step}"),
        ));
    }
}
