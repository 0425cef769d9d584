use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;

use super::Owner;
use crate::labels;
use crate::revision::PodTemplateRecord;

/// The ControllerRevision `<name>-<revision>` that keeps a revision's pod template.
pub fn template_record(
    owner: &Owner,
    revision: &str,
    number: i64,
    model_version: &str,
    record: &PodTemplateRecord,
) -> ControllerRevision {
    let mut pod_labels = labels::common(&owner.name, "revision-template");
    pod_labels.extend(labels::revision_selector(&owner.name, revision));
    pod_labels.insert(
        labels::LABEL_MODEL_VERSION.to_owned(),
        model_version.to_owned(),
    );
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(labels::deployment_name(&owner.name, revision)),
            namespace: Some(owner.namespace.clone()),
            labels: Some(pod_labels),
            owner_references: Some(vec![owner.reference.clone()]),
            ..ObjectMeta::default()
        },
        // Serializing plain data cannot fail.
        data: serde_json::to_value(record).ok().map(RawExtension),
        revision: number,
    }
}
