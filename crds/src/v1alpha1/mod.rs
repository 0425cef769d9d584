//! The `modeldeploy.io/v1alpha1` API: the `ModelDeployment` resource and the analysis templates
//! its analyses can name.
//!
//! The whole spec is designed up front so that users see one coherent API; parts that later
//! releases implement (rollout strategies beyond replace, analysis, the model router) are
//! accepted and validated today, and the operator reports plainly when it cannot act on them yet.

mod ab_decision;
mod analysis;
mod analysis_status;
mod analysis_template;
mod builtin_check;
mod duration;
mod model;
mod request;
mod runtime;
mod spec;
mod status;
mod strategy;
mod traffic;

pub use ab_decision::{
    AbDecision, DecisionGoal, DecisionPhase, DecisionStatus, InconclusivePolicy, MeanDecision,
    ProportionDecision, VariantStatus,
};
pub use analysis::{
    AnalysisArg, AnalysisSpec, AnalysisTemplateRef, FailurePolicy, KeyReference, Metric,
    MetricProvider, MinSamples, NoDataPolicy, PrometheusMetric, ValueSource, WebMetric,
    WebMetricHeader,
};
pub use analysis_status::{
    AnalysisPhase, AnalysisRunStatus, MEASUREMENTS_KEPT, MeasurementPhase, MeasurementStatus,
    MetricStatus,
};
pub use analysis_template::{
    ClusterModelAnalysisTemplate, ClusterModelAnalysisTemplateSpec, ModelAnalysisTemplate,
    ModelAnalysisTemplateSpec, TemplateArg,
};
pub use builtin_check::{BuiltInCheck, CheckSource, LatencyCheck, SuccessRateCheck};
pub use duration::{Duration, DurationError};
pub use model::{ModelSpec, RegistryKind, RegistryReference, StorageCredentials};
pub use request::{REQUEST_ANNOTATION, RequestAction, RolloutRequest};
pub use runtime::{ImagePullPolicy, Protocol, RuntimeSpec};
pub use spec::{ModelDeployment, ModelDeploymentSpec};
pub use status::{
    HistoryEntry, MirrorTarget, ModelDeploymentStatus, PauseReason, PauseStatus, Phase,
    RegistryStatus, RequestStatus, RetiredRevision, RevisionStatus, RolloutStage, RolloutStatus,
    TrafficTarget, UndoStatus,
};
pub use strategy::{
    AbTestStrategy, BlueGreenStrategy, CanaryStep, CanaryStrategy, HeaderMatch, HeaderMatchType,
    LinearShift, OutputDrift, PauseStep, PredictionAgreement, RouteMatch, ShadowStrategy,
    Stickiness, StrategyKind, StrategySpec, TopKOverlap,
};
pub use traffic::{GatewayApiTraffic, IstioTraffic, ParentReference, TrafficProvider, TrafficSpec};
