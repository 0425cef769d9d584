//! Requests of a rollout: written as the `modeldeploy.io/request` annotation, answered by the
//! operator in `status.lastRequest`.

use std::pin::pin;
use std::time::Duration;

use futures::TryStreamExt;
use kube::Api;
use kube::api::{Patch, PatchParams};
use kube::runtime::watcher::watch_object;
use modeldeploy_api::v1alpha1::{
    ModelDeployment, REQUEST_ANNOTATION, RequestAction, RequestStatus, RolloutRequest,
};
use serde_json::json;

use crate::args::{Output, RequestCommand};
use crate::error::{Error, target};
use crate::stdout;

/// The field manager of the annotation, so that `managedFields` shows who made the request.
pub const FIELD_MANAGER: &str = "kubectl-modeldeploy";

/// A request made at `now`. The id is the time in milliseconds: unique enough for people, who
/// do not make two requests of one ModelDeployment within a millisecond, and readable.
pub fn new_request(
    action: RequestAction,
    to_revision: Option<&str>,
    now: jiff::Timestamp,
) -> RolloutRequest {
    RolloutRequest {
        id: now.as_millisecond().to_string(),
        action,
        to_revision: to_revision.map(str::to_owned),
    }
}

/// The JSON merge patch that sets the request annotation and touches nothing else; above all
/// not the spec, which belongs to whoever applies the manifest (often a GitOps tool).
pub fn annotation_patch(request: &RolloutRequest) -> Result<serde_json::Value, Error> {
    let value = serde_json::to_string(request).map_err(|source| Error::Json {
        what: "the request",
        source,
    })?;
    Ok(json!({ "metadata": { "annotations": { REQUEST_ANNOTATION: value } } }))
}

/// What the watched object says about `request`.
#[derive(Debug, PartialEq)]
pub enum Answer<'a> {
    /// The operator has not got to it yet.
    Pending,
    /// The operator answered.
    Answered(&'a RequestStatus),
    /// Someone wrote another request over this one before the operator read it, so this one
    /// will never be answered.
    Replaced { by: String },
}

/// Reads the answer to `request` from the object as it is now.
pub fn answer<'a>(deployment: &'a ModelDeployment, request: &RolloutRequest) -> Answer<'a> {
    let last = deployment
        .status
        .as_ref()
        .and_then(|status| status.last_request.as_ref());
    if let Some(last) = last.filter(|last| last.id == request.id) {
        return Answer::Answered(last);
    }
    let written = deployment
        .metadata
        .annotations
        .as_ref()
        .and_then(RolloutRequest::from_annotations);
    match written {
        Some(Ok(other)) if other.id != request.id => Answer::Replaced { by: other.id },
        _ => Answer::Pending,
    }
}

/// Runs a request command: writes the request, waits for the answer and prints it. A refusal
/// is an error, so that the plugin exits 1 and scripts stop.
pub async fn run(
    client: kube::Client,
    namespace: &str,
    command: &RequestCommand,
    output: Output,
) -> Result<(), Error> {
    let target = command.target();
    let api: Api<ModelDeployment> = Api::namespaced(client, namespace);
    let request = new_request(
        command.action(),
        command.to_revision(),
        jiff::Timestamp::now(),
    );
    let answer = send(&api, namespace, &target.name, &request, target.timeout).await?;
    match output {
        Output::Json => stdout::write_json(&answer, "the answer")?,
        Output::Text if answer.accepted => {
            stdout::write(&format!("{} accepted: {}\n", answer.action, answer.message))?;
        }
        Output::Text => {}
    }
    if answer.accepted {
        Ok(())
    } else {
        Err(Error::Refused {
            action: answer.action,
            message: answer.message,
        })
    }
}

/// Writes `request` and waits up to `timeout` for the operator's answer.
pub async fn send(
    api: &Api<ModelDeployment>,
    namespace: &str,
    name: &str,
    request: &RolloutRequest,
    timeout: Duration,
) -> Result<RequestStatus, Error> {
    let patch = annotation_patch(request)?;
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    api.patch(name, &params, &Patch::Merge(&patch))
        .await
        .map_err(|source| Error::from_kube("write a request to", name, namespace, source))?;
    tokio::time::timeout(timeout, wait_for_answer(api, namespace, name, request))
        .await
        .map_err(|_| Error::Timeout { after: timeout })?
}

/// Watches the one object until the operator records its answer. The watch starts with a
/// list, so an answer written before the watch began is seen too.
async fn wait_for_answer(
    api: &Api<ModelDeployment>,
    namespace: &str,
    name: &str,
    request: &RolloutRequest,
) -> Result<RequestStatus, Error> {
    let watch_error = |source| Error::Watch {
        target: target(name, namespace),
        source,
    };
    let mut updates = pin!(watch_object(api.clone(), name));
    while let Some(update) = updates.try_next().await.map_err(watch_error)? {
        let Some(deployment) = update else {
            return Err(Error::NotFound {
                name: name.to_owned(),
                namespace: namespace.to_owned(),
            });
        };
        match answer(&deployment, request) {
            Answer::Pending => {}
            Answer::Answered(status) => return Ok(status.clone()),
            Answer::Replaced { by } => {
                return Err(Error::Replaced {
                    name: name.to_owned(),
                    ours: request.id.clone(),
                    theirs: by,
                });
            }
        }
    }
    // A watcher restarts its watch by itself and never ends; treat an end like silence.
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use modeldeploy_api::v1alpha1::ModelDeploymentStatus;

    use super::*;
    use crate::testing::deployment;

    const NOW: jiff::Timestamp = jiff::Timestamp::constant(1_764_500_000, 123_000_000);

    fn annotation_value(patch: &serde_json::Value) -> Option<&str> {
        patch
            .pointer("/metadata/annotations")?
            .get(REQUEST_ANNOTATION)?
            .as_str()
    }

    #[test]
    fn each_action_is_written_as_the_annotation_the_operator_reads()
    -> Result<(), Box<dyn std::error::Error>> {
        let cases = [
            (RequestAction::Promote, "promote"),
            (RequestAction::PromoteFull, "promoteFull"),
            (RequestAction::Abort, "abort"),
            (RequestAction::Pause, "pause"),
            (RequestAction::Resume, "resume"),
            (RequestAction::Retry, "retry"),
            (RequestAction::Undo, "undo"),
        ];
        for (action, wire) in cases {
            let request = new_request(action, None, NOW);
            assert_eq!(request.id, "1764500000123");
            let patch = annotation_patch(&request)?;

            // Nothing but the one annotation: the spec and other annotations stay untouched.
            let expected_value = format!(r#"{{"id":"1764500000123","action":"{wire}"}}"#);
            assert_eq!(
                patch,
                json!({ "metadata": { "annotations": {
                    "modeldeploy.io/request": expected_value,
                } } })
            );

            // The operator reads it back with the API's own parser.
            let value = annotation_value(&patch).ok_or("no annotation in the patch")?;
            let annotations = BTreeMap::from([(REQUEST_ANNOTATION.to_owned(), value.to_owned())]);
            assert_eq!(
                RolloutRequest::from_annotations(&annotations),
                Some(Ok(request))
            );
        }
        Ok(())
    }

    fn with_request(written: Option<&str>, last: Option<(&str, bool)>) -> ModelDeployment {
        let mut deployment = deployment("iris", "ml");
        if let Some(id) = written {
            deployment.metadata.annotations = Some(BTreeMap::from([(
                REQUEST_ANNOTATION.to_owned(),
                format!(r#"{{"id":"{id}","action":"promote"}}"#),
            )]));
        }
        deployment.status = Some(ModelDeploymentStatus {
            last_request: last.map(|(id, accepted)| RequestStatus {
                id: id.to_owned(),
                action: "promote".to_owned(),
                accepted,
                message: format!("answer to {id}"),
            }),
            ..ModelDeploymentStatus::default()
        });
        deployment
    }

    #[test]
    fn waits_until_the_operator_answers_this_very_request() {
        let request = new_request(RequestAction::Promote, None, NOW);
        let id = request.id.as_str();

        // Written, and the last answer is to an older request.
        let pending = with_request(Some(id), Some(("1", true)));
        assert_eq!(answer(&pending, &request), Answer::Pending);

        let accepted = with_request(Some(id), Some((id, true)));
        assert!(matches!(
            answer(&accepted, &request),
            Answer::Answered(status) if status.accepted && status.message == format!("answer to {id}")
        ));

        let refused = with_request(Some(id), Some((id, false)));
        assert!(matches!(
            answer(&refused, &request),
            Answer::Answered(status) if !status.accepted
        ));
    }

    #[test]
    fn notices_a_request_written_over_this_one() {
        let request = new_request(RequestAction::Abort, None, NOW);
        let overwritten = with_request(Some("1764500000999"), Some(("1", true)));
        assert_eq!(
            answer(&overwritten, &request),
            Answer::Replaced {
                by: "1764500000999".to_owned()
            }
        );
        // The operator answered ours before the other arrived: the answer wins.
        let answered_then_overwritten =
            with_request(Some("1764500000999"), Some((&request.id, true)));
        assert!(matches!(
            answer(&answered_then_overwritten, &request),
            Answer::Answered(_)
        ));
    }
}
