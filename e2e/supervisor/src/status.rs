//! The pod status the supervisor reports, as a strategic-merge patch of `pods/status`: what a
//! kubelet would say about the process it runs.

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::pod::ServedPod;

/// What the process is doing now.
#[derive(Clone, Debug, PartialEq)]
pub enum ProcessState {
    /// Running since the time given; `ready` is the last readiness check.
    Running { since: Timestamp, ready: bool },
    /// Exited; waiting `CrashLoopBackOff` before the next start.
    BackingOff {
        exit_code: i32,
        started: Timestamp,
        finished: Timestamp,
    },
    /// Could not be started at all (e.g. the server binary is missing).
    Failed { message: String },
}

impl ProcessState {
    pub fn ready(&self) -> bool {
        matches!(self, ProcessState::Running { ready: true, .. })
    }
}

/// The patch for `pod` in `state` after `restarts` restarts; `now` stamps changed conditions.
pub fn patch(pod: &ServedPod, state: &ProcessState, restarts: i32, now: Timestamp) -> Value {
    let ready = state.ready();
    let condition = |kind: &str| {
        json!({
            "type": kind,
            "status": if ready { "True" } else { "False" },
            "lastTransitionTime": now.to_string(),
            "reason": if ready { Value::Null } else { json!("ContainersNotReady") },
        })
    };
    let (container_state, last_state) = match state {
        ProcessState::Running { since, .. } => (
            json!({"running": {"startedAt": since.to_string()}}),
            Value::Null,
        ),
        ProcessState::BackingOff {
            exit_code,
            started,
            finished,
        } => (
            json!({"waiting": {
                "reason": "CrashLoopBackOff",
                "message": format!("the model server exited with code {exit_code}; restarting after a back-off"),
            }}),
            json!({"terminated": {
                "exitCode": exit_code,
                "reason": "Error",
                "startedAt": started.to_string(),
                "finishedAt": finished.to_string(),
            }}),
        ),
        ProcessState::Failed { message } => (
            json!({"waiting": {"reason": "RunContainerError", "message": message}}),
            Value::Null,
        ),
    };
    let mut statuses = vec![json!({
        "name": pod.container,
        "image": pod.image,
        "imageID": "",
        "ready": ready,
        "started": matches!(state, ProcessState::Running { .. }),
        "restartCount": restarts,
        "state": container_state,
        "lastState": if last_state.is_null() { json!({}) } else { last_state },
    })];
    statuses.extend(pod.other_containers.iter().map(|(name, image)| {
        json!({
            "name": name, "image": image, "imageID": "", "ready": true, "started": true,
            "restartCount": 0, "state": {"running": {"startedAt": now.to_string()}},
        })
    }));
    json!({"status": {
        "conditions": [condition("Ready"), condition("ContainersReady")],
        "containerStatuses": statuses,
    }})
}

/// Where one init container stands.
#[derive(Clone, Debug, PartialEq)]
pub enum InitState {
    Waiting {
        reason: String,
        message: String,
    },
    Running {
        since: Timestamp,
    },
    Completed {
        started: Timestamp,
        finished: Timestamp,
    },
}

/// One init container's status: its state, restarts and last failure.
#[derive(Clone, Debug, PartialEq)]
pub struct InitStatus {
    pub name: String,
    pub image: String,
    pub state: InitState,
    pub restarts: i32,
    /// Exit code and termination message of its last failed run.
    pub last_failure: Option<(i32, String, Timestamp, Timestamp)>,
}

/// The patch while init containers run: not initialized (nor ready) until all completed.
pub fn init_patch(statuses: &[InitStatus], now: Timestamp) -> Value {
    let done = statuses
        .iter()
        .all(|s| matches!(s.state, InitState::Completed { .. }));
    let condition = |kind: &str, status: bool, reason: &str| {
        json!({
            "type": kind,
            "status": if status { "True" } else { "False" },
            "lastTransitionTime": now.to_string(),
            "reason": if status { Value::Null } else { json!(reason) },
        })
    };
    let statuses: Vec<Value> = statuses
        .iter()
        .map(|s| {
            let state = match &s.state {
                InitState::Waiting { reason, message } => {
                    json!({"waiting": {"reason": reason, "message": message}})
                }
                InitState::Running { since } => {
                    json!({"running": {"startedAt": since.to_string()}})
                }
                InitState::Completed { started, finished } => json!({"terminated": {
                    "exitCode": 0, "reason": "Completed",
                    "startedAt": started.to_string(), "finishedAt": finished.to_string(),
                }}),
            };
            let last =
                s.last_failure
                    .as_ref()
                    .map_or(json!({}), |(code, message, started, finished)| {
                        json!({"terminated": {
                            "exitCode": code, "reason": "Error", "message": message,
                            "startedAt": started.to_string(), "finishedAt": finished.to_string(),
                        }})
                    });
            json!({
                "name": s.name, "image": s.image, "imageID": "",
                "ready": matches!(s.state, InitState::Completed { .. }),
                "restartCount": s.restarts, "state": state, "lastState": last,
            })
        })
        .collect();
    let mut conditions = vec![condition("Initialized", done, "ContainersNotInitialized")];
    if !done {
        conditions.push(condition("Ready", false, "ContainersNotInitialized"));
        conditions.push(condition(
            "ContainersReady",
            false,
            "ContainersNotInitialized",
        ));
    }
    json!({"status": {"conditions": conditions, "initContainerStatuses": statuses}})
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pod() -> ServedPod {
        crate::pod::fixture()
    }

    fn now() -> Timestamp {
        "2026-11-30T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_ready_process_makes_the_pod_ready() {
        let state = ProcessState::Running {
            since: now(),
            ready: true,
        };
        let patch = patch(&pod(), &state, 0, now());
        assert_eq!(patch["status"]["conditions"][0]["type"], "Ready");
        assert_eq!(patch["status"]["conditions"][0]["status"], "True");
        assert_eq!(patch["status"]["containerStatuses"][0]["ready"], true);
    }

    #[test]
    fn an_exited_process_shows_crash_loop_back_off_with_its_exit_code() {
        let state = ProcessState::BackingOff {
            exit_code: 3,
            started: now(),
            finished: now(),
        };
        let patch = patch(&pod(), &state, 2, now());
        let status = &patch["status"]["containerStatuses"][0];
        assert_eq!(patch["status"]["conditions"][0]["status"], "False");
        assert_eq!(status["state"]["waiting"]["reason"], "CrashLoopBackOff");
        assert_eq!(status["lastState"]["terminated"]["exitCode"], 3);
        assert_eq!(status["restartCount"], 2);
    }
}
