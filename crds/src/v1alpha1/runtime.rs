use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EnvVar, Probe, ResourceRequirements, Toleration};
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The serving container and where its pods may run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeSpec {
    /// Container image of the model server, e.g. `docker.io/seldonio/mlserver:1.6.1`.
    #[x_kube(validation = Rule::new("self.size() > 0 && !self.contains(' ')").message("runtime.image must be a container image reference without spaces, e.g. docker.io/seldonio/mlserver:1.6.1"))]
    #[schemars(length(max = 1024))]
    pub image: String,

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

    /// Port the model server listens on. The Service exposes the same port.
    #[serde(default = "default_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,

    /// Protocol spoken on `port`.
    #[serde(default)]
    pub protocol: Protocol,

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
}

fn default_port() -> i32 {
    8080
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
