//! Registry references against a real MLflow tracking server: an alias resolves to a version and
//! an artifact URI pinned in status and deployed; when the alias moves, a ModelDeployment that
//! follows it rolls the new version out, and one that does not keeps serving and says an update
//! is available.

use k8s_openapi::api::events::v1::Event;
use kube::Api;
use modeldeploy_api::v1alpha1::{ModelDeployment, RegistryKind, RegistryReference};
use modeldeploy_e2e::mlflow::shared_server;
use modeldeploy_e2e::rollout::until_status;
use modeldeploy_e2e::{Scenario, sample};

use crate::{TIMEOUT, apply_md, events_about, until_ready};

/// The iris sample as `name`, serving whatever `alias` of `model` points at.
fn from_registry(name: &str, uri: &str, model: &str, follow_alias: bool) -> ModelDeployment {
    let mut md = sample("iris-sklearn.yaml");
    md.metadata.name = Some(name.to_owned());
    md.spec.model.version = String::new();
    md.spec.model.storage_uri = None;
    md.spec.model.registry = Some(RegistryReference {
        kind: RegistryKind::Mlflow,
        uri: uri.to_owned(),
        name: model.to_owned(),
        alias: Some("champion".into()),
        version: None,
        follow_alias,
        secret_name: None,
    });
    md.spec.scale_down_delay_seconds = Some(2);
    md
}

#[tokio::test]
async fn an_alias_is_pinned_and_a_moved_alias_is_rolled_out_only_when_followed() {
    let server = tokio::task::spawn_blocking(shared_server).await.unwrap();
    let scenario = Scenario::start("registry", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let model = server.model_with_versions("fraud", 2).await;
    server.set_alias(&model, "champion", "1").await;

    apply_md(
        &models,
        &from_registry("follows", &server.base, &model, true),
    )
    .await;
    apply_md(
        &models,
        &from_registry("stays", &server.base, &model, false),
    )
    .await;
    for name in ["follows", "stays"] {
        let status = until_ready(&models, name).await.status.unwrap();
        let pinned = status.registry.unwrap();
        assert_eq!(pinned.pinned, format!("{model}@champion=1"));
        assert_eq!(pinned.source, format!("s3://models/{model}/1"));
        assert_eq!(status.serving_model_version.as_deref(), Some("1"));
    }

    server.set_alias(&model, "champion", "2").await;
    // The alias is looked up again every minute.
    let followed = until_status(
        &models,
        "follows",
        TIMEOUT,
        "version 2 serves after the alias moved",
        |s| {
            s.serving_model_version.as_deref() == Some("2")
                && s.registry.as_ref().is_some_and(|r| r.version == "2")
        },
    )
    .await;
    assert_eq!(
        followed.registry.unwrap().source,
        format!("s3://models/{model}/2")
    );
    let events: Api<Event> = scenario.api();
    let moved = events_about(&events, "follows").await;
    assert!(
        moved
            .iter()
            .any(|(reason, note)| reason == "AliasMoved"
                && note.contains("from version 1 to version 2")),
        "{moved:?}"
    );

    let stays = until_status(
        &models,
        "stays",
        TIMEOUT,
        "an update is available and version 1 keeps serving",
        |s| {
            s.registry
                .as_ref()
                .is_some_and(|r| r.available.as_deref() == Some("2"))
        },
    )
    .await;
    assert_eq!(stays.serving_model_version.as_deref(), Some("1"));
    assert!(
        stays.rollout.is_none(),
        "nothing moves: {:?}",
        stays.rollout
    );
    assert_eq!(
        stays.registry.unwrap().pinned,
        format!("{model}@champion=1 (2 available)")
    );
    scenario.finish().await;
}
