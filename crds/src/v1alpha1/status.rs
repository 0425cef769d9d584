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

    /// Model version of the stable revision: what users are served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving_model_version: Option<String>,

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

    /// The revision that receives a copy of requests, and the share copied. Its answers never
    /// reach clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<MirrorTarget>,

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

    /// What `model.registry` resolved to and is pinned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<RegistryStatus>,

    /// Set by `kubectl modeldeploy undo`: an earlier revision serves instead of the spec's, until
    /// the spec changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<UndoStatus>,

    /// Revisions whose pod templates are kept, newest first, for `undo` and to rebuild a
    /// Deployment deleted by hand. At most `revisionHistoryLimit`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryEntry>,

    /// The last request made with `kubectl modeldeploy` (promote, abort, pause, resume, retry,
    /// undo) and what the operator did with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_request: Option<RequestStatus>,
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
    /// The new revision is being scaled to full size and given all traffic.
    Promoting,
    /// Traffic is going back to the stable revision.
    RollingBack,
    /// The rollout was aborted; the stable revision serves. Retry, or change the spec.
    Aborted,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Progressing => "Progressing",
            Phase::Paused => "Paused",
            Phase::Healthy => "Healthy",
            Phase::Degraded => "Degraded",
            Phase::Promoting => "Promoting",
            Phase::RollingBack => "RollingBack",
            Phase::Aborted => "Aborted",
        }
    }
}

/// Progress of a rollout: enough to resume it exactly after an operator restart.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStatus {
    /// The revision being rolled out.
    pub revision: String,
    /// Model version of that revision.
    pub model_version: String,
    /// When the rollout started; the progress deadline counts from here.
    pub started_at: Time,
    /// The strategy that runs the rollout: `replace`, `blueGreen`, `canary`, `shadow` or `abTest`.
    #[serde(default)]
    pub strategy: String,
    /// Which part of the rollout runs.
    #[serde(default)]
    pub stage: RolloutStage,
    /// Index of the current step, from 0. Equal to `stepCount` once every step is done.
    #[serde(default)]
    pub step_index: i32,
    /// Number of steps of the strategy.
    #[serde(default)]
    pub step_count: i32,
    /// Every step of the strategy, for people, e.g. `setWeight 20`, `pause 300s`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    /// The current step for people, e.g. `2/5 setWeight 20`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// When the current step started; timed pauses count from here, across restarts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_started_at: Option<Time>,
    /// Why the rollout waits, if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<PauseStatus>,
    /// Set by `kubectl modeldeploy pause`; cleared by `resume`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused_by_user: bool,
    /// Why the rollout is being aborted or was aborted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_reason: Option<String>,
    /// The analyses of this rollout so far, with their measurements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub analysis: Vec<super::AnalysisRunStatus>,
    /// The A/B test's decision so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<super::DecisionStatus>,
}

/// The part of a rollout that runs.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum RolloutStage {
    /// Walking the strategy's steps.
    #[default]
    Steps,
    /// Scaling the new revision to full size, then giving it all traffic.
    Promoting,
    /// Moving all traffic back to the stable revision.
    Aborting,
    /// Traffic is back on the stable revision; the new revision's pods are removed after the
    /// abort delay.
    Aborted,
}

/// Why a rollout waits.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PauseStatus {
    pub reason: PauseReason,
    /// When a timed pause ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Time>,
}

/// The kind of wait.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum PauseReason {
    /// A pause step with a duration.
    Timed,
    /// A pause step without a duration: `kubectl modeldeploy promote` continues.
    Indefinite,
    /// Automatic promotion is off: `kubectl modeldeploy promote` promotes.
    AwaitingPromotion,
    /// `kubectl modeldeploy pause`: `resume` continues.
    ByUser,
    /// An analysis failed and its `onFailure` is `Pause`: `promote` skips the gate, `resume`
    /// measures again, `abort` rolls back.
    AnalysisFailed,
    /// An analysis was inconclusive past its limit: `promote` skips the gate, `resume` measures
    /// again, `abort` rolls back.
    AnalysisInconclusive,
    /// An analysis could not measure past its error limit: `promote` skips the gate, `resume`
    /// measures again, `abort` rolls back.
    AnalysisError,
}

impl PauseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            PauseReason::Timed => "Timed",
            PauseReason::Indefinite => "Indefinite",
            PauseReason::AwaitingPromotion => "AwaitingPromotion",
            PauseReason::ByUser => "ByUser",
            PauseReason::AnalysisFailed => "AnalysisFailed",
            PauseReason::AnalysisInconclusive => "AnalysisInconclusive",
            PauseReason::AnalysisError => "AnalysisError",
        }
    }
}

/// An undo in force.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UndoStatus {
    /// The revision that serves instead of the spec's.
    pub revision: String,
    pub model_version: String,
    /// The spec's revision when the undo was asked for; a spec that describes another revision
    /// ends the undo.
    pub spec_revision: String,
}

/// A revision whose pod template is kept.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// Increases by one with each new revision.
    pub number: i64,
    pub revision: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
}

/// A request made with `kubectl modeldeploy` and its outcome.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestStatus {
    /// The request's id, as written in the `modeldeploy.io/request` annotation.
    pub id: String,
    /// `promote`, `promoteFull`, `abort`, `pause`, `resume`, `retry` or `undo`.
    pub action: String,
    /// Whether the operator acted on it.
    pub accepted: bool,
    /// What happened, for people.
    pub message: String,
}

/// A copy of requests sent to a revision.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MirrorTarget {
    pub revision: String,
    /// Percent of requests copied, 1-100.
    pub percent: i32,
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

/// A registry reference, resolved and pinned.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistryStatus {
    /// The reference as resolved, e.g. `fraud@champion` or `fraud/3`.
    pub reference: String,
    /// The pinned version: the one deployed.
    pub version: String,
    /// Where the pinned version's artifacts are, as the storage initializer fetches them.
    pub source: String,
    /// A newer version the alias points at that is not rolled out (`followAlias` is off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<String>,
    /// `reference=version`, with `(N available)` when there is a newer version, for `kubectl get`.
    pub pinned: String,
    /// When the reference was last resolved.
    pub resolved_at: Time,
}
