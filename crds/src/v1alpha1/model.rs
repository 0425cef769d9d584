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
    /// be a valid label value. Unset with `registry`, which resolves it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
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

    /// A registered model to serve, resolved to a version and its artifact URI, which are
    /// pinned in `status.registry`; instead of `version` and `storageUri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<RegistryReference>,

    /// Credentials for `storageUri`, by reference only: they are never copied into the spec,
    /// the status, logs or events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<StorageCredentials>,
}

/// A model in a model registry, by alias or version.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.alias) != has(self.version)").message("model.registry needs exactly one of alias (e.g. champion) or version (e.g. \"3\")"))]
#[x_kube(validation = Rule::new("!self.followAlias || has(self.alias)").message("model.registry.followAlias needs model.registry.alias: a fixed version never moves"))]
pub struct RegistryReference {
    /// The registry's kind; `mlflow` is the one supported today.
    #[serde(default)]
    pub kind: RegistryKind,
    /// Address of the registry, e.g. `https://mlflow.ml.svc:5000`.
    #[x_kube(validation = Rule::new("self.matches('^https?://[^/]+')").message("model.registry.uri must be an http:// or https:// address, e.g. https://mlflow.ml.svc:5000"))]
    #[schemars(length(max = 2048))]
    pub uri: String,
    /// The registered model's name.
    #[schemars(length(min = 1, max = 256))]
    pub name: String,
    /// An alias such as `champion`, resolved to the version it points at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub alias: Option<String>,
    /// One fixed version, as the registry spells it, e.g. `"3"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub version: Option<String>,
    /// Roll out the version an alias moves to, through the strategy. Without it the pinned
    /// version keeps serving and `status.registry.available` names the new one.
    #[serde(default)]
    pub follow_alias: bool,
    /// A Secret with `MLFLOW_TRACKING_TOKEN`, or `MLFLOW_TRACKING_USERNAME` and
    /// `MLFLOW_TRACKING_PASSWORD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: Option<String>,
}

/// Kinds of model registry.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RegistryKind {
    #[default]
    Mlflow,
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
