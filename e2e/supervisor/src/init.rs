//! Init containers of a served pod, run before its server as a kubelet runs them: in order, each
//! to completion, restarted with a back-off when one fails. An init container whose image this
//! harness knows (the storage initializer) runs for real; any other completes at once, as kwok
//! would have it. Volumes are directories on the host: an init container's argument that names
//! a mount path is given the volume's directory instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, Pod, Secret};
use kube::Api;

/// An init container as the supervisor runs it.
#[derive(Clone, Debug, PartialEq)]
pub struct InitContainer {
    pub name: String,
    pub image: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Secrets whose keys join the environment (`envFrom`).
    pub env_secrets: Vec<String>,
    /// Mount path → volume name.
    pub mounts: BTreeMap<String, String>,
}

impl InitContainer {
    pub fn of(container: &Container) -> InitContainer {
        InitContainer {
            name: container.name.clone(),
            image: container.image.clone().unwrap_or_default(),
            args: container.args.clone().unwrap_or_default(),
            env: container
                .env
                .iter()
                .flatten()
                .filter_map(|e| Some((e.name.clone(), e.value.clone()?)))
                .collect(),
            env_secrets: container
                .env_from
                .iter()
                .flatten()
                .filter_map(|f| Some(f.secret_ref.as_ref()?.name.clone()))
                .collect(),
            mounts: container
                .volume_mounts
                .iter()
                .flatten()
                .map(|m| (m.mount_path.clone(), m.name.clone()))
                .collect(),
        }
    }

    /// The arguments with mount paths replaced by the volumes' directories under `volumes`.
    pub fn host_args(&self, volumes: &Path) -> Vec<String> {
        self.args
            .iter()
            .map(|arg| match self.mounts.get(arg) {
                Some(volume) => volumes.join(volume).display().to_string(),
                None => arg.clone(),
            })
            .collect()
    }
}

/// The init containers of `pod`.
pub fn of_pod(pod: &Pod) -> Vec<InitContainer> {
    pod.spec
        .as_ref()
        .and_then(|s| s.init_containers.as_ref())
        .map(|cs| cs.iter().map(InitContainer::of).collect())
        .unwrap_or_default()
}

/// The binary that runs `image`, if the harness knows one.
pub fn binary_for<'a>(image: &str, known: &'a [(String, PathBuf)]) -> Option<&'a Path> {
    known
        .iter()
        .find(|(prefix, _)| image.starts_with(prefix.as_str()))
        .map(|(_, binary)| binary.as_path())
}

/// The environment from `secrets`, as a kubelet resolves `envFrom`; the missing Secret's name
/// when one does not exist.
pub async fn secret_env(
    api: &Api<Secret>,
    secrets: &[String],
) -> Result<BTreeMap<String, String>, String> {
    let mut env = BTreeMap::new();
    for name in secrets {
        let secret = api
            .get_opt(name)
            .await
            .map_err(|e| format!("secret {name:?}: {e}"))?
            .ok_or_else(|| format!("secret {name:?} not found"))?;
        for (key, value) in secret.data.unwrap_or_default() {
            env.insert(key, String::from_utf8_lossy(&value.0).into_owned());
        }
        for (key, value) in secret.string_data.unwrap_or_default() {
            env.insert(key, value);
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn a_mount_path_argument_becomes_the_volume_directory() {
        let container: Container = serde_json::from_value(json!({
            "name": "storage-initializer", "image": "docker.io/modeldeploy/storage-initializer:0.1.0",
            "args": ["s3://models/iris", "/mnt/models"],
            "volumeMounts": [{"name": "model-store", "mountPath": "/mnt/models"}]
        }))
        .unwrap();
        let init = InitContainer::of(&container);
        assert_eq!(
            init.host_args(Path::new("/run/pods/ns_p/volumes")),
            ["s3://models/iris", "/run/pods/ns_p/volumes/model-store"]
        );
        let known = [(
            "docker.io/modeldeploy/storage-initializer".to_owned(),
            PathBuf::from("/bin/init"),
        )];
        assert_eq!(
            binary_for(&init.image, &known),
            Some(Path::new("/bin/init"))
        );
        assert_eq!(binary_for("busybox", &known), None);
    }
}
