use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::{ModelDeploymentStatus, ModelSpec, RuntimeSpec, StrategySpec, TrafficSpec};

/// A model served on Kubernetes and the way new versions of it are rolled out.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "modeldeploy.io",
    version = "v1alpha1",
    kind = "ModelDeployment",
    plural = "modeldeployments",
    shortname = "mdep",
    category = "modeldeploy",
    namespaced,
    status = "ModelDeploymentStatus",
    derive = "PartialEq",
    doc = "A model served on Kubernetes and the way new versions of it are rolled out.",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase", description = "Where the rollout stands"),
    printcolumn(name = "Serving", type_ = "string", json_path = ".status.servingModelVersion", description = "Model version of the stable revision"),
    printcolumn(name = "Step", type_ = "string", json_path = ".status.rollout.step", description = "Current step of the rollout"),
    printcolumn(name = "Traffic", type_ = "string", json_path = ".status.trafficSummary", description = "Share of traffic per revision"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.ready", description = "Ready replicas of the stable revision / desired"),
    printcolumn(name = "Model", type_ = "string", json_path = ".spec.model.version", description = "Model version in the spec", priority = "1"),
    printcolumn(name = "Registry", type_ = "string", json_path = ".status.registry.pinned", description = "Registry version pinned, and one available", priority = "1"),
    printcolumn(name = "Stable", type_ = "string", json_path = ".status.stableRevision", description = "Revision serving traffic", priority = "1"),
    printcolumn(name = "Candidate", type_ = "string", json_path = ".status.candidateRevision", description = "Revision being rolled out", priority = "1"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("self.metadata.name.size() <= 52 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')")
        .message("metadata.name must be a DNS label of at most 52 characters starting with a letter, so that the Service <name> and the Deployments <name>-<revision> are valid names"),
    validation = Rule::new("!has(self.spec.strategy) || !has(self.spec.strategy.shadow) || self.spec.traffic.provider != 'replicas'")
        .message("strategy.shadow needs a traffic provider that can mirror requests: set traffic.provider to gatewayAPI, istio or router"),
    validation = Rule::new("!has(self.spec.strategy) || !has(self.spec.strategy.shadow) || !has(self.spec.strategy.shadow.agreement) || self.spec.traffic.provider == 'router'")
        .message("strategy.shadow.agreement compares the shadow's answers with the stable ones, which only the model router sees (meshes and gateways drop the shadow's answers): set traffic.provider to router, or remove agreement"),
    validation = Rule::new("!has(self.spec.strategy) || !has(self.spec.strategy.shadow) || !has(self.spec.strategy.shadow.drift) || self.spec.traffic.provider == 'router'")
        .message("strategy.shadow.drift compares the distribution of the shadow's answers with the stable ones', which only the model router sees: set traffic.provider to router, or remove drift"),
    validation = Rule::new("!has(self.spec.strategy) || !has(self.spec.strategy.shadow) || !has(self.spec.strategy.shadow.mirrorAllMethods) || self.spec.traffic.provider == 'router'")
        .message("strategy.shadow.mirrorAllMethods chooses which methods the model router copies; Gateway API and Istio data planes copy every method: set traffic.provider to router, or remove mirrorAllMethods"),
    validation = Rule::new("self.spec.traffic.provider != 'router' || !has(self.spec.runtime.protocol) || self.spec.runtime.protocol != 'grpc'")
        .message("the model router forwards HTTP/1.1 to model servers and cannot route gRPC yet: use traffic.provider gatewayAPI or istio for a gRPC model"),
    validation = Rule::new("!has(self.spec.strategy) || !has(self.spec.strategy.abTest) || self.spec.traffic.provider != 'replicas'")
        .message("strategy.abTest needs a traffic provider that can route by header or cookie: set traffic.provider to gatewayAPI, istio or router"),
    validation = Rule::new("!has(self.spec.strategy) || !has(self.spec.strategy.abTest) || !has(self.spec.strategy.abTest.stickiness) || self.spec.traffic.provider != 'istio'")
        .message("strategy.abTest.stickiness needs session persistence, which an Istio VirtualService cannot combine with a weighted split: set traffic.provider to gatewayAPI or router, or route testers with abTest.matches instead"),
    validation = Rule::new("has(self.spec.runtime.image) || (has(self.spec.runtime.preset) && self.spec.runtime.preset != 'custom') || (has(self.spec.model.format) && self.spec.model.format in ['sklearn', 'xgboost', 'lightgbm', 'onnx', 'tensorrt', 'pytorch', 'torchscript', 'tensorflow', 'pytorch-mar', 'huggingface'])")
        .message("runtime.image is needed unless a runtime preset applies: set model.format to one of sklearn, xgboost, lightgbm (MLServer), onnx, tensorrt, pytorch, torchscript, tensorflow (Triton), pytorch-mar (TorchServe), huggingface (vLLM), or runtime.preset to mlserver, triton, torchserve or vllm"),
    validation = Rule::new("!has(self.spec.runtime.preset) || self.spec.runtime.preset != 'custom' || has(self.spec.runtime.image)")
        .message("runtime.preset custom needs runtime.image: the image of your model server"),
    validation = Rule::new("has(self.spec.model.version) != has(self.spec.model.registry)")
        .message("model needs exactly one of version (with storageUri) or registry, which resolves the version and where it is stored"),
    validation = Rule::new("!has(self.spec.model.registry) || !has(self.spec.model.storageUri)")
        .message("model.storageUri comes from model.registry when it is set: remove model.storageUri"),
    validation = Rule::new("!has(self.spec.model.credentials) || has(self.spec.model.storageUri) || has(self.spec.model.registry)")
        .message("model.credentials is for reading model.storageUri: set model.storageUri (or model.registry) too, or remove model.credentials"),
)]
#[serde(rename_all = "camelCase")]
pub struct ModelDeploymentSpec {
    /// The model to serve.
    pub model: ModelSpec,

    /// The serving container and its pods. Unset fields come from the runtime preset that
    /// `runtime.preset` names or `model.format` picks.
    #[serde(default)]
    pub runtime: RuntimeSpec,

    /// Pods per revision once it takes all traffic.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0, max = 10000))]
    pub replicas: i32,

    /// How traffic reaches the revisions.
    #[serde(default)]
    pub traffic: TrafficSpec,

    /// How a new revision replaces the stable one; replaced at once when ready if unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<StrategySpec>,

    /// How long a replaced revision keeps its pods after traffic has left it, so that
    /// in-flight requests finish and clients drop their connections. Default 30s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86400))]
    pub scale_down_delay_seconds: Option<i32>,

    /// How long an aborted or superseded revision keeps its pods after traffic has left it.
    /// Default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86400))]
    pub abort_scale_down_delay_seconds: Option<i32>,

    /// Revisions whose pod templates are kept for `kubectl modeldeploy undo` and to rebuild a
    /// Deployment deleted by hand, counting the serving ones. Default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub revision_history_limit: Option<i32>,

    /// How long a new revision may take to become ready before the rollout is marked Degraded.
    /// Default 600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 86400))]
    pub progress_deadline_seconds: Option<i32>,
}

fn default_replicas() -> i32 {
    1
}

impl ModelDeploymentSpec {
    /// Default of [`Self::scale_down_delay_seconds`].
    pub const DEFAULT_SCALE_DOWN_DELAY_SECONDS: i32 = 30;
    /// Default of [`Self::abort_scale_down_delay_seconds`].
    pub const DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS: i32 = 30;
    /// Default of [`Self::revision_history_limit`].
    pub const DEFAULT_REVISION_HISTORY_LIMIT: i32 = 10;
    /// Default of [`Self::progress_deadline_seconds`].
    pub const DEFAULT_PROGRESS_DEADLINE_SECONDS: i32 = 600;

    pub fn scale_down_delay(&self) -> std::time::Duration {
        seconds(
            self.scale_down_delay_seconds
                .unwrap_or(Self::DEFAULT_SCALE_DOWN_DELAY_SECONDS),
        )
    }

    pub fn abort_scale_down_delay(&self) -> std::time::Duration {
        seconds(
            self.abort_scale_down_delay_seconds
                .unwrap_or(Self::DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS),
        )
    }

    pub fn revision_history_limit(&self) -> usize {
        usize::try_from(
            self.revision_history_limit
                .unwrap_or(Self::DEFAULT_REVISION_HISTORY_LIMIT),
        )
        .unwrap_or(1)
        .max(1)
    }

    pub fn progress_deadline(&self) -> std::time::Duration {
        seconds(
            self.progress_deadline_seconds
                .unwrap_or(Self::DEFAULT_PROGRESS_DEADLINE_SECONDS),
        )
    }
}

fn seconds(value: i32) -> std::time::Duration {
    std::time::Duration::from_secs(u64::try_from(value).unwrap_or(0))
}
