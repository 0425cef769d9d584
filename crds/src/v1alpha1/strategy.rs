use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AnalysisSpec, Duration};

/// How a new revision replaces the stable one. Set exactly one strategy; leave `strategy` out to
/// replace the stable revision at once when the new one is ready.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.blueGreen) ? 1 : 0) + (has(self.canary) ? 1 : 0) + (has(self.shadow) ? 1 : 0) + (has(self.abTest) ? 1 : 0) == 1")
    .message("strategy must set exactly one of blueGreen, canary, shadow or abTest; remove the others, or remove strategy to replace revisions at once"))]
pub struct StrategySpec {
    /// Bring the new revision up beside the stable one, test it, then switch all traffic at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blue_green: Option<BlueGreenStrategy>,
    /// Shift traffic to the new revision step by step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryStrategy>,
    /// Copy live traffic to the new revision, compare its predictions with the stable ones, and
    /// promote when they agree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<ShadowStrategy>,
    /// Split users between the revisions and promote the winner by a sequential test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ab_test: Option<AbTestStrategy>,
}

/// Which strategy a [`StrategySpec`] selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrategyKind {
    Replace,
    BlueGreen,
    Canary,
    Shadow,
    AbTest,
}

impl StrategyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyKind::Replace => "replace",
            StrategyKind::BlueGreen => "blueGreen",
            StrategyKind::Canary => "canary",
            StrategyKind::Shadow => "shadow",
            StrategyKind::AbTest => "abTest",
        }
    }
}

impl StrategySpec {
    /// The selected strategy. Admission guarantees at most one is set.
    pub fn kind(&self) -> StrategyKind {
        if self.blue_green.is_some() {
            StrategyKind::BlueGreen
        } else if self.canary.is_some() {
            StrategyKind::Canary
        } else if self.shadow.is_some() {
            StrategyKind::Shadow
        } else if self.ab_test.is_some() {
            StrategyKind::AbTest
        } else {
            StrategyKind::Replace
        }
    }
}

/// Blue/green: a preview of the new revision, then one switch.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlueGreenStrategy {
    /// Promote without a person once the preview is ready and analysis passes. Default true;
    /// set false to wait for `kubectl modeldeploy promote`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_promotion: Option<bool>,
    /// Wait this long with a ready preview before promoting automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_promotion_after: Option<Duration>,
    /// Replicas of the preview before promotion; `replicas` when unset. Fewer saves GPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub preview_replicas: Option<i32>,
    /// Analysis of the preview that must pass before the switch. An `autoPromotionAfter` timer
    /// starts only once it has passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_promotion_analysis: Option<AnalysisSpec>,
    /// Analysis after the switch; failing it switches traffic back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_promotion_analysis: Option<AnalysisSpec>,
}

/// Canary: traffic moves to the new revision in steps or linearly.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.steps) != has(self.linear)")
    .message("canary needs either steps or linear, not both and not neither, e.g. steps: [{setWeight: 10}, {pause: {duration: 5m}}]"))]
#[x_kube(validation = Rule::new("!has(self.analysisStartingStep) || has(self.analysis)")
    .message("canary.analysisStartingStep needs canary.analysis"))]
pub struct CanaryStrategy {
    /// The steps, in order: `setWeight`, `pause` and `analysis`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(min = 1, max = 64))]
    pub steps: Vec<CanaryStep>,
    /// Shift a fixed weight at a fixed interval instead of listing steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear: Option<LinearShift>,
    /// Background analysis: measured from step `analysisStartingStep` until promotion is
    /// done; failing it rolls back at once, and the rollout never promotes while it is
    /// inconclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisSpec>,
    /// The step (numbered from 1) from which the background analysis measures; from the first
    /// step when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 64))]
    pub analysis_starting_step: Option<i32>,
    /// Analysis once the new revision takes all traffic, while the previous revision still
    /// runs: failing it moves traffic back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_promotion_analysis: Option<AnalysisSpec>,
    /// Shrink the stable revision by as many pods as the new one gets, so that the pods (and
    /// GPUs) in use stay flat during the canary instead of growing by the canary's size.
    /// Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_stable_scale: Option<bool>,
}

/// One canary step. Set exactly one field.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.setWeight) ? 1 : 0) + (has(self.pause) ? 1 : 0) + (has(self.analysis) ? 1 : 0) == 1")
    .message("each canary step sets exactly one of setWeight, pause or analysis, e.g. {setWeight: 20}"))]
pub struct CanaryStep {
    /// Percent of traffic the new revision gets from this step on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 0 && self <= 100").message("setWeight is a percentage: use a value from 0 to 100"))]
    pub set_weight: Option<i32>,
    /// Wait for a duration, or for a person when no duration is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<PauseStep>,
    /// Run an analysis and continue only if it passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisSpec>,
}

/// A pause in a canary.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PauseStep {
    /// How long to wait; wait for `kubectl modeldeploy promote` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
}

/// Linear traffic shifting.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.maxWeight) || self.maxWeight >= self.stepWeight")
    .message("canary.linear.maxWeight must be at least stepWeight"))]
pub struct LinearShift {
    /// Percent added at each interval.
    #[x_kube(validation = Rule::new("self >= 1 && self <= 100").message("canary.linear.stepWeight is a percentage: use a value from 1 to 100"))]
    pub step_weight: i32,
    /// Time between two shifts.
    pub interval: Duration,
    /// Weight at which the canary is promoted; 100 when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 1 && self <= 100").message("canary.linear.maxWeight is a percentage: use a value from 1 to 100"))]
    pub max_weight: Option<i32>,
}

/// Shadow: the new revision sees a copy of live traffic; its answers are compared, not returned.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShadowStrategy {
    /// Percent of requests copied to the new revision. Default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 1 && self <= 100").message("shadow.mirrorPercent is a percentage: use a value from 1 to 100"))]
    pub mirror_percent: Option<i32>,
    /// How long to shadow before deciding.
    pub duration: Duration,
    /// Copy requests of every method, POST included, as inference requests usually are; only
    /// idempotent ones (GET, HEAD, OPTIONS, PUT, DELETE, TRACE) when false, the default, so that
    /// a shadow never repeats a request that changes something. Applies to the model router;
    /// Gateway API and Istio data planes copy every method whatever this says, so it is refused
    /// with them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror_all_methods: Option<bool>,
    /// How closely the new revision's predictions must match the stable ones: the model router
    /// (`traffic.provider: router`) compares each shadow answer with the stable answer to the
    /// same request, and after `duration` the share that agreed must reach `minPercent`
    /// (analysis metric `agreement`). Fewer comparisons than `minSamples`, or none, is
    /// inconclusive and never passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<PredictionAgreement>,
    /// How far the distribution of the new revision's predictions may move from the stable
    /// one's: the model router counts both revisions' answers to the same copied requests by
    /// value, and after `duration` their population stability index must stay within
    /// `maxPsi` (analysis metric `drift`). Needs `traffic.provider: router`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<OutputDrift>,
    /// Checks of the shadow's own metrics (its latency, its errors on the copied requests),
    /// measured after `duration`; they must pass before promotion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisSpec>,
    /// Promote without a person when the checks pass. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_promotion: Option<bool>,
}

/// When two predictions count as the same.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PredictionAgreement {
    /// Lowest share of agreeing predictions, in percent, e.g. 99.
    #[x_kube(validation = Rule::new("self >= 0 && self <= 100").message("shadow.agreement.minPercent is a percentage: use a value from 0 to 100"))]
    pub min_percent: i32,
    /// Numbers closer than this count as equal (a decimal such as `0.001`); exact when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[0-9]+(\\\\.[0-9]+)?$')").message("shadow.agreement.tolerance must be a non-negative decimal such as 0.001"))]
    pub tolerance: Option<String>,
    /// Numbers also count as equal when they differ by at most this share of the larger one
    /// (a decimal such as `0.01` for 1 %), whichever of the two tolerances is wider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[0-9]+(\\\\.[0-9]+)?$')").message("shadow.agreement.relativeTolerance must be a non-negative decimal such as 0.01"))]
    pub relative_tolerance: Option<String>,
    /// For ranked predictions (a list, best first, such as recommended item ids): two answers
    /// agree when their first `k` items share at least `minOverlapPercent` of their items,
    /// whatever the order within them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<TopKOverlap>,
    /// JSONPath of the prediction inside a response, e.g. `$.outputs[0].data`; the whole body when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_path: Option<String>,
    /// Percent of the compared requests also sent to a second stable pod (the same pod when
    /// there is one): how often the stable model disagrees with itself (analysis metric
    /// `agreement-noise`) is subtracted from the shadow's disagreement, so a model that is not
    /// deterministic does not fail an identical candidate. Default 10; 0 turns the noise floor
    /// off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 0 && self <= 100").message("shadow.agreement.noiseSamplePercent is a percentage: use a value from 0 to 100"))]
    pub noise_sample_percent: Option<i32>,
    /// Fewest compared pairs before a decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub min_samples: Option<i32>,
}

/// Overlap of the top of two ranked lists.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TopKOverlap {
    /// How many items from the top of each list are compared.
    #[schemars(range(min = 1, max = 100))]
    pub k: i32,
    /// Lowest share of the `k` items both lists hold, in percent. Default 100 (the same items).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 1 && self <= 100").message("shadow.agreement.topK.minOverlapPercent is a percentage: use a value from 1 to 100"))]
    pub min_overlap_percent: Option<i32>,
}

/// How far the distribution of the new revision's predictions may move from the stable one's,
/// over the same requests.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputDrift {
    /// JSONPath of the prediction inside a response (each item counts when it is a list); the
    /// whole body when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_path: Option<String>,
    /// Upper bounds of the bins of a numeric prediction, ascending (numbers such as `0.5`); a
    /// score counts in the first bin whose bound it does not exceed, or in the last, open one.
    /// When unset, each distinct value (a label) is its own bin, up to 64 of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 63))]
    #[x_kube(validation = Rule::new("self.isSorted()").message("shadow.drift.bins must be in ascending order"))]
    pub bins: Vec<f64>,
    /// Largest population stability index of the new revision's predictions against the
    /// stable ones' (analysis metric `drift`), a decimal such as `0.1`; by convention under 0.1
    /// is no shift and over 0.25 a large one.
    #[x_kube(validation = Rule::new("self.matches('^[0-9]+(\\\\.[0-9]+)?$')").message("shadow.drift.maxPsi must be a non-negative decimal such as 0.1"))]
    pub max_psi: String,
    /// Fewest predictions of each revision before a decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub min_samples: Option<i32>,
}

/// A/B test: users are split between the revisions and the better one wins.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AbTestStrategy {
    /// Percent of users who get the new revision. Default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 1 && self <= 99").message("abTest.weight must leave users on both sides: use a value from 1 to 99"))]
    pub weight: Option<i32>,
    /// Keeps each user on one revision for the whole test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stickiness: Option<Stickiness>,
    /// Requests that always go to the new revision, e.g. internal testers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub matches: Vec<RouteMatch>,
    /// Longest the test may run before it ends without a winner (see `decision.onInconclusive`).
    pub max_duration: Duration,
    /// Guard-rail checks measured for the whole test: failing one rolls back at once, and an
    /// inconclusive one holds the test for a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisSpec>,
    /// Chooses the winner by a sequential test: the candidate is promoted when it is better,
    /// rolled back when it is worse. Without it a person ends the test with promote or abort.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Box<super::AbDecision>>,
}

/// What identifies a user. Set exactly one field.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.header) != has(self.cookie)")
    .message("abTest.stickiness sets exactly one of header or cookie, e.g. {header: x-user-id}"))]
pub struct Stickiness {
    /// A request header carrying the user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// A cookie carrying the user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<String>,
}

/// Requests matched by all listed headers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteMatch {
    #[schemars(length(min = 1, max = 16))]
    pub headers: Vec<HeaderMatch>,
}

/// A header condition.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeaderMatch {
    #[schemars(length(min = 1, max = 256))]
    pub name: String,
    #[schemars(length(max = 4096))]
    pub value: String,
    #[serde(default, rename = "type")]
    pub match_type: HeaderMatchType,
}

/// How a header value is compared.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum HeaderMatchType {
    #[default]
    Exact,
    RegularExpression,
}
