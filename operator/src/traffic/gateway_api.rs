//! Gateway API: an HTTPRoute `<name>` attached to the spec's Gateways, with weighted backends on
//! `<name>-stable` and the candidate's Service, a header rule for A/B matches, a `RequestMirror`
//! filter for shadow, and session persistence for sticky splits. The gateway splits what enters
//! through it; the Service `<name>` selects the stable revision for clients inside the cluster.

use modeldeploy_api::v1alpha1::{HeaderMatchType, ModelDeploymentSpec};

use super::routes::{
    BackendObjectRef, HTTPRoute, HttpBackendRef, HttpHeaderMatch, HttpRouteFilter, HttpRouteMatch,
    HttpRouteRule, HttpRouteSpec, RequestMirror, SessionPersistence,
};
use super::{GatewayFeatures, Routing, TrafficRouter, route_metadata, services};
use crate::render::Owner;
use modeldeploy_api::routing::TrafficPlan;

pub struct GatewayApi;

/// Gateway API feature names (`sigs.k8s.io/gateway-api/pkg/features`).
const MIRROR: &str = "HTTPRouteRequestMirror";
const PERCENTAGE_MIRROR: &str = "HTTPRouteRequestPercentageMirror";

impl TrafficRouter for GatewayApi {
    fn unsupported(&self, plan: &TrafficPlan, features: &GatewayFeatures) -> Option<String> {
        let (Some(features), Some(candidate)) = (features, plan.candidate.as_ref()) else {
            return None;
        };
        let percent = candidate.mirror_percent?;
        // A gateway without the feature may still accept the route and then fail the mirrored
        // rule (Traefik 3.6 answers 500), so the mirror is never written to one.
        let needed = if percent < 100 {
            [MIRROR, PERCENTAGE_MIRROR].as_slice()
        } else {
            [MIRROR].as_slice()
        };
        let missing: Vec<&str> = needed
            .iter()
            .copied()
            .filter(|feature| !features.contains(*feature))
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "the class of the parent Gateway does not list {} in status.supportedFeatures, which mirroring {percent}% of requests to the candidate needs; use a Gateway whose class supports it, or traffic.provider istio",
                missing.join(" and ")
            )
        })
    }

    fn render(&self, owner: &Owner, spec: &ModelDeploymentSpec, plan: &TrafficPlan) -> Routing {
        let port = Some(spec.runtime.port());
        let stable_name = services::stable_name(owner);
        let candidate_name = services::candidate_name(owner, plan);
        let mut rules = Vec::new();
        let mut split = HttpRouteRule {
            name: Some("split".to_owned()),
            backend_refs: vec![HttpBackendRef {
                name: stable_name,
                port,
                weight: Some(plan.stable_weight()),
            }],
            ..HttpRouteRule::default()
        };
        if let (Some(candidate), Some(name)) = (&plan.candidate, candidate_name) {
            if !candidate.matches.is_empty() {
                rules.push(HttpRouteRule {
                    name: Some("matches".to_owned()),
                    matches: candidate
                        .matches
                        .iter()
                        .map(|m| HttpRouteMatch {
                            headers: m
                                .headers
                                .iter()
                                .map(|h| HttpHeaderMatch {
                                    type_: Some(
                                        match h.match_type {
                                            HeaderMatchType::Exact => "Exact",
                                            HeaderMatchType::RegularExpression => {
                                                "RegularExpression"
                                            }
                                        }
                                        .to_owned(),
                                    ),
                                    name: h.name.clone(),
                                    value: h.value.clone(),
                                })
                                .collect(),
                        })
                        .collect(),
                    backend_refs: vec![HttpBackendRef {
                        name: name.clone(),
                        port,
                        weight: Some(1),
                    }],
                    ..HttpRouteRule::default()
                });
            }
            split.backend_refs.push(HttpBackendRef {
                name: name.clone(),
                port,
                weight: Some(candidate.weight),
            });
            if let Some(percent) = candidate.mirror_percent {
                split.filters.push(HttpRouteFilter {
                    type_: "RequestMirror".to_owned(),
                    request_mirror: Some(RequestMirror {
                        backend_ref: BackendObjectRef {
                            name: name.clone(),
                            port,
                        },
                        percent: Some(percent),
                    }),
                });
            }
            split.session_persistence = candidate.stickiness.as_ref().map(|s| match &s.header {
                Some(header) => SessionPersistence {
                    session_name: Some(header.clone()),
                    type_: Some("Header".to_owned()),
                },
                None => SessionPersistence {
                    session_name: s.cookie.clone(),
                    type_: Some("Cookie".to_owned()),
                },
            });
        }
        rules.push(split);

        let settings = spec.traffic.gateway_api.as_ref();
        let route = HTTPRoute {
            metadata: route_metadata(owner, plan),
            spec: HttpRouteSpec {
                parent_refs: settings.map(|g| g.parent_refs.clone()).unwrap_or_default(),
                hostnames: settings.map(|g| g.hostnames.clone()).unwrap_or_default(),
                rules,
            },
            status: None,
        };
        Routing {
            services: services::behind_route(owner, spec, plan),
            http_route: Some(route),
            virtual_service: None,
            router: None,
        }
    }
}
