//! The traffic plan: how requests are shared between the stable revision and the candidate. Every
//! traffic provider renders the same plan, so strategies never know which provider runs.

use modeldeploy_api::v1alpha1::{MirrorTarget, RouteMatch, Stickiness, TrafficTarget};
use serde::{Deserialize, Serialize};

/// Which Service fronts the candidate: `<name>-preview` for blue/green, `<name>-canary` otherwise.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum CandidateRole {
    Canary,
    Preview,
}

impl CandidateRole {
    pub fn suffix(self) -> &'static str {
        match self {
            CandidateRole::Canary => "canary",
            CandidateRole::Preview => "preview",
        }
    }
}

/// A candidate revision and what it receives.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CandidateTraffic {
    pub revision: String,
    pub role: CandidateRole,
    /// Percent of requests, 0-100; the stable revision gets the rest, so weights sum to 100 by
    /// construction.
    pub weight: i32,
    /// Percent of requests copied to the candidate; the copies' answers are dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror_percent: Option<i32>,
    /// Requests that always go to the candidate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<RouteMatch>,
    /// Keeps a user on one side of the weighted split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stickiness: Option<Stickiness>,
}

/// Where requests go.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TrafficPlan {
    pub stable: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<CandidateTraffic>,
}

impl TrafficPlan {
    /// All requests to `revision`, and nothing else running beside it.
    pub fn only(revision: &str) -> TrafficPlan {
        TrafficPlan {
            stable: revision.to_owned(),
            candidate: None,
        }
    }

    /// Percent of requests the candidate receives; 0 without one.
    pub fn candidate_weight(&self) -> i32 {
        self.candidate.as_ref().map_or(0, |c| c.weight)
    }

    pub fn stable_weight(&self) -> i32 {
        100 - self.candidate_weight()
    }

    /// Whether the candidate gets any live request: by weight, by match or by mirror.
    pub fn candidate_receives_requests(&self) -> bool {
        self.candidate
            .as_ref()
            .is_some_and(|c| c.weight > 0 || c.mirror_percent.is_some() || !c.matches.is_empty())
    }

    /// True when every request goes to the stable revision and nothing is copied or matched.
    pub fn all_on_stable(&self) -> bool {
        !self.candidate_receives_requests()
    }

    /// The weights, stable first, leaving out revisions at 0 %.
    pub fn targets(&self) -> Vec<TrafficTarget> {
        let mut targets = Vec::with_capacity(2);
        if self.stable_weight() > 0 {
            targets.push(TrafficTarget {
                revision: self.stable.clone(),
                weight: self.stable_weight(),
            });
        }
        if let Some(candidate) = self.candidate.as_ref().filter(|c| c.weight > 0) {
            targets.push(TrafficTarget {
                revision: candidate.revision.clone(),
                weight: candidate.weight,
            });
        }
        targets
    }

    pub fn mirror(&self) -> Option<MirrorTarget> {
        let candidate = self.candidate.as_ref()?;
        Some(MirrorTarget {
            revision: candidate.revision.clone(),
            percent: candidate.mirror_percent?,
        })
    }
}

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
