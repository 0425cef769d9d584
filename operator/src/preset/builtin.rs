//! The built-in presets, with their images pinned. Moving a pin rolls out every ModelDeployment
//! that uses the preset, through its own strategy: say so in the release notes.

use super::Preset;

/// MLServer serves scikit-learn, XGBoost and LightGBM over the Open Inference Protocol.
const MLSERVER: Preset = Preset {
    name: "mlserver",
    formats: &["sklearn", "xgboost", "lightgbm"],
    image: "docker.io/seldonio/mlserver:1.7.1",
    command: &[],
    args: &[],
    port: 8080,
    env: &[
        ("MLSERVER_MODEL_NAME", "{name}"),
        ("MLSERVER_MODEL_URI", "{modelDir}"),
        ("MLSERVER_HTTP_PORT", "{port}"),
    ],
    format_env: &[
        (
            "sklearn",
            "MLSERVER_MODEL_IMPLEMENTATION",
            "mlserver_sklearn.SKLearnModel",
        ),
        (
            "xgboost",
            "MLSERVER_MODEL_IMPLEMENTATION",
            "mlserver_xgboost.XGBoostModel",
        ),
        (
            "lightgbm",
            "MLSERVER_MODEL_IMPLEMENTATION",
            "mlserver_lightgbm.LightGBMModel",
        ),
    ],
    ready_path: "/v2/models/{name}/ready",
    startup_periods: 60,
    // The image runs as user 1000.
    run_as_user: Some(1000),
};

/// Triton serves ONNX, TensorRT, TorchScript and TensorFlow models from a model repository.
const TRITON: Preset = Preset {
    name: "triton",
    formats: &["onnx", "tensorrt", "pytorch", "torchscript", "tensorflow"],
    image: "nvcr.io/nvidia/tritonserver:25.01-py3",
    command: &["tritonserver"],
    args: &[
        "--model-repository={modelDir}",
        "--http-port={port}",
        "--allow-grpc=false",
        "--strict-readiness=true",
    ],
    port: 8080,
    env: &[],
    format_env: &[],
    ready_path: "/v2/models/{name}/ready",
    startup_periods: 60,
    run_as_user: None,
};

/// TorchServe serves model archives (`.mar`). Its `/ping` answers Healthy only once every
/// registered model has its workers up.
const TORCHSERVE: Preset = Preset {
    name: "torchserve",
    formats: &["pytorch-mar"],
    image: "docker.io/pytorch/torchserve:0.12.0-cpu",
    command: &["torchserve"],
    args: &[
        "--start",
        "--foreground",
        "--disable-token-auth",
        "--model-store={modelDir}",
        "--models=all",
    ],
    port: 8080,
    env: &[("TS_INFERENCE_ADDRESS", "http://0.0.0.0:{port}")],
    format_env: &[],
    ready_path: "/ping",
    startup_periods: 60,
    run_as_user: None,
};

/// vLLM serves Hugging Face language models with an OpenAI-compatible API; `/health` answers
/// once the engine has loaded the weights, which for a large model takes many minutes.
const VLLM: Preset = Preset {
    name: "vllm",
    formats: &["huggingface"],
    image: "docker.io/vllm/vllm-openai:v0.8.5",
    command: &[],
    args: &[
        "--model={modelDir}",
        "--served-model-name={name}",
        "--port={port}",
    ],
    port: 8080,
    env: &[],
    format_env: &[],
    ready_path: "/health",
    startup_periods: 180,
    run_as_user: None,
};

/// Every built-in preset.
pub const BUILTIN: &[Preset] = &[MLSERVER, TRITON, TORCHSERVE, VLLM];

/// The built-in preset called `name`.
pub fn preset_named(name: &str) -> Option<&'static Preset> {
    BUILTIN.iter().find(|p| p.name == name)
}
