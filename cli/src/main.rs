//! `kubectl-modeldeploy`: a kubectl plugin to see and steer ModelDeployment rollouts.

mod args;
mod columns;
mod connect;
mod durations;
mod error;
mod events;
mod list;
mod request;
mod show;
mod status;
mod stdout;
mod table;
#[cfg(test)]
mod testing;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::error::Error;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // clap prints usage errors itself and exits 2.
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

async fn run(cli: Cli) -> Result<(), Error> {
    let (client, namespace) = connect::connect(&cli.connection).await?;
    match &cli.command {
        Command::List { all_namespaces } => {
            list::run(client, &namespace, *all_namespaces, cli.output).await
        }
        Command::Status { name, watch } => {
            status::run(client, &namespace, name, cli.output, *watch).await
        }
        Command::Request(request) => request::run(client, &namespace, request, cli.output).await,
    }
}
