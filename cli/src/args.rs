//! The command line: global connection flags, the output format and one subcommand.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use modeldeploy_api::v1alpha1::{Duration as ApiDuration, RequestAction};

/// Shown under `--help`, so that scripts know what each exit code means.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success; for a request, the operator accepted it
  1  the operator refused the request, or another error (kubeconfig, API server)
  2  usage error
  3  the ModelDeployment does not exist
  4  the operator did not answer the request within --timeout";

/// Shown under `--help` of each request command.
pub const REQUEST_EXIT_CODES: &str = "\
Exit codes:
  0  the operator accepted the request
  1  the operator refused it (its reason is printed), or another error
  3  the ModelDeployment does not exist
  4  the operator did not answer within --timeout";

/// Inspect ModelDeployments and steer their rollouts.
///
/// Requests (promote, abort, pause, resume, retry) are written as the `modeldeploy.io/request`
/// annotation, never as a change to the spec, and the command waits for the operator's answer.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl-modeldeploy",
    bin_name = "kubectl modeldeploy",
    version,
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(flatten)]
    pub connection: Connection,

    /// Output format.
    #[arg(short, long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,

    #[command(subcommand)]
    pub command: Command,
}

/// Where the cluster is and which namespace to use.
#[derive(Debug, Args)]
pub struct Connection {
    /// Namespace; the kubeconfig context's namespace, else `default`, when unset.
    #[arg(short, long, global = true)]
    pub namespace: Option<String>,

    /// Kubeconfig file; $KUBECONFIG or ~/.kube/config when unset.
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context; the current context when unset.
    #[arg(long, global = true)]
    pub context: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// For people.
    Text,
    /// For scripts.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List ModelDeployments with their phase, serving version, step and traffic.
    #[command(visible_alias = "ls")]
    List {
        /// List ModelDeployments in every namespace.
        #[arg(short = 'A', long)]
        all_namespaces: bool,
    },

    /// Show where a ModelDeployment's rollout stands, with its recent events.
    Status {
        /// Name of the ModelDeployment.
        name: String,

        /// Print again whenever the ModelDeployment changes, until Ctrl-C.
        #[arg(short, long)]
        watch: bool,
    },

    #[command(flatten)]
    Request(RequestCommand),
}

/// Commands that make a request of the operator and wait for its answer.
#[derive(Debug, Subcommand)]
pub enum RequestCommand {
    /// End the current pause or gate and go on with the next step.
    #[command(after_help = REQUEST_EXIT_CODES)]
    Promote {
        #[command(flatten)]
        target: RequestTarget,

        /// Skip the remaining steps: give the new revision full size and all traffic.
        #[arg(long)]
        full: bool,
    },

    /// Send all traffic back to the stable revision and remove the new one.
    #[command(after_help = REQUEST_EXIT_CODES)]
    Abort(RequestTarget),

    /// Hold the rollout at its current step.
    #[command(after_help = REQUEST_EXIT_CODES)]
    Pause(RequestTarget),

    /// Go on after `pause`, or after a pause step that waits for a person.
    #[command(after_help = REQUEST_EXIT_CODES)]
    Resume(RequestTarget),

    /// Start an aborted rollout again from its first step.
    #[command(after_help = REQUEST_EXIT_CODES)]
    Retry(RequestTarget),

    /// Serve an earlier revision until the spec changes: the previous one, or --to-revision
    /// (a revision name or its number in `status`'s history).
    #[command(after_help = REQUEST_EXIT_CODES)]
    Undo {
        #[command(flatten)]
        target: RequestTarget,

        /// Revision to go back to; the previous one when unset.
        #[arg(long, value_name = "REVISION")]
        to_revision: Option<String>,
    },
}

/// The ModelDeployment a request is for, and how long to wait for the operator's answer.
#[derive(Debug, Args)]
pub struct RequestTarget {
    /// Name of the ModelDeployment.
    pub name: String,

    /// How long to wait for the operator to answer, e.g. 30s or 2m.
    #[arg(long, default_value = "30s", value_parser = parse_timeout)]
    pub timeout: Duration,
}

impl RequestCommand {
    /// What the command asks of the operator.
    pub fn action(&self) -> RequestAction {
        match self {
            RequestCommand::Promote { full: false, .. } => RequestAction::Promote,
            RequestCommand::Promote { full: true, .. } => RequestAction::PromoteFull,
            RequestCommand::Abort(_) => RequestAction::Abort,
            RequestCommand::Pause(_) => RequestAction::Pause,
            RequestCommand::Resume(_) => RequestAction::Resume,
            RequestCommand::Retry(_) => RequestAction::Retry,
            RequestCommand::Undo { .. } => RequestAction::Undo,
        }
    }

    /// The revision an undo goes back to, when given.
    pub fn to_revision(&self) -> Option<&str> {
        match self {
            RequestCommand::Undo { to_revision, .. } => to_revision.as_deref(),
            _ => None,
        }
    }

    pub fn target(&self) -> &RequestTarget {
        match self {
            RequestCommand::Promote { target, .. }
            | RequestCommand::Abort(target)
            | RequestCommand::Pause(target)
            | RequestCommand::Resume(target)
            | RequestCommand::Retry(target)
            | RequestCommand::Undo { target, .. } => target,
        }
    }
}

/// Reads a timeout in the same notation as durations in the ModelDeployment spec, so that
/// people write one kind of duration everywhere.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let timeout = ApiDuration(text.to_owned())
        .to_std()
        .map_err(|error| error.to_string())?;
    if timeout.is_zero() {
        return Err("the timeout must be longer than zero, e.g. 30s".to_owned());
    }
    Ok(timeout)
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use clap::error::ErrorKind;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("kubectl-modeldeploy").chain(args.iter().copied()))
    }

    #[test]
    fn list_takes_all_namespaces_and_the_ls_alias() -> Result<(), clap::Error> {
        let cli = parse(&["ls", "-A"])?;
        assert!(matches!(
            cli.command,
            Command::List {
                all_namespaces: true
            }
        ));
        assert_eq!(cli.output, Output::Text);
        let cli = parse(&["list", "-o", "json"])?;
        assert!(matches!(
            cli.command,
            Command::List {
                all_namespaces: false
            }
        ));
        assert_eq!(cli.output, Output::Json);
        Ok(())
    }

    #[test]
    fn global_flags_go_before_or_after_the_command() -> Result<(), clap::Error> {
        for args in [
            &["-n", "ml", "--context", "prod", "status", "iris", "--watch"][..],
            &[
                "status",
                "iris",
                "-w",
                "--namespace",
                "ml",
                "--context=prod",
            ][..],
        ] {
            let cli = parse(args)?;
            assert_eq!(cli.connection.namespace.as_deref(), Some("ml"));
            assert_eq!(cli.connection.context.as_deref(), Some("prod"));
            assert!(cli.connection.kubeconfig.is_none());
            assert!(matches!(
                cli.command,
                Command::Status { ref name, watch: true } if name == "iris"
            ));
        }
        let cli = parse(&["--kubeconfig", "/tmp/kc", "status", "iris"])?;
        assert_eq!(cli.connection.kubeconfig, Some(PathBuf::from("/tmp/kc")));
        assert!(matches!(cli.command, Command::Status { watch: false, .. }));
        Ok(())
    }

    #[test]
    fn each_request_command_maps_to_its_action() -> Result<(), clap::Error> {
        let cases = [
            (&["promote", "iris"][..], RequestAction::Promote),
            (
                &["promote", "iris", "--full"][..],
                RequestAction::PromoteFull,
            ),
            (&["abort", "iris"][..], RequestAction::Abort),
            (&["pause", "iris"][..], RequestAction::Pause),
            (&["resume", "iris"][..], RequestAction::Resume),
            (&["retry", "iris"][..], RequestAction::Retry),
        ];
        for (args, expected) in cases {
            let Command::Request(request) = parse(args)?.command else {
                panic!("{args:?} is not a request");
            };
            assert_eq!(request.action(), expected, "{args:?}");
            assert_eq!(request.target().name, "iris");
            assert_eq!(request.target().timeout, Duration::from_secs(30));
        }
        Ok(())
    }

    #[test]
    fn undo_accepts_a_revision() -> Result<(), clap::Error> {
        let cli = parse(&["undo", "iris", "--to-revision", "6ca803f789"])?;
        let Command::Request(request) = &cli.command else {
            panic!("undo is a request: {:?}", cli.command);
        };
        assert_eq!(request.action(), RequestAction::Undo);
        assert_eq!(request.target().name, "iris");
        assert_eq!(request.to_revision(), Some("6ca803f789"));
        Ok(())
    }

    #[test]
    fn timeout_uses_the_spec_duration_notation() -> Result<(), clap::Error> {
        let cli = parse(&["abort", "iris", "--timeout", "1m30s"])?;
        assert!(matches!(
            cli.command,
            Command::Request(ref request) if request.target().timeout == Duration::from_secs(90)
        ));
        for bad in ["30", "soon", "0s"] {
            let error = parse(&["abort", "iris", "--timeout", bad])
                .err()
                .map(|e| e.kind());
            assert_eq!(error, Some(ErrorKind::ValueValidation), "{bad}");
        }
        Ok(())
    }

    #[test]
    fn usage_errors_are_reported_by_clap() {
        let kind = |args: &[&str]| parse(args).err().map(|e| e.kind());
        assert_eq!(kind(&["promote"]), Some(ErrorKind::MissingRequiredArgument));
        assert_eq!(
            kind(&["status", "iris", "-o", "yaml"]),
            Some(ErrorKind::InvalidValue)
        );
        assert_eq!(
            kind(&["rollback", "iris"]),
            Some(ErrorKind::InvalidSubcommand)
        );
        assert_eq!(
            kind(&["abort", "iris", "--full"]),
            Some(ErrorKind::UnknownArgument)
        );
    }

    #[test]
    fn help_lists_the_exit_codes() {
        let help = Cli::try_parse_from(["kubectl-modeldeploy", "--help"])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(help.contains("Exit codes:"), "{help}");
        assert!(help.contains("4  the operator did not answer"), "{help}");
        let help = Cli::try_parse_from(["kubectl-modeldeploy", "abort", "--help"])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(help.contains("1  the operator refused it"), "{help}");
    }
}
