use k8s_openapi::api::core::v1::EnvVar;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use modeldeploy_api::v1alpha1::{ModelDeploymentSpec, RuntimeSpec};

use super::*;
use crate::revision::revision_of;
use crate::testing::spec;

fn effective_builtin(spec: &ModelDeploymentSpec) -> ModelDeploymentSpec {
    effective(spec, &Presets::builtin())
}

/// The four-line case: name, version, format and storage, nothing of the runtime.
fn four_lines(format: &str) -> ModelDeploymentSpec {
    let mut spec = spec("1.0.0");
    spec.model.format = Some(format.into());
    spec.runtime = RuntimeSpec::default();
    spec
}

fn env(spec: &ModelDeploymentSpec, name: &str) -> Option<String> {
    spec.runtime
        .env
        .iter()
        .find(|e| e.name == name)
        .and_then(|e| e.value.clone())
}

#[test]
fn each_format_picks_its_preset_with_a_model_loaded_readiness_probe() {
    let cases = [
        ("sklearn", "mlserver", "/v2/models/iris/ready"),
        ("xgboost", "mlserver", "/v2/models/iris/ready"),
        ("lightgbm", "mlserver", "/v2/models/iris/ready"),
        ("onnx", "triton", "/v2/models/iris/ready"),
        ("tensorrt", "triton", "/v2/models/iris/ready"),
        ("pytorch", "triton", "/v2/models/iris/ready"),
        ("pytorch-mar", "torchserve", "/ping"),
        ("huggingface", "vllm", "/health"),
    ];
    for (format, preset, path) in cases {
        let spec = four_lines(format);
        assert_eq!(
            preset_for(&spec, &Presets::builtin()).map(|p| p.name.as_str()),
            Some(preset),
            "{format}"
        );
        let runtime = effective_builtin(&spec).runtime;
        assert!(runtime.image.is_some(), "{format}");
        let probe = runtime.readiness_probe.and_then(|p| p.http_get);
        assert_eq!(
            probe.as_ref().and_then(|g| g.path.as_deref()),
            Some(path),
            "{format}"
        );
        assert_eq!(
            probe.map(|g| g.port),
            Some(IntOrString::String("http".into())),
            "{format}"
        );
        let startup = runtime.startup_probe.unwrap_or_default();
        assert!(
            startup.failure_threshold.unwrap_or(3) * startup.period_seconds.unwrap_or(10) >= 600,
            "{format}: a large model gets at least 10 minutes to load"
        );
    }
}

#[test]
fn the_preset_fills_in_name_model_dir_and_port() {
    let sklearn = effective_builtin(&four_lines("sklearn"));
    assert_eq!(
        env(&sklearn, "MLSERVER_MODEL_NAME").as_deref(),
        Some("iris")
    );
    assert_eq!(
        env(&sklearn, "MLSERVER_MODEL_URI").as_deref(),
        Some("/mnt/models")
    );
    assert_eq!(
        env(&sklearn, "MLSERVER_MODEL_IMPLEMENTATION").as_deref(),
        Some("mlserver_sklearn.SKLearnModel")
    );
    let mut llm = four_lines("huggingface");
    llm.runtime.model_dir = Some("/models".into());
    llm.runtime.port = Some(9000);
    let llm = effective_builtin(&llm);
    assert_eq!(
        llm.runtime.args,
        ["--model=/models", "--served-model-name=iris", "--port=9000"]
    );
    assert_eq!(llm.runtime.port, Some(9000));
}

#[test]
fn what_the_user_sets_wins_over_the_preset() {
    let mut spec = four_lines("sklearn");
    spec.runtime.preset = Some("mlserver".into());
    spec.runtime.image = Some("registry.internal/mlserver:1.7.1-patched".into());
    spec.runtime.env = vec![EnvVar {
        name: "MLSERVER_MODEL_NAME".into(),
        value: Some("fraud".into()),
        ..EnvVar::default()
    }];
    let runtime = effective_builtin(&spec).runtime;
    assert_eq!(
        runtime.image.as_deref(),
        Some("registry.internal/mlserver:1.7.1-patched")
    );
    assert_eq!(
        runtime
            .env
            .iter()
            .filter(|e| e.name == "MLSERVER_MODEL_NAME")
            .map(|e| e.value.as_deref())
            .collect::<Vec<_>>(),
        [Some("fraud")]
    );
}

#[test]
fn a_spec_with_its_own_image_and_no_preset_name_is_served_as_written() {
    // The test fixture names an image and the sklearn format: as before presets existed.
    let written = spec("1.0.0");
    assert_eq!(effective_builtin(&written), written);
    assert_eq!(
        revision_of(&effective_builtin(&written)),
        revision_of(&written)
    );
    let mut custom = four_lines("sklearn");
    custom.runtime.preset = Some("custom".into());
    custom.runtime.image = Some("example.com/server:1".into());
    assert_eq!(effective_builtin(&custom), custom);
}
