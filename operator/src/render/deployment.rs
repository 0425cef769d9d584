use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EmptyDirVolumeSource, PodSpec, PodTemplateSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use modeldeploy_api::v1alpha1::ModelDeploymentSpec;

use super::Owner;
use super::storage::model_storage;
use crate::labels;

/// Name of the serving container in every model pod.
pub const CONTAINER_NAME: &str = "model";
/// The memory-backed volume mounted at `/dev/shm` when `runtime.shmSize` is set.
const SHM_VOLUME: &str = "dshm";

/// The Deployment that runs `revision` with `replicas` pods.
pub fn deployment(
    owner: &Owner,
    spec: &ModelDeploymentSpec,
    revision: &str,
    replicas: i32,
) -> Deployment {
    // The user's pod labels first, so that the labels modeldeploy selects by always win.
    let mut template_labels = spec.runtime.pod_labels.clone();
    let mut pod_labels = labels::common(&owner.name, "model-server");
    pod_labels.extend(labels::revision_selector(&owner.name, revision));
    pod_labels.insert(
        labels::LABEL_MODEL_VERSION.to_owned(),
        spec.model.version.clone(),
    );

    template_labels.extend(pod_labels.clone());

    let runtime = &spec.runtime;
    let storage = model_storage(spec);
    let mut volumes = storage.volumes;
    volumes.extend(runtime.volumes.iter().cloned());
    let mut mounts: Vec<VolumeMount> = storage.mount.into_iter().collect();
    mounts.extend(runtime.volume_mounts.iter().cloned());
    if let Some(size) = &runtime.shm_size {
        volumes.push(Volume {
            name: SHM_VOLUME.to_owned(),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: Some("Memory".to_owned()),
                size_limit: Some(size.clone()),
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name: SHM_VOLUME.to_owned(),
            mount_path: "/dev/shm".to_owned(),
            ..VolumeMount::default()
        });
    }
    let container = Container {
        name: CONTAINER_NAME.to_owned(),
        image: runtime.image.clone(),
        image_pull_policy: runtime.image_pull_policy.map(|p| p.as_str().to_owned()),
        command: non_empty(&runtime.command),
        args: non_empty(&runtime.args),
        env: non_empty(&runtime.env),
        env_from: non_empty(&runtime.env_from),
        volume_mounts: non_empty(&mounts),
        ports: Some(vec![ContainerPort {
            name: Some(runtime.protocol.port_name().to_owned()),
            container_port: runtime.port(),
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        resources: runtime.resources.clone(),
        readiness_probe: runtime.readiness_probe.clone(),
        liveness_probe: runtime.liveness_probe.clone(),
        startup_probe: runtime.startup_probe.clone(),
        security_context: runtime.security_context.clone(),
        // A server that crashes at start-up shows its last log lines in the ModelDeployment.
        termination_message_policy: Some("FallbackToLogsOnError".to_owned()),
        ..Container::default()
    };

    Deployment {
        metadata: ObjectMeta {
            name: Some(labels::deployment_name(&owner.name, revision)),
            namespace: Some(owner.namespace.clone()),
            labels: Some(pod_labels.clone()),
            owner_references: Some(vec![owner.reference.clone()]),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(labels::revision_selector(&owner.name, revision)),
                ..LabelSelector::default()
            },
            // A revision's template never changes, so older ReplicaSets are of no use.
            revision_history_limit: Some(1),
            progress_deadline_seconds: i32::try_from(spec.progress_deadline().as_secs()).ok(),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(template_labels),
                    annotations: (!runtime.pod_annotations.is_empty())
                        .then(|| runtime.pod_annotations.clone()),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    init_containers: storage.init_container.map(|c| vec![c]),
                    containers: vec![container],
                    volumes: non_empty(&volumes),
                    image_pull_secrets: non_empty(&runtime.image_pull_secrets),
                    affinity: runtime.affinity.clone(),
                    topology_spread_constraints: non_empty(&runtime.topology_spread_constraints),
                    security_context: runtime.pod_security_context.clone(),
                    priority_class_name: runtime.priority_class_name.clone(),
                    runtime_class_name: runtime.runtime_class_name.clone(),
                    node_selector: (!runtime.node_selector.is_empty())
                        .then(|| runtime.node_selector.clone()),
                    tolerations: non_empty(&runtime.tolerations),
                    service_account_name: runtime.service_account_name.clone(),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    }
}

/// A revision that is not the spec's, at `replicas` pods: its live Deployment's own template,
/// selector and labels, so that only the replica count changes. The spec no longer describes
/// such a revision, so its live object is the record of its pods.
pub fn rescaled(live: &Deployment, replicas: i32) -> Option<Deployment> {
    let spec = live.spec.as_ref()?;
    Some(Deployment {
        metadata: ObjectMeta {
            name: live.metadata.name.clone(),
            namespace: live.metadata.namespace.clone(),
            labels: live.metadata.labels.clone(),
            owner_references: live.metadata.owner_references.clone(),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: spec.selector.clone(),
            template: spec.template.clone(),
            revision_history_limit: spec.revision_history_limit,
            progress_deadline_seconds: spec.progress_deadline_seconds,
            ..DeploymentSpec::default()
        }),
        status: None,
    })
}

fn non_empty<T: Clone>(items: &[T]) -> Option<Vec<T>> {
    (!items.is_empty()).then(|| items.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{owner, spec};

    #[test]
    fn names_labels_and_owns_the_revision_deployment() {
        let d = deployment(&owner("iris"), &spec("1.0.0"), "abc123", 3);
        assert_eq!(d.metadata.name.as_deref(), Some("iris-abc123"));
        let labels = d.metadata.labels.clone().unwrap_or_default();
        assert_eq!(
            labels
                .get("app.kubernetes.io/managed-by")
                .map(String::as_str),
            Some("modeldeploy-operator")
        );
        assert_eq!(
            labels.get("modeldeploy.io/revision").map(String::as_str),
            Some("abc123")
        );
        assert_eq!(
            labels
                .get("modeldeploy.io/model-version")
                .map(String::as_str),
            Some("1.0.0")
        );
        assert_eq!(d.metadata.owner_references.as_ref().map(Vec::len), Some(1));
        let spec = d.spec.unwrap_or_default();
        assert_eq!(spec.replicas, Some(3));
        let pod = spec.template.spec.unwrap_or_default();
        assert_eq!(
            pod.containers[0]
                .ports
                .as_ref()
                .map(|p| p[0].container_port),
            Some(8080)
        );
        let selector = spec.selector.match_labels.unwrap_or_default();
        let template_labels = spec
            .template
            .metadata
            .and_then(|m| m.labels)
            .unwrap_or_default();
        assert!(
            selector
                .iter()
                .all(|(k, v)| template_labels.get(k) == Some(v))
        );
    }

    #[test]
    fn pod_fields_of_the_runtime_reach_the_pod_and_modeldeploy_labels_win() {
        let mut spec = spec("1.0.0");
        spec.runtime.pod_labels = [
            ("team".to_owned(), "fraud".to_owned()),
            ("modeldeploy.io/revision".to_owned(), "mine".to_owned()),
        ]
        .into();
        spec.runtime.priority_class_name = Some("inference".into());
        spec.runtime.runtime_class_name = Some("nvidia".into());
        spec.runtime.shm_size = Some(k8s_openapi::apimachinery::pkg::api::resource::Quantity(
            "2Gi".into(),
        ));
        let d = deployment(&owner("iris"), &spec, "abc123", 1);
        let template = d.spec.unwrap_or_default().template;
        let labels = template.metadata.and_then(|m| m.labels).unwrap_or_default();
        assert_eq!(labels.get("team").map(String::as_str), Some("fraud"));
        assert_eq!(
            labels.get("modeldeploy.io/revision").map(String::as_str),
            Some("abc123")
        );
        let pod = template.spec.unwrap_or_default();
        assert_eq!(pod.priority_class_name.as_deref(), Some("inference"));
        assert_eq!(pod.runtime_class_name.as_deref(), Some("nvidia"));
        let volumes: Vec<String> = pod
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name)
            .collect();
        assert_eq!(volumes, ["model-store", "dshm"]);
        let mounts: Vec<String> = pod.containers[0]
            .volume_mounts
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|m| m.mount_path)
            .collect();
        assert_eq!(mounts, ["/mnt/models", "/dev/shm"]);
        assert_eq!(
            pod.init_containers.map(|c| c.len()),
            Some(1),
            "the storage initializer"
        );
    }
}
