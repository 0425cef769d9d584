//! A settled ModelDeployment costs the API server nothing: the operator sends no writes.

use std::time::Duration;

use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::Api;
use kube::api::ListParams;
use modeldeploy_api::v1alpha1::ModelDeployment;
use modeldeploy_e2e::{Scenario, sample, until};

use crate::metrics::scrape;
use crate::{apply_md, until_ready};

const WRITE_VERBS: [&str; 4] = ["create", "update", "patch", "delete"];

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
    until_ready(&models, "iris").await;
    until_ready(&models, "fraud-detector").await;
    // The event of the last transition is the last write of its reconcile.
    let events: Api<Event> = scenario.api();
    until(
        crate::TIMEOUT,
        "both deployments announced they are available",
        || async {
            let announced = events
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .iter()
                .filter(|e| e.reason.as_deref() == Some("RevisionAvailable"))
                .count();
            (announced >= 2).then_some(())
        },
    )
    .await;

    let metrics = scenario.operator.http_address();
    let before = writes(&scrape(metrics).await);
    assert!(before > 0, "the rollout itself wrote children and status");
    // The measurement window itself: the claim is about a whole minute of quiet.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let text = scrape(metrics).await;
    let after = writes(&text);
    assert_eq!(before, after, "writes during 60 s of steady state:\n{text}");

    scenario.finish().await;
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
