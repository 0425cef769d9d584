//! Canary: traffic moves to the new revision step by step, or linearly by `stepWeight` every
//! `interval` up to `maxWeight`; then the new revision is promoted.

use modeldeploy_api::v1alpha1::CanaryStrategy;

use super::super::analysis::{Background, Gate};
use super::super::steps::{Step, Steps, TrafficStep};
use super::super::traffic::CandidateRole;
use super::duration;

pub(super) fn steps(canary: &CanaryStrategy) -> Steps {
    let steps = match &canary.linear {
        Some(linear) => {
            let max = linear.max_weight.unwrap_or(100).clamp(1, 100);
            let step = linear.step_weight.clamp(1, 100);
            let interval = duration(&linear.interval);
            let mut steps = Vec::new();
            let mut weight = 0;
            while weight < max {
                weight = (weight + step).min(max);
                steps.push(Step::Traffic(TrafficStep::weight(weight)));
                if weight < 100 {
                    steps.push(Step::pause(Some(interval)));
                }
            }
            steps
        }
        None => canary
            .steps
            .iter()
            .enumerate()
            .filter_map(|(index, s)| {
                if let Some(weight) = s.set_weight {
                    Some(Step::Traffic(TrafficStep::weight(weight.clamp(0, 100))))
                } else if let Some(pause) = &s.pause {
                    Some(Step::pause(pause.duration.as_ref().map(duration)))
                } else {
                    s.analysis.as_ref().map(|spec| {
                        Step::Analysis(Box::new(Gate {
                            run: format!("step-{}", index + 1),
                            label: "step",
                            spec: spec.clone(),
                        }))
                    })
                }
            })
            .collect(),
    };
    Steps {
        strategy: "canary",
        role: CandidateRole::Canary,
        steps,
        dynamic_stable_scale: canary.dynamic_stable_scale.unwrap_or(false),
        background: canary.analysis.clone().map(|spec| Background {
            spec,
            from_index: canary.analysis_starting_step.map_or(0, |step| step - 1),
        }),
        post_promotion: canary.post_promotion_analysis.clone(),
        decision: None,
    }
}

#[cfg(test)]
mod tests {
    use modeldeploy_api::v1alpha1::{CanaryStep, Duration, LinearShift, PauseStep};

    use super::*;

    #[test]
    fn linear_shifting_pauses_between_weights_up_to_the_maximum() {
        let canary = CanaryStrategy {
            linear: Some(LinearShift {
                step_weight: 30,
                interval: Duration("1m".into()),
                max_weight: Some(80),
            }),
            ..CanaryStrategy::default()
        };
        let labels: Vec<String> = steps(&canary).steps.iter().map(Step::describe).collect();
        assert_eq!(
            labels,
            [
                "setWeight 30",
                "pause 1m",
                "setWeight 60",
                "pause 1m",
                "setWeight 80",
                "pause 1m"
            ]
        );
    }

    #[test]
    fn listed_steps_keep_their_order() {
        let canary = CanaryStrategy {
            steps: vec![
                CanaryStep {
                    set_weight: Some(10),
                    ..CanaryStep::default()
                },
                CanaryStep {
                    pause: Some(PauseStep { duration: None }),
                    ..CanaryStep::default()
                },
            ],
            ..CanaryStrategy::default()
        };
        let compiled = steps(&canary);
        assert_eq!(compiled.count(), 2);
        assert_eq!(compiled.label(1), "2/2 pause until promoted");
    }
}
