//! Fixtures for unit tests.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use modeldeploy_api::v1alpha1::{
    ModelDeploymentSpec, ModelSpec, Protocol, RuntimeSpec, TrafficSpec,
};

use crate::render::Owner;

/// A minimal spec serving model `iris` at `version`.
pub fn spec(version: &str) -> ModelDeploymentSpec {
    ModelDeploymentSpec {
        model: ModelSpec {
            name: "iris".into(),
            version: version.into(),
            storage_uri: Some("s3://models/iris".into()),
            format: Some("sklearn".into()),
            credentials: None,
            registry: None,
        },
        runtime: RuntimeSpec {
            image: Some("docker.io/seldonio/mlserver:1.6.1".into()),
            port: Some(8080),
            protocol: Protocol::Http,
            ..RuntimeSpec::default()
        },
        replicas: 2,
        traffic: TrafficSpec::default(),
        strategy: None,
        scale_down_delay_seconds: None,
        abort_scale_down_delay_seconds: None,
        revision_history_limit: None,
        progress_deadline_seconds: None,
    }
}

pub fn owner(name: &str) -> Owner {
    Owner {
        name: name.into(),
        namespace: "ml".into(),
        reference: OwnerReference {
            api_version: "modeldeploy.io/v1alpha1".into(),
            kind: "ModelDeployment".into(),
            name: name.into(),
            uid: "0000-uid".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        },
    }
}
