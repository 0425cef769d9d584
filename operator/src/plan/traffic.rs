//! Sizing revisions for their share of traffic. The plan itself ([`TrafficPlan`]) lives in the
//! API crate, shared with the model router.

pub use modeldeploy_api::routing::{CandidateRole, CandidateTraffic, TrafficPlan};

/// Pods needed to take `weight` percent of what `replicas` pods take: `ceil(replicas × weight /
/// 100)`, at least 1.
pub fn replicas_for_weight(replicas: i32, weight: i32) -> i32 {
    let needed = (i64::from(replicas.max(0)) * i64::from(weight.clamp(0, 100)) + 99) / 100;
    i32::try_from(needed).unwrap_or(replicas).max(1)
}

/// The largest share of traffic, in percent, that `ready` pods can take when `replicas` pods take
/// all of it.
pub fn capacity_weight(ready: i32, replicas: i32) -> i32 {
    if replicas <= 0 {
        return 100;
    }
    let share = i64::from(ready.max(0)) * 100 / i64::from(replicas);
    i32::try_from(share.min(100)).unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_follow_the_weight_rounding_up() {
        assert_eq!(replicas_for_weight(10, 25), 3);
        assert_eq!(replicas_for_weight(4, 25), 1);
        assert_eq!(replicas_for_weight(3, 1), 1);
        assert_eq!(replicas_for_weight(3, 0), 1);
        assert_eq!(replicas_for_weight(3, 100), 3);
    }

    #[test]
    fn capacity_is_the_ready_share() {
        assert_eq!(capacity_weight(2, 4), 50);
        assert_eq!(capacity_weight(5, 4), 100);
        assert_eq!(capacity_weight(0, 4), 0);
        assert_eq!(capacity_weight(0, 0), 100);
    }
}
