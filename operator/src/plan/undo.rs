//! Undo: an earlier revision serves instead of the spec's, until the spec changes. The planner
//! then rolls out the earlier revision like any other, through the spec's strategy.

use modeldeploy_api::v1alpha1::{
    HistoryEntry, RequestAction, RequestStatus, RolloutRequest, UndoStatus,
};

use super::Input;

/// The revision to serve and what an undo request (if any) became.
pub(super) struct Target {
    pub revision: String,
    pub version: String,
    pub undo: Option<UndoStatus>,
    /// The answer to an undo request seen for the first time.
    pub answer: Option<RequestStatus>,
}

pub(super) fn resolve(input: &Input<'_>, history: &[HistoryEntry]) -> Target {
    let spec_revision = input.revision;
    let mut undo = input
        .status
        .undo
        .clone()
        .filter(|u| u.spec_revision == spec_revision);
    let mut answer = None;
    if let Some(Ok(request)) = input.request
        && request.action == RequestAction::Undo
        && input.status.last_request.as_ref().map(|l| &l.id) != Some(&request.id)
    {
        let (next, reply) = undo_to(input, history, undo.as_ref(), request);
        undo = next;
        answer = Some(reply);
    }
    match &undo {
        Some(u) => Target {
            revision: u.revision.clone(),
            version: u.model_version.clone(),
            undo,
            answer,
        },
        None => Target {
            revision: spec_revision.to_owned(),
            version: input.spec.model.version.clone(),
            undo: None,
            answer,
        },
    }
}

fn undo_to(
    input: &Input<'_>,
    history: &[HistoryEntry],
    current: Option<&UndoStatus>,
    request: &RolloutRequest,
) -> (Option<UndoStatus>, RequestStatus) {
    let serving = current.map_or(input.revision, |u| u.revision.as_str());
    let number_of = |revision: &str| {
        history
            .iter()
            .find(|h| h.revision == revision)
            .map(|h| h.number)
    };
    let pick = match &request.to_revision {
        Some(wanted) => history
            .iter()
            .find(|h| &h.revision == wanted || &h.number.to_string() == wanted),
        None => {
            let below = number_of(serving).unwrap_or(i64::MAX);
            history
                .iter()
                .filter(|h| h.number < below && h.revision != serving)
                .max_by_key(|h| h.number)
        }
    };
    let reply = |accepted: bool, message: String| RequestStatus {
        id: request.id.clone(),
        action: request.action.as_str().to_owned(),
        accepted,
        message,
    };
    match pick {
        None => {
            let message = match &request.to_revision {
                Some(wanted) => format!(
                    "revision {wanted} is not in the history of {}; `kubectl modeldeploy status {}` lists it",
                    input.name, input.name
                ),
                None => format!(
                    "{} has no revision before {serving} to go back to",
                    input.name
                ),
            };
            (current.cloned(), reply(false, message))
        }
        Some(entry) if entry.revision == input.revision => (
            None,
            reply(
                true,
                format!("serving the spec's revision {} again", input.revision),
            ),
        ),
        Some(entry) => {
            let version = entry.model_version.clone().unwrap_or_default();
            (
                Some(UndoStatus {
                    revision: entry.revision.clone(),
                    model_version: version.clone(),
                    spec_revision: input.revision.to_owned(),
                }),
                reply(
                    true,
                    format!(
                        "rolling back to revision {} (model {version}); it serves instead of the spec's revision {} until the spec changes",
                        entry.revision, input.revision
                    ),
                ),
            )
        }
    }
}
