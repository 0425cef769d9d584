//! Analysis templates: metrics written once and shared by many ModelDeployments, in a namespace
//! (`ModelAnalysisTemplate`) or for the whole cluster (`ClusterModelAnalysisTemplate`). The
//! kinds and short names differ from Argo Rollouts' `AnalysisTemplate` (`at`) and
//! `ClusterAnalysisTemplate` (`cat`), so that `kubectl get` is unambiguous when both are
//! installed.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::{Metric, ValueSource};

/// Metrics that analyses in this namespace can refer to by name.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "modeldeploy.io",
    version = "v1alpha1",
    kind = "ModelAnalysisTemplate",
    plural = "modelanalysistemplates",
    shortname = "mdat",
    category = "modeldeploy",
    namespaced,
    derive = "PartialEq",
    doc = "Metrics that analyses of ModelDeployments in this namespace can refer to by name.",
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ModelAnalysisTemplateSpec {
    /// The metrics, as in an analysis.
    #[schemars(length(min = 1, max = 32), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub metrics: Vec<Metric>,
    /// The arguments the metrics use as `{{args.<name>}}`, with optional defaults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub args: Vec<TemplateArg>,
}

/// Metrics that analyses of ModelDeployments in any namespace can refer to by name, with
/// `clusterScope: true`. Secrets and ConfigMaps its arguments name are read in the
/// ModelDeployment's namespace.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "modeldeploy.io",
    version = "v1alpha1",
    kind = "ClusterModelAnalysisTemplate",
    plural = "clustermodelanalysistemplates",
    shortname = "cmdat",
    category = "modeldeploy",
    derive = "PartialEq",
    doc = "Metrics that analyses of ModelDeployments in any namespace can refer to by name.",
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterModelAnalysisTemplateSpec {
    /// The metrics, as in an analysis.
    #[schemars(length(min = 1, max = 32), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub metrics: Vec<Metric>,
    /// The arguments the metrics use as `{{args.<name>}}`, with optional defaults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub args: Vec<TemplateArg>,
}

/// An argument of a template. Without `value` or `valueFrom`, every analysis that uses the
/// template must give it in its `args`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.value) && has(self.valueFrom))")
    .message("a template argument sets at most one of value or valueFrom"))]
pub struct TemplateArg {
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z][A-Za-z0-9_-]*$')").message("argument names start with a letter and hold letters, digits, '_' and '-', e.g. errorBudget"))]
    #[schemars(length(max = 63))]
    pub name: String,
    /// The default value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub value: Option<String>,
    /// The default value, from a Secret or ConfigMap key in the ModelDeployment's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<ValueSource>,
}
