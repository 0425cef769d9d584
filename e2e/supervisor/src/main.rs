//! `modeldeploy-pod-supervisor`: gives the fake pods of the local cluster a real process.
//!
//! kwok makes pods Running with an address, and nothing answers there. For each pod on the node
//! whose image is one of ours (the demo model server), this starts that server inside the
//! harness's network namespace, bound to the pod's IP and container port with the pod's
//! environment; reports its readiness as the pod's; restarts it when it exits; and stops it when
//! the pod goes; and keeps Prometheus's list of those servers. Started and stopped by `e2e/controlplane/up.sh` and `down.sh`.

mod init;
mod lifecycle;
mod pod;
mod probe;
mod relay;
mod status;
mod supervisor;
mod targets;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use tokio::signal::unix::{SignalKind, signal};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Runs a real model server for each served pod of a kwok node"
)]
struct Args {
    /// The node whose pods are served.
    #[arg(long, default_value = "kwok-node-0")]
    node: String,
    /// Network namespace that holds the pod addresses.
    #[arg(long)]
    netns: String,
    /// Pods whose first container's image starts with one of these are served.
    #[arg(long = "image-prefix", required = true)]
    image_prefixes: Vec<String>,
    /// The model server binary to run for each served pod.
    #[arg(long)]
    server: PathBuf,
    /// Each pod's output goes to a file here.
    #[arg(long)]
    log_dir: PathBuf,
    /// An init container image run for real, as `IMAGE_PREFIX=BINARY` (e.g. the storage
    /// initializer); other init containers complete at once.
    #[arg(long = "init-binary", value_parser = parse_init_binary)]
    init_binaries: Vec<(String, PathBuf)>,
    /// A main container image run by another binary than `--server`, as
    /// `IMAGE_PREFIX=BINARY` (e.g. the model router), with the container's arguments.
    #[arg(long = "image-binary", value_parser = parse_init_binary)]
    image_binaries: Vec<(String, PathBuf)>,
    /// Relay the pods' API requests from this address (the host end of their link) to the API
    /// server, and give each pod that names a ServiceAccount a token of it there.
    #[arg(long, requires = "api_ca")]
    api_relay: Option<std::net::SocketAddr>,
    /// The CA that signed the API server's certificate, for the pods' kubeconfigs.
    #[arg(long)]
    api_ca: Option<PathBuf>,
    /// Keeps the served pods here as Prometheus `file_sd_configs` targets.
    #[arg(long)]
    prometheus_targets: Option<PathBuf>,
}

fn parse_init_binary(text: &str) -> Result<(String, PathBuf), String> {
    let (prefix, binary) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not IMAGE_PREFIX=BINARY"))?;
    let binary = PathBuf::from(binary);
    if !binary.is_file() {
        return Err(format!("{} does not exist", binary.display()));
    }
    Ok((prefix.to_owned(), binary))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,kube=warn".into()),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    anyhow::ensure!(
        args.server.is_file(),
        "the model server {} does not exist; build it with `cargo build -p modeldeploy-demo-model`",
        args.server.display()
    );
    std::fs::create_dir_all(&args.log_dir)
        .with_context(|| format!("cannot create {}", args.log_dir.display()))?;
    let client = kube::Client::try_default()
        .await
        .context("cannot reach the API server named by KUBECONFIG")?;
    let api_access = match (args.api_relay, args.api_ca) {
        (Some(address), Some(ca_file)) => {
            let config = kube::Config::infer()
                .await
                .context("cannot read the kubeconfig")?;
            let upstream = api_address(&config.cluster_url)?;
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address} for the API relay"))?;
            tokio::spawn(relay::run(listener, upstream));
            Some(lifecycle::ApiAccess {
                server: format!("https://{address}"),
                ca_file,
            })
        }
        _ => None,
    };
    let mut served_images = args.image_prefixes.clone();
    served_images.extend(args.image_binaries.iter().map(|(prefix, _)| prefix.clone()));
    let runner = Arc::new(lifecycle::Runner {
        netns: args.netns,
        server: args.server,
        log_dir: args.log_dir,
        init_binaries: args.init_binaries,
        image_binaries: args.image_binaries,
        api_access,
    });
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut running = supervisor::Running::new(args.prometheus_targets);
    let outcome = tokio::select! {
        outcome = supervisor::run(client, &args.node, &served_images, runner, &mut running) => outcome,
        _ = terminate.recv() => Ok(()),
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    running.stop_all().await;
    outcome
}

/// The API server's address, from its URL.
fn api_address(url: &http::Uri) -> anyhow::Result<std::net::SocketAddr> {
    let host = url.host().context("the API server URL names no host")?;
    let port = url.port_u16().unwrap_or(443);
    format!("{host}:{port}")
        .parse()
        .with_context(|| format!("the API server {url} is not at an IP address"))
}
