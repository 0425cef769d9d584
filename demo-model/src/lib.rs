//! A model server for demos and tests. It speaks the Open Inference Protocol v2 over REST and a
//! plain JSON predict endpoint, answers with a small fixed classifier, and behaves as its
//! environment says: latency, error rate, a share of perturbed answers, a start-up delay. All of
//! it is deterministic given a seed, so tests can assert exact outcomes.

pub mod chance;
pub mod config;
pub mod metrics;
pub mod model;
pub mod server;

pub use config::{ConfigError, Settings};
