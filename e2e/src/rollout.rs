//! Reading and steering rollouts from tests: requests as `kubectl modeldeploy` makes them, and
//! waits on the recorded progress.

use std::time::Duration;

use kube::Api;
use kube::api::{Patch, PatchParams};
use modeldeploy_api::v1alpha1::{
    ModelDeployment, ModelDeploymentStatus, REQUEST_ANNOTATION, RequestAction, RolloutRequest,
};
use serde_json::json;

use crate::until_object;

/// Asks the operator for `action` the way the plugin does (an annotation, never the spec), and
/// waits until the operator has answered. Returns the answer.
pub async fn request(
    api: &Api<ModelDeployment>,
    name: &str,
    action: RequestAction,
    timeout: Duration,
) -> modeldeploy_api::v1alpha1::RequestStatus {
    let id = format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let value = serde_json::to_string(&RolloutRequest {
        id: id.clone(),
        action,
        to_revision: None,
    })
    .unwrap();
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {REQUEST_ANNOTATION: value}}})),
    )
    .await
    .unwrap();
    let answered = until_object(
        api,
        name,
        timeout,
        &format!("the operator answers request {id} ({action:?})"),
        |md| last_request_id(md.status.as_ref()) == Some(id.as_str()),
    )
    .await;
    answered.status.unwrap().last_request.unwrap()
}

fn last_request_id(status: Option<&ModelDeploymentStatus>) -> Option<&str> {
    status?.last_request.as_ref().map(|r| r.id.as_str())
}

/// Waits until the rollout of `name` satisfies `condition`, and returns its status.
pub async fn until_status(
    api: &Api<ModelDeployment>,
    name: &str,
    timeout: Duration,
    description: &str,
    condition: impl Fn(&ModelDeploymentStatus) -> bool,
) -> ModelDeploymentStatus {
    until_object(api, name, timeout, description, |md| {
        md.status.as_ref().is_some_and(&condition)
    })
    .await
    .status
    .unwrap()
}

/// The weight `status.traffic` reports for `revision`.
pub fn reported_weight(status: &ModelDeploymentStatus, revision: &str) -> i32 {
    status
        .traffic
        .iter()
        .filter(|t| t.revision == revision)
        .map(|t| t.weight)
        .sum()
}
