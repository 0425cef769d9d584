//! Shadow: the new revision receives a copy of `mirrorPercent` % of requests for `duration`; its
//! answers never reach clients. Then its own analysis and its prediction agreement with the
//! stable revision (measured by the model router) must pass, and it is promoted like
//! blue/green, or waits for a person.

use modeldeploy_api::v1alpha1::ShadowStrategy;

use super::super::analysis::{Gate, agreement};
use super::super::steps::{PauseEnd, Step, Steps, TrafficStep, Waiting};
use super::super::traffic::CandidateRole;
use super::duration;

pub(super) fn steps(shadow: &ShadowStrategy) -> Steps {
    let mirror = shadow.mirror_percent.unwrap_or(100).clamp(1, 100);
    let mut steps = vec![
        Step::Traffic(TrafficStep {
            mirror_percent: Some(mirror),
            ..TrafficStep::weight(0)
        }),
        Step::pause(Some(duration(&shadow.duration))),
    ];
    if let Some(spec) = &shadow.analysis {
        steps.push(Step::Analysis(Box::new(Gate {
            run: "shadow".to_owned(),
            label: "shadow",
            spec: spec.clone(),
        })));
    }
    // Admission lets `agreement` through only with the model router, which compares answers.
    if let Some(agreement) = &shadow.agreement {
        steps.push(Step::Analysis(Box::new(Gate {
            run: agreement::METRIC.to_owned(),
            label: "shadow agreement",
            spec: agreement::analysis(agreement, &shadow.duration),
        })));
    }
    // Admission lets `drift` through only with the model router, which counts predictions.
    if let Some(drift) = &shadow.drift {
        steps.push(Step::Analysis(Box::new(Gate {
            run: agreement::DRIFT_METRIC.to_owned(),
            label: "shadow drift",
            spec: agreement::drift_analysis(drift, &shadow.duration),
        })));
    }
    if shadow.auto_promotion == Some(false) {
        steps.push(Step::Pause {
            duration: None,
            end: PauseEnd::Continue,
            waiting: Waiting::Promotion,
        });
    }
    Steps {
        strategy: "shadow",
        role: CandidateRole::Canary,
        steps,
        dynamic_stable_scale: false,
        background: None,
        post_promotion: None,
        decision: None,
    }
}
