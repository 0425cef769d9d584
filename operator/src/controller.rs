//! The imperative shell: observe the children, plan, apply, write status, publish events.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment};
use k8s_openapi::api::core::v1::{ObjectReference, Service};
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Resource, ResourceExt};
use modeldeploy_api::v1alpha1::{ModelDeployment, ModelDeploymentStatus, RolloutRequest};
use serde_json::json;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::cache::{self, Caches};
use crate::error::Error;
use crate::labels::{self, FIELD_MANAGER};
use crate::metrics::Metrics;
use crate::observe::ChildApis;
use crate::plan::{self, Input, Plan};
use crate::render::{self, Owner};
use crate::revision::{PodTemplateRecord, revision_of};
use crate::traffic::{self, HTTPRoute, VirtualService};
use crate::{announce, apply, observe};

/// Reconcile again after this long even when nothing changes, to catch missed events.
const RESYNC: Duration = Duration::from_secs(300);
/// Wait before retrying a reconcile that failed.
const RETRY: Duration = Duration::from_secs(10);
/// The longest wait between retries of a ModelDeployment that keeps failing.
const RETRY_MAX: Duration = Duration::from_secs(300);

/// What every reconcile shares.
pub struct Context {
    pub client: kube::Client,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    /// Failures in a row per ModelDeployment, for the retry backoff.
    failures: Mutex<HashMap<ObjectRef<ModelDeployment>, u32>>,
    /// The clock; whole seconds, as the API stores times.
    pub now: fn() -> Timestamp,
    /// Which routing APIs the cluster serves.
    pub routes: RouteApis,
    /// This replica's name in the events it publishes.
    pub identity: String,
    /// The watch caches of the children, while the controller runs.
    caches: std::sync::RwLock<Option<Caches>>,
    /// A hash of the last status known to be current per ModelDeployment (written or read
    /// fresh): a cached object with that status is fresh enough to plan from.
    known_status: Mutex<HashMap<ObjectRef<ModelDeployment>, u64>>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

impl Context {
    /// Runs `f` on the failure counts. A poisoned lock only means another reconcile panicked
    /// while counting; the counts are still usable.
    fn failures_of<T>(
        &self,
        f: impl FnOnce(&mut HashMap<ObjectRef<ModelDeployment>, u32>) -> Option<T>,
    ) -> Option<T> {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut failures)
    }

    fn set_caches(&self, caches: Option<Caches>) {
        *self
            .caches
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = caches;
    }

    fn caches(&self) -> Option<Caches> {
        self.caches
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Records `status` as the current status of `md`.
    fn know(&self, md: &ModelDeployment, status: Option<&ModelDeploymentStatus>) {
        let hash = status_hash(status);
        self.known_status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(ObjectRef::from_obj(md), hash);
    }

    /// Whether `md` (from the watch cache) carries the status last known to be current.
    fn is_current(&self, md: &ModelDeployment) -> bool {
        self.known_status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&ObjectRef::from_obj(md))
            == Some(&status_hash(md.status.as_ref()))
    }

    pub fn new(
        client: kube::Client,
        metrics: Arc<Metrics>,
        identity: &str,
        routes: RouteApis,
    ) -> Self {
        let reporter = Reporter {
            controller: FIELD_MANAGER.to_owned(),
            instance: Some(identity.to_owned()),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            failures: Mutex::default(),
            now: Timestamp::now,
            routes,
            identity: identity.to_owned(),
            caches: std::sync::RwLock::default(),
            known_status: Mutex::default(),
        }
    }
}

/// Which optional APIs the cluster serves; their objects are written and watched only then.
#[derive(Clone, Copy, Debug, Default)]
pub struct RouteApis {
    pub gateway_api: bool,
    pub istio: bool,
}

impl RouteApis {
    /// Asks the API server whether the Gateway API HTTPRoute and the Istio VirtualService exist.
    pub async fn discover(client: &kube::Client, namespace: Option<&str>) -> RouteApis {
        async fn serves<K>(client: &kube::Client, namespace: Option<&str>) -> bool
        where
            K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
                + Clone
                + std::fmt::Debug
                + serde::de::DeserializeOwned,
            K::DynamicType: Default,
        {
            let api: Api<K> = match namespace {
                Some(ns) => Api::namespaced(client.clone(), ns),
                None => Api::all(client.clone()),
            };
            match api
                .list_metadata(&kube::api::ListParams::default().limit(1))
                .await
            {
                Ok(_) => true,
                Err(error) => {
                    let kind = K::kind(&K::DynamicType::default()).into_owned();
                    info!(%kind, %error, "not watching this kind: its API is not served or not allowed");
                    false
                }
            }
        }
        RouteApis {
            gateway_api: serves::<HTTPRoute>(client, namespace).await,
            istio: serves::<VirtualService>(client, namespace).await,
        }
    }
}

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
    let mut controller = Controller::new(
        scoped::<ModelDeployment>(&client, ns),
        watcher::Config::default(),
    )
    .owns_stream(deployment_events)
    .owns_stream(service_events)
    .owns_stream(revision_events);
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
    ctx.set_caches(Some(Caches::new(
        deployments,
        services,
        revisions,
        http_routes,
        virtual_services,
    )));
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
        _ => Ok(Action::await_change()),
    }
}

/// A hash of a status, to tell whether two are the same without keeping either.
fn status_hash(status: Option<&ModelDeploymentStatus>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(&status)
        .unwrap_or_default()
        .hash(&mut hasher);
    hasher.finish()
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
                .then(|| Api::namespaced(client, &namespace)),
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

/// Where the children of one ModelDeployment live and whom they belong to.
struct Scope {
    owner: Owner,
    uid: String,
    apis: ChildApis,
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
    let children = observe::children(
        caches,
        &scope.owner.namespace,
        &scope.owner.name,
        &scope.uid,
    );
    let observed = children.observed(md.spec.traffic.provider, &scope.owner, &md.spec);
    let revision = revision_of(&md.spec);
    let request = RolloutRequest::from_annotations(md.annotations());
    let plan = plan::plan(Input {
        name: &scope.owner.name,
        spec: &md.spec,
        generation: md.metadata.generation,
        status,
        revision: &revision,
        version: &md.spec.model.version,
        observed: &observed,
        request: request.as_ref(),
        now,
    });

    let first = plan::keeping_failure(&plan.status, recorded.as_ref());
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
    carry_out(&plan, md, scope, &children, &revision).await?;
    if first != plan.status {
        write_status(&ctx.client, &scope.owner, &plan.status).await?;
        ctx.know(md, Some(&plan.status));
        *recorded = Some(plan.status.clone());
    }

    let requeue = plan
        .requeue_after
        .map_or(RESYNC, |after| (after + Duration::from_secs(1)).min(RESYNC));
    Ok(Action::requeue(requeue))
}

/// Applies the children in the order that keeps traffic safe: the revisions first, then the
/// Services and routes, and only then removes what no longer serves.
async fn carry_out(
    plan: &Plan,
    md: &ModelDeployment,
    scope: &Scope,
    children: &observe::Children,
    spec_revision: &str,
) -> Result<(), Error> {
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
            if observe::taken_by_someone_else(&apis.deployments, &deployment_name, uid).await? {
                return Err(Error::NotOwned {
                    kind: "Deployment",
                    name: deployment_name,
                });
            }
        }
        if apply::apply(&apis.deployments, &desired, live).await? {
            info!(revision = %run.revision, replicas = run.replicas, "applied the revision Deployment");
        }
    }

    let provider = md.spec.traffic.provider;
    let routing = traffic::router(provider).render(owner, &md.spec, &plan.traffic);
    for service in &routing.services {
        let service_name = service.name_any();
        let live = children.routing.services.get(&service_name);
        if live.is_none()
            && observe::taken_by_someone_else(&apis.services, &service_name, uid).await?
        {
            return Err(Error::NotOwned {
                kind: "Service",
                name: service_name,
            });
        }
        if apply::apply(&apis.services, service, live).await? {
            info!(service = %service_name, "applied a Service");
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
    for stale in children.routing.services.keys().filter(|name| {
        !routing
            .services
            .iter()
            .any(|s| s.metadata.name.as_ref() == Some(*name))
    }) {
        apply::delete(&apis.services, stale).await?;
        info!(service = %stale, "deleted a Service that no longer routes");
    }
    for revision in &plan.delete {
        apply::delete(
            &apis.deployments,
            &labels::deployment_name(&owner.name, revision),
        )
        .await?;
        info!(%revision, "deleted the Deployment of a retired revision");
    }
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
    if live.is_none() && observe::taken_by_someone_else(api, &name, uid).await? {
        return Err(Error::NotOwned {
            kind: if kind == "HTTPRoute" {
                "HTTPRoute"
            } else {
                "VirtualService"
            },
            name,
        });
    }
    if apply::apply(api, desired, live).await? {
        info!(%kind, %name, "applied the route");
    }
    Ok(())
}

async fn write_status(
    client: &kube::Client,
    owner: &Owner,
    status: &ModelDeploymentStatus,
) -> Result<(), Error> {
    let api = Api::<ModelDeployment>::namespaced(client.clone(), &owner.namespace);
    let patch = json!({
        "apiVersion": ModelDeployment::api_version(&()),
        "kind": ModelDeployment::kind(&()),
        "status": status,
    });
    api.patch_status(
        &owner.name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(|source| Error::kube::<ModelDeployment>("write status of", &owner.name, source))?;
    Ok(())
}

/// Events are best effort: a failure to publish one is logged and never fails the reconcile.
async fn publish(ctx: &Context, md: &ModelDeployment, plan: &Plan) {
    let reference = md.object_ref(&());
    for planned in &plan.events {
        if planned.warning {
            warn!(reason = planned.reason, note = %planned.note, "rollout event");
        } else {
            info!(reason = planned.reason, note = %planned.note, "rollout event");
        }
        let related = ObjectReference {
            api_version: Some("apps/v1".to_owned()),
            kind: Some("Deployment".to_owned()),
            namespace: md.namespace(),
            name: Some(labels::deployment_name(&md.name_any(), &planned.revision)),
            ..ObjectReference::default()
        };
        let event = announce::rollout_event(
            planned,
            &reference,
            related,
            &ctx.identity,
            Timestamp::now(),
        );
        let events: Api<k8s_openapi::api::events::v1::Event> =
            Api::namespaced(ctx.client.clone(), &md.namespace().unwrap_or_default());
        if let Err(error) = events.create(&PostParams::default(), &event).await {
            warn!(%error, reason = planned.reason, "could not publish an event");
        }
    }
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
