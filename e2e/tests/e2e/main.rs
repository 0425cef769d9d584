//! End-to-end tests against a real control plane. Run them with `make test`, or with
//! `e2e/controlplane/run.sh -- cargo test -p modeldeploy-e2e`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod analysis;
mod analysis_blue_green;
mod gate;
mod harness;
mod history;
mod kill;
mod kstatus;
mod leader;
mod metrics;
mod models;
mod packaging;
mod plugin;
mod pod_failures;
mod rbac;
mod reconcile;
mod registry;
mod restart;
mod rollout;
mod router;
mod samples;
mod steady_state;
mod strategies;
mod traffic;
mod validation;

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use modeldeploy_api::v1alpha1::ModelDeployment;
use modeldeploy_e2e::until_object;

/// Generous for 2 cores running a control plane, the operator and other tests at once.
pub const TIMEOUT: Duration = Duration::from_secs(90);

/// Applies `md` as a user would, with its own field manager.
pub async fn apply_md(api: &Api<ModelDeployment>, md: &ModelDeployment) -> ModelDeployment {
    let mut md = md.clone();
    md.metadata.namespace = None;
    md.status = None;
    api.patch(
        &md.name_any(),
        &PatchParams::apply("e2e-user").force(),
        &Patch::Apply(&md),
    )
    .await
    .expect("the ModelDeployment is accepted")
}

/// Applies `md`, waits until it is Ready and returns its stable revision.
pub async fn deploy(api: &Api<ModelDeployment>, md: &ModelDeployment) -> String {
    apply_md(api, md).await;
    let ready = until_ready(api, &md.name_any()).await;
    ready
        .status
        .and_then(|s| s.stable_revision)
        .expect("a stable revision once Ready")
}

/// Waits until the ModelDeployment reports Ready=True for its current generation.
pub async fn until_ready(api: &Api<ModelDeployment>, name: &str) -> ModelDeployment {
    until_object(
        api,
        name,
        TIMEOUT,
        &format!("{name} is Ready for its current generation"),
        |md| {
            let generation = md.metadata.generation;
            md.status.as_ref().is_some_and(|s| {
                s.observed_generation == generation
                    && s.candidate_revision.is_none()
                    && s.conditions.iter().any(|c| {
                        c.type_ == "Ready"
                            && c.status == "True"
                            && c.observed_generation == generation
                    })
            })
        },
    )
    .await
}

/// The revision Deployments that belong to `name`.
pub async fn revision_deployments(api: &Api<Deployment>, name: &str) -> Vec<Deployment> {
    let selector = format!(
        "app.kubernetes.io/managed-by=modeldeploy-operator,modeldeploy.io/deployment={name}"
    );
    api.list(&ListParams::default().labels(&selector))
        .await
        .unwrap()
        .items
}

pub use modeldeploy_operator::render::selected_revision;

/// Pods of one revision that are Ready.
pub async fn ready_pods(api: &Api<Pod>, name: &str, revision: &str) -> usize {
    let selector = format!("modeldeploy.io/deployment={name},modeldeploy.io/revision={revision}");
    api.list(&ListParams::default().labels(&selector))
        .await
        .unwrap()
        .items
        .iter()
        .filter(|pod| pod.metadata.deletion_timestamp.is_none())
        .filter(|pod| {
            pod.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .count()
}

/// The events about ModelDeployment `name`, as (reason, note).
pub async fn events_about(api: &Api<Event>, name: &str) -> Vec<(String, String)> {
    api.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .map(|e| (e.reason.unwrap_or_default(), e.note.unwrap_or_default()))
        .collect()
}
