//! Requests people make of a running rollout (`kubectl modeldeploy promote`, `abort`, ...).
//!
//! A request is an annotation on the ModelDeployment, never a change to its spec: GitOps tools
//! compare the spec (and only the annotations they manage), so a request causes no drift. The
//! operator acts on each request id once and records the outcome in `status.lastRequest`.

use serde::{Deserialize, Serialize};

/// The annotation that carries a request, as JSON such as
/// `{"id":"1764500000123","action":"promote"}`.
pub const REQUEST_ANNOTATION: &str = "modeldeploy.io/request";

/// What a person asks of a rollout.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum RequestAction {
    /// End the current pause or gate and go on with the next step.
    Promote,
    /// Skip the remaining steps: scale the new revision to full size and give it all traffic.
    PromoteFull,
    /// Send all traffic back to the stable revision and remove the new one.
    Abort,
    /// Hold the rollout at its current step.
    Pause,
    /// Go on after `pause`, or after a pause step that waits for a person.
    Resume,
    /// Start an aborted rollout again from its first step.
    Retry,
    /// Serve an earlier revision (the previous one, or `toRevision`) until the spec changes.
    Undo,
}

impl RequestAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestAction::Promote => "promote",
            RequestAction::PromoteFull => "promoteFull",
            RequestAction::Abort => "abort",
            RequestAction::Pause => "pause",
            RequestAction::Resume => "resume",
            RequestAction::Retry => "retry",
            RequestAction::Undo => "undo",
        }
    }
}

/// One request. `id` is unique per request, e.g. the time it was made in milliseconds.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RolloutRequest {
    pub id: String,
    pub action: RequestAction,
    /// For `undo`: the revision to go back to, by name or by its number in
    /// `status.history`; the previous revision when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_revision: Option<String>,
}

impl RolloutRequest {
    /// The request in `annotations`, if there is one; a malformed value is an error that names
    /// the annotation.
    pub fn from_annotations(
        annotations: &std::collections::BTreeMap<String, String>,
    ) -> Option<Result<RolloutRequest, String>> {
        let raw = annotations.get(REQUEST_ANNOTATION)?;
        Some(serde_json::from_str(raw).map_err(|error| {
            format!(
                "annotation {REQUEST_ANNOTATION} is not a request such as {{\"id\":\"1\",\"action\":\"promote\"}}: {error}"
            )
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_request_and_reports_a_malformed_one() {
        let mut annotations = std::collections::BTreeMap::new();
        assert!(RolloutRequest::from_annotations(&annotations).is_none());
        annotations.insert(
            REQUEST_ANNOTATION.to_owned(),
            r#"{"id":"7","action":"promoteFull"}"#.to_owned(),
        );
        assert_eq!(
            RolloutRequest::from_annotations(&annotations),
            Some(Ok(RolloutRequest {
                id: "7".into(),
                action: RequestAction::PromoteFull,
                to_revision: None,
            }))
        );
        annotations.insert(REQUEST_ANNOTATION.to_owned(), "promote".to_owned());
        assert!(matches!(
            RolloutRequest::from_annotations(&annotations),
            Some(Err(message)) if message.contains(REQUEST_ANNOTATION)
        ));
    }
}
