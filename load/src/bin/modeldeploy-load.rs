//! Sends requests at a fixed rate to a gateway on loopback and prints which model versions
//! answered: once a second with `--every-second`, and as a table at the end.
//!
//! modeldeploy-load --target 127.0.0.1:8080 --host iris.example --rate 200 --duration 10s

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use http::Method;
use hyper::body::Bytes;
use modeldeploy_load::parse::{parse_duration, parse_header};
use modeldeploy_load::{DEFAULT_BODY, LoadSpec, Stop, run_each_second_until};

/// Exit status for input that was refused before anything was sent (as clap uses).
const BAD_INPUT: u8 = 2;

/// A bounded HTTP load generator that reports the split between model versions.
#[derive(Debug, Parser)]
#[command(name = "modeldeploy-load", long_about = None)]
struct Args {
    /// Address to send to: loopback only, such as 127.0.0.1:8080.
    #[arg(long)]
    target: SocketAddr,
    /// Host header, which selects the route at the gateway.
    #[arg(long)]
    host: Option<String>,
    /// Requests started per second.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// How long to send, such as 10s or 2m (at most 10m).
    #[arg(long, value_parser = parse_duration, default_value = "10s", conflicts_with = "requests")]
    duration: Duration,
    /// Send this many requests instead of sending for a duration.
    #[arg(long)]
    requests: Option<u64>,
    #[arg(long, default_value = "/predict")]
    path: String,
    #[arg(long, default_value = "POST")]
    method: Method,
    /// Request body; the demo model's iris row by default.
    #[arg(long, default_value = DEFAULT_BODY, conflicts_with = "body_file")]
    body: String,
    /// Read the request body from this file.
    #[arg(long)]
    body_file: Option<PathBuf>,
    /// Extra header as name=value; repeat for more.
    #[arg(long = "header", value_parser = parse_header)]
    headers: Vec<(String, String)>,
    /// Cycle `x-user-id: user-<k>` over this many users, for sticky A/B routes.
    #[arg(long)]
    users: Option<NonZeroU32>,
    /// Per-request timeout, such as 2s.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    timeout: Duration,
    /// Most requests in flight; a request due beyond it is skipped and counted.
    #[arg(long, default_value_t = modeldeploy_load::DEFAULT_MAX_IN_FLIGHT)]
    max_in_flight: usize,
    /// Print the split of each second while sending.
    #[arg(long)]
    every_second: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let body = match &args.body_file {
        Some(path) => match std::fs::read(path) {
            Ok(body) => Bytes::from(body),
            Err(error) => {
                eprintln!(
                    "modeldeploy-load: reading --body-file {}: {error}",
                    path.display()
                );
                return ExitCode::from(BAD_INPUT);
            }
        },
        None => Bytes::from(args.body.clone()),
    };
    let spec = LoadSpec {
        host: args.host,
        method: args.method,
        path: args.path,
        body,
        rate: args.rate,
        stop: match args.requests {
            Some(count) => Stop::Requests(count),
            None => Stop::After(args.duration),
        },
        headers: args.headers,
        users: args.users,
        timeout: args.timeout,
        max_in_flight: args.max_in_flight,
        ..LoadSpec::new(args.target)
    };
    // Ctrl-C or SIGTERM ends the run early; the table still covers what was sent.
    let every_second = args.every_second;
    let report = run_each_second_until(
        spec,
        |snapshot| {
            if every_second {
                println!("{snapshot}");
            }
        },
        stop_signal(),
    )
    .await;
    match report {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("modeldeploy-load: {error}");
            ExitCode::from(BAD_INPUT)
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
