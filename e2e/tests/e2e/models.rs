//! Models, not just containers: with a runtime preset the manifest names the model and where it
//! lives, and the pods get the preset's server, the storage initializer that downloads the model,
//! the shared volume and a readiness probe that waits for the model to load.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use modeldeploy_api::v1alpha1::ModelDeployment;
use modeldeploy_e2e::rollout::until_status;
use modeldeploy_e2e::{OperatorOptions, Scenario, start_operator_with};
use modeldeploy_operator::preset::{Preset, Presets};
use serde_json::json;

use crate::{TIMEOUT, apply_md, until_ready};

/// The four-line case: a model, its version, its format and where it lives.
fn four_lines(name: &str, format: &str, storage_uri: &str) -> ModelDeployment {
    serde_json::from_value(json!({
        "apiVersion": "modeldeploy.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": name},
        "spec": {"model": {"name": name, "version": "1.0.0", "format": format, "storageUri": storage_uri}},
    }))
    .unwrap()
}

/// The pod template of `name`'s only revision.
async fn pod_of(scenario: &Scenario, name: &str) -> Pod {
    let pods: Api<Pod> = scenario.api();
    let listed = pods
        .list(&ListParams::default().labels(&format!("modeldeploy.io/deployment={name}")))
        .await
        .unwrap();
    listed.items.into_iter().next().expect("a pod")
}

#[tokio::test]
async fn each_format_gets_its_preset_the_storage_initializer_and_a_model_loaded_probe() {
    let scenario = Scenario::start("presets", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let cases = [
        (
            "iris",
            "sklearn",
            "gs://kfserving-examples/models/sklearn/1.0/model",
            "docker.io/seldonio/mlserver:",
            "/v2/models/iris/ready",
        ),
        (
            "flowers",
            "onnx",
            "s3://models/flowers/1",
            "nvcr.io/nvidia/tritonserver:",
            "/v2/models/flowers/ready",
        ),
        (
            "mnist",
            "pytorch-mar",
            "https://models.example/mnist.tar.gz",
            "docker.io/pytorch/torchserve:",
            "/ping",
        ),
        (
            "qwen",
            "huggingface",
            "hf://Qwen/Qwen2.5-0.5B-Instruct",
            "docker.io/vllm/vllm-openai:",
            "/health",
        ),
    ];
    for (name, format, uri, _, _) in cases {
        apply_md(&models, &four_lines(name, format, uri)).await;
    }
    for (name, format, uri, image, ready_path) in cases {
        until_ready(&models, name).await;
        let pod = pod_of(&scenario, name).await;
        let spec = pod.spec.unwrap();
        let init = &spec.init_containers.as_ref().expect("an init container")[0];
        assert_eq!(init.name, "storage-initializer", "{format}");
        assert_eq!(
            init.args.as_deref(),
            Some(&[uri.to_owned(), "/mnt/models".to_owned()][..])
        );
        let volume = spec
            .volumes
            .as_ref()
            .unwrap()
            .iter()
            .find(|v| v.name == "model-store");
        assert!(
            volume.is_some_and(|v| v.empty_dir.is_some()),
            "{format}: {volume:?}"
        );
        let server = &spec.containers[0];
        assert!(
            server.image.as_deref().unwrap().starts_with(image),
            "{format}: {:?}",
            server.image
        );
        let mount = server
            .volume_mounts
            .as_ref()
            .unwrap()
            .iter()
            .find(|m| m.name == "model-store")
            .unwrap();
        assert_eq!(
            (mount.mount_path.as_str(), mount.read_only),
            ("/mnt/models", Some(true))
        );
        let probe = server
            .readiness_probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .unwrap();
        assert_eq!(probe.path.as_deref(), Some(ready_path), "{format}");
        assert!(
            server.startup_probe.is_some(),
            "{format}: a start-up probe for large models"
        );
    }
    scenario.finish().await;
}

#[tokio::test]
async fn an_mlserver_model_runs_where_the_restricted_pod_security_level_is_enforced() {
    let scenario = Scenario::start("restricted", false).await;
    let namespaces: Api<Namespace> = Api::all(scenario.cluster.client.clone());
    namespaces
        .patch(
            &scenario.ns.name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
            }}})),
        )
        .await
        .unwrap();
    let models: Api<ModelDeployment> = scenario.api();
    apply_md(
        &models,
        &four_lines(
            "iris",
            "sklearn",
            "gs://kfserving-examples/models/sklearn/1.0/model",
        ),
    )
    .await;
    // Ready means the pods were admitted: a refused pod leaves the Deployment without replicas.
    until_ready(&models, "iris").await;
    let deployments: Api<Deployment> = scenario.api();
    let listed = deployments.list(&ListParams::default()).await.unwrap();
    let refused = listed
        .items
        .iter()
        .flat_map(|d| {
            d.status
                .as_ref()
                .and_then(|s| s.conditions.clone())
                .unwrap_or_default()
        })
        .find(|c| c.type_ == "ReplicaFailure");
    assert!(refused.is_none(), "{refused:?}");

    // Triton's image runs as root: its pods are refused, and the status says so at once.
    apply_md(
        &models,
        &four_lines("flowers", "onnx", "s3://models/flowers/1"),
    )
    .await;
    let status = until_status(&models, "flowers", TIMEOUT, "the refusal shows", |s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Degraded" && c.status == "True" && c.reason == "FailedCreate")
    })
    .await;
    let message = status.message.unwrap_or_default();
    assert!(message.contains("PodSecurity"), "{message}");
    scenario.finish().await;
}

#[tokio::test]
async fn an_admins_preset_replaces_a_builtin_one_and_serves_a_new_format() {
    let cluster = modeldeploy_e2e::Cluster::connect().await;
    let ns = cluster.namespace("admin-presets").await;
    let presets: Vec<Preset> = serde_saphyr::from_str(
        "- name: mlserver\n  formats: [sklearn]\n  image: registry.internal/mlserver:1.7.1-hardened\n  readyPath: /v2/models/{name}/ready\n\
         - name: pmml\n  formats: [pmml]\n  image: registry.internal/pmml-server:2\n  port: 9000\n  readyPath: /models/{name}/status\n",
    )
    .unwrap();
    let options = OperatorOptions {
        namespace: ns.name.clone(),
        leader_election: false,
    };
    let operator =
        start_operator_with(cluster.config.clone(), &options, Presets::with(presets)).await;
    let models: Api<ModelDeployment> = ns.api();
    apply_md(
        &models,
        &four_lines("iris", "sklearn", "s3://models/iris/1"),
    )
    .await;
    let mut scorer = four_lines("scorer", "pmml", "s3://models/scorer/1");
    // Admission knows the built-in formats only: an admin's new format is asked for by name.
    scorer.spec.runtime.preset = Some("pmml".into());
    apply_md(&models, &scorer).await;
    let pods: Api<Pod> = ns.api();
    for (name, image, path) in [
        (
            "iris",
            "registry.internal/mlserver:1.7.1-hardened",
            "/v2/models/iris/ready",
        ),
        (
            "scorer",
            "registry.internal/pmml-server:2",
            "/models/scorer/status",
        ),
    ] {
        until_ready(&models, name).await;
        let listed = pods
            .list(&ListParams::default().labels(&format!("modeldeploy.io/deployment={name}")))
            .await
            .unwrap();
        let server = &listed.items[0].spec.as_ref().unwrap().containers[0];
        assert_eq!(server.image.as_deref(), Some(image));
        let probe = server
            .readiness_probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .unwrap();
        assert_eq!(probe.path.as_deref(), Some(path));
    }
    operator.shutdown().await.unwrap();
    ns.delete().await;
}
