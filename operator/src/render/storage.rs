//! Where the serving container finds the model: a `pvc://` claim mounted as it is, or anything
//! else downloaded by the storage initializer, an init container, into a volume the server
//! mounts read-only. Credentials come only by reference: a Secret's keys as the initializer's
//! environment (and a Google key file mounted), or the pod's ServiceAccount.

use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, EnvFromSource, EnvVar,
    PersistentVolumeClaimVolumeSource, ResourceRequirements, SeccompProfile, SecretEnvSource,
    SecretVolumeSource, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use modeldeploy_api::v1alpha1::ModelDeploymentSpec;

/// Image of the storage initializer, released with the operator.
pub const STORAGE_INITIALIZER_IMAGE: &str = concat!(
    "docker.io/modeldeploy/storage-initializer:",
    env!("CARGO_PKG_VERSION")
);
pub const INITIALIZER_NAME: &str = "storage-initializer";
const MODEL_VOLUME: &str = "model-store";
const CREDENTIALS_VOLUME: &str = "storage-credentials";
const CREDENTIALS_DIR: &str = "/var/run/secrets/modeldeploy/storage";
/// The key of the credentials Secret that holds a Google service account key.
const GOOGLE_KEY: &str = "google-credentials.json";

/// What the pod needs to have the model at `runtime.modelDir`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelStorage {
    pub volumes: Vec<Volume>,
    pub init_container: Option<Container>,
    /// The serving container's mount of the model.
    pub mount: Option<VolumeMount>,
}

/// The storage initializer's image when `spec` needs one: it is part of the revision, so that a
/// new initializer reaches running models through their strategy, not behind its back.
pub fn initializer_image(spec: &ModelDeploymentSpec) -> Option<&'static str> {
    let uri = spec.model.storage_uri.as_deref()?;
    (!uri.starts_with("pvc://")).then_some(STORAGE_INITIALIZER_IMAGE)
}

/// The volumes, init container and mount for `spec.model.storageUri`; nothing without one.
pub fn model_storage(spec: &ModelDeploymentSpec) -> ModelStorage {
    let Some(uri) = spec.model.storage_uri.as_deref() else {
        return ModelStorage::default();
    };
    let model_dir = spec.runtime.model_dir().to_owned();
    if let Some(location) = uri.strip_prefix("pvc://") {
        let (claim, path) = location.split_once('/').unwrap_or((location, ""));
        return ModelStorage {
            volumes: vec![Volume {
                name: MODEL_VOLUME.to_owned(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: claim.to_owned(),
                    read_only: Some(true),
                }),
                ..Volume::default()
            }],
            init_container: None,
            mount: Some(VolumeMount {
                name: MODEL_VOLUME.to_owned(),
                mount_path: model_dir,
                sub_path: (!path.is_empty()).then(|| path.to_owned()),
                read_only: Some(true),
                ..VolumeMount::default()
            }),
        };
    }
    let secret = spec
        .model
        .credentials
        .as_ref()
        .map(|c| c.secret_name.clone());
    let mut volumes = vec![Volume {
        name: MODEL_VOLUME.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }];
    let mut mounts = vec![VolumeMount {
        name: MODEL_VOLUME.to_owned(),
        mount_path: model_dir.clone(),
        ..VolumeMount::default()
    }];
    let mut env = Vec::new();
    if let Some(secret) = &secret {
        volumes.push(Volume {
            name: CREDENTIALS_VOLUME.to_owned(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.clone()),
                optional: Some(true),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name: CREDENTIALS_VOLUME.to_owned(),
            mount_path: CREDENTIALS_DIR.to_owned(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
        if uri.starts_with("gs://") {
            env.push(EnvVar {
                name: "GOOGLE_APPLICATION_CREDENTIALS".to_owned(),
                value: Some(format!("{CREDENTIALS_DIR}/{GOOGLE_KEY}")),
                ..EnvVar::default()
            });
        }
    }
    let init = Container {
        name: INITIALIZER_NAME.to_owned(),
        image: Some(STORAGE_INITIALIZER_IMAGE.to_owned()),
        args: Some(vec![uri.to_owned(), model_dir]),
        env: (!env.is_empty()).then_some(env),
        env_from: secret.map(|name| {
            vec![EnvFromSource {
                secret_ref: Some(SecretEnvSource {
                    name,
                    optional: Some(false),
                }),
                ..EnvFromSource::default()
            }]
        }),
        volume_mounts: Some(mounts),
        resources: Some(ResourceRequirements {
            requests: Some(
                [
                    ("cpu".to_owned(), Quantity("100m".into())),
                    ("memory".to_owned(), Quantity("128Mi".into())),
                ]
                .into(),
            ),
            limits: Some([("memory".to_owned(), Quantity("1Gi".into()))].into()),
            ..ResourceRequirements::default()
        }),
        // Its failure message (the URI and the cause) is what the ModelDeployment shows.
        termination_message_policy: Some("FallbackToLogsOnError".to_owned()),
        // The image's user (distroless nonroot), numeric so that the kubelet can check it.
        security_context: Some(SecurityContext {
            run_as_user: Some(65532),
            ..restricted()
        }),
        ..Container::default()
    };
    ModelStorage {
        volumes,
        init_container: Some(init),
        mount: Some(VolumeMount {
            name: MODEL_VOLUME.to_owned(),
            mount_path: spec.runtime.model_dir().to_owned(),
            read_only: Some(true),
            ..VolumeMount::default()
        }),
    }
}

/// A container security context that the `restricted` Pod Security level admits.
pub fn restricted() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            ..Capabilities::default()
        }),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            ..SeccompProfile::default()
        }),
        ..SecurityContext::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::spec;
    use modeldeploy_api::v1alpha1::StorageCredentials;

    #[test]
    fn a_downloaded_model_gets_the_initializer_a_shared_volume_and_a_read_only_mount() {
        let mut spec = spec("1.0.0");
        spec.model.storage_uri = Some("s3://models/iris/1.0.0".into());
        spec.model.credentials = Some(StorageCredentials {
            secret_name: "s3-reader".into(),
        });
        let storage = model_storage(&spec);
        let init = storage.init_container.unwrap_or_default();
        assert_eq!(init.name, INITIALIZER_NAME);
        assert_eq!(
            init.args.unwrap_or_default(),
            ["s3://models/iris/1.0.0", "/mnt/models"]
        );
        let from = init.env_from.unwrap_or_default();
        assert_eq!(
            from[0].secret_ref.as_ref().map(|s| s.name.as_str()),
            Some("s3-reader"),
            "credentials only by reference"
        );
        assert_eq!(
            storage
                .volumes
                .iter()
                .map(|v| v.name.as_str())
                .collect::<Vec<_>>(),
            ["model-store", "storage-credentials"]
        );
        let mount = storage.mount.unwrap_or_default();
        assert_eq!(
            (mount.mount_path.as_str(), mount.read_only),
            ("/mnt/models", Some(true))
        );
        assert_eq!(initializer_image(&spec), Some(STORAGE_INITIALIZER_IMAGE));
    }

    #[test]
    fn a_claim_is_mounted_as_it_is_and_nothing_is_downloaded() {
        let mut spec = spec("1.0.0");
        spec.model.storage_uri = Some("pvc://models-pvc/iris/1.0.0".into());
        let storage = model_storage(&spec);
        assert_eq!(storage.init_container, None);
        assert_eq!(initializer_image(&spec), None);
        let claim = storage.volumes[0]
            .persistent_volume_claim
            .clone()
            .unwrap_or_default();
        assert_eq!(claim.claim_name, "models-pvc");
        assert_eq!(
            storage.mount.and_then(|m| m.sub_path).as_deref(),
            Some("iris/1.0.0")
        );
    }

    #[test]
    fn a_google_key_is_named_only_for_gs() {
        let mut spec = spec("1.0.0");
        spec.model.storage_uri = Some("gs://models/iris".into());
        spec.model.credentials = Some(StorageCredentials {
            secret_name: "gcs-reader".into(),
        });
        let env = model_storage(&spec)
            .init_container
            .and_then(|c| c.env)
            .unwrap_or_default();
        assert_eq!(env[0].name, "GOOGLE_APPLICATION_CREDENTIALS");
    }
}
