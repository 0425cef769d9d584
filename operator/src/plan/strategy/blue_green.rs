//! Blue/green: the new revision comes up as a preview beside the stable one (its own
//! `<name>-preview` Service, no live traffic), passes its gate, then takes all traffic at once.

use modeldeploy_api::v1alpha1::BlueGreenStrategy;

use super::super::analysis::Gate;
use super::super::steps::{PauseEnd, Step, Steps, TrafficStep, Waiting};
use super::super::traffic::CandidateRole;
use super::duration;

pub(super) fn steps(blue_green: &BlueGreenStrategy, replicas: i32) -> Steps {
    let mut steps = vec![Step::Traffic(TrafficStep {
        replicas: Some(blue_green.preview_replicas.unwrap_or(replicas).max(1)),
        ..TrafficStep::weight(0)
    })];
    // Before any timer: an `autoPromotionAfter` wait starts only once the analysis passed.
    if let Some(spec) = &blue_green.pre_promotion_analysis {
        steps.push(Step::Analysis(Box::new(Gate {
            run: "prePromotion".to_owned(),
            label: "pre-promotion",
            spec: spec.clone(),
        })));
    }
    if blue_green.auto_promotion == Some(false) {
        steps.push(Step::Pause {
            duration: None,
            end: PauseEnd::Continue,
            waiting: Waiting::Promotion,
        });
    } else if let Some(after) = &blue_green.auto_promotion_after {
        steps.push(Step::pause(Some(duration(after))));
    }
    Steps {
        strategy: "blueGreen",
        role: CandidateRole::Preview,
        steps,
        dynamic_stable_scale: false,
        background: None,
        post_promotion: blue_green.post_promotion_analysis.clone(),
        decision: None,
    }
}
