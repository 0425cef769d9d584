//! The operator binary as a child process, for tests that kill it the hard way (SIGKILL) and start
//! it again, exactly as a crashed or evicted pod would be.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;

use crate::repo_path;

/// Path of the `modeldeploy-operator` binary: `$MODELDEPLOY_OPERATOR_BIN` when set, else built once
/// per test process with `cargo build -p modeldeploy-operator` (a no-op when it is fresh), so that
/// `cargo test` alone runs the tests that need it. Blocks while cargo builds: call it from
/// `spawn_blocking` in async code.
pub fn operator_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(build_operator).clone()
}

fn build_operator() -> PathBuf {
    if let Some(path) = std::env::var_os("MODELDEPLOY_OPERATOR_BIN") {
        return PathBuf::from(path);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    without_test_env(&mut command);
    let output = command
        .args([
            "build",
            "-p",
            "modeldeploy-operator",
            "--bin",
            "modeldeploy-operator",
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(repo_path("Cargo.toml"))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("cannot run {cargo:?} to build the operator: {error}"));
    assert!(
        output.status.success(),
        "cargo build -p modeldeploy-operator failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| message["target"]["name"] == "modeldeploy-operator")
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .expect("cargo reports the modeldeploy-operator executable")
}

/// How to start the operator for one test.
#[derive(Clone, Debug)]
pub struct OperatorCommand {
    pub binary: PathBuf,
    pub kubeconfig: PathBuf,
    /// The only namespace the operator watches.
    pub namespace: String,
    /// Where stdout and stderr of every start go, one after the other.
    pub log: PathBuf,
}

impl OperatorCommand {
    /// Starts one operator process: no leader election (a killed leader would hold the lease for
    /// its whole duration), its HTTP server on a free loopback port.
    pub fn spawn(&self, number: u32) -> OperatorProcess {
        if let Some(dir) = self.log.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        let mut log: File = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        writeln!(log, "===== operator #{number} starts =====").unwrap();
        let child = Command::new(&self.binary)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["--namespace", &self.namespace])
            .args(["--leader-elect", "false"])
            .args(["--http-address", "127.0.0.1:0"])
            .args(["--log-level", "info,kube=warn"])
            .env_remove("WATCH_NAMESPACE")
            .env_remove("POD_NAMESPACE")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", self.binary.display()));
        OperatorProcess {
            child,
            number,
            reaped: None,
        }
    }
}

/// A running operator process. Dropping it kills it, so a failed test leaves none behind.
#[derive(Debug)]
pub struct OperatorProcess {
    child: Child,
    number: u32,
    reaped: Option<ExitStatus>,
}

impl OperatorProcess {
    /// Which start of the operator this is, from 1.
    pub fn number(&self) -> u32 {
        self.number
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// How the process ended, if it has ended on its own.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.reaped.is_none() {
            self.reaped = self.child.try_wait().ok().flatten();
        }
        self.reaped
    }

    /// Kills the process with SIGKILL, leaving it no chance to finish anything, and reaps it.
    /// Returns how it ended: killed by signal 9, unless it had already exited on its own.
    pub fn kill(&mut self) -> ExitStatus {
        if let Some(status) = self.exited() {
            return status;
        }
        // `Child::kill` sends SIGKILL on Unix.
        let _ = self.child.kill();
        let status = self.child.wait().unwrap();
        self.reaped = Some(status);
        status
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether `status` says the process was killed by SIGKILL.
pub fn killed_by_sigkill(status: ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(9)
}

/// A directory for one test's files (operator logs), under the system temp directory.
pub fn test_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join("modeldeploy-e2e").join(name)
}

/// The last `lines` lines of `path`, for failure messages.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Removes from `command` the variables cargo sets for a test. They describe the e2e package;
/// build scripts (ring's) ask to rerun when they change, so a `cargo build` run with them (here,
/// or by up.sh) would rebuild dependencies, and the next `cargo test` would rebuild them again.
pub fn without_test_env(command: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_MANIFEST_")
            || [
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
                "OUT_DIR",
            ]
            .contains(&key.as_ref())
        {
            command.env_remove(key.as_ref());
        }
    }
}
