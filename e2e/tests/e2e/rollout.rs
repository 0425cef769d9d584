//! A new model version replaces the old one without ever serving from fewer ready pods.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::Api;
use modeldeploy_api::v1alpha1::ModelDeployment;
use modeldeploy_e2e::{Scenario, sample, until, until_object};

use crate::gate::Gate;
use crate::{TIMEOUT, apply_md, deploy, events_about, ready_pods, selected_revision, until_ready};

#[tokio::test]
async fn new_model_version_switches_the_service_only_when_available_then_scales_the_old_down() {
    let scenario = Scenario::start("rollout", true).await;
    let models: Api<ModelDeployment> = scenario.api();
    let deployments: Api<Deployment> = scenario.api();
    let services: Api<Service> = scenario.api();
    let pods: Api<Pod> = scenario.api();

    let mut md = sample("iris-sklearn.yaml");
    md.spec.scale_down_delay_seconds = Some(20);
    let old = deploy(&models, &md).await;

    // The new revision stays unavailable until the test opens the gate.
    let gate = Gate::new(scenario.cluster.client.clone(), &scenario.ns.name);
    md.spec.model.version = "1.1.0".into();
    gate.hold(&mut md);
    let generation = apply_md(&models, &md).await.metadata.generation;

    let rolling = until_object(
        &models,
        "iris",
        TIMEOUT,
        "the new revision is being rolled out",
        |m| {
            m.status.as_ref().is_some_and(|s| {
                s.observed_generation == generation && s.candidate_revision.is_some()
            })
        },
    )
    .await;
    let status = rolling.status.unwrap();
    let new = status.candidate_revision.clone().unwrap();
    assert_ne!(new, old);
    assert_eq!(status.phase.map(|p| p.as_str()), Some("Promoting"));
    assert_eq!(status.stable_revision.as_deref(), Some(old.as_str()));
    // The status records the step before the operator carries it out.
    let new_deployment = until(TIMEOUT, "the new revision's Deployment exists", || async {
        deployments.get_opt(&format!("iris-{new}")).await.unwrap()
    })
    .await;
    assert_eq!(
        new_deployment
            .status
            .and_then(|s| s.available_replicas)
            .unwrap_or(0),
        0
    );
    assert_eq!(
        selected_revision(&services.get("iris").await.unwrap()).as_deref(),
        Some(old.as_str())
    );
    assert_eq!(
        ready_pods(&pods, "iris", &old).await,
        2,
        "the old revision keeps serving at full strength"
    );

    gate.open().await;

    let done = until_ready(&models, "iris").await.status.unwrap();
    assert_eq!(done.stable_revision.as_deref(), Some(new.as_str()));
    let service = services.get("iris").await.unwrap();
    assert_eq!(selected_revision(&service).as_deref(), Some(new.as_str()));
    let new_deployment = deployments.get(&format!("iris-{new}")).await.unwrap();
    assert_eq!(
        new_deployment.status.and_then(|s| s.available_replicas),
        Some(2)
    );

    // The old revision drains for scaleDownDelaySeconds, then goes.
    assert!(
        done.retired_revisions.iter().any(|r| r.name == old),
        "{done:?}"
    );
    assert!(
        deployments
            .get_opt(&format!("iris-{old}"))
            .await
            .unwrap()
            .is_some()
    );
    until(
        TIMEOUT,
        "the old revision's Deployment is removed",
        || async {
            deployments
                .get_opt(&format!("iris-{old}"))
                .await
                .unwrap()
                .is_none()
                .then_some(())
        },
    )
    .await;
    let settled = until_object(
        &models,
        "iris",
        TIMEOUT,
        "the retired revision leaves the status",
        |m| {
            m.status
                .as_ref()
                .is_some_and(|s| s.retired_revisions.is_empty())
        },
    )
    .await;
    assert_eq!(settled.status.unwrap().revisions.len(), 1);

    // Each step is announced, about the revision it concerns.
    let announced = events_about(&scenario.api(), "iris").await;
    for (reason, revision) in [
        ("RolloutStarted", &new),
        ("TrafficSwitched", &new),
        ("RevisionScaledDown", &old),
    ] {
        assert!(
            announced
                .iter()
                .any(|(r, note)| r == reason && note.contains(revision.as_str())),
            "missing event {reason} about {revision} in {announced:#?}"
        );
    }

    gate.close().await;
    scenario.finish().await;
}
