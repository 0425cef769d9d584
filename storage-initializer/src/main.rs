//! `modeldeploy-storage-initializer <storage-uri> <dest-dir>`: downloads a model before the
//! model server starts. Exit 0 on success; otherwise a one-line message on stderr and in the
//! Kubernetes termination message, and exit 1 (2 for bad arguments).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::TypedValueParser as _;
use clap::{Parser, ValueEnum};
use modeldeploy_storage_initializer::{
    DEFAULT_CONCURRENCY, DEFAULT_TERMINATION_MESSAGE_PATH, Options, redact_values, run,
    write_termination_message,
};
use tracing_subscriber::EnvFilter;

/// Downloads a ModelDeployment's model (s3://, gs://, https://, hf://) into the model volume.
#[derive(Debug, Parser)]
#[command(name = "modeldeploy-storage-initializer", version)]
struct Args {
    /// Where the model lives: s3://bucket/prefix, gs://bucket/prefix, https://host/file,
    /// hf://org/repo[@revision] or pvc://claim/path.
    storage_uri: String,

    /// Directory to fill (the model volume's mount point).
    #[arg(default_value = "/mnt/models")]
    dest_dir: PathBuf,

    /// File Kubernetes reads the container's termination message from; skipped if its
    /// directory does not exist.
    #[arg(
        long,
        env = "MODELDEPLOY_TERMINATION_MESSAGE_PATH",
        default_value = DEFAULT_TERMINATION_MESSAGE_PATH
    )]
    termination_message_path: PathBuf,

    /// PEM file of extra CA certificates to trust for s3://, gs:// and https:// (added to
    /// the system roots). For hf:// use SSL_CERT_FILE.
    #[arg(long, env = "MODELDEPLOY_CA_FILE")]
    ca_file: Option<PathBuf>,

    /// Accept http:// storage URIs and a plain-HTTP HF_ENDPOINT.
    #[arg(long, env = "MODELDEPLOY_ALLOW_INSECURE_HTTP")]
    allow_insecure_http: bool,

    /// Objects downloaded at once (hf://: parallel ranges of one file).
    #[arg(
        long,
        env = "MODELDEPLOY_DOWNLOAD_CONCURRENCY",
        default_value_t = DEFAULT_CONCURRENCY,
        value_parser = clap::value_parser!(u16).range(1..=64).map(usize::from)
    )]
    concurrency: usize,

    /// Log format on stderr.
    #[arg(long, env = "MODELDEPLOY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(error) => {
            if error.use_stderr() {
                // Bad arguments are a deployment bug the operator should show too.
                let first = error.to_string();
                let first = first.lines().next().unwrap_or("invalid arguments");
                write_termination_message(
                    std::path::Path::new(DEFAULT_TERMINATION_MESSAGE_PATH),
                    &format!("invalid arguments: {first}"),
                );
            }
            // clap prints usage (or help) itself and exits 2 (or 0).
            error.exit();
        }
    };
    init_tracing(args.log_format);

    // Non-UTF-8 variables are none the initializer reads, so they are dropped.
    let env: BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
        .collect();
    let options = Options {
        uri: args.storage_uri.clone(),
        dest: args.dest_dir.clone(),
        env,
        ca_file: args.ca_file.clone(),
        allow_insecure_http: args.allow_insecure_http,
        concurrency: args.concurrency,
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            return fail(
                &args,
                &options,
                &format!("cannot start the async runtime: {error}"),
            );
        }
    };
    match runtime.block_on(run(&options)) {
        Ok(outcome) => {
            println!("{}", outcome.summary());
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(kind = ?error.kind(), object = error.object(), "download failed");
            fail(&args, &options, &error.to_string())
        }
    }
}

fn fail(args: &Args, options: &Options, message: &str) -> ExitCode {
    let message = redact_values(message, options.secret_values());
    eprintln!("{message}");
    write_termination_message(&args.termination_message_path, &message);
    ExitCode::FAILURE
}

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
