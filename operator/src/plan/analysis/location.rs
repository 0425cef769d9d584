//! Where in a spec an analysis is written, so that checking and template inlining walk the same
//! places and name them the same way.

use std::fmt;

use modeldeploy_api::v1alpha1::{AnalysisSpec, ModelDeploymentSpec};

/// One place a spec may hold an analysis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    CanaryBackground,
    CanaryPostPromotion,
    CanaryStep(usize),
    BlueGreenPrePromotion,
    BlueGreenPostPromotion,
    Shadow,
    AbTest,
}

impl Location {
    /// Every place of `spec` that holds an analysis.
    pub fn all(spec: &ModelDeploymentSpec) -> Vec<Location> {
        let steps = spec
            .strategy
            .as_ref()
            .and_then(|s| s.canary.as_ref())
            .map_or(0, |canary| canary.steps.len());
        [
            Location::CanaryBackground,
            Location::CanaryPostPromotion,
            Location::BlueGreenPrePromotion,
            Location::BlueGreenPostPromotion,
            Location::Shadow,
            Location::AbTest,
        ]
        .into_iter()
        .chain((0..steps).map(Location::CanaryStep))
        .filter(|location| location.get(spec).is_some())
        .collect()
    }

    pub fn get(self, spec: &ModelDeploymentSpec) -> Option<&AnalysisSpec> {
        let strategy = spec.strategy.as_ref()?;
        match self {
            Location::CanaryBackground => strategy.canary.as_ref()?.analysis.as_ref(),
            Location::CanaryPostPromotion => {
                strategy.canary.as_ref()?.post_promotion_analysis.as_ref()
            }
            Location::CanaryStep(index) => strategy
                .canary
                .as_ref()?
                .steps
                .get(index)?
                .analysis
                .as_ref(),
            Location::BlueGreenPrePromotion => strategy
                .blue_green
                .as_ref()?
                .pre_promotion_analysis
                .as_ref(),
            Location::BlueGreenPostPromotion => strategy
                .blue_green
                .as_ref()?
                .post_promotion_analysis
                .as_ref(),
            Location::Shadow => strategy.shadow.as_ref()?.analysis.as_ref(),
            Location::AbTest => strategy.ab_test.as_ref()?.analysis.as_ref(),
        }
    }

    pub fn get_mut(self, spec: &mut ModelDeploymentSpec) -> Option<&mut AnalysisSpec> {
        let strategy = spec.strategy.as_mut()?;
        match self {
            Location::CanaryBackground => strategy.canary.as_mut()?.analysis.as_mut(),
            Location::CanaryPostPromotion => {
                strategy.canary.as_mut()?.post_promotion_analysis.as_mut()
            }
            Location::CanaryStep(index) => strategy
                .canary
                .as_mut()?
                .steps
                .get_mut(index)?
                .analysis
                .as_mut(),
            Location::BlueGreenPrePromotion => strategy
                .blue_green
                .as_mut()?
                .pre_promotion_analysis
                .as_mut(),
            Location::BlueGreenPostPromotion => strategy
                .blue_green
                .as_mut()?
                .post_promotion_analysis
                .as_mut(),
            Location::Shadow => strategy.shadow.as_mut()?.analysis.as_mut(),
            Location::AbTest => strategy.ab_test.as_mut()?.analysis.as_mut(),
        }
    }
}

/// The field path, as users write it.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::CanaryBackground => f.write_str("canary.analysis"),
            Location::CanaryPostPromotion => f.write_str("canary.postPromotionAnalysis"),
            Location::CanaryStep(index) => write!(f, "canary.steps[{index}].analysis"),
            Location::BlueGreenPrePromotion => f.write_str("blueGreen.prePromotionAnalysis"),
            Location::BlueGreenPostPromotion => f.write_str("blueGreen.postPromotionAnalysis"),
            Location::Shadow => f.write_str("shadow.analysis"),
            Location::AbTest => f.write_str("abTest.analysis"),
        }
    }
}
