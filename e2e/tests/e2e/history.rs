//! Kept pod templates: a stable Deployment deleted by hand mid-rollout comes back, and undo
//! serves an earlier revision, rebuilt from its template, until the spec changes.

use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment};
use k8s_openapi::api::core::v1::Service;
use kube::Api;
use kube::api::DeleteParams;
use modeldeploy_api::v1alpha1::{ModelDeployment, RequestAction, TrafficSpec};
use modeldeploy_e2e::rollout::{request, until_status};
use modeldeploy_e2e::{Scenario, until};
use modeldeploy_operator::traffic::HTTPRoute;

use crate::strategies::{
    canary, gateway_traffic, iris, pause, replicas, route_split, selects, until_step, weight,
};
use crate::{TIMEOUT, apply_md, deploy, until_ready};

#[tokio::test]
async fn a_stable_deployment_deleted_by_hand_mid_rollout_is_rebuilt() {
    let scenario = Scenario::start("rebuild", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let deployments: Api<Deployment> = scenario.api();
    let routes: Api<HTTPRoute> = scenario.api();
    let mut md = iris(3, gateway_traffic(), canary(vec![weight(30), pause(None)]));
    let old = deploy(&models, &md).await;
    md.spec.model.version = "1.1.0".into();
    apply_md(&models, &md).await;
    until_step(&models, 1, 30).await;
    let before = deployments.get(&format!("iris-{old}")).await.unwrap();
    deployments
        .delete(&format!("iris-{old}"), &DeleteParams::default())
        .await
        .unwrap();
    until(
        TIMEOUT,
        "the stable Deployment is rebuilt with its pods",
        || async {
            deployments
                .get_opt(&format!("iris-{old}"))
                .await
                .unwrap()
                .filter(|d| d.metadata.uid != before.metadata.uid)
                .filter(|d| d.status.as_ref().and_then(|s| s.available_replicas) == Some(3))
                .map(|_| ())
        },
    )
    .await;
    let status = models.get("iris").await.unwrap().status.unwrap();
    assert_eq!(status.stable_revision.as_deref(), Some(old.as_str()));
    let rebuilt = deployments.get(&format!("iris-{old}")).await.unwrap();
    assert_eq!(
        rebuilt
            .spec
            .and_then(|s| s.template.spec)
            .map(|p| p.containers[0].image.clone()),
        before
            .spec
            .and_then(|s| s.template.spec)
            .map(|p| p.containers[0].image.clone())
    );
    let (split, _) = route_split(&routes).await;
    assert_eq!(
        split,
        vec![
            ("iris-stable".to_owned(), 70),
            ("iris-canary".to_owned(), 30)
        ]
    );
    scenario.finish().await;
}

#[tokio::test]
async fn undo_serves_the_previous_revision_until_the_spec_changes() {
    let scenario = Scenario::start("undo", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let deployments: Api<Deployment> = scenario.api();
    let services: Api<Service> = scenario.api();
    let templates: Api<ControllerRevision> = scenario.api();
    let mut md = iris(2, TrafficSpec::default(), None);
    let first = deploy(&models, &md).await;
    md.spec.model.version = "1.1.0".into();
    let second = deploy(&models, &md).await;
    until(TIMEOUT, "the first revision's pods are gone", || async {
        replicas(&deployments, &first).await.is_none().then_some(())
    })
    .await;
    assert!(
        templates
            .get_opt(&format!("iris-{first}"))
            .await
            .unwrap()
            .is_some()
    );

    let answer = request(&models, "iris", RequestAction::Undo, TIMEOUT).await;
    assert!(answer.accepted, "{answer:?}");
    let undone = until_status(
        &models,
        "iris",
        TIMEOUT,
        "the first revision serves again",
        |s| s.stable_revision.as_deref() == Some(first.as_str()) && s.rollout.is_none(),
    )
    .await;
    assert_eq!(undone.serving_model_version.as_deref(), Some("1.0.0"));
    assert_eq!(
        undone.undo.as_ref().map(|u| u.spec_revision.clone()),
        Some(second.clone())
    );
    assert!(
        undone
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "False" && c.reason == "UndoInEffect"),
        "{undone:?}"
    );
    assert_eq!(
        selects(&services, "iris").await.as_deref(),
        Some(first.as_str())
    );
    assert_eq!(replicas(&deployments, &first).await, Some(2));

    // A new spec ends the undo.
    md.spec.model.version = "1.2.0".into();
    apply_md(&models, &md).await;
    let done = until_ready(&models, "iris").await.status.unwrap();
    assert!(done.undo.is_none());
    assert_eq!(done.serving_model_version.as_deref(), Some("1.2.0"));
    scenario.finish().await;
}
