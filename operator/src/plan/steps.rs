//! The steps every strategy compiles to. The engine walks them the same way whatever the
//! strategy, so that resuming, pausing, promoting and aborting behave alike everywhere.

use std::time::Duration;

use modeldeploy_api::v1alpha1::{RouteMatch, Stickiness};

use super::traffic::{CandidateRole, replicas_for_weight};

/// What the candidate receives from a traffic step on.
#[derive(Clone, Debug, PartialEq)]
pub struct TrafficStep {
    /// Percent of requests.
    pub weight: i32,
    pub mirror_percent: Option<i32>,
    pub matches: Vec<RouteMatch>,
    pub stickiness: Option<Stickiness>,
    /// Pods of the candidate; follows the weight (or mirror share) when unset.
    pub replicas: Option<i32>,
}

impl TrafficStep {
    pub fn weight(weight: i32) -> TrafficStep {
        TrafficStep {
            weight,
            mirror_percent: None,
            matches: Vec::new(),
            stickiness: None,
            replicas: None,
        }
    }

    /// Pods the candidate needs for this step when `replicas` pods take all traffic.
    pub fn candidate_replicas(&self, replicas: i32) -> i32 {
        self.replicas.unwrap_or_else(|| {
            replicas_for_weight(
                replicas,
                self.weight.max(self.mirror_percent.unwrap_or_default()),
            )
        })
    }
}

/// How a pause ends when its time is up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PauseEnd {
    /// Go on with the next step.
    Continue,
    /// Keep the stable revision: the candidate is rolled back without blame (an A/B test that
    /// reached `maxDuration` without a decision).
    KeepStable,
}

/// Who ends a pause without a duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waiting {
    /// A `pause: {}` step.
    Indefinite,
    /// Automatic promotion is off.
    Promotion,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Scale the candidate, then send it the step's traffic.
    Traffic(TrafficStep),
    /// Hold the traffic for `duration`, or until a person says so.
    Pause {
        duration: Option<Duration>,
        end: PauseEnd,
        waiting: Waiting,
    },
    /// An analysis that must pass before the rollout goes on.
    Analysis(Box<super::analysis::Gate>),
}

impl Step {
    pub fn pause(duration: Option<Duration>) -> Step {
        Step::Pause {
            duration,
            end: PauseEnd::Continue,
            waiting: Waiting::Indefinite,
        }
    }

    /// For people: `setWeight 20`, `pause 5m`, `analysis`.
    pub fn describe(&self) -> String {
        match self {
            Step::Traffic(t) => {
                let mut parts = Vec::new();
                if t.weight > 0 || (t.mirror_percent.is_none() && t.matches.is_empty()) {
                    parts.push(format!("setWeight {}", t.weight));
                }
                if let Some(m) = t.mirror_percent {
                    parts.push(format!("mirror {m}%"));
                }
                if !t.matches.is_empty() {
                    parts.push(format!("match {} rule(s)", t.matches.len()));
                }
                if let Some(r) = t.replicas {
                    parts.push(format!("{r} replica(s)"));
                }
                parts.join(", ")
            }
            Step::Pause {
                duration: Some(d), ..
            } => format!("pause {}", human(*d)),
            Step::Pause {
                waiting: Waiting::Promotion,
                ..
            } => "wait for promotion".to_owned(),
            Step::Pause { .. } => "pause until promoted".to_owned(),
            Step::Analysis(gate) => format!("{} analysis", gate.label),
        }
    }
}

/// `90s` as `1m30s`, `259200s` as `72h`: the way people write durations in the spec.
fn human(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds == 0 {
        return format!("{}ms", duration.as_millis());
    }
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let mut text = String::new();
    if h > 0 {
        text.push_str(&format!("{h}h"));
    }
    if m > 0 {
        text.push_str(&format!("{m}m"));
    }
    if s > 0 {
        text.push_str(&format!("{s}s"));
    }
    text
}

/// The compiled strategy: its name, the candidate's role and the steps.
#[derive(Clone, Debug, PartialEq)]
pub struct Steps {
    pub strategy: &'static str,
    pub role: CandidateRole,
    pub steps: Vec<Step>,
    /// Shrink the stable revision as the candidate grows.
    pub dynamic_stable_scale: bool,
    /// Analysis beside the steps, if any.
    pub background: Option<super::analysis::Background>,
    /// Analysis once the candidate has all traffic, before the rollout ends.
    pub post_promotion: Option<modeldeploy_api::v1alpha1::AnalysisSpec>,
    /// The A/B test's decision, and the step that waits for it.
    pub decision: Option<super::analysis::decision::Decider>,
}

impl Steps {
    pub fn count(&self) -> i32 {
        i32::try_from(self.steps.len()).unwrap_or(i32::MAX)
    }

    pub fn get(&self, index: i32) -> Option<&Step> {
        usize::try_from(index).ok().and_then(|i| self.steps.get(i))
    }

    /// The traffic step in force at `index` once it is done: the step itself if it is a traffic
    /// step, else the last one before it.
    pub fn in_force(&self, index: i32) -> Option<&TrafficStep> {
        let end = usize::try_from(index.saturating_add(1))
            .unwrap_or(0)
            .min(self.steps.len());
        self.steps[..end].iter().rev().find_map(|s| match s {
            Step::Traffic(t) => Some(t),
            _ => None,
        })
    }

    /// The traffic step confirmed before `index` starts.
    pub fn before(&self, index: i32) -> Option<&TrafficStep> {
        if index <= 0 {
            return None;
        }
        self.in_force(index - 1)
    }

    /// `2/5 setWeight 20`, or `done` past the last step.
    pub fn label(&self, index: i32) -> String {
        match self.get(index) {
            Some(step) => format!("{}/{} {}", index + 1, self.count(), step.describe()),
            None => format!("{}/{} done", self.count(), self.count()),
        }
    }
}
