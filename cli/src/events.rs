//! The events about one ModelDeployment, as `kubectl events --for` would list them.

use k8s_openapi::api::events::v1::Event;
use kube::Api;
use kube::api::ListParams;

use crate::error::{Error, target};

/// How many events `status` shows: enough to see how the rollout got here.
pub const SHOWN: usize = 10;

/// The most recent events about ModelDeployment `name`, oldest first.
pub async fn recent(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Vec<Event>, Error> {
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    let params = ListParams::default().fields(&format!(
        "regarding.kind=ModelDeployment,regarding.name={name}"
    ));
    let list = api.list(&params).await.map_err(|source| Error::Kube {
        action: "list the events of",
        target: target(name, namespace),
        source,
    })?;
    Ok(most_recent(list.items, name, SHOWN))
}

/// The last `limit` events about `name`, oldest first, so that the newest is read last.
pub fn most_recent(mut events: Vec<Event>, name: &str, limit: usize) -> Vec<Event> {
    // The field selector already filters; this keeps the function right on its own.
    events.retain(|event| {
        event.regarding.as_ref().is_some_and(|regarding| {
            regarding.kind.as_deref() == Some("ModelDeployment")
                && regarding.name.as_deref() == Some(name)
        })
    });
    events.sort_by_key(last_seen);
    let skip = events.len().saturating_sub(limit);
    events.split_off(skip)
}

/// When the event last happened: a repeated event keeps its first `eventTime` and moves
/// `series.lastObservedTime`; events from old clients only have the deprecated fields.
pub fn last_seen(event: &Event) -> Option<jiff::Timestamp> {
    event
        .series
        .as_ref()
        .map(|series| series.last_observed_time.0)
        .or_else(|| event.event_time.as_ref().map(|time| time.0))
        .or_else(|| event.deprecated_last_timestamp.as_ref().map(|time| time.0))
        .or_else(|| {
            event
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|time| time.0)
        })
}

/// How many times the event happened.
pub fn count(event: &Event) -> i32 {
    event
        .series
        .as_ref()
        .map(|series| series.count)
        .or(event.deprecated_count)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::event;

    #[test]
    fn keeps_the_newest_events_about_the_object_oldest_first() {
        let events = vec![
            event("ModelDeployment", "iris", 300, "C", "third"),
            event("ModelDeployment", "iris", 100, "A", "first"),
            event(
                "Deployment",
                "iris",
                400,
                "X",
                "a child, not the ModelDeployment",
            ),
            event(
                "ModelDeployment",
                "other",
                500,
                "Y",
                "another ModelDeployment",
            ),
            event("ModelDeployment", "iris", 200, "B", "second"),
        ];
        let reasons = |events: Vec<Event>| -> Vec<String> {
            events.into_iter().filter_map(|e| e.reason).collect()
        };
        assert_eq!(
            reasons(most_recent(events.clone(), "iris", 10)),
            ["A", "B", "C"]
        );
        assert_eq!(reasons(most_recent(events, "iris", 2)), ["B", "C"]);
    }
}
