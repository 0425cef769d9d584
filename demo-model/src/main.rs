//! `modeldeploy-demo-model`: serves the demo model on `HOST:PORT` until SIGTERM or Ctrl-C.

use std::process::ExitCode;

use modeldeploy_demo_model::Settings;
use modeldeploy_demo_model::server::{Model, router};
use tracing::{error, info};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let settings = match Settings::from_lookup(|name| std::env::var(name).ok()) {
        Ok(settings) => settings,
        Err(problem) => {
            error!(%problem, "bad configuration");
            return ExitCode::from(2);
        }
    };
    if settings.fail_to_start {
        error!(model = %settings.model_name, "the model cannot be loaded (FAIL_TO_START)");
        return ExitCode::FAILURE;
    }
    let listener = match tokio::net::TcpListener::bind(settings.address).await {
        Ok(listener) => listener,
        Err(problem) => {
            error!(address = %settings.address, %problem, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    info!(
        address = %settings.address,
        model = %settings.model_name,
        version = %settings.model_version,
        "serving"
    );
    let served = axum::serve(listener, router(Model::new(settings)))
        .with_graceful_shutdown(shutdown())
        .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            error!(%problem, "the server failed");
            ExitCode::FAILURE
        }
    }
}

/// Completes on SIGTERM or Ctrl-C. The operator's own helper is not reused: this server is an
/// image of its own and depends on nothing of the operator.
async fn shutdown() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
