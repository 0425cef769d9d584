//! The modeldeploy model router: where each inference request goes.
//!
//! [`table`] holds one ModelDeployment's routing table, built from the operator's
//! [`TrafficPlan`](modeldeploy_api::routing::TrafficPlan) and checked before it replaces the
//! last good one; [`choose`] picks the revision of one request from it; [`split`] is the
//! arithmetic of weighted and sticky splits. [`proxy`] forwards a request to the chosen
//! revision and [`server`] accepts connections for it; [`shadow`] sends copies to the
//! candidate beside the primary request, and [`compare`] judges two answers by
//! `shadow.agreement`. [`config`] reads the routes file the binary serves.

pub mod choose;
pub mod compare;
pub mod config;
pub mod drift;
pub mod metrics;
pub mod proxy;
pub mod server;
pub mod shadow;
pub mod split;
pub mod table;
pub mod watch;
