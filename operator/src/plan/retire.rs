//! Retirement: revisions that no longer run lose their pods. One that served as stable keeps them
//! for `scaleDownDelaySeconds`, so in-flight requests finish; a candidate that received traffic
//! keeps them for the abort delay; one that never served goes at once. The time is recorded, so
//! a restart neither shortens nor restarts the wait.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use modeldeploy_api::v1alpha1::RetiredRevision;

use super::Input;
use super::engine::Decision;
use super::time::{add, until};

pub(super) struct Retirement {
    pub delete: Vec<String>,
    pub retired: Vec<RetiredRevision>,
    pub wake: Option<Duration>,
}

pub(super) fn retire(input: &Input<'_>, decision: &Decision) -> Retirement {
    let runs = |name: &str| decision.run.iter().any(|r| r.revision == name);
    let mut out = Retirement {
        delete: Vec::new(),
        retired: Vec::new(),
        wake: None,
    };
    for name in input.observed.revisions.keys().filter(|name| !runs(name)) {
        let recorded = input
            .status
            .retired_revisions
            .iter()
            .find(|r| &r.name == name);
        let was_stable = input.status.stable_revision.as_deref() == Some(name.as_str());
        let was_candidate = input
            .status
            .rollout
            .as_ref()
            .is_some_and(|r| &r.revision == name)
            || input
                .observed
                .traffic
                .as_ref()
                .and_then(|t| t.candidate.as_ref())
                .is_some_and(|c| &c.revision == name);
        // A revision the recorded status no longer lists was already due for deletion when the
        // last plan was recorded; the deletion itself did not happen (the operator stopped).
        let dropped = recorded.is_none()
            && !input.status.revisions.is_empty()
            && !input.status.revisions.iter().any(|r| &r.name == name);
        let scale_down_at = match recorded {
            Some(r) => r.scale_down_at.0,
            None if dropped => input.now,
            None if was_stable => add(input.now, input.spec.scale_down_delay()),
            None if was_candidate => add(input.now, input.spec.abort_scale_down_delay()),
            None => input.now,
        };
        if scale_down_at <= input.now {
            out.delete.push(name.clone());
        } else {
            let wait = until(input.now, scale_down_at);
            out.wake = Some(out.wake.map_or(wait, |w| w.min(wait)));
            out.retired.push(RetiredRevision {
                name: name.clone(),
                scale_down_at: Time(scale_down_at),
            });
        }
    }
    out
}
