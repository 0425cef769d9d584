//! The traffic plan: how requests are shared between the stable revision and the candidate.
//! The operator plans it and every traffic provider renders it, so strategies never know which
//! provider runs; the model router reads the same type from the routing table the operator
//! writes.

use serde::{Deserialize, Serialize};

use crate::v1alpha1::{MirrorTarget, RouteMatch, Stickiness, TrafficTarget};

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

impl TrafficPlan {
    /// `weight` percent of requests to the canary `candidate`, the rest to `stable`, with
    /// nothing matched, copied or sticky.
    pub fn canary(stable: &str, candidate: &str, weight: i32) -> TrafficPlan {
        TrafficPlan {
            stable: stable.to_owned(),
            candidate: Some(CandidateTraffic {
                revision: candidate.to_owned(),
                role: CandidateRole::Canary,
                weight,
                mirror_percent: None,
                matches: Vec::new(),
                stickiness: None,
            }),
        }
    }
}

/// Name of the ConfigMap that holds a ModelDeployment's routing table, for its model router.
pub fn router_table_name(model_deployment: &str) -> String {
    format!("{model_deployment}-router")
}

/// The key of that ConfigMap holding the table, as JSON.
pub const ROUTER_TABLE_KEY: &str = "table.json";

/// What the model router of one ModelDeployment serves by: written by the operator at every
/// step, read by each router replica, which keeps its last good table when a new one is bad.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RouterTable {
    /// Salts the users' keys, so that the same key lands in unrelated buckets in two
    /// ModelDeployments; by convention `<namespace>/<name>`.
    pub salt: String,
    pub plan: TrafficPlan,
    /// The Service whose ready endpoints serve each revision of the plan, by revision.
    pub services: std::collections::BTreeMap<String, String>,
    /// Copy requests of every method to a shadow, POST included; only idempotent ones when
    /// false.
    #[serde(default)]
    pub mirror_all_methods: bool,
    /// How a shadow's answers are compared with the primary's, as `shadow.agreement`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<RouterAgreement>,
    /// Which predictions are counted by value for `shadow.drift`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<RouterDrift>,
}

/// The comparison part of `shadow.agreement`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RouterAgreement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative_tolerance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<RouterTopK>,
    /// Percent of compared requests also sent to a second stable endpoint, to measure how
    /// often the stable model disagrees with itself.
    #[serde(default)]
    pub noise_sample_percent: u8,
}

/// Ranked predictions agree when their first `k` items share `min_overlap_percent` of them.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RouterTopK {
    pub k: u8,
    pub min_overlap_percent: u8,
}

/// The counting part of `shadow.drift`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RouterDrift {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_path: Option<String>,
    /// Upper bounds of the bins of numeric predictions, ascending; labels count by value when
    /// empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bins: Vec<f64>,
}
