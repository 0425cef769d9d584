//! The Services every provider shares: `<name>` for clients, `<name>-stable` for routes, and
//! `<name>-canary` or `<name>-preview` on the candidate.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Service;
use modeldeploy_api::v1alpha1::ModelDeploymentSpec;

use crate::labels;
use crate::render::{self, Owner};
use modeldeploy_api::routing::TrafficPlan;

/// Name of the Service that fronts the stable revision for routes.
pub fn stable_name(owner: &Owner) -> String {
    format!("{}-stable", owner.name)
}

/// Name of the Service on the candidate, if the plan has one.
pub fn candidate_name(owner: &Owner, plan: &TrafficPlan) -> Option<String> {
    plan.candidate
        .as_ref()
        .map(|c| format!("{}-{}", owner.name, c.role.suffix()))
}

/// The Service on the candidate, if the plan has one.
pub fn candidate(owner: &Owner, spec: &ModelDeploymentSpec, plan: &TrafficPlan) -> Option<Service> {
    let candidate = plan.candidate.as_ref()?;
    Some(render::service(
        owner,
        spec,
        &format!("{}-{}", owner.name, candidate.role.suffix()),
        &format!("{}-service", candidate.role.suffix()),
        labels::revision_selector(&owner.name, &candidate.revision),
        BTreeMap::new(),
    ))
}

/// `<name>-stable`, selecting the stable revision.
pub fn stable(owner: &Owner, spec: &ModelDeploymentSpec, plan: &TrafficPlan) -> Service {
    render::service(
        owner,
        spec,
        &stable_name(owner),
        "stable-service",
        labels::revision_selector(&owner.name, &plan.stable),
        BTreeMap::new(),
    )
}

/// `<name>`, selecting what is safe for clients that bypass the route: the stable revision.
pub fn main(
    owner: &Owner,
    spec: &ModelDeploymentSpec,
    selector: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
) -> Service {
    render::service(owner, spec, &owner.name, "service", selector, annotations)
}

/// The fully qualified name of a Service of the owner's namespace.
pub fn host(owner: &Owner, name: &str) -> String {
    format!("{name}.{}.svc.cluster.local", owner.namespace)
}

/// The Services a route provider needs: `<name>` and `<name>-stable` on the stable revision,
/// and the candidate's.
pub fn behind_route(owner: &Owner, spec: &ModelDeploymentSpec, plan: &TrafficPlan) -> Vec<Service> {
    let mut list = vec![
        main(
            owner,
            spec,
            labels::revision_selector(&owner.name, &plan.stable),
            BTreeMap::new(),
        ),
        stable(owner, spec, plan),
    ];
    list.extend(candidate(owner, spec, plan));
    list
}
