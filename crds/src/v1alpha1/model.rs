use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The model this deployment serves.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelSpec {
    /// Name of the model, e.g. `fraud-detector`.
    #[x_kube(validation = Rule::new("self.size() > 0").message("model.name must not be empty: name the model, e.g. fraud-detector"))]
    #[schemars(length(max = 253))]
    pub name: String,

    /// Version of the model: a free-form label such as `1.4.2` or `2026-11-01`. Changing it
    /// starts a rollout. It is also set as the `modeldeploy.io/model-version` label, so it must
    /// be a valid label value.
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$')")
        .message("model.version must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit, e.g. 1.4.2"))]
    #[schemars(length(max = 63))]
    pub version: String,

    /// Where the model artifacts live: `s3://`, `gs://`, `https://`, `hf://` or `pvc://`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^(s3|gs|https|hf|pvc)://[^/].*$')")
        .message("model.storageUri must start with s3://, gs://, https://, hf:// or pvc:// followed by a location, e.g. s3://models/fraud/1.4.2"))]
    #[schemars(length(max = 2048))]
    pub storage_uri: Option<String>,

    /// Serialization format of the model, e.g. `sklearn`, `xgboost`, `onnx`, `pytorch`,
    /// `tensorflow`, `huggingface`; used to pick a runtime preset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9][a-z0-9._-]*$')")
        .message("model.format must be a lowercase name such as sklearn, onnx, pytorch or huggingface"))]
    #[schemars(length(max = 63))]
    pub format: Option<String>,

    /// Credentials for `storageUri`, by reference only: they are never copied into the spec,
    /// the status, logs or events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<StorageCredentials>,
}

/// Where the storage initializer finds credentials for `model.storageUri`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageCredentials {
    /// A Secret in the ModelDeployment's namespace. Its keys become the storage initializer's
    /// environment, named as the SDKs expect: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`, `AWS_ENDPOINT_URL`, `AWS_REGION` for `s3://`; `HF_TOKEN` for
    /// `hf://`. A key `google-credentials.json` is mounted and named by
    /// `GOOGLE_APPLICATION_CREDENTIALS` for `gs://`. Without a Secret, the pod's ServiceAccount
    /// (workload identity) is used.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
}
