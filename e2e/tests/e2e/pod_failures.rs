//! Pods that cannot start need a person: the ModelDeployment says why, in the pod's own words,
//! as soon as the pod shows it — not after the progress deadline as "0/2 ready".

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Pod, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::Api;
use kube::api::ListParams;
use modeldeploy_api::v1alpha1::ModelDeployment;
use modeldeploy_e2e::rollout::until_status;
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
