use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How client traffic reaches the model revisions.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.provider != 'gatewayAPI' || has(self.gatewayAPI)")
        .message("traffic.gatewayAPI is required when traffic.provider is gatewayAPI: set traffic.gatewayAPI.parentRefs to the Gateway that fronts this model"),
    validation = Rule::new("!has(self.gatewayAPI) || self.provider == 'gatewayAPI'")
        .message("traffic.gatewayAPI is only read when traffic.provider is gatewayAPI: set the provider or remove traffic.gatewayAPI"),
    validation = Rule::new("self.provider != 'istio' || has(self.istio)")
        .message("traffic.istio is required when traffic.provider is istio: set traffic.istio.hosts"),
    validation = Rule::new("!has(self.istio) || self.provider == 'istio'")
        .message("traffic.istio is only read when traffic.provider is istio: set the provider or remove traffic.istio"),
)]
pub struct TrafficSpec {
    /// Who splits traffic between revisions: `replicas` (plain Kubernetes Service, split by
    /// replica ratio; the default), `gatewayAPI` (HTTPRoute weights), `istio` (VirtualService)
    /// or `router` (the modeldeploy model router).
    #[serde(default)]
    pub provider: TrafficProvider,

    /// Gateway API settings, for `provider: gatewayAPI`.
    #[serde(
        default,
        rename = "gatewayAPI",
        skip_serializing_if = "Option::is_none"
    )]
    pub gateway_api: Option<GatewayApiTraffic>,

    /// Istio settings, for `provider: istio`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub istio: Option<IstioTraffic>,
}

/// The component that splits traffic between revisions.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum TrafficProvider {
    /// The Service selects revisions; a split follows the ratio of ready replicas.
    #[default]
    #[serde(rename = "replicas")]
    Replicas,
    /// A Gateway API HTTPRoute with weighted backends, mirrors and header matches.
    #[serde(rename = "gatewayAPI")]
    GatewayApi,
    /// An Istio VirtualService.
    #[serde(rename = "istio")]
    Istio,
    /// The modeldeploy model router.
    #[serde(rename = "router")]
    Router,
}

/// Where the HTTPRoute attaches and which host names it serves.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayApiTraffic {
    /// Gateways (or other parents) the HTTPRoute attaches to.
    #[x_kube(validation = Rule::new("self.size() > 0").message("traffic.gatewayAPI.parentRefs needs at least one Gateway, e.g. [{name: inference-gateway}]"))]
    #[schemars(length(max = 32))]
    pub parent_refs: Vec<ParentReference>,

    /// Host names the route answers for; all host names of the parent when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub hostnames: Vec<String>,
}

/// A Gateway API parent reference.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParentReference {
    /// API group of the parent; `gateway.networking.k8s.io` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Kind of the parent; `Gateway` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Namespace of the parent; the ModelDeployment's namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name of the parent.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// A listener of the parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
    /// A port of the parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
}

/// Hosts and gateways of the VirtualService.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct IstioTraffic {
    /// Hosts the VirtualService routes, e.g. `fraud.models.example.com`.
    #[x_kube(validation = Rule::new("self.size() > 0").message("traffic.istio.hosts needs at least one host, e.g. [fraud.models.example.com]"))]
    #[schemars(length(max = 16))]
    pub hosts: Vec<String>,

    /// Istio Gateways to bind, as `<namespace>/<name>`; mesh-internal traffic only when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub gateways: Vec<String>,
}
