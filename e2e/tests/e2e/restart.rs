//! All rollout state lives in `.status`: an operator started in the middle of a rollout carries
//! it on from there, without starting it over or repeating a step.

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use kube::api::ListParams;
use modeldeploy_api::v1alpha1::ModelDeployment;
use modeldeploy_e2e::{OperatorOptions, Scenario, sample, start_operator, until, until_object};

use crate::gate::Gate;
use crate::metrics::{sample_sum, scrape};
use crate::{TIMEOUT, apply_md, deploy, selected_revision, until_ready};

#[tokio::test]
async fn an_operator_restarted_mid_rollout_carries_it_on_without_repeating_a_step() {
    let Scenario {
        cluster,
        ns,
        operator,
    } = Scenario::start("restart", true).await;
    let models: Api<ModelDeployment> = ns.api();
    let mut md = sample("iris-sklearn.yaml");
    md.spec.scale_down_delay_seconds = Some(0);
    let old = deploy(&models, &md).await;

    // The new revision cannot become available until the test opens the gate.
    let gate = Gate::new(cluster.client.clone(), &ns.name);
    md.spec.model.version = "1.1.0".into();
    gate.hold(&mut md);
    apply_md(&models, &md).await;
    let rolling = until_object(&models, "iris", TIMEOUT, "the rollout has started", |m| {
        m.status.as_ref().is_some_and(|s| s.rollout.is_some())
    })
    .await
    .status
    .unwrap();
    let new = rolling.candidate_revision.clone().unwrap();

    operator.shutdown().await.unwrap();
    let options = OperatorOptions {
        namespace: ns.name.clone(),
        leader_election: true,
    };
    let successor = start_operator(cluster.config.clone(), &options).await;
    until(TIMEOUT, "the new operator has reconciled", || async {
        let text = scrape(successor.http_address()).await;
        (sample_sum(&text, "modeldeploy_reconciles_total", "result=\"success\"") > 0).then_some(())
    })
    .await;
    let resumed = models.get("iris").await.unwrap().status.unwrap();
    assert_eq!(
        resumed.rollout, rolling.rollout,
        "the rollout keeps its start time"
    );
    assert_eq!(resumed.candidate_revision.as_deref(), Some(new.as_str()));
    let services: Api<Service> = ns.api();
    assert_eq!(
        selected_revision(&services.get("iris").await.unwrap()).as_deref(),
        Some(old.as_str())
    );

    gate.open().await;
    let done = until_ready(&models, "iris").await.status.unwrap();
    assert_eq!(done.stable_revision.as_deref(), Some(new.as_str()));

    let events: Api<Event> = ns.api();
    let started: Vec<Event> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("RolloutStarted"))
        .filter(|e| e.note.as_deref().is_some_and(|n| n.contains(new.as_str())))
        .collect();
    assert_eq!(
        started.len(),
        1,
        "the rollout was announced once: {started:#?}"
    );
    assert!(
        started[0].series.is_none(),
        "and never again: {:?}",
        started[0].series
    );

    gate.close().await;
    successor.shutdown().await.unwrap();
    ns.delete().await;
}
