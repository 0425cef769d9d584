//! Planning: the pure core of the operator.
//!
//! Given the spec, the last status, what exists in the cluster and the time, [`plan`] decides
//! which revisions run, which one the Service selects, which revisions are removed, the next
//! status and the events to publish. It takes no client and does no I/O, so every rollout
//! decision is a table test away.

mod conditions;
mod replace;
mod summary;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use modeldeploy_api::v1alpha1::{ModelDeploymentSpec, ModelDeploymentStatus, StrategyKind};

pub use conditions::{CONDITION_DEGRADED, CONDITION_PROGRESSING, CONDITION_READY};

/// A revision's Deployment as observed in the cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedRevision {
    pub model_version: Option<String>,
    /// `spec.replicas` of the Deployment.
    pub replicas: i32,
    pub ready_replicas: i32,
    pub available_replicas: i32,
    pub updated_replicas: i32,
    /// Whether the Deployment controller has seen the Deployment's latest spec.
    pub observed_latest: bool,
}

impl ObservedRevision {
    /// All desired replicas run the latest template and are available.
    pub fn is_available(&self) -> bool {
        self.observed_latest
            && self.updated_replicas >= self.replicas
            && self.available_replicas >= self.replicas
    }
}

/// What exists in the cluster for one ModelDeployment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// Revisions that have a Deployment, by revision.
    pub revisions: BTreeMap<String, ObservedRevision>,
    /// The revision the Service currently selects, if the Service exists.
    pub service_revision: Option<String>,
}

/// Everything a plan is made from.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    pub spec: &'a ModelDeploymentSpec,
    pub generation: Option<i64>,
    pub status: &'a ModelDeploymentStatus,
    /// The revision the spec describes.
    pub revision: &'a str,
    pub observed: &'a Observed,
    pub now: Timestamp,
}

/// A revision that must run, with its replicas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRevision {
    pub revision: String,
    pub replicas: i32,
}

/// An event to publish once the plan is carried out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedEvent {
    pub warning: bool,
    /// UpperCamelCase, machine-readable.
    pub reason: &'static str,
    /// The action taken, e.g. `Scale`, `SwitchTraffic`.
    pub action: &'static str,
    /// The revision the event is about; its Deployment becomes the event's related object, which
    /// also keeps events of different revisions from being merged into one series.
    pub revision: String,
    pub note: String,
}

/// What the operator does next.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The revision rendered from the current spec and applied. `None` when the spec's revision
    /// must not start yet.
    pub run: Option<RunRevision>,
    /// The revision the Service selects.
    pub service_revision: Option<String>,
    /// Revisions whose Deployments are deleted.
    pub delete: Vec<String>,
    pub status: ModelDeploymentStatus,
    pub events: Vec<PlannedEvent>,
    /// When to look again even if nothing changes, e.g. when a scale-down delay ends.
    pub requeue_after: Option<Duration>,
}

/// Decides the next step for one ModelDeployment.
pub fn plan(input: Input<'_>) -> Plan {
    let kind = input
        .spec
        .strategy
        .as_ref()
        .map_or(StrategyKind::Replace, |strategy| strategy.kind());
    replace::plan(input, kind)
}

/// The status to show when carrying out a plan failed: the last status, unchanged in what it
/// says about revisions and traffic (none of the plan is known to have happened), with the
/// failure in `Degraded` and `message`, so that `kubectl get` tells what went wrong.
pub fn failed(
    status: &ModelDeploymentStatus,
    generation: Option<i64>,
    reason: &'static str,
    error: &str,
    now: Timestamp,
) -> ModelDeploymentStatus {
    let message = format!("cannot carry out the rollout: {error}");
    let degraded = conditions::Wanted::new(CONDITION_DEGRADED, true, reason, message.clone());
    let mut kept: Vec<_> = status
        .conditions
        .iter()
        .filter(|c| c.type_ != CONDITION_DEGRADED)
        .cloned()
        .collect();
    kept.extend(conditions::merge(
        &status.conditions,
        &[degraded],
        generation,
        now,
    ));
    ModelDeploymentStatus {
        phase: Some(modeldeploy_api::v1alpha1::Phase::Degraded),
        conditions: kept,
        message: Some(message),
        ..status.clone()
    }
}
