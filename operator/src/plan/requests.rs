//! Requests people make with `kubectl modeldeploy`: each is acted on once, by its id, and its
//! outcome is recorded in `status.lastRequest`.

use modeldeploy_api::v1alpha1::{
    AnalysisPhase, AnalysisRunStatus, DecisionPhase, RequestAction, RequestStatus, RolloutRequest,
    RolloutStage, RolloutStatus,
};

use super::steps::{Step, Steps};

/// What a request did to the rollout.
pub(super) struct Handled {
    pub status: RequestStatus,
    /// The rollout after the request; unchanged when it was refused.
    pub rollout: Option<RolloutStatus>,
}

/// Acts on `request` unless `last` shows it was handled already.
pub(super) fn handle(
    request: &RolloutRequest,
    last: Option<&RequestStatus>,
    rollout: Option<&RolloutStatus>,
    steps: &Steps,
    name: &str,
) -> Option<Handled> {
    if last.is_some_and(|l| l.id == request.id) {
        return None;
    }
    let outcome = act(request.action, rollout, steps, name);
    let (accepted, message, rollout) = match outcome {
        Ok((message, next)) => (true, message, Some(next)),
        Err(message) => (false, message, rollout.cloned()),
    };
    Some(Handled {
        status: RequestStatus {
            id: request.id.clone(),
            action: request.action.as_str().to_owned(),
            accepted,
            message,
        },
        rollout,
    })
}

fn act(
    action: RequestAction,
    rollout: Option<&RolloutStatus>,
    steps: &Steps,
    name: &str,
) -> Result<(String, RolloutStatus), String> {
    let Some(current) = rollout else {
        return Err(format!("no rollout in progress for {name}"));
    };
    let mut next = current.clone();
    let revision = &current.revision;
    match (action, current.stage) {
        // Answered before the engine runs, by `undo`.
        (RequestAction::Undo, _) => Err("undo is answered separately".to_owned()),
        (RequestAction::Retry, RolloutStage::Aborted) => {
            next.stage = RolloutStage::Steps;
            next.step_index = 0;
            next.step_started_at = None;
            next.abort_reason = None;
            next.paused_by_user = false;
            next.analysis.clear();
            next.decision = None;
            Ok((
                format!("retrying revision {revision} from its first step"),
                next,
            ))
        }
        (RequestAction::Retry, _) => Err(format!(
            "the rollout of revision {revision} was not aborted; there is nothing to retry"
        )),
        (_, RolloutStage::Aborted | RolloutStage::Aborting) => Err(format!(
            "the rollout of revision {revision} is aborted; use `kubectl modeldeploy retry {name}` or change the spec"
        )),
        (RequestAction::Abort, _) => {
            next.stage = RolloutStage::Aborting;
            next.abort_reason = Some("aborted with kubectl modeldeploy abort".to_owned());
            next.paused_by_user = false;
            Ok((
                format!("aborting revision {revision}: traffic goes back to the stable revision"),
                next,
            ))
        }
        // A person's word on a held analysis: it measures again from the start.
        (RequestAction::Resume | RequestAction::Promote, RolloutStage::Promoting)
            if held(current) =>
        {
            next.analysis.retain(|run| !is_held(run));
            Ok((
                format!("measuring the held analyses of revision {revision} again"),
                next,
            ))
        }
        (_, RolloutStage::Promoting) => {
            Err(format!("revision {revision} is already being promoted"))
        }
        (RequestAction::PromoteFull, RolloutStage::Steps) => {
            next.stage = RolloutStage::Promoting;
            next.paused_by_user = false;
            next.step_started_at = None;
            Ok((
                format!("promoting revision {revision} now, skipping the remaining steps"),
                next,
            ))
        }
        (RequestAction::Promote, RolloutStage::Steps) => {
            next.paused_by_user = false;
            // The skipped gate's verdict stays in status; a held background analysis measures
            // again.
            let gate = current_gate(current, steps);
            next.analysis
                .retain(|run| !is_held(run) || Some(run.name.as_str()) == gate);
            next.step_index = (current.step_index + 1).min(steps.count());
            next.step_started_at = None;
            if next.step_index >= steps.count() {
                next.stage = RolloutStage::Promoting;
                return Ok((format!("promoting revision {revision}"), next));
            }
            Ok((
                format!(
                    "skipped step {}; going on with {}",
                    steps.label(current.step_index),
                    steps.label(next.step_index)
                ),
                next,
            ))
        }
        (RequestAction::Pause, RolloutStage::Steps) => {
            if current.paused_by_user {
                return Err(format!(
                    "the rollout of revision {revision} is already paused"
                ));
            }
            next.paused_by_user = true;
            Ok((
                format!("paused at step {}", steps.label(current.step_index)),
                next,
            ))
        }
        (RequestAction::Resume, RolloutStage::Steps) => {
            let waiting = matches!(
                steps.get(current.step_index),
                Some(Step::Pause { duration: None, .. })
            );
            if let Some(decision) = next
                .decision
                .as_mut()
                .filter(|d| d.phase == DecisionPhase::Error && !current.paused_by_user)
            {
                decision.phase = DecisionPhase::Measuring;
                decision.consecutive_errors = 0;
                return Ok((
                    format!(
                        "reading the A/B test's counts again at step {}",
                        steps.label(current.step_index)
                    ),
                    next,
                ));
            }
            if held(current) && !current.paused_by_user {
                next.analysis.retain(|run| !is_held(run));
                return Ok((
                    format!(
                        "measuring the held analyses again at step {}",
                        steps.label(current.step_index)
                    ),
                    next,
                ));
            }
            if !current.paused_by_user && !waiting {
                return Err(format!("the rollout of revision {revision} is not paused"));
            }
            next.paused_by_user = false;
            if waiting && !current.paused_by_user {
                next.step_index = (current.step_index + 1).min(steps.count());
                next.step_started_at = None;
                if next.step_index >= steps.count() {
                    next.stage = RolloutStage::Promoting;
                }
            }
            Ok((
                format!("resumed at step {}", steps.label(next.step_index)),
                next,
            ))
        }
    }
}

/// An analysis that holds the rollout for a person: inconclusive, erring, or failed under
/// `onFailure: Pause` (a failure that rolls back never waits to be asked).
fn is_held(run: &AnalysisRunStatus) -> bool {
    matches!(
        run.phase,
        AnalysisPhase::Inconclusive | AnalysisPhase::Error | AnalysisPhase::Failed
    )
}

fn held(rollout: &RolloutStatus) -> bool {
    rollout.analysis.iter().any(is_held)
}

/// The run name of the analysis step the rollout stands at, if it stands at one.
fn current_gate<'a>(rollout: &RolloutStatus, steps: &'a Steps) -> Option<&'a str> {
    match steps.get(rollout.step_index) {
        Some(Step::Analysis(gate)) => Some(gate.run.as_str()),
        _ => None,
    }
}
