use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, EnvFromSource, EnvVar, LocalObjectReference, PodSecurityContext, Probe,
    ResourceRequirements, SecurityContext, Toleration, TopologySpreadConstraint, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The serving container and where its pods may run.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeSpec {
    /// A runtime preset: a built-in one (`mlserver`, `triton`, `torchserve`, `vllm`), one the
    /// cluster's admin added, or `custom` for none. Picked from `model.format` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')").message("runtime.preset must name a preset, e.g. mlserver, triton, torchserve, vllm, one your cluster's admin added, or custom"))]
    #[schemars(length(max = 63))]
    pub preset: Option<String>,

    /// Container image of the model server, e.g. `docker.io/seldonio/mlserver:1.6.1`; the
    /// preset's when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.size() > 0 && !self.contains(' ')").message("runtime.image must be a container image reference without spaces, e.g. docker.io/seldonio/mlserver:1.6.1"))]
    #[schemars(length(max = 1024))]
    pub image: Option<String>,

    /// Image pull policy; the Kubernetes default applies when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<ImagePullPolicy>,

    /// Entrypoint override.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub command: Vec<String>,

    /// Arguments to the entrypoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    pub args: Vec<String>,

    /// Environment variables of the serving container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256))]
    pub env: Vec<EnvVar>,

    /// Port the model server listens on. The Service exposes the same port. The preset's, else
    /// 8080, when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,

    /// Protocol spoken on `port`.
    #[serde(default)]
    pub protocol: Protocol,

    /// Where the model is mounted in the serving container; `/mnt/models` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.startsWith('/')").message("runtime.modelDir must be an absolute path, e.g. /mnt/models"))]
    #[schemars(length(max = 1024))]
    pub model_dir: Option<String>,

    /// CPU, memory and accelerator requests and limits, e.g. `nvidia.com/gpu: 1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Tells when a pod can take traffic. Without one, a pod is ready as soon as it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,

    /// Restarts a model server that stops answering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,

    /// Holds the other probes back while a large model loads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_probe: Option<Probe>,

    /// Node labels the pods must match, e.g. a GPU node pool.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,

    /// Taints the pods tolerate, e.g. `nvidia.com/gpu`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub tolerations: Vec<Toleration>,

    /// ServiceAccount the pods run as, for example to read model storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub service_account_name: Option<String>,

    /// Environment of the serving container from ConfigMaps and Secrets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub env_from: Vec<EnvFromSource>,

    /// Extra volumes of the pods, mounted with `volumeMounts`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    #[x_kube(validation = Rule::new("self.all(v, !(v.name in ['model-store', 'dshm', 'storage-credentials']))").message("runtime.volumes must not use the names model-store, dshm or storage-credentials, which modeldeploy uses"))]
    pub volumes: Vec<Volume>,

    /// Mounts of `volumes` in the serving container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub volume_mounts: Vec<VolumeMount>,

    /// Secrets for pulling private images.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub image_pull_secrets: Vec<LocalObjectReference>,

    /// Labels added to the pods, e.g. for a NetworkPolicy or cost allocation; the labels
    /// modeldeploy sets itself win.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_labels: BTreeMap<String, String>,

    /// Annotations added to the pods, e.g. for a sidecar injector.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_annotations: BTreeMap<String, String>,

    /// Node and pod affinity of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,

    /// How the pods spread across zones or nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,

    /// Security context of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_security_context: Option<PodSecurityContext>,

    /// Security context of the serving container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<SecurityContext>,

    /// PriorityClass of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub priority_class_name: Option<String>,

    /// RuntimeClass of the pods, e.g. `nvidia`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub runtime_class_name: Option<String>,

    /// Size of `/dev/shm`, a memory-backed volume: PyTorch data loaders and NCCL need more than
    /// the container runtime's 64Mi. E.g. `2Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<Quantity>,
}

impl RuntimeSpec {
    /// Port the model server listens on: `port`, else 8080.
    pub fn port(&self) -> i32 {
        self.port.unwrap_or(8080)
    }

    /// Where the model is mounted: `modelDir`, else `/mnt/models`.
    pub fn model_dir(&self) -> &str {
        self.model_dir.as_deref().unwrap_or("/mnt/models")
    }
}

/// Wire protocol of the model server.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// HTTP/1.1 or HTTP/2 with TLS-less upgrade, e.g. the Open Inference Protocol over REST.
    #[default]
    Http,
    /// gRPC (HTTP/2 cleartext), e.g. the Open Inference Protocol over gRPC.
    Grpc,
}

impl Protocol {
    /// The name given to the container and Service port.
    pub fn port_name(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Grpc => "grpc",
        }
    }
}

/// When the kubelet pulls the image.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ImagePullPolicy {
    Always,
    IfNotPresent,
    Never,
}

impl ImagePullPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            ImagePullPolicy::Always => "Always",
            ImagePullPolicy::IfNotPresent => "IfNotPresent",
            ImagePullPolicy::Never => "Never",
        }
    }
}
