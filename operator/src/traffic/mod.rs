//! Traffic providers: one trait, one module each. A provider renders the [`TrafficPlan`] into
//! Services and routing objects, says what it cannot carry, and reports the split clients get.
//!
//! The Service `<name>` stays the in-cluster address whatever the provider, so clients never
//! change address when the provider changes.

pub mod drain;
mod gateway_api;
mod istio;
mod replicas;
pub mod router;
pub mod routes;
mod services;

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use modeldeploy_api::v1alpha1::{ModelDeploymentSpec, TrafficProvider, TrafficTarget};

use crate::apply::holds;
use modeldeploy_api::routing::TrafficPlan;

use crate::observed::ObservedRevision;
use crate::render::Owner;
pub use router::{LiveRouter, RouterObjects};
pub use routes::{Gateway, GatewayClass, HTTPRoute, VirtualService};

/// The annotation on the object that carries a plan (the Service `<name>` without a mesh, else
/// the route): the plan it carries, as JSON. Read back to confirm that a step took effect.
pub const TRAFFIC_ANNOTATION: &str = "modeldeploy.io/traffic";

/// The objects that carry a plan.
#[derive(Clone, Debug, Default)]
pub struct Routing {
    pub services: Vec<Service>,
    pub http_route: Option<HTTPRoute>,
    pub virtual_service: Option<VirtualService>,
    /// The model router and its routing table, with `traffic.provider: router`.
    pub router: Option<RouterObjects>,
}

/// The live objects a provider may have written.
#[derive(Clone, Debug, Default)]
pub struct LiveRouting {
    /// Services labelled as children of the ModelDeployment and owned by it, by name.
    pub services: BTreeMap<String, Service>,
    pub http_route: Option<HTTPRoute>,
    pub virtual_service: Option<VirtualService>,
    pub router: LiveRouter,
}

/// The Gateway API features that the classes of a route's parent Gateways publish in
/// `status.supportedFeatures` (those all of them support); `None` when none is known, and then
/// nothing is refused for want of a feature.
pub type GatewayFeatures = Option<BTreeSet<String>>;

/// A traffic provider.
pub trait TrafficRouter: Send + Sync {
    /// Why this provider cannot carry `plan` through a data plane that supports `features`,
    /// naming what can; `None` when it can.
    fn unsupported(&self, plan: &TrafficPlan, features: &GatewayFeatures) -> Option<String>;

    /// The Services and routing objects that carry `plan`.
    fn render(&self, owner: &Owner, spec: &ModelDeploymentSpec, plan: &TrafficPlan) -> Routing;

    /// The split clients get while the provider carries `plan`, weights summing to 100.
    fn effective(
        &self,
        plan: &TrafficPlan,
        revisions: &BTreeMap<String, ObservedRevision>,
    ) -> Vec<TrafficTarget> {
        let _ = revisions;
        plan.targets()
    }
}

/// The provider the spec names.
pub fn router(provider: TrafficProvider) -> &'static dyn TrafficRouter {
    match provider {
        TrafficProvider::Replicas => &replicas::Replicas,
        TrafficProvider::GatewayApi => &gateway_api::GatewayApi,
        TrafficProvider::Istio => &istio::Istio,
        TrafficProvider::Router => &router::ModelRouter,
    }
}

pub fn unsupported(
    provider: TrafficProvider,
    plan: &TrafficPlan,
    features: &GatewayFeatures,
) -> Option<String> {
    router(provider).unsupported(plan, features)
}

pub fn effective(
    provider: TrafficProvider,
    plan: &TrafficPlan,
    revisions: &BTreeMap<String, ObservedRevision>,
) -> Vec<TrafficTarget> {
    router(provider).effective(plan, revisions)
}

/// The plan the live objects carry: the one recorded on the carrier, provided every object that
/// plan needs is live exactly as rendered. `None` when something is missing or was edited.
pub fn carried(
    provider: TrafficProvider,
    owner: &Owner,
    spec: &ModelDeploymentSpec,
    live: &LiveRouting,
) -> Option<TrafficPlan> {
    let annotation = match provider {
        TrafficProvider::GatewayApi => live.http_route.as_ref()?.metadata.annotations.as_ref(),
        TrafficProvider::Istio => live.virtual_service.as_ref()?.metadata.annotations.as_ref(),
        TrafficProvider::Router => live.router.table.as_ref()?.metadata.annotations.as_ref(),
        TrafficProvider::Replicas => live
            .services
            .get(&owner.name)?
            .metadata
            .annotations
            .as_ref(),
    }?;
    let plan: TrafficPlan = serde_json::from_str(annotation.get(TRAFFIC_ANNOTATION)?).ok()?;
    let wanted = router(provider).render(owner, spec, &plan);
    let services_hold = wanted.services.iter().all(|s| {
        s.metadata
            .name
            .as_ref()
            .and_then(|name| live.services.get(name))
            .is_some_and(|l| holds(l, s))
    });
    let route_holds = match (&wanted.http_route, &live.http_route) {
        (Some(want), Some(have)) => holds(have, want),
        (Some(_), None) => false,
        (None, _) => true,
    };
    let vs_holds = match (&wanted.virtual_service, &live.virtual_service) {
        (Some(want), Some(have)) => holds(have, want),
        (Some(_), None) => false,
        (None, _) => true,
    };
    let router_holds = match (&wanted.router, &live.router) {
        (Some(want), have) => {
            have.service_account
                .as_ref()
                .is_some_and(|l| holds(l, &want.service_account))
                && have.role.as_ref().is_some_and(|l| holds(l, &want.role))
                && have
                    .role_binding
                    .as_ref()
                    .is_some_and(|l| holds(l, &want.role_binding))
                && have.table.as_ref().is_some_and(|l| holds(l, &want.table))
                && have
                    .deployment
                    .as_ref()
                    .is_some_and(|l| holds(l, &want.deployment))
        }
        (None, _) => true,
    };
    (services_hold && route_holds && vs_holds && router_holds).then_some(plan)
}

/// The metadata of the route `<name>` that carries `plan`.
fn route_metadata(owner: &Owner, plan: &TrafficPlan) -> ObjectMeta {
    ObjectMeta {
        name: Some(owner.name.clone()),
        namespace: Some(owner.namespace.clone()),
        labels: Some(crate::labels::common(&owner.name, "route")),
        annotations: Some(plan_annotation(plan)),
        owner_references: Some(vec![owner.reference.clone()]),
        ..Default::default()
    }
}

/// The plan as the annotation value that records it.
fn plan_annotation(plan: &TrafficPlan) -> BTreeMap<String, String> {
    // Serializing plain data cannot fail; an empty value would only cost one extra apply.
    let value = serde_json::to_string(plan).unwrap_or_default();
    BTreeMap::from([(TRAFFIC_ANNOTATION.to_owned(), value)])
}

#[cfg(test)]
mod tests;
