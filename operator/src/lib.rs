//! The modeldeploy operator: reconciles `ModelDeployment`s into revision Deployments and a
//! Service, and rolls new model versions out without dropping serving capacity.
//!
//! The pure core lives in [`plan`], [`render`] and [`revision`]; I/O happens in [`observe`],
//! [`apply`] and the controller shell.

pub mod analysis;
pub mod analysis_metrics;
pub mod announce;
pub mod apply;
pub mod cache;
pub mod controller;
pub mod error;
pub mod http;
pub mod kube_client;
pub mod labels;
pub mod leader;
pub mod metrics;
pub mod observe;
pub mod observed;
pub mod pin;
pub mod plan;
pub mod pod_health;
pub mod preset;
pub mod registry;
pub mod render;
pub mod revision;
pub mod settings;
pub mod signal;
pub mod telemetry;
#[cfg(test)]
mod testing;
pub mod traffic;

use std::net::SocketAddr;
use std::sync::Arc;

use kube::Api;
use kube::api::ListParams;
use modeldeploy_api::v1alpha1::ModelDeployment;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;

pub use error::Error;
pub use settings::{LeaderElection, Settings};

use crate::controller::Context;
use crate::metrics::Metrics;

/// Why the operator could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot build a Kubernetes client: {0}")]
    Client(#[source] kube::Error),

    #[error("cannot reach the Kubernetes API server: {0}")]
    ApiServer(#[source] kube::Error),

    #[error(
        "the ModelDeployment CRD (modeldeployments.modeldeploy.io) is not installed; install it with `kubectl apply --server-side -f crds/` or the Helm chart"
    )]
    CrdMissing,

    #[error("cannot list ModelDeployments{scope}: {source}; check the operator's RBAC")]
    Forbidden {
        scope: String,
        #[source]
        source: kube::Error,
    },

    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot set up the HTTP client of analysis: {0}")]
    Analysis(String),

    #[error("the HTTP server failed: {0}")]
    Http(#[source] std::io::Error),

    #[error("cannot take part in leader election on lease {lease}: {source}")]
    LeaderElection {
        lease: String,
        #[source]
        source: kube_lease_manager::LeaseManagerError,
    },

    #[error("lost the leader lease; stopping so that only the new leader acts")]
    LeaseLost,

    #[error("the operator task ended abnormally: {0}")]
    Task(#[source] tokio::task::JoinError),
}

/// A running operator instance.
#[derive(Debug)]
pub struct Operator {
    http_address: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<Result<(), RunError>>,
}

impl Operator {
    /// Checks that the API server answers and the CRD is installed, binds the HTTP server and
    /// starts reconciling (once it leads, when leader election is on).
    pub async fn start(settings: Settings, config: kube::Config) -> Result<Operator, RunError> {
        let metrics = Arc::new(Metrics::new());
        let client =
            kube_client::instrumented(config, metrics.clone()).map_err(RunError::Client)?;
        check_api(&client, settings.namespace.as_deref()).await?;

        let listener = TcpListener::bind(settings.http_address)
            .await
            .map_err(|source| RunError::Listen {
                address: settings.http_address,
                source,
            })?;
        let http_address = listener.local_addr().map_err(RunError::Http)?;
        info!(%http_address, "serving /metrics, /healthz and /readyz");

        let (shutdown, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(run(settings, client, metrics, listener, shutdown_rx));
        Ok(Operator {
            http_address,
            shutdown,
            task,
        })
    }

    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    pub fn http_address(&self) -> SocketAddr {
        self.http_address
    }

    /// Stops gracefully: reconciles in flight finish and the leader lease is released.
    pub async fn shutdown(self) -> Result<(), RunError> {
        let _ = self.shutdown.send(true);
        self.task.await.map_err(RunError::Task)?
    }

    /// Waits for `signal`, then shuts down; returns early with an error if the operator stops
    /// on its own, e.g. when it loses the leader lease.
    pub async fn run_until(
        mut self,
        signal: impl std::future::Future<Output = ()>,
    ) -> Result<(), RunError> {
        tokio::select! {
            () = signal => self.shutdown().await,
            ended = &mut self.task => ended.map_err(RunError::Task)?,
        }
    }
}

async fn run(
    settings: Settings,
    client: kube::Client,
    metrics: Arc<Metrics>,
    listener: TcpListener,
    shutdown: watch::Receiver<bool>,
) -> Result<(), RunError> {
    let mut server_shutdown = shutdown.clone();
    let server = tokio::spawn(http::serve(listener, metrics.clone(), async move {
        let _ = server_shutdown.wait_for(|stop| *stop).await;
    }));
    let routes = controller::OptionalApis::discover(&client, settings.namespace.as_deref()).await;
    let http = registry::HttpClient::new(analysis::MAX_TIMEOUT)
        .map_err(|e| RunError::Analysis(e.to_string()))?;
    let ctx = Arc::new(Context::new(
        client.clone(),
        metrics.clone(),
        &settings.identity,
        routes,
        settings.presets.clone(),
        analysis::Measurer::new(http, settings.prometheus_url.clone()),
    ));
    let namespace = settings.namespace.clone();
    let concurrency = settings.concurrency;
    let result = leader::run_while_leading(
        client,
        settings.leader_election.as_ref(),
        &settings.identity,
        metrics,
        shutdown,
        move |stop| controller::run(ctx, namespace, concurrency, stop),
    )
    .await;
    server.abort();
    result
}

/// Fails fast with a clear message when the API server, the CRD or the RBAC is not there.
async fn check_api(client: &kube::Client, namespace: Option<&str>) -> Result<(), RunError> {
    client
        .apiserver_version()
        .await
        .map_err(RunError::ApiServer)?;
    let api: Api<ModelDeployment> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    match api.list_metadata(&ListParams::default().limit(1)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Err(RunError::CrdMissing),
        Err(source) => Err(RunError::Forbidden {
            scope: namespace
                .map(|ns| format!(" in namespace {ns}"))
                .unwrap_or_default(),
            source,
        }),
    }
}
