//! A/B test: matching requests always reach the new revision, the rest are split by `weight`,
//! optionally sticky per user. A person ends the test (promote or abort); at `maxDuration` the
//! test ends without a winner and the stable revision stays. Guard-rail analysis runs for the
//! whole test; the statistical decision is not measured yet.

use modeldeploy_api::v1alpha1::AbTestStrategy;

use super::super::analysis::Background;
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
    }
}
