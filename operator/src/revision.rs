//! The revision of a ModelDeployment: a stable hash of everything that shapes its pods.

use modeldeploy_api::v1alpha1::ModelDeploymentSpec;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Length of a revision in hex characters; short enough for names, long enough to never collide
/// among the revisions of one ModelDeployment.
const REVISION_LEN: usize = 10;

/// What a revision's pods are made from, as kept in its ControllerRevision: enough to render
/// its Deployment again when the spec has moved on.
#[derive(Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
pub struct PodTemplateRecord {
    pub model: modeldeploy_api::v1alpha1::ModelSpec,
    pub runtime: modeldeploy_api::v1alpha1::RuntimeSpec,
}

impl PodTemplateRecord {
    pub fn of(spec: &ModelDeploymentSpec) -> Self {
        PodTemplateRecord {
            model: spec.model.clone(),
            runtime: spec.runtime.clone(),
        }
    }

    /// `spec` with this record's model and runtime.
    pub fn applied_to(&self, spec: &ModelDeploymentSpec) -> ModelDeploymentSpec {
        ModelDeploymentSpec {
            model: self.model.clone(),
            runtime: self.runtime.clone(),
            ..spec.clone()
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodShapingFields<'a> {
    model: &'a modeldeploy_api::v1alpha1::ModelSpec,
    runtime: &'a modeldeploy_api::v1alpha1::RuntimeSpec,
    /// Absent when no model is downloaded, so that revisions from before the initializer keep
    /// their names.
    #[serde(skip_serializing_if = "Option::is_none")]
    storage_initializer: Option<&'a str>,
}

/// The revision of `spec`: equal specs give equal revisions, on every operator version that
/// serializes the model and runtime the same way. Replicas, traffic and strategy do not shape the
/// pods, so changing them does not start a rollout.
pub fn revision_of(spec: &ModelDeploymentSpec) -> String {
    let fields = PodShapingFields {
        model: &spec.model,
        runtime: &spec.runtime,
        storage_initializer: crate::render::initializer_image(spec),
    };
    // serde_json orders object keys (BTreeMap) and the API types skip unset fields, so the
    // encoding is canonical. Serializing plain data structures cannot fail.
    let canonical = serde_json::to_vec(&fields).unwrap_or_default();
    let digest = Sha256::digest(&canonical);
    let mut hex = String::with_capacity(REVISION_LEN);
    for byte in digest.iter().take(REVISION_LEN / 2) {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::spec;

    #[test]
    fn same_spec_same_revision() {
        assert_eq!(revision_of(&spec("1.0.0")), revision_of(&spec("1.0.0")));
        assert_eq!(revision_of(&spec("1.0.0")).len(), REVISION_LEN);
    }

    #[test]
    fn model_version_changes_the_revision() {
        assert_ne!(revision_of(&spec("1.0.0")), revision_of(&spec("1.1.0")));
    }

    #[test]
    fn replicas_and_traffic_do_not_change_the_revision() {
        let mut scaled = spec("1.0.0");
        scaled.replicas = 7;
        scaled.scale_down_delay_seconds = Some(5);
        assert_eq!(revision_of(&spec("1.0.0")), revision_of(&scaled));
    }

    #[test]
    fn image_changes_the_revision() {
        let mut other = spec("1.0.0");
        other.runtime.image = Some("example.com/server:2".into());
        assert_ne!(revision_of(&spec("1.0.0")), revision_of(&other));
    }
}
