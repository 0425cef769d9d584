//! Routes from the cluster: the ModelDeployment's routing table (the ConfigMap the operator
//! writes at every step) and the ready endpoints of the Services it names (their
//! EndpointSlices), both watched. Every change recompiles the routes; a table that cannot be
//! served is refused with the reason and the last good routes stay in force.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use modeldeploy_api::routing::{ROUTER_TABLE_KEY, RouterTable, router_table_name};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::config::{RoutesError, compile};
use crate::proxy::Routes;
use crate::table::RoutingTable;

/// The label EndpointSlices carry naming their Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Why the cluster's table cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the ConfigMap {0} does not exist")]
    NoTable(String),
    #[error("the ConfigMap {name} has no key table.json")]
    NoKey { name: String },
    #[error("the ConfigMap {name} does not hold a routing table")]
    Parse {
        name: String,
        source: serde_json::Error,
    },
    #[error("the routing table in {name} cannot be served")]
    Routes { name: String, source: RoutesError },
}

/// Which ModelDeployment's routes to follow.
#[derive(Clone, Debug)]
pub struct Followed {
    pub namespace: String,
    pub model_deployment: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    /// `served` or `refused`.
    outcome: String,
}

/// Table updates by outcome, and whether the router has served a table yet.
#[derive(Debug, Default)]
pub struct TableState {
    updates: Family<OutcomeLabels, Counter>,
    /// True once a good table is in force: the router's readiness.
    pub ready: Arc<AtomicBool>,
}

impl TableState {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "table_updates",
            "Routing table changes seen, by outcome (served, or refused and the last good table kept)",
            self.updates.clone(),
        );
    }

    fn count(&self, outcome: &str) {
        self.updates
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }
}

/// Routes that send every request to nothing (503) until a table arrives.
pub fn unconfigured() -> Routes {
    Routes::new(
        RoutingTable {
            stable: String::new(),
            candidate: None,
            salt: String::new(),
        },
        BTreeMap::new(),
    )
}

/// Follows the table and the endpoints of `followed` for ever, publishing each new set of
/// routes on `publish`. Watch errors are retried with backoff.
pub async fn follow(
    client: Client,
    followed: Followed,
    publish: watch::Sender<Arc<Routes>>,
    state: Arc<TableState>,
) {
    let table_name = router_table_name(&followed.model_deployment);
    let tables: Api<ConfigMap> = Api::namespaced(client.clone(), &followed.namespace);
    let slices: Api<EndpointSlice> = Api::namespaced(client, &followed.namespace);
    let (table_store, table_writer) = reflector::store();
    let (slice_store, slice_writer) = reflector::store();
    let table_events = watcher(
        tables,
        watcher::Config::default().fields(&format!("metadata.name={table_name}")),
    )
    .default_backoff()
    .reflect(table_writer)
    .map_ok(|event| (Source::Table, settled(&event)));
    // The slices of the Services the operator made for this ModelDeployment carry its label.
    let slice_events = watcher(
        slices,
        watcher::Config::default().labels(&format!(
            "modeldeploy.io/deployment={}",
            followed.model_deployment
        )),
    )
    .default_backoff()
    .reflect(slice_writer)
    .map_ok(|event| (Source::Slices, settled(&event)));
    let mut events = std::pin::pin!(futures::stream::select(table_events, slice_events));
    let (mut tables_listed, mut slices_listed) = (false, false);
    let mut last: Option<String> = None;
    while let Some(event) = events.next().await {
        let (source, settled) = match event {
            Ok(event) => event,
            Err(error) => {
                warn!(%error, "watching the routing table or its endpoints failed; retrying");
                continue;
            }
        };
        match source {
            Source::Table => tables_listed |= settled,
            Source::Slices => slices_listed |= settled,
        }
        if !(settled && tables_listed && slices_listed) {
            continue;
        }
        match load(&table_name, &table_store, &slice_store) {
            Ok(routes) => {
                let summary = format!("{:?}/{:?}", routes.table, routes.endpoints);
                if last.as_deref() == Some(summary.as_str()) {
                    continue;
                }
                info!(table = %table_name, stable = %routes.table.stable,
                    candidate = routes.table.candidate.as_ref().map(|c| c.revision.as_str()),
                    endpoints = ?routes.endpoints, "serving the routing table");
                last = Some(summary);
                publish.send_replace(Arc::new(routes));
                state.ready.store(true, Ordering::Release);
                state.count("served");
            }
            Err(error) => {
                warn!(error = %error_chain(&error), "refused the routing table; the last good one stays");
                state.count("refused");
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Source {
    Table,
    Slices,
}

/// Whether the store is whole after `event`: not in the middle of a (re)listing.
fn settled<K>(event: &watcher::Event<K>) -> bool {
    !matches!(event, watcher::Event::Init | watcher::Event::InitApply(_))
}

fn load(
    table_name: &str,
    tables: &Store<ConfigMap>,
    slices: &Store<EndpointSlice>,
) -> Result<Routes, LoadError> {
    let table = tables
        .state()
        .into_iter()
        .find(|t| t.name_any() == table_name);
    routes(table_name, table.as_deref(), &slices.state())
}

/// The routes that `table` and the EndpointSlices `slices` describe.
pub fn routes(
    table_name: &str,
    table: Option<&ConfigMap>,
    slices: &[Arc<EndpointSlice>],
) -> Result<Routes, LoadError> {
    let table = table.ok_or_else(|| LoadError::NoTable(table_name.to_owned()))?;
    let text = table
        .data
        .as_ref()
        .and_then(|d| d.get(ROUTER_TABLE_KEY))
        .ok_or_else(|| LoadError::NoKey {
            name: table_name.to_owned(),
        })?;
    let parsed: RouterTable = serde_json::from_str(text).map_err(|source| LoadError::Parse {
        name: table_name.to_owned(),
        source,
    })?;
    let endpoints = parsed
        .services
        .iter()
        .map(|(revision, service)| (revision.clone(), ready_addresses(service, slices)))
        .collect();
    compile(&parsed, endpoints).map_err(|source| LoadError::Routes {
        name: table_name.to_owned(),
        source,
    })
}

/// The ready addresses of `service`, from its EndpointSlices, sorted.
fn ready_addresses(service: &str, slices: &[Arc<EndpointSlice>]) -> Vec<SocketAddr> {
    let mut found = BTreeSet::new();
    for slice in slices
        .iter()
        .filter(|s| s.labels().get(SERVICE_NAME_LABEL).map(String::as_str) == Some(service))
    {
        // The Services the operator makes have one port.
        let Some(port) = slice
            .ports
            .iter()
            .flatten()
            .find_map(|p| p.port)
            .and_then(|p| u16::try_from(p).ok())
        else {
            continue;
        };
        for endpoint in &slice.endpoints {
            // Unset means ready, as the API says; a terminating endpoint is not ready.
            let ready = endpoint
                .conditions
                .as_ref()
                .and_then(|c| c.ready)
                .unwrap_or(true);
            if !ready {
                continue;
            }
            if let Some(ip) = endpoint
                .addresses
                .first()
                .and_then(|a| a.parse::<IpAddr>().ok())
            {
                found.insert(SocketAddr::new(ip, port));
            }
        }
    }
    found.into_iter().collect()
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests;
