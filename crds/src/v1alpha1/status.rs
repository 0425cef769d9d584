use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What the operator observed and decided. Every piece of rollout progress lives here, so a
/// restarted operator resumes exactly where the last one stopped.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelDeploymentStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Where the rollout stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,

    /// The revision that serves traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_revision: Option<String>,

    /// The revision being rolled out, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_revision: Option<String>,

    /// Progress of the rollout of `candidateRevision`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutStatus>,

    /// Desired replicas of the stable revision.
    #[serde(default)]
    pub replicas: i32,

    /// Ready replicas of the stable revision.
    #[serde(default)]
    pub ready_replicas: i32,

    /// `readyReplicas/replicas`, for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<String>,

    /// Every revision that has pods, with its model version and replicas.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<RevisionStatus>,

    /// Share of traffic each revision receives.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traffic: Vec<TrafficTarget>,

    /// `traffic` in one line, for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_summary: Option<String>,

    /// Revisions that no longer take traffic and the time their pods are removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired_revisions: Vec<RetiredRevision>,

    /// `Ready`, `Progressing` and `Degraded`, following Kubernetes conventions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,

    /// What is happening, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Where a rollout stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Phase {
    /// The first revision is starting; nothing serves yet.
    Pending,
    /// A new revision is being rolled out.
    Progressing,
    /// The rollout waits for a person.
    Paused,
    /// The stable revision serves all traffic with all its replicas ready.
    Healthy,
    /// Something needs attention: see `message` and the `Degraded` condition.
    Degraded,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Progressing => "Progressing",
            Phase::Paused => "Paused",
            Phase::Healthy => "Healthy",
            Phase::Degraded => "Degraded",
        }
    }
}

/// Progress of a rollout.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStatus {
    /// The revision being rolled out.
    pub revision: String,
    /// Model version of that revision.
    pub model_version: String,
    /// When the rollout started; the progress deadline counts from here.
    pub started_at: Time,
}

/// A revision with pods.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevisionStatus {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    pub replicas: i32,
    pub ready_replicas: i32,
}

/// A share of traffic.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrafficTarget {
    pub revision: String,
    /// Percent of requests, 0-100.
    pub weight: i32,
}

/// A revision whose pods are removed at `scaleDownAt`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetiredRevision {
    pub name: String,
    pub scale_down_at: Time,
}
