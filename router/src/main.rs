//! `modeldeploy-router`: serves one ModelDeployment's inference traffic, by the routing table
//! the operator writes in the cluster (`--model-deployment`) or by a routes file (`--routes`).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use modeldeploy_router::proxy::{Limits, Proxy};
use modeldeploy_router::watch::{self as watch_routes, Followed, TableState};
use modeldeploy_router::{config, metrics, server};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::info;

#[derive(Debug, Parser)]
#[command(version, about = "The modeldeploy model router")]
struct Args {
    /// Address to serve on, and to serve the metrics and probes on.
    #[arg(long, default_value = "0.0.0.0")]
    address: IpAddr,
    /// Port of the inference traffic.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Port of `/metrics`, `/healthz` and `/readyz`.
    #[arg(long, default_value_t = 9090)]
    metrics_port: u16,
    /// The routes file (JSON): `salt`, the traffic `plan` and each revision's `endpoints`.
    #[arg(
        long,
        env = "ROUTER_ROUTES",
        conflicts_with = "model_deployment",
        required_unless_present = "model_deployment"
    )]
    routes: Option<PathBuf>,
    /// Follow this ModelDeployment's routing table and its revisions' endpoints in the cluster.
    #[arg(long, env = "ROUTER_MODEL_DEPLOYMENT")]
    model_deployment: Option<String>,
    /// The ModelDeployment's namespace; the router's own by default.
    #[arg(long, env = "POD_NAMESPACE", requires = "model_deployment")]
    namespace: Option<String>,
    /// Seconds a model has to answer before the client gets 504.
    #[arg(long, default_value_t = 60)]
    request_timeout_seconds: u64,
    /// Largest request body, in bytes; larger gets 413.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    max_body_bytes: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .json()
        .init();
    let args = Args::parse();
    let state = Arc::new(TableState::default());
    let (publish, watched) = watch::channel(Arc::new(watch_routes::unconfigured()));
    let source = match (&args.routes, &args.model_deployment) {
        (Some(path), _) => {
            publish.send_replace(Arc::new(config::load(path)?));
            state.ready.store(true, Ordering::Release);
            format!("file {}", path.display())
        }
        (None, Some(name)) => {
            let client = kube::Client::try_default()
                .await
                .context("cannot reach the Kubernetes API to follow the routing table")?;
            let namespace = args
                .namespace
                .clone()
                .unwrap_or_else(|| client.default_namespace().to_owned());
            let followed = Followed {
                namespace,
                model_deployment: name.clone(),
            };
            let source = format!("ModelDeployment {}/{}", followed.namespace, name);
            tokio::spawn(watch_routes::follow(
                client,
                followed,
                publish,
                Arc::clone(&state),
            ));
            source
        }
        (None, None) => anyhow::bail!("give --routes or --model-deployment"),
    };
    let limits = Limits {
        request_timeout: Duration::from_secs(args.request_timeout_seconds),
        max_body_bytes: args.max_body_bytes,
        ..Limits::default()
    };
    let listen = SocketAddr::new(args.address, args.port);
    let metrics_listen = SocketAddr::new(args.address, args.metrics_port);
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let metrics_listener = TcpListener::bind(metrics_listen)
        .await
        .with_context(|| format!("cannot listen on {metrics_listen}"))?;
    let proxy = Arc::new(Proxy::new(watched, limits));
    let mut registry = Registry::with_prefix("modeldeploy_router");
    proxy.register(&mut registry);
    state.register(&mut registry);
    tokio::spawn(metrics::serve(
        metrics_listener,
        Arc::new(registry),
        Arc::clone(&state.ready),
    ));
    info!(%listen, metrics = %metrics_listen, routes = %source, "serving");
    server::serve(listener, proxy, terminated()).await;
    info!("stopped");
    Ok(())
}

/// SIGTERM (the pod stopping) or Ctrl-C.
async fn terminated() {
    let sigterm = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => drop(stream.recv().await),
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = sigterm => {}
    }
}
