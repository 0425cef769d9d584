//! Harness for the end-to-end tests: a client for the local control plane that
//! `e2e/controlplane/run.sh` starts, one namespace per test, an operator per test, and waits on
//! conditions with deadlines.

// Test support: a failed expectation here is a failed test, so panicking is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod cluster;
pub mod forward;
pub use modeldeploy_load as load;
pub mod mlflow;
pub mod operator;
pub mod process;
pub mod prometheus;
pub mod rollout;
pub mod scenario;
pub mod traffic;
pub mod wait;

pub use cluster::{Cluster, TestNamespace, repo_path, sample};
pub use operator::{OperatorOptions, start_operator, start_operator_with};
pub use scenario::Scenario;
pub use wait::{until, until_object};
