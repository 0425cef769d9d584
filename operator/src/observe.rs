//! Reading the children of a ModelDeployment from the API server.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::ListParams;
use kube::{Api, ResourceExt};

use crate::error::Error;
use crate::labels;
use crate::plan::{Observed, ObservedRevision};
use crate::render::selected_revision;

/// The live children of one ModelDeployment.
#[derive(Clone, Debug, Default)]
pub struct Children {
    /// Deployments owned by the ModelDeployment, by revision.
    pub deployments: BTreeMap<String, Deployment>,
    pub service: Option<Service>,
}

impl Children {
    /// The summary the planner works from.
    pub fn observed(&self) -> Observed {
        Observed {
            revisions: self
                .deployments
                .iter()
                .map(|(revision, deployment)| (revision.clone(), observed_revision(deployment)))
                .collect(),
            service_revision: self.service.as_ref().and_then(selected_revision),
        }
    }
}

/// Lists the Deployments labelled as children of `name` and owned by `owner_uid`, and the
/// Service `name`. A same-named Service that is not ours is reported, never touched.
pub async fn children(
    deployments: &Api<Deployment>,
    services: &Api<Service>,
    name: &str,
    owner_uid: &str,
) -> Result<Children, Error> {
    let owned =
        |meta_owners: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference]| {
            meta_owners
                .iter()
                .any(|o| o.uid == owner_uid && o.controller == Some(true))
        };
    let selector = ListParams::default().labels(&labels::children_selector(name));
    let listed = deployments
        .list(&selector)
        .await
        .map_err(|source| Error::kube::<Deployment>("list", name, source))?;
    let deployments = listed
        .items
        .into_iter()
        .filter(|d| owned(d.owner_references()))
        .filter_map(|d| {
            let revision = d.labels().get(labels::LABEL_REVISION)?.clone();
            Some((revision, d))
        })
        .collect();

    let service = services
        .get_opt(name)
        .await
        .map_err(|source| Error::kube::<Service>("get", name, source))?;
    let service = match service {
        Some(service) if owned(service.owner_references()) => Some(service),
        Some(_) => {
            return Err(Error::NotOwned {
                kind: "Service",
                name: name.to_owned(),
            });
        }
        None => None,
    };
    Ok(Children {
        deployments,
        service,
    })
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
