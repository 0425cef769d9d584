//! The MLflow registry client against a real MLflow tracking server: installed from PyPI by
//! `e2e/registry/mlflow.sh` (cached by version; the first run takes about half a minute) and
//! started on a free loopback port in a directory of its own. The server is shared by the tests
//! that run at the same time and stopped, with its worker, when the last of them drops it —
//! also when a test panics.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::time::{Duration, Instant};

use modeldeploy_e2e::mlflow::{MlflowServer as Server, shared_server};
use modeldeploy_operator::registry::mlflow::MlflowRegistry;
use modeldeploy_operator::registry::{
    Credentials, HttpClient, Missing, ModelRegistry, RegistryError, RegistryReference,
};
use serde_json::json;
const ADMIN_PASSWORD: &str = "modeldeploy-test-Passw0rd";

#[tokio::test]
async fn an_alias_resolves_to_the_version_it_points_at_now() {
    let server = shared_server();
    let model = server.model_with_versions("fraud-alias", 2).await;
    server.set_alias(&model, "champion", "1").await;
    let registry = server.registry(&Credentials::Anonymous);
    let reference = RegistryReference::alias(&model, "champion");

    let resolved = registry.resolve(&reference).await.unwrap();
    assert_eq!(resolved.name, model);
    assert_eq!(resolved.version, "1");
    assert_eq!(resolved.alias.as_deref(), Some("champion"));
    assert_eq!(resolved.source, format!("s3://models/{model}/1"));
    assert_eq!(resolved.artifact_uri, format!("s3://models/{model}/1"));
    assert_eq!(resolved.run_id, None);
    assert!(resolved.registered_at.is_some());
    assert!(resolved.last_updated.is_some());

    server.set_alias(&model, "champion", "2").await;
    let resolved = registry.resolve(&reference).await.unwrap();
    assert_eq!(resolved.version, "2");
    assert_eq!(resolved.artifact_uri, format!("s3://models/{model}/2"));
}

#[tokio::test]
async fn an_explicit_version_resolves_to_itself() {
    let server = shared_server();
    let model = server.model_with_versions("fraud-version", 2).await;
    let resolved = server
        .registry(&Credentials::Anonymous)
        .resolve(&RegistryReference::version(&model, "2"))
        .await
        .unwrap();
    assert_eq!(resolved.version, "2");
    assert_eq!(resolved.alias, None);
    assert_eq!(resolved.artifact_uri, format!("s3://models/{model}/2"));
}

#[tokio::test]
async fn missing_models_aliases_and_versions_are_not_found_by_name() {
    let server = shared_server();
    let model = server.model_with_versions("fraud-missing", 1).await;
    let registry = server.registry(&Credentials::Anonymous);

    let cases = [
        (
            RegistryReference::alias(&model, "no-such-alias"),
            Missing::Alias {
                name: model.clone(),
                alias: "no-such-alias".into(),
            },
        ),
        (
            RegistryReference::version(&model, "9"),
            Missing::Version {
                name: model.clone(),
                version: "9".into(),
            },
        ),
        (
            RegistryReference::alias("no-such-model", "champion"),
            Missing::Model {
                name: "no-such-model".into(),
            },
        ),
        (
            RegistryReference::version("no-such-model", "1"),
            Missing::Model {
                name: "no-such-model".into(),
            },
        ),
    ];
    for (reference, expected) in cases {
        let error = registry.resolve(&reference).await.unwrap_err();
        let text = error.to_string();
        match &error {
            RegistryError::NotFound { registry, missing } => {
                assert_eq!(missing, &expected, "{reference}: {text}");
                assert_eq!(registry, &server.base, "{text}");
            }
            other => panic!("{reference}: expected NotFound, got {other:?}"),
        }
        assert!(text.contains(&server.base), "{text}");
        let named = match &expected {
            Missing::Alias { alias, .. } => alias,
            Missing::Version { version, .. } => version,
            Missing::Model { name } => name,
        };
        assert!(text.contains(named.as_str()), "{text}");
    }
}

#[tokio::test]
async fn a_malformed_version_is_rejected_with_the_registry_s_reason() {
    let server = shared_server();
    let model = server.model_with_versions("fraud-malformed", 1).await;
    let error = server
        .registry(&Credentials::Anonymous)
        .resolve(&RegistryReference::version(&model, "latest"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::Misconfigured { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("must be an integer"), "{error}");
}

#[tokio::test]
async fn run_and_model_sources_resolve_to_storage() {
    let server = shared_server();
    let model = server.model_with_versions("fraud-sources", 1).await;
    let run = server
        .post("runs/create", json!({"experiment_id": "0"}))
        .await;
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_owned();
    let run_root = run["run"]["info"]["artifact_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    server
        .post(
            "model-versions/create",
            json!({"name": model, "source": format!("runs:/{run_id}/model"), "run_id": run_id}),
        )
        .await;
    server
        .post(
            "model-versions/create",
            json!({"name": model, "source": format!("models:/{model}/1")}),
        )
        .await;
    let registry = server.registry(&Credentials::Anonymous);

    let from_run = registry
        .resolve(&RegistryReference::version(&model, "2"))
        .await
        .unwrap();
    assert_eq!(from_run.source, format!("runs:/{run_id}/model"));
    assert_eq!(from_run.artifact_uri, format!("{run_root}/model"));
    assert_eq!(from_run.run_id.as_deref(), Some(run_id.as_str()));

    let from_model = registry
        .resolve(&RegistryReference::version(&model, "3"))
        .await
        .unwrap();
    assert_eq!(from_model.source, format!("models:/{model}/1"));
    assert_eq!(from_model.artifact_uri, format!("s3://models/{model}/1"));
}

#[tokio::test]
async fn basic_auth_is_sent_and_refusals_are_unauthorized() {
    let server = Server::start(
        &["--app-name", "basic-auth"],
        &[
            ("MLFLOW_AUTH_ADMIN_PASSWORD", ADMIN_PASSWORD),
            (
                "MLFLOW_FLASK_SERVER_SECRET_KEY",
                "modeldeploy-test-secret-key",
            ),
        ],
    );
    let admin = Credentials::basic("admin", ADMIN_PASSWORD);
    let model = server.model_with_versions("fraud-auth", 1).await;
    server.set_alias(&model, "champion", "1").await;
    let reference = RegistryReference::alias(&model, "champion");

    let resolved = server.registry(&admin).resolve(&reference).await.unwrap();
    assert_eq!(resolved.version, "1");

    let refused = [
        Credentials::Anonymous,
        Credentials::basic("admin", "wrong-password"),
        Credentials::bearer("not-a-token-this-server-knows"),
    ];
    for credentials in refused {
        let error = server
            .registry(&credentials)
            .resolve(&reference)
            .await
            .unwrap_err();
        assert!(
            matches!(error, RegistryError::Unauthorized { status: 401, .. }),
            "{credentials:?}: {error:?}"
        );
        let text = error.to_string();
        assert!(text.contains(&server.base), "{text}");
        assert!(!text.contains("wrong-password"), "{text}");
        assert!(!text.contains("not-a-token"), "{text}");
    }
}

#[tokio::test]
async fn a_closed_port_is_unreachable_and_named() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let http = HttpClient::new(Duration::from_secs(5)).unwrap();
    let registry = MlflowRegistry::new(http, &uri, &Credentials::Anonymous).unwrap();
    let error = registry
        .resolve(&RegistryReference::alias("fraud", "champion"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::Unreachable { .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.starts_with(&format!("cannot reach the registry at {uri}: ")),
        "{text}"
    );
    assert!(text.contains("refused"), "{text}");
}

#[tokio::test]
async fn a_silent_server_times_out_as_unreachable() {
    // Accepts connections (the kernel does, from the backlog) and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    let http = HttpClient::new(Duration::from_millis(300)).unwrap();
    let registry = MlflowRegistry::new(http, &uri, &Credentials::Anonymous).unwrap();
    let started = Instant::now();
    let error = registry
        .resolve(&RegistryReference::version("fraud", "1"))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        error.to_string(),
        format!("cannot reach the registry at {uri}: no answer within 0.3s")
    );
    drop(listener);
}
