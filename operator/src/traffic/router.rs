//! The modeldeploy model router (`traffic.provider: router`) is not available yet. Until it is,
//! a single revision is served through the Service `<name>` and a rollout is refused plainly.

use modeldeploy_api::v1alpha1::ModelDeploymentSpec;

use super::{GatewayFeatures, Routing, TrafficRouter, plan_annotation, services};
use crate::labels;
use crate::render::Owner;
use modeldeploy_api::routing::TrafficPlan;

pub struct ModelRouter;

impl TrafficRouter for ModelRouter {
    fn unsupported(&self, plan: &TrafficPlan, _features: &GatewayFeatures) -> Option<String> {
        plan.candidate.as_ref().map(|_| {
            "traffic.provider router (the modeldeploy model router) is not available in this version; use replicas, gatewayAPI or istio".to_owned()
        })
    }

    fn render(&self, owner: &Owner, spec: &ModelDeploymentSpec, plan: &TrafficPlan) -> Routing {
        Routing {
            services: vec![services::main(
                owner,
                spec,
                labels::revision_selector(&owner.name, &plan.stable),
                plan_annotation(plan),
            )],
            ..Routing::default()
        }
    }
}
