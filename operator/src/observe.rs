//! Reading the children of a ModelDeployment from the API server.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment};
use k8s_openapi::api::core::v1::Service;
use kube::api::ListParams;
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::labels::{self, controlled_by};
use crate::plan::{Observed, ObservedRevision};
use crate::traffic::{self, HTTPRoute, LiveRouting, VirtualService};
use modeldeploy_api::v1alpha1::HistoryEntry;

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
}

/// The live children of one ModelDeployment: only those it controls.
#[derive(Clone, Debug, Default)]
pub struct Children {
    /// Deployments by revision.
    pub deployments: BTreeMap<String, Deployment>,
    /// Kept pod templates (ControllerRevisions) by revision.
    pub templates: BTreeMap<String, ControllerRevision>,
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
                .map(|(revision, deployment)| (revision.clone(), observed_revision(deployment)))
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
        }
    }
}

/// Lists the Deployments and Services labelled as children of `name` and controlled by
/// `owner_uid`, and the routes named `name` that it controls.
pub async fn children(apis: &ChildApis, name: &str, owner_uid: &str) -> Result<Children, Error> {
    let selector = ListParams::default().labels(&labels::children_selector(name));
    let deployments = apis
        .deployments
        .list(&selector)
        .await
        .map_err(|source| Error::kube::<Deployment>("list", name, source))?
        .items
        .into_iter()
        .filter(|d| controlled_by(d.owner_references(), owner_uid))
        .filter_map(|d| {
            let revision = d.labels().get(labels::LABEL_REVISION)?.clone();
            Some((revision, d))
        })
        .collect();
    let templates = apis
        .revisions
        .list(&selector)
        .await
        .map_err(|source| Error::kube::<ControllerRevision>("list", name, source))?
        .items
        .into_iter()
        .filter(|r| controlled_by(r.owner_references(), owner_uid))
        .filter_map(|r| {
            let revision = r.labels().get(labels::LABEL_REVISION)?.clone();
            Some((revision, r))
        })
        .collect();
    let services = apis
        .services
        .list(&selector)
        .await
        .map_err(|source| Error::kube::<Service>("list", name, source))?
        .items
        .into_iter()
        .filter(|s| controlled_by(s.owner_references(), owner_uid))
        .map(|s| (s.name_any(), s))
        .collect();
    Ok(Children {
        deployments,
        templates,
        routing: LiveRouting {
            services,
            http_route: owned_by_name(apis.http_routes.as_ref(), name, owner_uid).await?,
            virtual_service: owned_by_name(apis.virtual_services.as_ref(), name, owner_uid).await?,
        },
    })
}

/// The object `name`, if the API exists and the object is controlled by `owner_uid`.
async fn owned_by_name<K>(
    api: Option<&Api<K>>,
    name: &str,
    owner_uid: &str,
) -> Result<Option<K>, Error>
where
    K: Resource + Clone + std::fmt::Debug + DeserializeOwned,
    K::DynamicType: Default,
{
    let Some(api) = api else { return Ok(None) };
    let found = api
        .get_opt(name)
        .await
        .map_err(|source| Error::kube::<K>("get", name, source))?;
    Ok(found.filter(|o| controlled_by(o.owner_references(), owner_uid)))
}

/// Whether `name` exists without being controlled by `owner_uid`: a name the operator must not
/// take over.
pub async fn taken_by_someone_else<K>(
    api: &Api<K>,
    name: &str,
    owner_uid: &str,
) -> Result<bool, Error>
where
    K: Resource + Clone + std::fmt::Debug + DeserializeOwned,
    K::DynamicType: Default,
{
    let found = api
        .get_opt(name)
        .await
        .map_err(|source| Error::kube::<K>("get", name, source))?;
    Ok(found.is_some_and(|o| !controlled_by(o.owner_references(), owner_uid)))
}

fn observed_revision(deployment: &Deployment) -> ObservedRevision {
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
    }
}
