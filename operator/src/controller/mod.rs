//! The imperative shell: observe the children, plan, record the status, carry the plan out,
//! publish events.

mod carry_out;
mod context;
mod optional_apis;
mod report;
mod resolve;

use carry_out::{Scope, carry_out};
pub use context::Context;
pub use optional_apis::OptionalApis;
use report::{publish, write_status};

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Resource, ResourceExt};
use modeldeploy_api::v1alpha1::{
    ClusterModelAnalysisTemplate, ModelAnalysisTemplate, ModelDeployment, ModelDeploymentStatus,
    RolloutRequest,
};
use tracing::{Instrument, debug, info, info_span, warn};

use crate::cache::{self, Caches, RouterStores, Stores};
use crate::error::Error;
use crate::observe;
use crate::observe::ChildApis;
use crate::pin;
use crate::plan::{self, Input};
use crate::preset;
use crate::render::Owner;
use crate::revision::revision_of;
use crate::traffic::{Gateway, GatewayClass, HTTPRoute, VirtualService};

/// Reconcile again after this long even when nothing changes, to catch missed events.
const RESYNC: Duration = Duration::from_secs(300);
/// Wait before retrying a reconcile that failed.
const RETRY: Duration = Duration::from_secs(10);
/// The longest wait between retries of a ModelDeployment that keeps failing.
const RETRY_MAX: Duration = Duration::from_secs(300);
/// Runs the controller until `stop` completes; reconciles in flight finish first.
pub async fn run(
    ctx: Arc<Context>,
    namespace: Option<String>,
    concurrency: u16,
    stop: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let client = ctx.client.clone();
    let ns = namespace.as_deref();
    info!(
        namespace = ns.unwrap_or("<all>"),
        gateway_api = ctx.routes.gateway_api,
        istio = ctx.routes.istio,
        "starting the ModelDeployment controller"
    );
    let (deployments, deployment_events) = cache::cached(scoped::<Deployment>(&client, ns));
    let (services, service_events) = cache::cached(scoped::<Service>(&client, ns));
    let (revisions, revision_events) = cache::cached(scoped::<ControllerRevision>(&client, ns));
    let (pods, pod_events) = cache::pods(scoped::<Pod>(&client, ns));
    let (service_accounts, account_events) = cache::cached(scoped::<ServiceAccount>(&client, ns));
    let (roles, role_events) = cache::cached(scoped::<Role>(&client, ns));
    let (role_bindings, binding_events) = cache::cached(scoped::<RoleBinding>(&client, ns));
    let (tables, table_events) = cache::cached(scoped::<ConfigMap>(&client, ns));
    let mut controller = Controller::new(
        scoped::<ModelDeployment>(&client, ns),
        watcher::Config::default(),
    )
    .owns_stream(deployment_events)
    .owns_stream(service_events)
    .owns_stream(revision_events)
    .owns_stream(account_events)
    .owns_stream(role_events)
    .owns_stream(binding_events)
    .owns_stream(table_events)
    // A pod that stops or fails to start wakes its ModelDeployment, which says why at once.
    .watches_stream(pod_events, |pod| {
        let name = pod.labels().get(crate::labels::LABEL_DEPLOYMENT)?.clone();
        Some(ObjectRef::<ModelDeployment>::new(&name).within(&pod.namespace()?))
    });
    let mut http_routes = None;
    if ctx.routes.gateway_api {
        let (store, events) = cache::cached(scoped::<HTTPRoute>(&client, ns));
        http_routes = Some(store);
        controller = controller.owns_stream(events);
    }
    let mut virtual_services = None;
    if ctx.routes.istio {
        let (store, events) = cache::cached(scoped::<VirtualService>(&client, ns));
        virtual_services = Some(store);
        controller = controller.owns_stream(events);
    }
    // Gateways may sit in any namespace, so they are watched cluster-wide. A change of one does
    // not wake a reconcile: what a Gateway supports is read at the next plan.
    let (mut gateways, mut gateway_classes) = (None, None);
    if ctx.routes.gateway_features {
        let (store, events) = cache::watched(Api::<Gateway>::all(client.clone()));
        gateways = Some(store);
        controller = controller.watches_stream(events, |_| std::iter::empty());
        let (store, events) = cache::watched(Api::<GatewayClass>::all(client.clone()));
        gateway_classes = Some(store);
        controller = controller.watches_stream(events, |_| std::iter::empty());
    }
    // A template's change wakes the ModelDeployments whose analyses name it.
    let (mut analysis_templates, mut cluster_analysis_templates) = (None, None);
    let owners = controller.store();
    if ctx.routes.analysis_templates {
        let (store, events) = cache::watched(scoped::<ModelAnalysisTemplate>(&client, ns));
        analysis_templates = Some(store);
        let owners = owners.clone();
        controller = controller.watches_stream(events, move |template| {
            let namespace = template.namespace();
            referring(&owners, &template.name_any(), false, namespace.as_deref())
        });
    }
    if ctx.routes.cluster_analysis_templates {
        let (store, events) =
            cache::watched(Api::<ClusterModelAnalysisTemplate>::all(client.clone()));
        cluster_analysis_templates = Some(store);
        controller = controller.watches_stream(events, move |template| {
            referring(&owners, &template.name_any(), true, None)
        });
    }
    ctx.set_caches(Some(Caches::new(Stores {
        deployments,
        pods,
        services,
        revisions,
        http_routes,
        virtual_services,
        router: RouterStores {
            service_accounts,
            roles,
            role_bindings,
            tables,
        },
        gateways,
        gateway_classes,
        analysis_templates,
        cluster_analysis_templates,
    })));
    controller
        .with_config(ControllerConfig::default().concurrency(concurrency))
        .graceful_shutdown_on(stop)
        .run(reconcile, error_policy, ctx.clone())
        .for_each(|result| async move {
            if let Err(error) = result {
                debug!(%error, "controller event");
            }
        })
        .await;
    ctx.set_caches(None);
    info!("the ModelDeployment controller stopped");
}

/// The ModelDeployments (in `namespace`, when given) whose analyses name the template.
fn referring(
    owners: &kube::runtime::reflector::Store<ModelDeployment>,
    template: &str,
    cluster_scope: bool,
    namespace: Option<&str>,
) -> Vec<ObjectRef<ModelDeployment>> {
    owners
        .state()
        .iter()
        .filter(|md| namespace.is_none() || md.namespace().as_deref() == namespace)
        .filter(|md| {
            plan::analysis::location::Location::all(&md.spec)
                .into_iter()
                .filter_map(|location| location.get(&md.spec))
                .flat_map(|analysis| &analysis.templates)
                .any(|r| r.name == template && r.cluster_scope == cluster_scope)
        })
        .map(|md| ObjectRef::from_obj(md.as_ref()))
        .collect()
}

/// The objects of kind `K` in `namespace`, or in every namespace.
fn scoped<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

async fn reconcile(md: Arc<ModelDeployment>, ctx: Arc<Context>) -> Result<Action, Error> {
    let span = info_span!("reconcile", modeldeployment = %ObjectRef::from_obj(md.as_ref()));
    let started = Instant::now();
    let result = read_and_reconcile(&md, &ctx).instrument(span).await;
    if result.is_ok() {
        ctx.failures_of(|failures| failures.remove(&ObjectRef::from_obj(md.as_ref())));
    }
    ctx.metrics.reconciled(
        started.elapsed(),
        result.as_ref().err().map(Error::category),
    );
    result
}

/// Plans from the watch cache when it already shows the last status this operator wrote or read;
/// else from a fresh read. A cache that lags behind the operator's own last status write would
/// make it repeat the last transition, with its writes and events.
async fn read_and_reconcile(cached: &ModelDeployment, ctx: &Context) -> Result<Action, Error> {
    let Some(caches) = ctx.caches() else {
        return Ok(Action::await_change());
    };
    caches.ready().await;
    if ctx.is_current(cached) && cached.metadata.deletion_timestamp.is_none() {
        return reconcile_one(cached, ctx, &caches).await;
    }
    let namespace = cached
        .namespace()
        .ok_or(Error::MissingMetadata("namespace"))?;
    let name = cached.name_any();
    let api = Api::<ModelDeployment>::namespaced(ctx.client.clone(), &namespace);
    let fresh = api
        .get_opt(&name)
        .await
        .map_err(|source| Error::kube::<ModelDeployment>("get", &name, source))?;
    match fresh {
        Some(md) if md.metadata.deletion_timestamp.is_none() => {
            ctx.know(&md, md.status.as_ref());
            reconcile_one(&md, ctx, &caches).await
        }
        // Gone or going: the garbage collector removes the children.
        _ => {
            ctx.metrics.analysis.observe(&namespace, &name, None);
            Ok(Action::await_change())
        }
    }
}

async fn reconcile_one(
    md: &ModelDeployment,
    ctx: &Context,
    caches: &Caches,
) -> Result<Action, Error> {
    let name = md.name_any();
    let namespace = md.namespace().ok_or(Error::MissingMetadata("namespace"))?;
    let uid = md.uid().ok_or(Error::MissingMetadata("uid"))?;
    let owner = Owner {
        name: name.clone(),
        namespace: namespace.clone(),
        reference: md
            .controller_owner_ref(&())
            .ok_or(Error::MissingMetadata("uid"))?,
    };
    let client = ctx.client.clone();
    let scope = Scope {
        uid,
        apis: ChildApis {
            deployments: Api::namespaced(client.clone(), &namespace),
            revisions: Api::namespaced(client.clone(), &namespace),
            services: Api::namespaced(client.clone(), &namespace),
            http_routes: ctx
                .routes
                .gateway_api
                .then(|| Api::namespaced(client.clone(), &namespace)),
            virtual_services: ctx
                .routes
                .istio
                .then(|| Api::namespaced(client.clone(), &namespace)),
            router: observe::RouterApis {
                service_accounts: Api::namespaced(client.clone(), &namespace),
                roles: Api::namespaced(client.clone(), &namespace),
                role_bindings: Api::namespaced(client.clone(), &namespace),
                tables: Api::namespaced(client, &namespace),
            },
        },
        owner,
    };

    let status = md.status.clone().unwrap_or_default();
    let now = whole_seconds((ctx.now)());
    let mut recorded = md.status.clone();
    let advanced = advance(ctx, md, &scope, caches, &status, now, &mut recorded).await;
    if let Err(error) = &advanced
        && let Some(reason) = error.status_reason()
    {
        let base = recorded.clone().unwrap_or_default();
        let failed = plan::failed(
            &base,
            md.metadata.generation,
            reason,
            &error.to_string(),
            now,
        );
        if recorded.as_ref() != Some(&failed) {
            match write_status(&ctx.client, &scope.owner, &failed).await {
                Ok(()) => ctx.know(md, Some(&failed)),
                Err(status_error) => {
                    warn!(error = %status_error, "could not record the failure in the status");
                }
            }
        }
    }
    advanced
}

/// Observe, plan, record, carry out: one step of the rollout. The next status is recorded before
/// its effects are applied, so that a transition is never repeated; a step's effects are checked
/// in the cluster before the next transition, so that none is skipped.
async fn advance(
    ctx: &Context,
    md: &ModelDeployment,
    scope: &Scope,
    caches: &Caches,
    status: &ModelDeploymentStatus,
    now: Timestamp,
    recorded: &mut Option<ModelDeploymentStatus>,
) -> Result<Action, Error> {
    let (registry, registry_wake) = match &md.spec.model.registry {
        Some(reference) => {
            let previous = status.registry.as_ref();
            let (pinned, wake) = resolve::resolve(
                &ctx.client,
                &scope.owner.namespace,
                reference,
                previous,
                now,
            )
            .await?;
            (Some(pinned), wake)
        }
        None => (None, None),
    };
    // Planned, hashed and rendered with the registry's pinned version and the runtime preset
    // filled in.
    let resolved = match &registry {
        Some(pinned) => pin::applied(&md.spec, pinned),
        None => md.spec.clone(),
    };
    let templates = observe::Templates {
        caches,
        namespace: &scope.owner.namespace,
    };
    let (resolved, template_problem) =
        match plan::analysis::templates::inline(&resolved, &templates) {
            Ok(inlined) => (inlined.unwrap_or(resolved), None),
            Err(problem) => (resolved, Some(problem)),
        };
    let effective = ModelDeployment {
        spec: preset::effective(&resolved, &ctx.presets),
        ..md.clone()
    };
    if effective.spec.runtime.image.is_none() {
        // An admin's preset may have taken a format from a built-in one that admission knows.
        return Err(Error::NoRuntime {
            format: effective.spec.model.format.clone().unwrap_or_default(),
        });
    }
    let md = &effective;
    let children = observe::children(
        caches,
        &scope.owner.namespace,
        &scope.owner.name,
        &scope.uid,
    );
    let observed = plan::Observed {
        gateway_features: observe::gateway_features(caches, &scope.owner.namespace, &md.spec),
        ..children.observed(md.spec.traffic.provider, &scope.owner, &md.spec)
    };
    let revision = revision_of(&md.spec);
    let request = RolloutRequest::from_annotations(md.annotations());
    let input = Input {
        name: &scope.owner.name,
        namespace: &scope.owner.namespace,
        spec: &md.spec,
        generation: md.metadata.generation,
        status,
        revision: &revision,
        version: &md.spec.model.version,
        observed: &observed,
        request: request.as_ref(),
        registry: registry.as_ref(),
        measurements: &[],
        template_problem: template_problem.as_deref(),
        now,
    };
    let measurements = measure(ctx, &scope.owner.namespace, &plan::due(&input), now).await;
    let plan = plan::plan(Input {
        measurements: &measurements,
        ..input
    });

    let first = plan::keeping_failure(&plan.status, recorded.as_ref(), &Error::STATUS_REASONS);
    if recorded.as_ref() != Some(&first) {
        debug!(
            before = %serde_json::to_string(&recorded).unwrap_or_default(),
            after = %serde_json::to_string(&first).unwrap_or_default(),
            "status changes"
        );
        write_status(&ctx.client, &scope.owner, &first).await?;
        ctx.know(md, Some(&first));
        *recorded = Some(first.clone());
    }
    // The transition is recorded: announce it now, so that a failure to carry it out (retried
    // until it succeeds) does not lose its events.
    publish(ctx, md, &plan).await;
    let draining = carry_out(&plan, md, scope, &children, &revision, now).await?;
    if first != plan.status {
        write_status(&ctx.client, &scope.owner, &plan.status).await?;
        ctx.know(md, Some(&plan.status));
        *recorded = Some(plan.status.clone());
    }

    ctx.metrics.analysis.observe(
        &scope.owner.namespace,
        &scope.owner.name,
        plan.status.rollout.as_ref(),
    );
    let requeue = plan
        .requeue_after
        .into_iter()
        .chain(draining)
        .chain(registry_wake)
        .min()
        .map_or(RESYNC, |after| (after + Duration::from_secs(1)).min(RESYNC));
    Ok(Action::requeue(requeue))
}

/// Takes the measurements that are due; nothing (and no API read) when none is.
async fn measure(
    ctx: &Context,
    namespace: &str,
    due: &[plan::analysis::Due],
    now: Timestamp,
) -> Vec<plan::analysis::Measured> {
    if due.is_empty() {
        return Vec::new();
    }
    let values = crate::analysis::values::ApiValues {
        secrets: Api::namespaced(ctx.client.clone(), namespace),
        config_maps: Api::namespaced(ctx.client.clone(), namespace),
    };
    let lookup = crate::analysis::Lookup::read(&values, due).await;
    let measured = ctx.measurer.measure(&lookup, due, now).await;
    for m in &measured {
        match &m.value {
            Ok(value) => debug!(analysis = %m.analysis, metric = %m.metric, %value, "measured"),
            Err(error) => {
                info!(analysis = %m.analysis, metric = %m.metric, %error, "measurement failed")
            }
        }
    }
    measured
}

fn error_policy(md: Arc<ModelDeployment>, error: &Error, ctx: Arc<Context>) -> Action {
    warn!(modeldeployment = %ObjectRef::from_obj(md.as_ref()), %error, "reconcile failed");
    let attempt = ctx.failures_of(|failures| {
        let count = failures
            .entry(ObjectRef::from_obj(md.as_ref()))
            .or_insert(0);
        *count = count.saturating_add(1);
        Some(*count)
    });
    let event = Event {
        type_: EventType::Warning,
        reason: format!("Reconcile{}", error.category()),
        note: Some(error.to_string()),
        action: "Reconcile".to_owned(),
        secondary: None,
    };
    let reference = md.object_ref(&());
    tokio::spawn(async move {
        if let Err(error) = ctx.recorder.publish(&event, &reference).await {
            warn!(%error, "could not publish an event");
        }
    });
    Action::requeue(retry_delay(attempt.unwrap_or(1)))
}

/// 10 s after the first failure, doubling up to five minutes: a fault that needs a person does
/// not flood the API server or the events, and a passing fault is retried soon.
fn retry_delay(attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    RETRY.saturating_mul(1 << doublings).min(RETRY_MAX)
}

fn whole_seconds(at: Timestamp) -> Timestamp {
    Timestamp::from_second(at.as_second()).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_from_ten_seconds_to_five_minutes() {
        let delays: Vec<u64> = (1..=8)
            .map(|attempt| retry_delay(attempt).as_secs())
            .collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(retry_delay(u32::MAX), RETRY_MAX);
    }
}
