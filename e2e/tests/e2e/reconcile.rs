//! The first reconcile: samples come up, children heal, deletion cleans up.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::events::v1::Event;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use modeldeploy_api::v1alpha1::{ModelDeployment, ModelDeploymentStatus};
use modeldeploy_e2e::{Scenario, sample, until, until_object};
use serde_json::json;

use crate::{
    TIMEOUT, apply_md, deploy, ready_pods, revision_deployments, selected_revision, until_ready,
};

const SAMPLES: [&str; 3] = ["iris-sklearn.yaml", "llm-gpu.yaml", "fraud-grpc.yaml"];

#[tokio::test]
async fn every_sample_becomes_ready_with_owned_labelled_children() {
    let scenario = Scenario::start("samples", true).await;
    let models: Api<ModelDeployment> = scenario.api();
    let deployments: Api<Deployment> = scenario.api();
    let services: Api<Service> = scenario.api();
    let pods: Api<Pod> = scenario.api();

    for file in SAMPLES {
        apply_md(&models, &sample(file)).await;
    }
    for file in SAMPLES {
        let name = sample(file).name_any();
        let md = until_ready(&models, &name).await;
        let status = md.status.clone().unwrap();
        let revision = status.stable_revision.clone().expect("a stable revision");
        assert_eq!(
            status.phase.map(|p| p.as_str()),
            Some("Healthy"),
            "{name}: {status:?}"
        );
        assert_eq!(
            status.traffic_summary.as_deref(),
            Some(format!("{revision}=100%").as_str())
        );

        let owned_by_md =
            |owners: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference]| {
                owners
                    .iter()
                    .any(|o| o.uid == md.uid().unwrap() && o.controller == Some(true))
            };
        let deployment = deployments
            .get(&format!("{name}-{revision}"))
            .await
            .unwrap();
        assert!(
            owned_by_md(deployment.owner_references()),
            "{name}: Deployment owner"
        );
        let labels = deployment.labels();
        assert_eq!(labels["app.kubernetes.io/name"], name);
        assert_eq!(
            labels["app.kubernetes.io/managed-by"],
            "modeldeploy-operator"
        );
        assert_eq!(labels["modeldeploy.io/revision"], revision);
        assert_eq!(
            labels["modeldeploy.io/model-version"],
            md.spec.model.version
        );

        let service = services.get(&name).await.unwrap();
        assert!(
            owned_by_md(service.owner_references()),
            "{name}: Service owner"
        );
        assert_eq!(
            service.labels()["app.kubernetes.io/managed-by"],
            "modeldeploy-operator"
        );
        assert_eq!(
            selected_revision(&service).as_deref(),
            Some(revision.as_str())
        );
        let port = &service.spec.as_ref().unwrap().ports.as_ref().unwrap()[0];
        assert_eq!(port.port, md.spec.runtime.port());

        let replicas = usize::try_from(md.spec.replicas).unwrap();
        assert_eq!(
            ready_pods(&pods, &name, &revision).await,
            replicas,
            "{name}: ready pods"
        );
    }

    // Each step of each first deploy is announced exactly once: an operator that planned from a
    // stale copy of its own status would announce it again.
    let events: Api<Event> = scenario.api();
    let announced = until(
        TIMEOUT,
        "every sample announced it is available",
        || async {
            let items = events.list(&ListParams::default()).await.unwrap().items;
            let available = items
                .iter()
                .filter(|e| e.reason.as_deref() == Some("RevisionAvailable"))
                .count();
            (available >= SAMPLES.len()).then_some(items)
        },
    )
    .await;
    for reason in ["RolloutStarted", "RevisionAvailable"] {
        let mut seen: Vec<&Event> = announced
            .iter()
            .filter(|e| e.reason.as_deref() == Some(reason))
            .collect();
        seen.sort_by_key(|e| e.regarding.as_ref().and_then(|r| r.name.clone()));
        assert_eq!(
            seen.len(),
            SAMPLES.len(),
            "one {reason} per sample: {seen:#?}"
        );
        assert!(
            seen.iter().all(|e| e.series.is_none()),
            "{reason} was repeated: {seen:#?}"
        );
    }
    scenario.finish().await;
}

#[tokio::test]
async fn children_deleted_or_edited_by_hand_are_put_back_and_deletion_leaves_nothing() {
    let scenario = Scenario::start("heal", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let deployments: Api<Deployment> = scenario.api();
    let services: Api<Service> = scenario.api();

    let revision = deploy(&models, &sample("iris-sklearn.yaml")).await;
    let deployment_name = format!("iris-{revision}");

    // The Service is deleted: it comes back, selecting the same revision.
    let old_service_uid = services.get("iris").await.unwrap().uid();
    services
        .delete("iris", &DeleteParams::default())
        .await
        .unwrap();
    until_object(
        &services,
        "iris",
        crate::TIMEOUT,
        "the Service is recreated",
        |s| {
            s.uid() != old_service_uid && selected_revision(s).as_deref() == Some(revision.as_str())
        },
    )
    .await;

    // The Deployment is deleted: it comes back with its pods.
    let old_deployment_uid = deployments.get(&deployment_name).await.unwrap().uid();
    deployments
        .delete(&deployment_name, &DeleteParams::foreground())
        .await
        .unwrap();
    until_object(
        &deployments,
        &deployment_name,
        TIMEOUT,
        "the Deployment is recreated and available",
        |d| {
            d.uid() != old_deployment_uid
                && d.status.as_ref().and_then(|s| s.available_replicas) == Some(2)
        },
    )
    .await;

    // Replicas edited by hand go back to the spec.
    deployments
        .patch(
            &deployment_name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .unwrap();
    until_object(
        &deployments,
        &deployment_name,
        TIMEOUT,
        "the hand edit is reverted",
        |d| d.spec.as_ref().and_then(|s| s.replicas) == Some(2),
    )
    .await;

    // Deleting the ModelDeployment removes every child through the garbage collector.
    models
        .delete("iris", &DeleteParams::default())
        .await
        .unwrap();
    until(
        TIMEOUT,
        "no Deployment or Service of iris is left",
        || async {
            let deployments_left = revision_deployments(&deployments, "iris").await.len();
            let service_left = services.get_opt("iris").await.unwrap().is_some();
            (deployments_left == 0 && !service_left).then_some(())
        },
    )
    .await;
    let pods: Api<Pod> = scenario.api();
    until(TIMEOUT, "no pod of iris is left", || async {
        (ready_pods(&pods, "iris", &revision).await == 0).then_some(())
    })
    .await;

    scenario.finish().await;
}

#[tokio::test]
async fn a_child_the_api_server_rejects_degrades_the_model_deployment_with_the_reason() {
    let scenario = Scenario::start("rejected", false).await;
    let models: Api<ModelDeployment> = scenario.api();

    // GPUs cannot be overcommitted: a GPU request without the same limit is an invalid pod.
    let mut md = sample("llm-gpu.yaml");
    let resources = md.spec.runtime.resources.as_mut().unwrap();
    resources.limits.as_mut().unwrap().remove("nvidia.com/gpu");
    apply_md(&models, &md).await;
    let status = until_degraded(&models, "support-llm", "ChildRejected").await;
    assert_eq!(status.phase.map(|p| p.as_str()), Some("Degraded"));
    let message = status.message.clone().unwrap_or_default();
    assert!(
        message.contains(
            "resources.limits: Required value: Limit must be set for non overcommitable resources"
        ),
        "{message}"
    );

    // Fixing the manifest clears it.
    apply_md(&models, &sample("llm-gpu.yaml")).await;
    let healthy = until_ready(&models, "support-llm").await.status.unwrap();
    assert_eq!(healthy.phase.map(|p| p.as_str()), Some("Healthy"));
    assert!(
        healthy
            .conditions
            .iter()
            .any(|c| c.type_ == "Degraded" && c.status == "False")
    );

    scenario.finish().await;
}

#[tokio::test]
async fn a_service_the_user_owns_is_never_taken_over() {
    let scenario = Scenario::start("conflict", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let services: Api<Service> = scenario.api();
    let theirs: Service = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "iris", "labels": {"team": "search"}},
        "spec": {"selector": {"app": "legacy-iris"}, "ports": [{"port": 80}]},
    }))
    .unwrap();
    services.create(&Default::default(), &theirs).await.unwrap();

    apply_md(&models, &sample("iris-sklearn.yaml")).await;
    let status = until_degraded(&models, "iris", "NameConflict").await;
    assert_eq!(status.phase.map(|p| p.as_str()), Some("Degraded"));
    let message = status.message.unwrap_or_default();
    assert!(
        message.contains("Service iris already exists and is not owned by this ModelDeployment"),
        "{message}"
    );

    let untouched = services.get("iris").await.unwrap();
    assert!(untouched.owner_references().is_empty());
    assert_eq!(
        untouched.labels().get("team").map(String::as_str),
        Some("search")
    );
    assert_eq!(
        untouched
            .spec
            .and_then(|s| s.selector)
            .and_then(|s| s.get("app").cloned())
            .as_deref(),
        Some("legacy-iris")
    );
    scenario.finish().await;
}

/// Waits until `name` is Degraded for `reason` and returns its status.
async fn until_degraded(
    api: &Api<ModelDeployment>,
    name: &str,
    reason: &str,
) -> ModelDeploymentStatus {
    let description = format!("{name} is Degraded with reason {reason}");
    let md = until_object(api, name, TIMEOUT, &description, |m| {
        m.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Degraded" && c.status == "True" && c.reason == reason)
        })
    })
    .await;
    md.status.unwrap()
}
