//! What the operator observed of a revision's Deployment: read by the planner and by the traffic
//! providers, so it belongs to neither.

/// A revision's Deployment as observed in the cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedRevision {
    pub model_version: Option<String>,
    /// `spec.replicas` of the Deployment.
    pub replicas: i32,
    pub ready_replicas: i32,
    pub available_replicas: i32,
    pub updated_replicas: i32,
    /// Whether the Deployment controller has seen the Deployment's latest spec.
    pub observed_latest: bool,
    /// What keeps its pods from running, if something does that needs a person.
    pub problem: Option<crate::pod_health::PodProblem>,
}

impl ObservedRevision {
    /// All desired replicas run the latest template and are available.
    pub fn is_available(&self) -> bool {
        self.observed_latest
            && self.updated_replicas >= self.replicas
            && self.available_replicas >= self.replicas
    }
}
