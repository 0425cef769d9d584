//! What keeps a revision's pods from running, in the cluster's own words: an image that cannot
//! be pulled, a crashing init container or server, a pod no node can take, a pod the API server
//! refused to create. These need a person; the ModelDeployment says so at once instead of
//! waiting for the progress deadline.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

/// Why a revision's pods do not run, with the pod's reason and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodProblem {
    /// The reason Kubernetes gives, e.g. `ImagePullBackOff`, `Unschedulable`, `FailedCreate`.
    pub reason: &'static str,
    /// Which pod and container, and what Kubernetes says.
    pub message: String,
}

/// Waiting reasons that do not clear without a change: a person has to act.
const STUCK: &[&str] = &[
    "CrashLoopBackOff",
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// The first problem of `deployment` and its `pods` (in name order), if any.
pub fn problem<'a>(
    deployment: &Deployment,
    pods: impl IntoIterator<Item = &'a Pod>,
) -> Option<PodProblem> {
    let refused = deployment
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.type_ == "ReplicaFailure" && c.status == "True")
        });
    if let Some(condition) = refused {
        return Some(PodProblem {
            // The ReplicaSet controller's reason for a refused pod is always FailedCreate.
            reason: "FailedCreate",
            message: format!(
                "pods cannot be created: {}",
                condition.message.as_deref().unwrap_or_default()
            ),
        });
    }
    let mut pods: Vec<&Pod> = pods
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    pods.into_iter().find_map(pod_problem)
}

fn pod_problem(pod: &Pod) -> Option<PodProblem> {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let status = pod.status.as_ref()?;
    let stuck = |kind: &str, statuses: Option<&Vec<ContainerStatus>>| {
        statuses?.iter().find_map(|c| {
            let waiting = c.state.as_ref()?.waiting.as_ref()?;
            let reason = STUCK
                .iter()
                .copied()
                .find(|stuck| waiting.reason.as_deref() == Some(*stuck))?;
            Some({
                let said = waiting.message.as_deref().unwrap_or_default();
                let last = c
                    .last_state
                    .as_ref()
                    .and_then(|s| s.terminated.as_ref())
                    .map(|t| match t.message.as_deref().map(str::trim) {
                        Some(message) if !message.is_empty() => {
                            format!("exited with code {}: {message}", t.exit_code)
                        }
                        _ => format!("exited with code {}", t.exit_code),
                    });
                let detail = [Some(said.to_owned()), last]
                    .into_iter()
                    .flatten()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join("; ");
                PodProblem {
                    reason,
                    message: format!("pod {name}: {kind} {}: {reason}: {detail}", c.name),
                }
            })
        })
    };
    if let Some(problem) = stuck("init container", status.init_container_statuses.as_ref()) {
        return Some(problem);
    }
    if let Some(problem) = stuck("container", status.container_statuses.as_ref()) {
        return Some(problem);
    }
    status.conditions.as_ref()?.iter().find_map(|c| {
        (c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable"))
        .then(|| PodProblem {
            reason: "Unschedulable",
            message: format!(
                "pod {name} cannot be scheduled: {}",
                c.message.as_deref().unwrap_or_default()
            ),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "iris-abc-1"}, "status": status}))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn deployment(conditions: serde_json::Value) -> Deployment {
        serde_json::from_value(
            json!({"metadata": {"name": "iris-abc"}, "status": {"conditions": conditions}}),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn each_stuck_pod_is_named_with_its_own_reason() {
        let none = deployment(json!([]));
        let cases = [
            (
                json!({"containerStatuses": [{"name": "model-server", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                    "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"x\""}}}]}),
                "ImagePullBackOff",
                "pod iris-abc-1: container model-server: ImagePullBackOff: Back-off pulling image \"x\"",
            ),
            (
                json!({"initContainerStatuses": [{"name": "storage-initializer", "image": "y", "imageID": "", "ready": false, "restartCount": 2,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 1, "message": "s3://models/iris: not found"}}}]}),
                "CrashLoopBackOff",
                "pod iris-abc-1: init container storage-initializer: CrashLoopBackOff: exited with code 1: s3://models/iris: not found",
            ),
            (
                json!({"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "message": "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."}]}),
                "Unschedulable",
                "pod iris-abc-1 cannot be scheduled: 0/1 nodes are available: 1 Insufficient nvidia.com/gpu.",
            ),
        ];
        for (status, reason, message) in cases {
            let found = problem(&none, [&pod(status)]);
            assert_eq!(
                found,
                Some(PodProblem {
                    reason,
                    message: message.into()
                })
            );
        }
    }

    #[test]
    fn a_refused_pod_creation_comes_from_the_deployment() {
        let refused = deployment(
            json!([{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
            "message": "pods \"iris-abc-1\" is forbidden: violates PodSecurity \"restricted:latest\""}]),
        );
        let found = problem(&refused, []).map(|p| p.reason);
        assert_eq!(found, Some("FailedCreate"));
    }

    #[test]
    fn pods_starting_or_running_are_no_problem() {
        let none = deployment(json!([]));
        let starting = pod(
            json!({"containerStatuses": [{"name": "m", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
        );
        let running = pod(json!({"conditions": [{"type": "PodScheduled", "status": "True"}]}));
        assert_eq!(problem(&none, [&starting, &running]), None);
    }
}
