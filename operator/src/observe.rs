//! Reading the children of a ModelDeployment from the API server.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::reflector::Store;
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::cache::{Caches, children_of};
use crate::error::Error;
use crate::labels::{self, controlled_by};
use crate::plan::{Observed, ObservedRevision};
use crate::pod_health;
use crate::traffic::{
    self, Gateway, GatewayFeatures, HTTPRoute, LiveRouter, LiveRouting, VirtualService,
};
use modeldeploy_api::v1alpha1::{AnalysisTemplateRef, HistoryEntry, ModelDeploymentSpec};

/// The APIs of one ModelDeployment's children.
#[derive(Debug)]
pub struct ChildApis {
    pub deployments: Api<Deployment>,
    pub revisions: Api<ControllerRevision>,
    pub services: Api<Service>,
    /// `None` when the Gateway API is not installed.
    pub http_routes: Option<Api<HTTPRoute>>,
    /// `None` when Istio is not installed.
    pub virtual_services: Option<Api<VirtualService>>,
    pub router: RouterApis,
}

/// The APIs of a model router's objects besides its Deployment.
#[derive(Debug)]
pub struct RouterApis {
    pub service_accounts: Api<ServiceAccount>,
    pub roles: Api<Role>,
    pub role_bindings: Api<RoleBinding>,
    pub tables: Api<ConfigMap>,
}

/// The live children of one ModelDeployment: only those it controls.
#[derive(Clone, Debug, Default)]
pub struct Children {
    /// Deployments by revision.
    pub deployments: BTreeMap<String, Deployment>,
    /// Kept pod templates (ControllerRevisions) by revision.
    pub templates: BTreeMap<String, ControllerRevision>,
    /// Pods by revision, with their status only.
    pub pods: BTreeMap<String, Vec<Pod>>,
    pub routing: LiveRouting,
}

impl Children {
    /// The summary the planner works from.
    pub fn observed(
        &self,
        provider: modeldeploy_api::v1alpha1::TrafficProvider,
        owner: &crate::render::Owner,
        spec: &modeldeploy_api::v1alpha1::ModelDeploymentSpec,
    ) -> Observed {
        Observed {
            revisions: self
                .deployments
                .iter()
                .map(|(revision, deployment)| {
                    let pods = self
                        .pods
                        .get(revision)
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    (revision.clone(), observed_revision(deployment, pods))
                })
                .collect(),
            traffic: traffic::carried(provider, owner, spec, &self.routing),
            history: self
                .templates
                .iter()
                .map(|(revision, template)| HistoryEntry {
                    number: template.revision,
                    revision: revision.clone(),
                    model_version: template.labels().get(labels::LABEL_MODEL_VERSION).cloned(),
                })
                .collect(),
            gateway_features: None,
            route_pending: provider == modeldeploy_api::v1alpha1::TrafficProvider::GatewayApi
                && self
                    .routing
                    .http_route
                    .as_ref()
                    .is_some_and(HTTPRoute::pending_on_data_plane),
        }
    }
}

/// The children of ModelDeployment `name` (controlled by `owner_uid`) in `namespace`, from the
/// watch caches.
pub fn children(caches: &Caches, namespace: &str, name: &str, owner_uid: &str) -> Children {
    let by_revision = |labels: &std::collections::BTreeMap<String, String>| {
        labels.get(labels::LABEL_REVISION).cloned()
    };
    let deployments = children_of(&caches.deployments, namespace, name, owner_uid)
        .into_iter()
        .filter_map(|d| Some((by_revision(d.labels())?, Deployment::clone(&d))))
        .collect();
    let templates = children_of(&caches.revisions, namespace, name, owner_uid)
        .into_iter()
        .filter_map(|r| Some((by_revision(r.labels())?, ControllerRevision::clone(&r))))
        .collect();
    // Pods belong to ReplicaSets, not to the ModelDeployment: they are found by their labels.
    let mut pods: BTreeMap<String, Vec<Pod>> = BTreeMap::new();
    for pod in caches.pods.state() {
        if pod.namespace().as_deref() == Some(namespace)
            && pod
                .labels()
                .get(labels::LABEL_DEPLOYMENT)
                .map(String::as_str)
                == Some(name)
            && let Some(revision) = by_revision(pod.labels())
        {
            pods.entry(revision).or_default().push(Pod::clone(&pod));
        }
    }
    let services = children_of(&caches.services, namespace, name, owner_uid)
        .into_iter()
        .map(|s| (s.name_any(), Service::clone(&s)))
        .collect();
    let route = |store: Option<&kube::runtime::reflector::Store<HTTPRoute>>| {
        store.and_then(|store| {
            children_of(store, namespace, name, owner_uid)
                .into_iter()
                .find(|r| r.name_any() == name)
                .map(|r| HTTPRoute::clone(&r))
        })
    };
    let virtual_service = caches.virtual_services.as_ref().and_then(|store| {
        children_of(store, namespace, name, owner_uid)
            .into_iter()
            .find(|v| v.name_any() == name)
            .map(|v| VirtualService::clone(&v))
    });
    let router_name = traffic::router::name(name);
    let router = LiveRouter {
        service_account: own(
            &caches.router.service_accounts,
            namespace,
            name,
            owner_uid,
            &router_name,
        ),
        role: own(
            &caches.router.roles,
            namespace,
            name,
            owner_uid,
            &router_name,
        ),
        role_binding: own(
            &caches.router.role_bindings,
            namespace,
            name,
            owner_uid,
            &router_name,
        ),
        table: own(
            &caches.router.tables,
            namespace,
            name,
            owner_uid,
            &router_name,
        ),
        deployment: own(
            &caches.deployments,
            namespace,
            name,
            owner_uid,
            &router_name,
        ),
    };
    Children {
        deployments,
        templates,
        pods,
        routing: LiveRouting {
            services,
            http_route: route(caches.http_routes.as_ref()),
            virtual_service,
            router,
        },
    }
}

/// The child `object` of ModelDeployment `name` in `store`.
fn own<K>(store: &Store<K>, namespace: &str, name: &str, owner_uid: &str, object: &str) -> Option<K>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    children_of(store, namespace, name, owner_uid)
        .into_iter()
        .find(|o| o.name_any() == object)
        .map(|o| K::clone(&o))
}

/// The analysis templates in the watch caches, as seen from one namespace.
#[derive(Clone, Copy, Debug)]
pub struct Templates<'a> {
    pub caches: &'a Caches,
    pub namespace: &'a str,
}

impl crate::plan::analysis::templates::TemplateSource for Templates<'_> {
    fn template(
        &self,
        reference: &AnalysisTemplateRef,
    ) -> Option<crate::plan::analysis::templates::TemplateBody> {
        use crate::plan::analysis::templates::TemplateBody;
        if reference.cluster_scope {
            let found = self
                .caches
                .cluster_analysis_templates
                .as_ref()?
                .get(&ObjectRef::new(&reference.name))?;
            Some(TemplateBody {
                metrics: found.spec.metrics.clone(),
                args: found.spec.args.clone(),
            })
        } else {
            let found = self
                .caches
                .analysis_templates
                .as_ref()?
                .get(&ObjectRef::new(&reference.name).within(self.namespace))?;
            Some(TemplateBody {
                metrics: found.spec.metrics.clone(),
                args: found.spec.args.clone(),
            })
        }
    }
}

/// The features that the classes of the spec's parent Gateways publish, from the watch caches:
/// those every parent that publishes any supports. `None` when no parent's are known (a parent
/// that is missing, or whose class publishes nothing, is not held against the route).
pub fn gateway_features(
    caches: &Caches,
    namespace: &str,
    spec: &ModelDeploymentSpec,
) -> GatewayFeatures {
    let (Some(gateways), Some(classes)) = (&caches.gateways, &caches.gateway_classes) else {
        return None;
    };
    let parents = spec.traffic.gateway_api.as_ref()?.parent_refs.iter();
    parents
        .filter(|p| p.kind.as_deref().unwrap_or("Gateway") == "Gateway")
        .filter_map(|parent| {
            let reference = ObjectRef::<Gateway>::new(&parent.name)
                .within(parent.namespace.as_deref().unwrap_or(namespace));
            let class_name = gateways.get(&reference)?.spec.gateway_class_name.clone();
            let class = classes.get(&ObjectRef::new(&class_name))?;
            let published = class.status.as_ref()?.supported_features.as_ref()?;
            Some(
                published
                    .iter()
                    .map(|f| f.name.clone())
                    .collect::<BTreeSet<_>>(),
            )
        })
        .reduce(|all, one| all.intersection(&one).cloned().collect())
}

/// Fails with [`Error::NotOwned`] when `name` exists without being controlled by `owner_uid`:
/// a name the operator must not take over.
pub async fn ensure_not_taken<K>(api: &Api<K>, name: &str, owner_uid: &str) -> Result<(), Error>
where
    K: Resource + Clone + std::fmt::Debug + DeserializeOwned,
    K::DynamicType: Default,
{
    let found = api
        .get_opt(name)
        .await
        .map_err(|source| Error::kube::<K>("get", name, source))?;
    match found {
        Some(other) if !controlled_by(other.owner_references(), owner_uid) => {
            Err(Error::NotOwned {
                kind: K::kind(&K::DynamicType::default()).into_owned(),
                name: name.to_owned(),
            })
        }
        _ => Ok(()),
    }
}

fn observed_revision(deployment: &Deployment, pods: &[Pod]) -> ObservedRevision {
    let status = deployment.status.clone().unwrap_or_default();
    let generation = deployment.metadata.generation.unwrap_or_default();
    ObservedRevision {
        model_version: deployment
            .labels()
            .get(labels::LABEL_MODEL_VERSION)
            .cloned(),
        replicas: deployment
            .spec
            .as_ref()
            .and_then(|s| s.replicas)
            .unwrap_or(1),
        ready_replicas: status.ready_replicas.unwrap_or_default(),
        available_replicas: status.available_replicas.unwrap_or_default(),
        updated_replicas: status.updated_replicas.unwrap_or_default(),
        observed_latest: status.observed_generation.unwrap_or_default() >= generation,
        problem: pod_health::problem(deployment, pods),
    }
}
