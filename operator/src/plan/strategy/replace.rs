//! Replace: no steps. The new revision comes up at full size beside the stable one and takes all
//! traffic once every replica is available.

use super::super::steps::Steps;
use super::super::traffic::CandidateRole;

pub(super) fn steps() -> Steps {
    Steps {
        strategy: "replace",
        role: CandidateRole::Canary,
        steps: Vec::new(),
        dynamic_stable_scale: false,
        background: None,
        post_promotion: None,
        decision: None,
    }
}
