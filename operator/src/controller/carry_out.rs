//! Carrying a plan out: the children applied in the order that keeps traffic safe.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use modeldeploy_api::v1alpha1::ModelDeployment;
use tracing::info;

use crate::apply;
use crate::error::Error;
use crate::labels;
use crate::observe::{self, ChildApis};
use crate::plan::Plan;
use crate::render::{self, Owner};
use crate::revision::PodTemplateRecord;
use crate::traffic::drain::{self, Drain};
use crate::traffic::{self, LiveRouter, RouterObjects};

/// Where the children of one ModelDeployment live and whom they belong to.
pub(super) struct Scope {
    pub owner: Owner,
    pub uid: String,
    pub apis: ChildApis,
}

/// Applies the children in the order that keeps traffic safe: the revisions first, then the
/// Services and routes, and only then removes what no longer serves. Returns when to come back
/// for a Service that is draining.
pub(super) async fn carry_out(
    plan: &Plan,
    md: &ModelDeployment,
    scope: &Scope,
    children: &observe::Children,
    spec_revision: &str,
    now: Timestamp,
) -> Result<Option<Duration>, Error> {
    let Scope { owner, apis, uid } = scope;
    // Templates first, so that a revision's pods can always be rebuilt.
    for entry in &plan.status.history {
        if children.templates.contains_key(&entry.revision) || entry.revision != spec_revision {
            continue;
        }
        let record = render::template_record(
            owner,
            &entry.revision,
            entry.number,
            entry.model_version.as_deref().unwrap_or_default(),
            &PodTemplateRecord::of(&md.spec),
        );
        apply::apply(&apis.revisions, &record, None).await?;
        info!(revision = %entry.revision, number = entry.number, "kept the revision's pod template");
    }
    for run in &plan.run {
        let live = children.deployments.get(&run.revision);
        let kept = children
            .templates
            .get(&run.revision)
            .and_then(|t| t.data.as_ref())
            .and_then(|d| serde_json::from_value::<PodTemplateRecord>(d.0.clone()).ok());
        let desired = if run.revision == spec_revision {
            render::deployment(owner, &md.spec, &run.revision, run.replicas)
        } else if let Some(record) = kept {
            // A revision the spec no longer describes, rendered from its kept template: rebuilt
            // if it was deleted, rescaled otherwise.
            render::deployment(
                owner,
                &record.applied_to(&md.spec),
                &run.revision,
                run.replicas,
            )
        } else {
            // No kept template (made before templates were kept): only the replica count of the
            // live Deployment can change.
            match live.filter(|l| l.spec.as_ref().and_then(|s| s.replicas) != Some(run.replicas)) {
                Some(live) => match render::rescaled(live, run.replicas) {
                    Some(desired) => desired,
                    None => continue,
                },
                None => continue,
            }
        };
        if live.is_none() {
            let deployment_name = labels::deployment_name(&owner.name, &run.revision);
            observe::ensure_not_taken(&apis.deployments, &deployment_name, uid).await?;
        }
        if apply::apply(&apis.deployments, &desired, live).await? {
            info!(revision = %run.revision, replicas = run.replicas, "applied the revision Deployment");
        }
    }

    let provider = md.spec.traffic.provider;
    let mut routing = traffic::router(provider).render(owner, &md.spec, &plan.traffic);
    let live_router = &children.routing.router;
    if let Some(router) = &routing.router {
        apply_router(&apis.router, &apis.deployments, router, live_router, uid).await?;
        hold_back_until_serving(&mut routing, owner, &plan.traffic.stable, children);
    }
    for service in &routing.services {
        let service_name = service.name_any();
        let live = children.routing.services.get(&service_name);
        if live.is_none() {
            observe::ensure_not_taken(&apis.services, &service_name, uid).await?;
        }
        if apply::apply(&apis.services, service, live).await? {
            info!(service = %service_name, "applied a Service");
        }
        if live.and_then(drain::unrouted_since).is_some() {
            mark(&apis.services, &service_name, None).await?;
            info!(service = %service_name, "a draining Service routes again");
        }
    }
    apply_route(
        apis.http_routes.as_ref(),
        routing.http_route.as_ref(),
        children.routing.http_route.as_ref(),
        provider,
        uid,
    )
    .await?;
    apply_route(
        apis.virtual_services.as_ref(),
        routing.virtual_service.as_ref(),
        children.routing.virtual_service.as_ref(),
        provider,
        uid,
    )
    .await?;

    // What no longer carries traffic goes last.
    if routing.http_route.is_none()
        && children.routing.http_route.is_some()
        && let Some(api) = &apis.http_routes
    {
        apply::delete(api, &owner.name).await?;
        info!("deleted the HTTPRoute of another traffic provider");
    }
    if routing.virtual_service.is_none()
        && children.routing.virtual_service.is_some()
        && let Some(api) = &apis.virtual_services
    {
        apply::delete(api, &owner.name).await?;
        info!("deleted the VirtualService of another traffic provider");
    }
    if routing.router.is_none() && !live_router.is_empty() {
        delete_router(&apis.router, &apis.deployments, &owner.name, live_router).await?;
    }
    let mut wake: Option<Duration> = None;
    let delay = md.spec.scale_down_delay();
    for (stale, live) in children.routing.services.iter().filter(|(name, _)| {
        !routing
            .services
            .iter()
            .any(|s| s.metadata.name.as_ref() == Some(*name))
    }) {
        match drain::drain(live, delay, now) {
            Drain::Mark => {
                mark(&apis.services, stale, Some(now)).await?;
                info!(service = %stale, ?delay, "a Service no longer routes; it drains before it goes");
                wake = Some(wake.map_or(delay, |w| w.min(delay)));
            }
            Drain::Wait(left) => wake = Some(wake.map_or(left, |w| w.min(left))),
            Drain::Delete => {
                apply::delete(&apis.services, stale).await?;
                info!(service = %stale, "deleted a Service that no longer routes");
            }
        }
    }
    for revision in &plan.delete {
        apply::delete(
            &apis.deployments,
            &labels::deployment_name(&owner.name, revision),
        )
        .await?;
        info!(%revision, "deleted the Deployment of a retired revision");
    }
    Ok(wake)
}

/// Sets or clears the drain mark of the Service `name` with a merge patch, which leaves the
/// fields the operator applies to it untouched.
async fn mark(api: &Api<Service>, name: &str, since: Option<Timestamp>) -> Result<(), Error> {
    let value = since.map(|t| t.to_string());
    let patch = serde_json::json!({"metadata": {"annotations": {drain::UNROUTED_SINCE: value}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|source| Error::kube::<Service>("mark as draining", name, source))?;
    Ok(())
}

/// Applies a route the provider wants; refuses to take over a same-named route of someone else.
async fn apply_route<K>(
    api: Option<&Api<K>>,
    desired: Option<&K>,
    live: Option<&K>,
    provider: modeldeploy_api::v1alpha1::TrafficProvider,
    uid: &str,
) -> Result<(), Error>
where
    K: Resource + Clone + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned,
    K::DynamicType: Default,
{
    let Some(desired) = desired else {
        return Ok(());
    };
    let kind = K::kind(&K::DynamicType::default()).into_owned();
    let Some(api) = api else {
        return Err(Error::ApiMissing {
            kind,
            provider: format!("{provider:?}"),
        });
    };
    let name = desired.name_any();
    if live.is_none() {
        observe::ensure_not_taken(api, &name, uid).await?;
    }
    if apply::apply(api, desired, live).await? {
        info!(%kind, %name, "applied the route");
    }
    Ok(())
}

/// Applies the model router's objects: its access first, then its table, then its pods.
async fn apply_router(
    apis: &observe::RouterApis,
    deployments: &Api<k8s_openapi::api::apps::v1::Deployment>,
    router: &RouterObjects,
    live: &LiveRouter,
    uid: &str,
) -> Result<(), Error> {
    apply_owned(
        &apis.service_accounts,
        &router.service_account,
        live.service_account.as_ref(),
        uid,
    )
    .await?;
    apply_owned(&apis.roles, &router.role, live.role.as_ref(), uid).await?;
    apply_owned(
        &apis.role_bindings,
        &router.role_binding,
        live.role_binding.as_ref(),
        uid,
    )
    .await?;
    if apply_owned(&apis.tables, &router.table, live.table.as_ref(), uid).await? {
        info!("wrote the router's routing table");
    }
    if apply_owned(
        deployments,
        &router.deployment,
        live.deployment.as_ref(),
        uid,
    )
    .await?
    {
        info!("applied the router Deployment");
    }
    Ok(())
}

/// Until a router pod is ready, the Service `<name>` keeps pointing at the stable revision, so
/// that switching a running ModelDeployment to the router never leaves clients without an
/// answer; once it points at the router it stays there.
fn hold_back_until_serving(
    routing: &mut traffic::Routing,
    owner: &Owner,
    stable: &str,
    children: &observe::Children,
) {
    let router_selector = traffic::router::router_selector(&owner.name);
    let live_selects_router = children
        .routing
        .services
        .get(&owner.name)
        .and_then(|s| s.spec.as_ref()?.selector.as_ref())
        == Some(&router_selector);
    if children.routing.router.serving() || live_selects_router {
        return;
    }
    if let Some(spec) = routing
        .services
        .iter_mut()
        .find(|s| s.metadata.name.as_deref() == Some(owner.name.as_str()))
        .and_then(|s| s.spec.as_mut())
    {
        spec.selector = Some(labels::revision_selector(&owner.name, stable));
    }
}

/// Removes a router no provider uses any more: its pods first, its access last.
async fn delete_router(
    apis: &observe::RouterApis,
    deployments: &Api<k8s_openapi::api::apps::v1::Deployment>,
    name: &str,
    live: &LiveRouter,
) -> Result<(), Error> {
    let router = traffic::router::name(name);
    if live.deployment.is_some() {
        apply::delete(deployments, &router).await?;
    }
    if live.table.is_some() {
        apply::delete(&apis.tables, &router).await?;
    }
    if live.role_binding.is_some() {
        apply::delete(&apis.role_bindings, &router).await?;
    }
    if live.role.is_some() {
        apply::delete(&apis.roles, &router).await?;
    }
    if live.service_account.is_some() {
        apply::delete(&apis.service_accounts, &router).await?;
    }
    info!("deleted the model router, which no provider uses any more");
    Ok(())
}

/// Applies `desired`, refusing to take over a same-named object of someone else; true when
/// something changed.
async fn apply_owned<K>(
    api: &Api<K>,
    desired: &K,
    live: Option<&K>,
    uid: &str,
) -> Result<bool, Error>
where
    K: Resource + Clone + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned,
    K::DynamicType: Default,
{
    if live.is_none() {
        observe::ensure_not_taken(api, &desired.name_any(), uid).await?;
    }
    apply::apply(api, desired, live).await
}
