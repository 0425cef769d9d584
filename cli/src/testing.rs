//! Hand-built objects for the unit tests.

#![allow(clippy::expect_used)]

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use modeldeploy_api::v1alpha1::ModelDeployment;
use serde_json::json;

/// A ModelDeployment without status. Built from JSON, as the API server would send it, so that
/// fields the API gains later do not break the tests.
pub fn deployment(name: &str, namespace: &str) -> ModelDeployment {
    serde_json::from_value(json!({
        "apiVersion": "modeldeploy.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": { "name": name, "namespace": namespace },
        "spec": {
            "model": { "name": "iris-classifier", "version": "1.1.0" },
            "runtime": { "image": "docker.io/seldonio/mlserver:1.6.1" },
            "replicas": 2,
        },
    }))
    .expect("a valid ModelDeployment")
}

/// A Normal event about `kind`/`name` that happened at `second`.
pub fn event(kind: &str, name: &str, second: i64, reason: &str, note: &str) -> Event {
    Event {
        regarding: Some(ObjectReference {
            kind: Some(kind.to_owned()),
            name: Some(name.to_owned()),
            ..ObjectReference::default()
        }),
        event_time: Some(MicroTime(jiff::Timestamp::constant(second, 0))),
        reason: Some(reason.to_owned()),
        note: Some(note.to_owned()),
        type_: Some("Normal".to_owned()),
        ..Event::default()
    }
}
