//! A settled ModelDeployment costs the API server nothing: the operator sends no writes.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use modeldeploy_api::v1alpha1::ModelDeployment;
use modeldeploy_api::v1alpha1::{Phase, TrafficSpec};
use modeldeploy_e2e::rollout::until_status;
use modeldeploy_e2e::{Scenario, sample, until};
use serde_json::json;

use crate::metrics::scrape;
use crate::strategies;
use crate::{apply_md, until_ready};

const WRITE_VERBS: [&str; 4] = ["create", "update", "patch", "delete"];

/// Settled, and paused in the middle of a rollout of every strategy: no writes either way.
#[tokio::test]
async fn a_steady_state_sends_no_write_requests_for_a_minute() {
    let scenario = Scenario::start("steady", true).await;
    let models: Api<ModelDeployment> = scenario.api();
    // Quantities as people write them; the API server stores them as `500m` and `1Gi`.
    let mut iris = sample("iris-sklearn.yaml");
    let resources = iris.spec.runtime.resources.get_or_insert_default();
    resources.requests = Some(
        [
            ("cpu".to_owned(), Quantity("0.5".into())),
            ("memory".to_owned(), Quantity("1024Mi".into())),
        ]
        .into(),
    );
    apply_md(&models, &iris).await;
    apply_md(&models, &sample("fraud-grpc.yaml")).await;
    // Every strategy at rest in the middle of a rollout, over each kind of provider.
    let paused = [
        (
            "canary",
            strategies::gateway_traffic(),
            strategies::canary(vec![strategies::weight(20), strategies::pause(None)]),
        ),
        (
            "bluegreen",
            TrafficSpec::default(),
            strategies::blue_green_manual(),
        ),
        (
            "shadow",
            strategies::istio_traffic(),
            strategies::shadow_long(50),
        ),
        (
            "abtest",
            strategies::gateway_traffic(),
            strategies::ab_testers(30),
        ),
    ];
    for (name, traffic, strategy) in &paused {
        let mut md = strategies::iris(2, traffic.clone(), strategy.clone());
        md.metadata.name = Some((*name).to_owned());
        apply_md(&models, &md).await;
        until_ready(&models, name).await;
        md.spec.model.version = "1.1.0".into();
        apply_md(&models, &md).await;
    }
    until_ready(&models, "iris").await;
    until_ready(&models, "fraud-detector").await;
    for (name, _, _) in &paused {
        until_status(
            &models,
            name,
            crate::TIMEOUT,
            &format!("{name} pauses mid-rollout"),
            |s| {
                s.phase == Some(Phase::Paused)
                    && s.rollout.as_ref().is_some_and(|r| r.step_index >= 1)
                    && s.observed_generation == Some(2)
            },
        )
        .await;
    }
    // The event of the last transition is the last write of its reconcile.
    let events: Api<Event> = scenario.api();
    let last_events = [
        ("iris", "RevisionAvailable"),
        ("fraud-detector", "RevisionAvailable"),
        ("canary", "RolloutPaused"),
        ("bluegreen", "RolloutPaused"),
        ("shadow", "StepStarted"),
        ("abtest", "StepStarted"),
    ];
    until(
        crate::TIMEOUT,
        "every ModelDeployment announced its last transition",
        || async {
            let listed = events.list(&ListParams::default()).await.unwrap().items;
            last_events
                .iter()
                .all(|(name, reason)| {
                    listed.iter().any(|e| {
                        e.reason.as_deref() == Some(*reason)
                            && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(*name)
                    })
                })
                .then_some(())
        },
    )
    .await;

    let metrics = scenario.operator.http_address();
    let first = scrape(metrics).await;
    let before = writes(&first);
    let reads_before = reads(&first);
    assert!(before > 0, "the rollout itself wrote children and status");
    // Changes that are not the operator's business still wake it: each reconcile they cause must
    // cost nothing either. (A label, not an annotation: the API server counts an annotation
    // change as a new Deployment generation, which the operator rightly waits to see observed.)
    let deployments: Api<Deployment> = scenario.api();
    for deployment in deployments
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
    {
        let poke = json!({"metadata": {"labels": {"e2e.modeldeploy.io/poked": "yes"}}});
        deployments
            .patch(
                &deployment.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&poke),
            )
            .await
            .unwrap();
    }
    // The measurement window itself: the claim is about a whole minute of quiet.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let text = scrape(metrics).await;
    let after = writes(&text);
    assert_eq!(
        before,
        after,
        "writes during 60 s of steady state:\n{}",
        changed(&first, &text)
    );
    assert!(
        reconciles(&text) > reconciles(&first),
        "the pokes woke the operator"
    );
    // Nor reads: children come from watch caches, and a resync plans from the cached object.
    assert_eq!(
        reads_before,
        reads(&text),
        "reads during 60 s of steady state:\n{}",
        changed(&first, &text)
    );

    scenario.finish().await;
}

fn reconciles(metrics: &str) -> u64 {
    crate::metrics::sample_sum(
        metrics,
        "modeldeploy_reconciles_total",
        "result=\"success\"",
    )
}

/// The request counters that moved between two scrapes.
fn changed(before: &str, after: &str) -> String {
    after
        .lines()
        .filter(|line| line.starts_with("modeldeploy_kube_requests_total{"))
        .filter(|line| !before.lines().any(|b| b == *line))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads by reconciles: GET and LIST, not the watches that keep the caches.
fn reads(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|line| line.starts_with("modeldeploy_kube_requests_total{"))
        .filter(|line| line.contains("verb=\"get\"") || line.contains("verb=\"list\""))
        .filter(|line| !line.contains("resource=\"leases\""))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Writes by reconciles. Lease renewals are the leader's heartbeat, not reconcile output.
fn writes(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|line| line.starts_with("modeldeploy_kube_requests_total{"))
        .filter(|line| {
            WRITE_VERBS
                .iter()
                .any(|verb| line.contains(&format!("verb=\"{verb}\"")))
        })
        .filter(|line| !line.contains("resource=\"leases\""))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}
