use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{Container, ContainerPort, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use modeldeploy_api::v1alpha1::ModelDeploymentSpec;

use super::Owner;
use crate::labels;

/// Name of the serving container in every model pod.
pub const CONTAINER_NAME: &str = "model";

/// The Deployment that runs `revision` with `replicas` pods.
pub fn deployment(
    owner: &Owner,
    spec: &ModelDeploymentSpec,
    revision: &str,
    replicas: i32,
) -> Deployment {
    let mut pod_labels = labels::common(&owner.name, "model-server");
    pod_labels.extend(labels::revision_selector(&owner.name, revision));
    pod_labels.insert(
        labels::LABEL_MODEL_VERSION.to_owned(),
        spec.model.version.clone(),
    );

    let runtime = &spec.runtime;
    let container = Container {
        name: CONTAINER_NAME.to_owned(),
        image: Some(runtime.image.clone()),
        image_pull_policy: runtime.image_pull_policy.map(|p| p.as_str().to_owned()),
        command: non_empty(&runtime.command),
        args: non_empty(&runtime.args),
        env: non_empty(&runtime.env),
        ports: Some(vec![ContainerPort {
            name: Some(runtime.protocol.port_name().to_owned()),
            container_port: runtime.port,
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        resources: runtime.resources.clone(),
        readiness_probe: runtime.readiness_probe.clone(),
        liveness_probe: runtime.liveness_probe.clone(),
        startup_probe: runtime.startup_probe.clone(),
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
                    labels: Some(pod_labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
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
}
