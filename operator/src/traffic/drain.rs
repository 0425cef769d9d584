//! A Service the routes stop naming is not deleted at once. A gateway applies a route change a
//! moment after the API server holds it (Traefik after its throttle, Envoy-based gateways after
//! the xDS push), and a gateway still on the previous route answers 500 for a backend Service
//! that is gone. So the Service is marked with the time it stopped routing and deleted once
//! `scaleDownDelaySeconds` has passed, as the pods behind it are. The mark lives on the Service,
//! so a restart neither shortens nor restarts the wait.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Service;
use kube::ResourceExt;

/// When the routes stopped naming the Service.
pub const UNROUTED_SINCE: &str = "modeldeploy.io/unrouted-since";

/// What to do with a Service no route names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Drain {
    /// Record that it stopped routing now.
    Mark,
    /// Keep it this much longer.
    Wait(Duration),
    Delete,
}

/// The next step for `service`, which no route names, when it may stay `delay` after it stopped
/// routing.
pub fn drain(service: &Service, delay: Duration, now: Timestamp) -> Drain {
    let Some(since) = unrouted_since(service) else {
        return if delay.is_zero() {
            Drain::Delete
        } else {
            Drain::Mark
        };
    };
    let due = SignedDuration::try_from(delay)
        .ok()
        .and_then(|d| since.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX);
    if due <= now {
        Drain::Delete
    } else {
        Drain::Wait(Duration::try_from(due.duration_since(now)).unwrap_or_default())
    }
}

/// The mark on `service`, if it has a readable one. A Service that routes again must lose it,
/// or its next drain would end at once.
pub fn unrouted_since(service: &Service) -> Option<Timestamp> {
    service.annotations().get(UNROUTED_SINCE)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn service(mark: Option<&str>) -> Service {
        Service {
            metadata: ObjectMeta {
                name: Some("iris-canary".into()),
                annotations: mark.map(|m| [(UNROUTED_SINCE.to_owned(), m.to_owned())].into()),
                ..ObjectMeta::default()
            },
            ..Service::default()
        }
    }

    #[test]
    fn a_service_is_marked_then_kept_for_the_delay_then_deleted() {
        let delay = Duration::from_secs(30);
        let now = at("2026-11-30T12:00:00Z");
        assert_eq!(drain(&service(None), delay, now), Drain::Mark);
        assert_eq!(
            drain(&service(Some("2026-11-30T11:59:50Z")), delay, now),
            Drain::Wait(Duration::from_secs(20))
        );
        assert_eq!(
            drain(&service(Some("2026-11-30T11:59:30Z")), delay, now),
            Drain::Delete
        );
    }

    #[test]
    fn without_a_delay_or_with_an_unreadable_mark_the_service_goes_or_is_marked_afresh() {
        let now = at("2026-11-30T12:00:00Z");
        assert_eq!(drain(&service(None), Duration::ZERO, now), Drain::Delete);
        assert_eq!(
            drain(&service(Some("yesterday")), Duration::from_secs(30), now),
            Drain::Mark
        );
    }
}
