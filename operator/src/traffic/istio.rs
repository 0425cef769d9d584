//! Istio: a VirtualService `<name>` for the Service `<name>` inside the mesh and the spec's hosts
//! at its gateways, with weighted destinations on `<name>-stable` and the candidate's Service, a
//! header route for A/B matches (cookies by a regular expression on the `cookie` header), and
//! `mirror` with `mirrorPercentage` for shadow.

use std::collections::BTreeMap;

use modeldeploy_api::v1alpha1::{HeaderMatchType, ModelDeploymentSpec};

use super::routes::{
    IstioDestination, IstioHttpMatch, IstioHttpRoute, IstioPercent, IstioPort,
    IstioRouteDestination, IstioStringMatch, VirtualService, VirtualServiceSpec,
};
use super::{GatewayFeatures, Routing, TrafficRouter, route_metadata, services};
use crate::render::Owner;
use modeldeploy_api::routing::TrafficPlan;

pub struct Istio;

impl TrafficRouter for Istio {
    fn unsupported(&self, plan: &TrafficPlan, _features: &GatewayFeatures) -> Option<String> {
        plan.candidate
            .as_ref()
            .filter(|c| c.stickiness.is_some())
            .map(|_| {
                "an Istio VirtualService cannot keep users on one side of a weighted split; use traffic.provider gatewayAPI, or abTest.matches".to_owned()
            })
    }

    fn render(&self, owner: &Owner, spec: &ModelDeploymentSpec, plan: &TrafficPlan) -> Routing {
        let port = Some(IstioPort {
            number: spec.runtime.port(),
        });
        let destination = |name: &str| IstioDestination {
            host: services::host(owner, name),
            port: port.clone(),
        };
        let stable = destination(&services::stable_name(owner));
        let mut http = Vec::new();
        let mut primary = IstioHttpRoute {
            name: Some("primary".to_owned()),
            route: vec![IstioRouteDestination {
                destination: stable,
                weight: plan.candidate.as_ref().map(|_| plan.stable_weight()),
            }],
            ..IstioHttpRoute::default()
        };
        if let (Some(candidate), Some(name)) =
            (&plan.candidate, services::candidate_name(owner, plan))
        {
            let target = destination(&name);
            if !candidate.matches.is_empty() {
                http.push(IstioHttpRoute {
                    name: Some("matches".to_owned()),
                    match_: candidate
                        .matches
                        .iter()
                        .map(|m| IstioHttpMatch {
                            headers: m
                                .headers
                                .iter()
                                .map(|h| {
                                    let value = match h.match_type {
                                        HeaderMatchType::Exact => IstioStringMatch {
                                            exact: Some(h.value.clone()),
                                            regex: None,
                                        },
                                        HeaderMatchType::RegularExpression => IstioStringMatch {
                                            exact: None,
                                            regex: Some(h.value.clone()),
                                        },
                                    };
                                    (h.name.to_ascii_lowercase(), value)
                                })
                                .collect::<BTreeMap<_, _>>(),
                        })
                        .collect(),
                    route: vec![IstioRouteDestination {
                        destination: target.clone(),
                        weight: None,
                    }],
                    ..IstioHttpRoute::default()
                });
            }
            primary.route.push(IstioRouteDestination {
                destination: target.clone(),
                weight: Some(candidate.weight),
            });
            if let Some(percent) = candidate.mirror_percent {
                primary.mirror = Some(target);
                primary.mirror_percentage = Some(IstioPercent {
                    value: f64::from(percent),
                });
            }
        }
        http.push(primary);

        let settings = spec.traffic.istio.as_ref();
        let mut hosts = vec![services::host(owner, &owner.name)];
        hosts.extend(settings.map(|i| i.hosts.clone()).unwrap_or_default());
        let mut gateways = settings.map(|i| i.gateways.clone()).unwrap_or_default();
        if !gateways.is_empty() {
            // Binding gateways replaces the implicit `mesh`; keep in-cluster callers routed too.
            gateways.push("mesh".to_owned());
        }
        let vs = VirtualService {
            metadata: route_metadata(owner, plan),
            spec: VirtualServiceSpec {
                hosts,
                gateways,
                http,
            },
        };
        Routing {
            services: services::behind_route(owner, spec, plan),
            http_route: None,
            virtual_service: Some(vs),
            router: None,
        }
    }
}
