//! Status conditions that follow the Kubernetes API conventions: `lastTransitionTime` moves only
//! when the status flips, so a steady state rewrites nothing.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

pub const CONDITION_READY: &str = "Ready";
pub const CONDITION_PROGRESSING: &str = "Progressing";
pub const CONDITION_DEGRADED: &str = "Degraded";
/// kstatus: true while the operator works towards the spec (a rollout runs).
pub const CONDITION_RECONCILING: &str = "Reconciling";
/// kstatus: true when the rollout cannot go on without a person or a spec change.
pub const CONDITION_STALLED: &str = "Stalled";

/// One condition as the planner wants it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Wanted {
    pub type_: &'static str,
    pub status: bool,
    pub reason: &'static str,
    pub message: String,
}

impl Wanted {
    pub fn new(
        type_: &'static str,
        status: bool,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            status,
            reason,
            message: message.into(),
        }
    }
}

fn status_str(status: bool) -> &'static str {
    if status { "True" } else { "False" }
}

/// Builds the conditions, keeping each old `lastTransitionTime` whose status did not flip.
pub(super) fn merge(
    old: &[Condition],
    wanted: &[Wanted],
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Condition> {
    wanted
        .iter()
        .map(|want| {
            let status = status_str(want.status);
            let last_transition_time = old
                .iter()
                .find(|c| c.type_ == want.type_ && c.status == status)
                .map_or(Time(now), |c| c.last_transition_time.clone());
            Condition {
                type_: want.type_.to_owned(),
                status: status.to_owned(),
                reason: want.reason.to_owned(),
                message: want.message.clone(),
                observed_generation: generation,
                last_transition_time,
            }
        })
        .collect()
}

/// Whether `conditions` holds `type_` with `status` and `reason`.
pub(super) fn holds(conditions: &[Condition], type_: &str, status: bool, reason: &str) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == type_ && c.status == status_str(status) && c.reason == reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn keeps_transition_time_while_status_holds() {
        let first = merge(
            &[],
            &[Wanted::new(CONDITION_READY, false, "Starting", "0/1")],
            Some(1),
            at(10),
        );
        let second = merge(
            &first,
            &[Wanted::new(CONDITION_READY, false, "Starting", "0/2")],
            Some(2),
            at(20),
        );
        assert_eq!(second[0].last_transition_time, Time(at(10)));
        assert_eq!(second[0].message, "0/2");
        assert_eq!(second[0].observed_generation, Some(2));
    }

    #[test]
    fn moves_transition_time_when_status_flips() {
        let first = merge(
            &[],
            &[Wanted::new(CONDITION_READY, false, "Starting", "")],
            Some(1),
            at(10),
        );
        let second = merge(
            &first,
            &[Wanted::new(CONDITION_READY, true, "Available", "")],
            Some(1),
            at(30),
        );
        assert_eq!(second[0].last_transition_time, Time(at(30)));
        assert_eq!(second[0].status, "True");
    }
}
