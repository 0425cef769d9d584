//! Pods that cannot start need a person: the ModelDeployment says why, in the pod's own words,
//! as soon as the pod shows it — not after the progress deadline as "0/2 ready".

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Pod, ResourceRequirements, Secret};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::Api;
use kube::api::ListParams;
use modeldeploy_api::v1alpha1::{ModelDeployment, StorageCredentials};
use modeldeploy_e2e::rollout::until_status;
use modeldeploy_e2e::traffic::{Gateway, demo_model};
use modeldeploy_e2e::{Scenario, until};

use crate::strategies::{canary, iris, pause, weight};
use crate::{TIMEOUT, apply_md, deploy};

/// How long after the pod shows its trouble the status may take: one reconcile, woken by the
/// pod's change, with room for a busy 2-core machine.
const ONE_RECONCILE: Duration = Duration::from_secs(10);

/// Rolls `md` out with `change` and asserts that the candidate's pods show `reason` and the
/// ModelDeployment says so with a message containing `says`, within one reconcile.
async fn shows_pod_reason(
    prefix: &str,
    change: impl FnOnce(&mut ModelDeployment),
    reason: &str,
    says: &str,
) {
    let scenario = Scenario::start(prefix, false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let pods: Api<Pod> = scenario.api();
    let mut md = iris(1, Default::default(), canary(vec![weight(50), pause(None)]));
    deploy(&models, &md).await;
    md.spec.model.version = "1.1.0".into();
    change(&mut md);
    apply_md(&models, &md).await;

    let candidate = until_status(&models, "iris", TIMEOUT, "a candidate starts", |s| {
        s.candidate_revision.is_some()
    })
    .await
    .candidate_revision
    .unwrap();
    let selector = format!("modeldeploy.io/deployment=iris,modeldeploy.io/revision={candidate}");
    until(TIMEOUT, &format!("a candidate pod shows {reason}"), || {
        let (pods, selector) = (pods.clone(), selector.clone());
        async move {
            let listed = pods
                .list(&ListParams::default().labels(&selector))
                .await
                .ok()?;
            let text = serde_json::to_string(&listed.items).ok()?;
            text.contains(reason).then_some(())
        }
    })
    .await;
    let seen = Instant::now();
    let status = until_status(
        &models,
        "iris",
        ONE_RECONCILE,
        &format!("the ModelDeployment shows {reason}"),
        |s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Degraded" && c.status == "True" && c.reason == reason)
        },
    )
    .await;
    let degraded = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Degraded")
        .unwrap();
    assert!(
        degraded.message.contains(says) && degraded.message.contains(&candidate),
        "the message names the revision and what the pod says: {degraded:?}"
    );
    assert_eq!(
        status.message.as_deref(),
        Some(degraded.message.as_str()),
        "kubectl get shows it"
    );
    assert!(
        status
            .conditions
            .iter()
            .any(|c| c.type_ == "Stalled" && c.status == "False"),
        "the progress deadline has not passed: {status:?}"
    );
    eprintln!(
        "{reason} shown {:?} after the pod showed it",
        seen.elapsed()
    );
    scenario.finish().await;
}

#[tokio::test]
async fn an_image_that_cannot_be_pulled_shows_in_status_at_once() {
    shows_pod_reason(
        "pull",
        |md| md.spec.runtime.image = Some("docker.io/seldonio/mlserver:unpullable".into()),
        "ImagePullBackOff",
        "Back-off pulling image",
    )
    .await;
}

#[tokio::test]
async fn a_pod_no_node_has_gpus_for_shows_in_status_at_once() {
    shows_pod_reason(
        "gpu",
        |md| {
            let gpus = [("nvidia.com/gpu".to_owned(), Quantity("64".into()))];
            md.spec.runtime.resources = Some(ResourceRequirements {
                requests: Some(gpus.clone().into()),
                limits: Some(gpus.into()),
                ..ResourceRequirements::default()
            });
        },
        "Unschedulable",
        "Insufficient nvidia.com/gpu",
    )
    .await;
}

#[tokio::test]
async fn a_failing_storage_initializer_shows_in_status_with_the_uri_and_the_cause() {
    let scenario = Scenario::start("init-fails", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let pods: Api<Pod> = scenario.api();
    // Credentials by reference, pointing the initializer at an S3 endpoint where nothing listens.
    let secrets: Api<Secret> = scenario.api();
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "s3-reader"},
        "stringData": {
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": "reader", "AWS_SECRET_ACCESS_KEY": "not-a-real-secret",
            "AWS_REGION": "us-east-1",
        },
    }))
    .unwrap();
    secrets.create(&Default::default(), &secret).await.unwrap();
    let gateway = Gateway::local();
    let mut md = demo_model(
        "iris",
        "1",
        1,
        gateway.traffic("init.models.local"),
        None,
        &[],
    );
    md.spec.model.storage_uri = Some("s3://models/iris/1".into());
    md.spec.model.credentials = Some(StorageCredentials {
        secret_name: "s3-reader".into(),
    });
    apply_md(&models, &md).await;

    until(TIMEOUT, "the storage initializer has failed", || {
        let pods = pods.clone();
        async move {
            let listed = pods
                .list(&ListParams::default().labels("modeldeploy.io/deployment=iris"))
                .await
                .ok()?;
            let text = serde_json::to_string(&listed.items).ok()?;
            text.contains("CrashLoopBackOff").then_some(())
        }
    })
    .await;
    let seen = Instant::now();
    let status = until_status(
        &models,
        "iris",
        ONE_RECONCILE,
        "the ModelDeployment shows the failure",
        |s| {
            s.conditions.iter().any(|c| {
                c.type_ == "Degraded" && c.status == "True" && c.reason == "CrashLoopBackOff"
            })
        },
    )
    .await;
    let message = status.message.unwrap_or_default();
    assert!(
        message.contains("init container storage-initializer")
            && message.contains("s3://models/iris/1"),
        "the status names the initializer and the URI: {message}"
    );
    assert!(
        !message.contains("not-a-real-secret"),
        "no credential in status: {message}"
    );
    eprintln!(
        "shown {:?} after the pod showed it: {message}",
        seen.elapsed()
    );
    scenario.finish().await;
}
