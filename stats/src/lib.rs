//! Statistics behind the operator's A/B decisions between a stable and a candidate model
//! revision.
//!
//! The operator re-reads cumulative per-variant totals every interval and asks whether there
//! is a winner yet, so every test here must stay valid under continuous monitoring:
//!
//! - [`SequentialTest`] runs the mixture sequential probability ratio test (mSPRT), whose
//!   p-values and confidence intervals are always valid, however often they are read.
//! - [`sample_ratio_mismatch`] checks that traffic actually splits as configured, because a
//!   broken split invalidates any effect estimate.
//!
//! Everything uses the normal approximation on per-arm sufficient statistics
//! ([`ArmSummary`]), which is what counter-based metrics can provide.

mod arm;
mod error;
mod sample_ratio;
mod sequential;

pub use arm::ArmSummary;
pub use error::StatsError;
pub use sample_ratio::{SRM_ALPHA, SampleRatio, sample_ratio_mismatch};
pub use sequential::{
    Comparison, MIN_MIXING_SD, SequentialTest, expected_samples_per_arm, fold_p_value,
    mixing_sd_for,
};
