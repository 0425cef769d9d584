//! A small, bounded HTTP load generator: sends requests at a fixed rate to a gateway on loopback
//! and reports which model version answered each one, so that end-to-end tests and the demo can
//! observe a traffic split with real requests rather than infer it from the routes' weights.
//!
//! ```no_run
//! # async fn demo() -> Result<(), modeldeploy_load::LoadError> {
//! use std::net::SocketAddr;
//! use std::time::Duration;
//! use modeldeploy_load::{LoadSpec, Stop, run};
//!
//! let report = run(LoadSpec {
//!     host: Some("iris.example".into()),
//!     rate: 200.0,
//!     stop: Stop::After(Duration::from_secs(10)),
//!     ..LoadSpec::new(SocketAddr::from(([127, 0, 0, 1], 8080)))
//! })
//! .await?;
//! println!("{report}\nshare of version 2: {:.1}%", 100.0 * report.share("2"));
//! # Ok(())
//! # }
//! ```

mod client;
mod counts;
mod error;
mod outcome;
pub mod parse;
mod plan;
mod report;
mod run;
mod snapshot;
mod spec;
mod timeline;

pub use counts::{Counts, MAX_VARIANTS};
pub use error::LoadError;
pub use outcome::{Outcome, TransportError, Variant};
pub use report::{Latency, LoadReport};
pub use run::{run, run_each_second, run_each_second_until};
pub use snapshot::Snapshot;
pub use spec::{
    DEFAULT_BODY, DEFAULT_MAX_IN_FLIGHT, LoadSpec, MAX_DURATION, MAX_IN_FLIGHT, MAX_RATE,
    MAX_TIMEOUT, MAX_USERS, Stop, TIMELINE_CAPACITY,
};
pub use timeline::{Sample, Timeline};
