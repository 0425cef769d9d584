//! A/B test: matching requests always reach the new revision, the rest are split by `weight`,
//! optionally sticky per user. The `decision` (a sequential test over counts per variant)
//! promotes the candidate or keeps the stable revision; without one a person ends the test
//! (promote or abort). At `maxDuration` the test ends without a winner and the stable revision
//! stays, unless the decision says to wait for a person. Guard-rail analysis runs for the whole
//! test.

use modeldeploy_api::v1alpha1::AbTestStrategy;

use super::super::analysis::Background;
use super::super::analysis::decision::Decider;
use super::super::steps::{PauseEnd, Step, Steps, TrafficStep, Waiting};
use super::super::traffic::CandidateRole;
use super::duration;

/// Share of users on the new revision when the spec does not say.
const DEFAULT_WEIGHT: i32 = 50;

pub(super) fn steps(ab: &AbTestStrategy) -> Steps {
    let steps = vec![
        Step::Traffic(TrafficStep {
            matches: ab.matches.clone(),
            stickiness: ab.stickiness.clone(),
            ..TrafficStep::weight(ab.weight.unwrap_or(DEFAULT_WEIGHT).clamp(1, 99))
        }),
        Step::Pause {
            duration: Some(duration(&ab.max_duration)),
            end: PauseEnd::KeepStable,
            waiting: Waiting::Promotion,
        },
    ];
    Steps {
        strategy: "abTest",
        role: CandidateRole::Canary,
        steps,
        dynamic_stable_scale: false,
        background: ab.analysis.clone().map(|spec| Background {
            spec,
            from_index: 0,
        }),
        post_promotion: None,
        decision: ab.decision.as_deref().cloned().map(|spec| Decider {
            spec,
            step: 1,
            max_duration: duration(&ab.max_duration),
        }),
    }
}
