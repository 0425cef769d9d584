//! Rollout events as the Kubernetes Events API stores them. Each transition is announced once,
//! as an Event of its own: the event recorder of kube-runtime would fold events that share a
//! reason into one series under the first note, so `kubectl events` would show "step 2/5" three
//! times instead of steps 2, 3 and 4.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};

use crate::labels::FIELD_MANAGER;
use crate::plan::PlannedEvent;

/// The Event announcing `planned` about `regarding`, related to the Deployment of the revision
/// it concerns.
pub fn rollout_event(
    planned: &PlannedEvent,
    regarding: &ObjectReference,
    related: ObjectReference,
    instance: &str,
    now: Timestamp,
) -> Event {
    Event {
        metadata: ObjectMeta {
            namespace: regarding.namespace.clone(),
            generate_name: Some(format!(
                "{}-",
                regarding.name.as_deref().unwrap_or(FIELD_MANAGER)
            )),
            ..ObjectMeta::default()
        },
        action: Some(planned.action.to_owned()),
        reason: Some(planned.reason.to_owned()),
        note: Some(planned.note.clone()),
        type_: Some(if planned.warning { "Warning" } else { "Normal" }.to_owned()),
        event_time: Some(MicroTime(now)),
        regarding: Some(regarding.clone()),
        related: Some(related),
        reporting_controller: Some(FIELD_MANAGER.to_owned()),
        reporting_instance: Some(instance.to_owned()),
        ..Event::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_announcement_is_an_event_of_its_own() {
        let planned = PlannedEvent::normal("StepStarted", "Step", "abc", "step 2/4".to_owned());
        let regarding = ObjectReference {
            name: Some("iris".into()),
            namespace: Some("ml".into()),
            ..ObjectReference::default()
        };
        let event = rollout_event(
            &planned,
            &regarding,
            ObjectReference::default(),
            "operator-0",
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(event.metadata.generate_name.as_deref(), Some("iris-"));
        assert!(event.metadata.name.is_none());
        assert!(event.series.is_none());
        assert_eq!(event.note.as_deref(), Some("step 2/4"));
        assert_eq!(event.type_.as_deref(), Some("Normal"));
    }
}
