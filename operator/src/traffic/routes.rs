//! Typed Gateway API HTTPRoute and Istio VirtualService, kept by hand to the fields modeldeploy
//! writes and reads. Generating them with kopium from the pinned CRDs would pull in thousands of
//! lines of types for a dozen fields; the end-to-end tests apply these against the real CRDs
//! (Gateway API v1.6.3, Istio API v1.32.0) with strict field validation, so a field name that
//! drifts from the CRD fails a test.

use kube::CustomResource;
use serde::{Deserialize, Serialize};

/// `gateway.networking.k8s.io/v1` HTTPRoute.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "gateway.networking.k8s.io",
    version = "v1",
    kind = "HTTPRoute",
    plural = "httproutes",
    namespaced,
    schema = "disabled",
    status = "HttpRouteStatus",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteSpec {
    /// The API's own parent reference: the same fields as the Gateway API's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parent_refs: Vec<modeldeploy_api::v1alpha1::ParentReference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<HttpRouteRule>,
}

/// What the Gateway controllers report about an HTTPRoute: one entry per parent they handle.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<RouteParentStatus>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RouteParentStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<RouteCondition>,
}

/// The fields of a route condition that tell whether the data plane took a generation.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RouteCondition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

impl HTTPRoute {
    /// Whether a Gateway controller that reports on this route has not yet accepted its
    /// current generation with every backend resolved: then requests may still follow the
    /// previous rules. A route no controller reports on (none installed, or not yet) is taken as
    /// written.
    pub fn pending_on_data_plane(&self) -> bool {
        let Some(status) = &self.status else {
            return false;
        };
        let generation = self.metadata.generation;
        status.parents.iter().any(|parent| {
            ["Accepted", "ResolvedRefs"].iter().any(|wanted| {
                !parent.conditions.iter().any(|c| {
                    c.type_ == *wanted
                        && c.status == "True"
                        && (generation.is_none() || c.observed_generation >= generation)
                })
            })
        })
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<HttpRouteMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<HttpRouteFilter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backend_refs: Vec<HttpBackendRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_persistence: Option<SessionPersistence>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteMatch {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HttpHeaderMatch>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HttpHeaderMatch {
    /// `Exact` or `RegularExpression`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    pub name: String,
    pub value: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteFilter {
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_mirror: Option<RequestMirror>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RequestMirror {
    pub backend_ref: BackendObjectRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<i32>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BackendObjectRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HttpBackendRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SessionPersistence {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_name: Option<String>,
    /// `Cookie` or `Header`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
}

/// `gateway.networking.k8s.io/v1` Gateway, read only for its class.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "gateway.networking.k8s.io",
    version = "v1",
    kind = "Gateway",
    plural = "gateways",
    namespaced,
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySpec {
    pub gateway_class_name: String,
}

/// `gateway.networking.k8s.io/v1` GatewayClass, read only for the features its implementation
/// publishes.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "gateway.networking.k8s.io",
    version = "v1",
    kind = "GatewayClass",
    plural = "gatewayclasses",
    status = "GatewayClassStatus",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct GatewayClassSpec {
    pub controller_name: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GatewayClassStatus {
    /// Absent when the implementation does not publish its features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_features: Option<Vec<SupportedFeature>>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SupportedFeature {
    pub name: String,
}

/// `networking.istio.io/v1` VirtualService.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "networking.istio.io",
    version = "v1",
    kind = "VirtualService",
    plural = "virtualservices",
    namespaced,
    schema = "disabled",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct VirtualServiceSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<IstioHttpRoute>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IstioHttpRoute {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "match", default, skip_serializing_if = "Vec::is_empty")]
    pub match_: Vec<IstioHttpMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<IstioRouteDestination>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<IstioDestination>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror_percentage: Option<IstioPercent>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IstioHttpMatch {
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: std::collections::BTreeMap<String, IstioStringMatch>,
}

/// Exactly one of the fields is set.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IstioStringMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IstioRouteDestination {
    pub destination: IstioDestination,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IstioDestination {
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<IstioPort>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IstioPort {
    pub number: i32,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IstioPercent {
    pub value: f64,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn route(generation: i64, parents: Vec<Vec<(&str, &str, i64)>>) -> HTTPRoute {
        let mut route = HTTPRoute::new("iris", HttpRouteSpec::default());
        route.metadata.generation = Some(generation);
        route.status = Some(HttpRouteStatus {
            parents: parents
                .into_iter()
                .map(|conditions| RouteParentStatus {
                    conditions: conditions
                        .into_iter()
                        .map(|(type_, status, observed)| RouteCondition {
                            type_: type_.into(),
                            status: status.into(),
                            observed_generation: Some(observed),
                        })
                        .collect(),
                })
                .collect(),
        });
        route
    }

    #[test]
    fn a_route_is_pending_until_every_reporting_parent_accepted_its_generation() {
        let ok = |g| vec![("Accepted", "True", g), ("ResolvedRefs", "True", g)];
        assert!(!route(3, vec![ok(3)]).pending_on_data_plane());
        assert!(
            !route(3, vec![]).pending_on_data_plane(),
            "no controller reports"
        );
        assert!(!HTTPRoute::new("iris", HttpRouteSpec::default()).pending_on_data_plane());
        assert!(
            route(3, vec![ok(2)]).pending_on_data_plane(),
            "an older generation"
        );
        assert!(
            route(3, vec![ok(3), ok(2)]).pending_on_data_plane(),
            "one parent behind"
        );
        assert!(
            route(
                3,
                vec![vec![("Accepted", "True", 3), ("ResolvedRefs", "False", 3)]]
            )
            .pending_on_data_plane(),
            "a backend not resolved"
        );
    }

    #[test]
    fn the_applied_route_carries_no_status() {
        let json = serde_json::to_value(HTTPRoute::new("iris", HttpRouteSpec::default())).unwrap();
        assert!(json.get("status").is_none(), "{json}");
    }
}
