//! `modeldeploy-operator`: runs the ModelDeployment controller.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use modeldeploy_operator::telemetry::{self, LogFormat};
use modeldeploy_operator::{LeaderElection, Operator, Settings, settings};
use tracing::{error, info};

/// Deploys machine-learning models on Kubernetes and rolls out new model versions safely.
#[derive(Debug, Parser)]
#[command(name = "modeldeploy-operator", version)]
struct Args {
    /// Kubeconfig file; in-cluster config or $KUBECONFIG when unset.
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: Option<PathBuf>,

    /// Kubeconfig context; the current context when unset.
    #[arg(long)]
    context: Option<String>,

    /// Watch only this namespace; all namespaces when unset.
    #[arg(long, env = "WATCH_NAMESPACE")]
    namespace: Option<String>,

    /// Address of the /metrics, /healthz and /readyz server.
    #[arg(long, default_value = "0.0.0.0:8080")]
    http_address: SocketAddr,

    /// Take part in leader election, so that several replicas can run safely.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    leader_elect: bool,

    /// Namespace of the leader lease; the pod's namespace or the watched namespace when unset.
    #[arg(long, env = "POD_NAMESPACE")]
    leader_election_namespace: Option<String>,

    /// Name of the leader lease.
    #[arg(long, default_value = LeaderElection::DEFAULT_LEASE_NAME)]
    leader_election_id: String,

    /// Seconds a leader lease lasts without renewal.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(2..=300))]
    lease_duration_seconds: u64,

    /// ModelDeployments reconciled at the same time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,

    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    /// Log filter in RUST_LOG syntax.
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    log_level: String,
    /// A YAML list of runtime presets that add to or replace the built-in ones (the chart's
    /// `runtimePresets`); checked at start-up.
    #[arg(long, env = "MODELDEPLOY_RUNTIME_PRESETS")]
    runtime_presets: Option<std::path::PathBuf>,
    /// The Prometheus that analysis metrics query when they name no `address`, e.g.
    /// http://prometheus.monitoring:9090.
    #[arg(long, env = "MODELDEPLOY_PROMETHEUS_URL", value_parser = http_url)]
    prometheus_url: Option<String>,
}

/// An http:// or https:// URL, refused at start-up otherwise.
fn http_url(value: &str) -> Result<String, String> {
    let uri: http::Uri = value
        .parse()
        .map_err(|e| format!("{value:?} is not a URL: {e}"))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(_)) => Ok(value.trim_end_matches('/').to_owned()),
        _ => Err(format!(
            "{value:?} is not an http:// or https:// URL with a host, e.g. http://prometheus:9090"
        )),
    }
}

/// Stack of each runtime thread. A ModelDeployment's generated deserializer nests one large
/// frame per level of the spec, which in a debug build comes near tokio's default of 2 MiB; the
/// memory is reserved, not used, until a thread needs it.
const THREAD_STACK: usize = 8 << 20;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(THREAD_STACK)
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("modeldeploy-operator: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(operator_main())
}

async fn operator_main() -> ExitCode {
    let args = Args::parse();
    if let Err(message) = telemetry::init(args.log_format, &args.log_level) {
        eprintln!("modeldeploy-operator: {message}");
        return ExitCode::from(2);
    }
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            error!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    // Before the cluster: a presets file the operator cannot use is the admin's to fix first.
    let presets = modeldeploy_operator::preset::load(args.runtime_presets.as_deref())
        .map_err(|e| e.to_string())?;
    let config = client_config(&args).await?;
    let leader_election = if args.leader_elect {
        let namespace = args
            .leader_election_namespace
            .clone()
            .or_else(|| args.namespace.clone())
            .unwrap_or_else(|| config.default_namespace.clone());
        Some(LeaderElection {
            namespace,
            lease_name: args.leader_election_id.clone(),
            lease_duration: Duration::from_secs(args.lease_duration_seconds),
        })
    } else {
        None
    };
    let settings = Settings {
        presets,
        prometheus_url: args.prometheus_url.clone(),
        namespace: args.namespace.clone(),
        http_address: args.http_address,
        leader_election,
        concurrency: args.concurrency,
        identity: settings::default_identity(),
    };
    info!(
        ?settings,
        "starting modeldeploy-operator {}",
        env!("CARGO_PKG_VERSION")
    );
    let operator = Operator::start(settings, config)
        .await
        .map_err(|e| e.to_string())?;
    operator
        .run_until(modeldeploy_operator::signal::shutdown())
        .await
        .map_err(|e| e.to_string())?;
    info!("stopped");
    Ok(())
}

async fn client_config(args: &Args) -> Result<kube::Config, String> {
    let options = kube::config::KubeConfigOptions {
        context: args.context.clone(),
        ..Default::default()
    };
    match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| format!("cannot use kubeconfig {}: {e}", path.display()))
        }
        None if args.context.is_some() => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|e| format!("cannot load the kubeconfig context: {e}")),
        None => kube::Config::infer()
            .await
            .map_err(|e| format!("no in-cluster config and no kubeconfig found: {e}")),
    }
}
