//! The routes file: one ModelDeployment's traffic plan, the salt of its user keys and the ready
//! endpoints of each revision, as JSON. Checked whole at startup, so that a bad file stops the
//! router with the reason instead of serving a partial table.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use modeldeploy_api::routing::{RouterAgreement, RouterDrift, RouterTable, TrafficPlan};
use serde::Deserialize;

use std::sync::Arc;

use crate::compare::{Comparator, ComparatorError};
use crate::drift::{Binning, BinningError};
use crate::proxy::Routes;
use crate::table::{RoutingTable, TableError};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RoutesFile {
    /// Salts user keys; by convention `<namespace>/<name>`.
    salt: String,
    plan: TrafficPlan,
    endpoints: BTreeMap<String, Vec<SocketAddr>>,
    /// Copy requests of every method to a shadow, POST included; only idempotent ones when
    /// false (the default).
    #[serde(default)]
    mirror_all_methods: bool,
    /// How a shadow's answers are compared with the primary's, as `shadow.agreement`.
    #[serde(default)]
    agreement: Option<RouterAgreement>,
    /// Which predictions are counted by value, as `shadow.drift`.
    #[serde(default)]
    drift: Option<RouterDrift>,
}

/// Why a routing table cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum RoutesError {
    #[error(transparent)]
    Table(#[from] TableError),
    #[error(transparent)]
    Agreement(#[from] ComparatorError),
    #[error(transparent)]
    Drift(#[from] BinningError),
}

/// The routes of `table` over `endpoints` (each revision's ready addresses), or why they
/// cannot be served.
pub fn compile(
    table: &RouterTable,
    endpoints: BTreeMap<String, Vec<SocketAddr>>,
) -> Result<Routes, RoutesError> {
    let mut compiled = RoutingTable::compile(&table.plan, &table.salt)?;
    if let Some(candidate) = compiled.candidate.as_mut() {
        candidate.mirror_all_methods = table.mirror_all_methods;
    }
    let agreement = table
        .agreement
        .as_ref()
        .map(|a| Comparator::new(a).map(Arc::new))
        .transpose()?;
    let drift = table
        .drift
        .as_ref()
        .map(|d| Binning::new(d).map(Arc::new))
        .transpose()?;
    Ok(Routes {
        table: compiled,
        endpoints,
        agreement,
        noise_sample_percent: table
            .agreement
            .as_ref()
            .map_or(0, |a| a.noise_sample_percent.min(100)),
        drift,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the routes file {path}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a routes file")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("the routes in {path} cannot be served")]
    Routes { path: String, source: RoutesError },
}

/// The routes in the file at `path`.
pub fn load(path: &Path) -> Result<Routes, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: shown.clone(),
        source,
    })?;
    parse(&text).map_err(|error| match error {
        Parsed::Json(source) => ConfigError::Parse {
            path: shown,
            source,
        },
        Parsed::Routes(source) => ConfigError::Routes {
            path: shown,
            source,
        },
    })
}

enum Parsed {
    Json(serde_json::Error),
    Routes(RoutesError),
}

fn parse(text: &str) -> Result<Routes, Parsed> {
    let file: RoutesFile = serde_json::from_str(text).map_err(Parsed::Json)?;
    let table = RouterTable {
        salt: file.salt,
        plan: file.plan,
        services: BTreeMap::new(),
        mirror_all_methods: file.mirror_all_methods,
        agreement: file.agreement,
        drift: file.drift,
    };
    compile(&table, file.endpoints).map_err(Parsed::Routes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_routes_file_is_read_whole_or_refused_with_the_reason() {
        let good = r#"{"salt": "ml/iris",
            "plan": {"stable": "old", "candidate": {"revision": "new", "role": "canary", "weight": 20}},
            "endpoints": {"old": ["127.0.0.1:8080"], "new": ["127.0.0.1:8081"]}}"#;
        let routes = parse(good).ok().unwrap();
        assert_eq!(routes.table.candidate.unwrap().weight, 20);
        assert_eq!(routes.endpoints["new"], ["127.0.0.1:8081".parse().unwrap()]);

        let heavy = good.replace("\"weight\": 20", "\"weight\": 120");
        assert!(matches!(
            parse(&heavy),
            Err(Parsed::Routes(RoutesError::Table(TableError::Weight(120))))
        ));
        let typo = good.replace("\"salt\"", "\"slat\"");
        assert!(matches!(parse(&typo), Err(Parsed::Json(_))));
        let address = good.replace("127.0.0.1:8081", "localhost");
        assert!(matches!(parse(&address), Err(Parsed::Json(_))));
    }
}
