//! One module per strategy: each compiles its part of the spec to [`Steps`](super::steps::Steps).
//! No strategy imports another; what they share is the engine.

mod ab_test;
mod blue_green;
mod canary;
mod replace;
mod shadow;

use modeldeploy_api::v1alpha1::{ModelDeploymentSpec, StrategyKind};

use super::steps::Steps;

/// The steps of the spec's strategy.
pub fn steps(spec: &ModelDeploymentSpec) -> Steps {
    let strategy = spec.strategy.as_ref();
    match strategy.map_or(StrategyKind::Replace, |s| s.kind()) {
        StrategyKind::Replace => replace::steps(),
        StrategyKind::Canary => strategy
            .and_then(|s| s.canary.as_ref())
            .map_or_else(replace::steps, canary::steps),
        StrategyKind::BlueGreen => strategy
            .and_then(|s| s.blue_green.as_ref())
            .map_or_else(replace::steps, |b| blue_green::steps(b, spec.replicas)),
        StrategyKind::Shadow => strategy
            .and_then(|s| s.shadow.as_ref())
            .map_or_else(replace::steps, shadow::steps),
        StrategyKind::AbTest => strategy
            .and_then(|s| s.ab_test.as_ref())
            .map_or_else(replace::steps, ab_test::steps),
    }
}

/// The steps of a plain replacement, whatever the spec says.
pub fn replace() -> Steps {
    replace::steps()
}

/// A duration of the API as a std duration; admission guarantees the format, so a value that
/// still does not parse counts as zero rather than blocking the rollout.
fn duration(value: &modeldeploy_api::v1alpha1::Duration) -> std::time::Duration {
    value.to_std().unwrap_or_default()
}
