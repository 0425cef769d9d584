//! The built-in presets, with their images pinned. Moving a pin rolls out every ModelDeployment
//! that uses the preset, through its own strategy: say so in the release notes.

use std::collections::BTreeMap;

use super::Preset;

fn text(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn pairs(items: &[(&str, &str)]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Every built-in preset.
pub fn builtin() -> Vec<Preset> {
    vec![
        // MLServer serves scikit-learn, XGBoost and LightGBM over the Open Inference Protocol; its
        // image runs as user 1000.
        Preset {
            name: "mlserver".into(),
            formats: text(&["sklearn", "xgboost", "lightgbm"]),
            image: "docker.io/seldonio/mlserver:1.7.1".into(),
            command: vec![],
            args: vec![],
            port: 8080,
            env: pairs(&[
                ("MLSERVER_MODEL_NAME", "{name}"),
                ("MLSERVER_MODEL_URI", "{modelDir}"),
                ("MLSERVER_HTTP_PORT", "{port}"),
            ]),
            format_env: [
                ("sklearn", "mlserver_sklearn.SKLearnModel"),
                ("xgboost", "mlserver_xgboost.XGBoostModel"),
                ("lightgbm", "mlserver_lightgbm.LightGBMModel"),
            ]
            .iter()
            .map(|(format, class)| {
                (
                    (*format).to_owned(),
                    pairs(&[("MLSERVER_MODEL_IMPLEMENTATION", class)]),
                )
            })
            .collect(),
            ready_path: "/v2/models/{name}/ready".into(),
            startup_periods: 60,
            run_as_user: Some(1000),
        },
        // Triton serves ONNX, TensorRT, TorchScript and TensorFlow models from a repository.
        Preset {
            name: "triton".into(),
            formats: text(&["onnx", "tensorrt", "pytorch", "torchscript", "tensorflow"]),
            image: "nvcr.io/nvidia/tritonserver:25.01-py3".into(),
            command: text(&["tritonserver"]),
            args: text(&[
                "--model-repository={modelDir}",
                "--http-port={port}",
                "--allow-grpc=false",
                "--strict-readiness=true",
            ]),
            port: 8080,
            env: BTreeMap::new(),
            format_env: BTreeMap::new(),
            ready_path: "/v2/models/{name}/ready".into(),
            startup_periods: 60,
            run_as_user: None,
        },
        // TorchServe serves model archives (`.mar`); its `/ping` answers Healthy only once every
        // registered model has its workers up.
        Preset {
            name: "torchserve".into(),
            formats: text(&["pytorch-mar"]),
            image: "docker.io/pytorch/torchserve:0.12.0-cpu".into(),
            command: text(&["torchserve"]),
            args: text(&[
                "--start",
                "--foreground",
                "--disable-token-auth",
                "--model-store={modelDir}",
                "--models=all",
            ]),
            port: 8080,
            env: pairs(&[("TS_INFERENCE_ADDRESS", "http://0.0.0.0:{port}")]),
            format_env: BTreeMap::new(),
            ready_path: "/ping".into(),
            startup_periods: 60,
            run_as_user: None,
        },
        // vLLM serves Hugging Face language models with an OpenAI-compatible API; `/health`
        // answers once the engine has loaded the weights, which takes many minutes for a large
        // model.
        Preset {
            name: "vllm".into(),
            formats: text(&["huggingface"]),
            image: "docker.io/vllm/vllm-openai:v0.8.5".into(),
            command: vec![],
            args: text(&[
                "--model={modelDir}",
                "--served-model-name={name}",
                "--port={port}",
            ]),
            port: 8080,
            env: BTreeMap::new(),
            format_env: BTreeMap::new(),
            ready_path: "/health".into(),
            startup_periods: 180,
            run_as_user: None,
        },
    ]
}
