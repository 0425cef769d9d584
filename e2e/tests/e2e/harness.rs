//! The harness leaves nothing behind: a control plane started by `e2e/controlplane/up.sh --owner
//! PID` goes, with its data plane, once its owner dies, even when the owner never cleans up (a
//! test process that panicked or was killed). The test starts a second control plane of its own
//! beside the one the other tests use, runs a real model server in it, kills the owner with
//! SIGKILL and waits for every process, the pods' network namespace, its veth and its route to go.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use modeldeploy_e2e::{repo_path, until};
use tokio::time::Instant;

/// `up.sh` builds nothing new here (binaries are cached), but shares 2 cores with the control
/// plane and the tests already running.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// A pod goes through the scheduler, kube-controller-manager, kwok and the pod supervisor of a
/// second control plane while the other tests load both cores.
const POD_TIMEOUT: Duration = Duration::from_secs(180);
/// The watchdog notices the owner within 2 s; `down.sh` gives processes 10 s after SIGTERM.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(90);
const DEPLOYMENT: &str = "harness-probe";
const SERVED_IMAGE: &str = "modeldeploy/demo-model:0.1.0";

#[tokio::test]
async fn everything_the_harness_started_is_gone_after_its_owner_is_killed() {
    let run = repo_path(".run").join(format!("harness-{}", std::process::id()));
    std::fs::create_dir_all(&run).unwrap();
    let run = run.canonicalize().unwrap();
    let mut owner = Owner::spawn(&run);
    let owner_pid = owner.pid();

    start_control_plane(&run, owner_pid).await;
    let netns_env = read_assignments(&run.join("netns.env"));
    let netns = netns_env["NETNS"].clone();
    let pod_cidr = netns_env["POD_CIDR"].clone();
    let block = netns
        .strip_prefix("modeldeploy-")
        .unwrap_or_else(|| panic!("unexpected network namespace name {netns}"));
    let host_veth = format!("mdh{block}");
    let kubectl = Kubectl::for_run(&run);
    println!(
        "control plane in {} (owner {owner_pid}): {netns}, {pod_cidr}",
        run.display()
    );

    // A served pod, so that the namespace holds a real process when the owner dies.
    let created = kubectl
        .run(&[
            "create",
            "deployment",
            DEPLOYMENT,
            "--image",
            SERVED_IMAGE,
            "--namespace",
            "default",
        ])
        .await;
    assert!(
        created.status.success(),
        "kubectl create deployment failed: {}",
        String::from_utf8_lossy(&created.stderr)
    );
    let in_netns = wait_for_served_pod(&kubectl, &run, &netns).await;

    let mut recorded: BTreeMap<u32, (String, Started)> = BTreeMap::new();
    for line in std::fs::read_to_string(run.join("pids")).unwrap().lines() {
        let (pid, name) = line.split_once(' ').unwrap_or((line, "?"));
        let pid: u32 = pid
            .parse()
            .unwrap_or_else(|_| panic!("bad line in pids: {line}"));
        let started = started(pid).unwrap_or_else(|| panic!("{name} ({pid}) is not running"));
        recorded.insert(pid, (name.to_owned(), started));
    }
    for pid in in_netns {
        if let Some(started) = started(pid) {
            recorded.insert(pid, (format!("process in {netns}"), started));
        }
    }
    // The watchdog is in no list; every process of the run names the run's directory.
    let mentioning = processes_mentioning(&run);
    assert!(
        mentioning
            .values()
            .any(|cmdline| cmdline.contains("down.sh")),
        "no watchdog (a process that runs down.sh on the owner's death) among the run's processes: {mentioning:#?}"
    );
    println!("recorded {} processes: {recorded:?}", recorded.len());

    owner.kill();
    let deadline = Instant::now() + CLEANUP_TIMEOUT;
    let left = until(
        CLEANUP_TIMEOUT + Duration::from_secs(30),
        "the leftovers are observed",
        || {
            let recorded = &recorded;
            let (run, netns, host_veth, pod_cidr) = (&run, &netns, &host_veth, &pod_cidr);
            async move {
                let left = Leftovers::observe(recorded, run, netns, host_veth, pod_cidr).await;
                (left.is_empty() || Instant::now() >= deadline).then_some(left)
            }
        },
    )
    .await;
    let after = CLEANUP_TIMEOUT.saturating_sub(deadline.saturating_duration_since(Instant::now()));
    println!("left {after:?} after the owner was killed: {left:?}");

    assert!(
        left.processes.is_empty(),
        "processes of the run still alive {CLEANUP_TIMEOUT:?} after the owner died: {:?}",
        left.processes
    );
    assert!(
        left.mentioning.is_empty(),
        "processes naming {} still alive: {:#?}",
        run.display(),
        left.mentioning
    );
    assert!(
        !left.netns,
        "network namespace {netns} still exists {CLEANUP_TIMEOUT:?} after the owner died"
    );
    assert!(
        !left.veth,
        "host veth {host_veth} still exists {CLEANUP_TIMEOUT:?} after the owner died"
    );
    assert!(
        left.route.is_empty(),
        "a route for {pod_cidr} is still there {CLEANUP_TIMEOUT:?} after the owner died: {}",
        left.route
    );
    owner.clean = true;
    std::fs::remove_dir_all(&run).unwrap();
}

/// Waits until the probe deployment's pod is Ready with a process in `netns`, and returns the
/// namespace's processes. Gives up after [`POD_TIMEOUT`] with what the control plane said about
/// the pod and the last lines of its components' logs: a CI clone is removed after the run, so
/// the failure message is all that is left to read.
async fn wait_for_served_pod(kubectl: &Kubectl, run: &Path, netns: &str) -> Vec<u32> {
    let deadline = Instant::now() + POD_TIMEOUT;
    let selector = format!("app={DEPLOYMENT}");
    loop {
        let ready = kubectl
            .run(&[
                "get",
                "pods",
                "--namespace",
                "default",
                "--selector",
                &selector,
                "--output",
                r#"jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}"#,
            ])
            .await;
        if String::from_utf8_lossy(&ready.stdout).trim() == "True" {
            let pids = netns_pids(netns).await;
            if !pids.is_empty() {
                return pids;
            }
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut report = String::new();
    for args in [
        &[
            "get",
            "deployments,replicasets,pods",
            "--namespace",
            "default",
            "--output",
            "wide",
        ][..],
        &["get", "pods", "--namespace", "default", "--output", "yaml"][..],
        &[
            "get",
            "events",
            "--namespace",
            "default",
            "--sort-by",
            ".lastTimestamp",
        ][..],
        &["get", "nodes", "--output", "wide"][..],
    ] {
        let output = kubectl.run(args).await;
        report.push_str(&format!(
            "---- kubectl {} ----\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    report.push_str(&format!(
        "---- processes in {netns}: {:?} ----\n",
        netns_pids(netns).await
    ));
    // The pod supervisor writes one `<namespace>_<pod>.log` per pod.
    let pod_logs = std::fs::read_dir(run.join("pods"))
        .into_iter()
        .flatten()
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "log"));
    let component_logs = [
        "kube-controller-manager",
        "kube-scheduler",
        "kwok",
        "pod-supervisor",
    ]
    .map(|log| run.join(format!("{log}.log")));
    for path in component_logs.into_iter().chain(pod_logs) {
        report.push_str(&format!(
            "---- last lines of {} ----\n{}\n",
            path.display(),
            log_tail(&path)
        ));
    }
    panic!(
        "timed out after {POD_TIMEOUT:?} waiting until the demo model pod is Ready and runs in \
         {netns}\n{report}"
    )
}

/// The last lines of the log at `path` that say something about this run: the control plane's
/// components repeat a warning about the front proxy's CA (this control plane has no front
/// proxy) every few seconds, which would push everything else out of the tail.
fn log_tail(path: &Path) -> String {
    const LINES: usize = 15;
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.contains("missing content for CA bundle"))
        .collect();
    lines[lines.len().saturating_sub(LINES)..].join("\n")
}

/// Starts the control plane owned by `owner` in `run`, within [`START_TIMEOUT`].
async fn start_control_plane(run: &Path, owner: u32) {
    let mut up = Command::new(repo_path("e2e/controlplane/up.sh"));
    up.arg("--owner").arg(owner.to_string()).arg(run);
    // up.sh runs `cargo build` itself.
    modeldeploy_e2e::process::without_test_env(&mut up);
    let child = up
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("up.sh starts");
    let pid = child.id();
    let output = tokio::time::timeout(
        START_TIMEOUT,
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await;
    let output = match output {
        Ok(joined) => joined.unwrap().unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!("up.sh did not finish within {START_TIMEOUT:?}")
        }
    };
    assert!(
        output.status.success(),
        "up.sh failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The stand-in for a test process: killed with SIGKILL, it cleans nothing up. Dropped before
/// the test proved the run gone (a failed assertion), it stops the run itself, so that a failed
/// test leaves nothing behind either; the run's files stay for a look.
struct Owner {
    child: Child,
    run: PathBuf,
    clean: bool,
}

impl Owner {
    fn spawn(run: &Path) -> Owner {
        let child = Command::new("sleep")
            .arg("600")
            .stdin(Stdio::null())
            .spawn()
            .expect("sleep starts");
        Owner {
            child,
            run: run.to_owned(),
            clean: false,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, then reaped at once: a zombie still answers `kill -0`, which is how the
    /// watchdog tells that its owner lives.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.kill();
        if !self.clean {
            let _ = Command::new(repo_path("e2e/controlplane/down.sh"))
                .arg(&self.run)
                .stdin(Stdio::null())
                .status();
            eprintln!("the run's files are kept in {}", self.run.display());
        }
    }
}

/// What is left of the run.
#[derive(Debug)]
struct Leftovers {
    /// Recorded processes still running, by pid.
    processes: BTreeMap<u32, String>,
    /// Any process whose command line names the run's directory, by pid.
    mentioning: BTreeMap<u32, String>,
    netns: bool,
    veth: bool,
    /// `ip route show <cidr>`.
    route: String,
}

impl Leftovers {
    async fn observe(
        recorded: &BTreeMap<u32, (String, Started)>,
        run: &Path,
        netns: &str,
        host_veth: &str,
        pod_cidr: &str,
    ) -> Leftovers {
        let processes = recorded
            .iter()
            .filter(|(pid, (_, was))| started(**pid).as_ref() == Some(was))
            .map(|(pid, (name, _))| (*pid, name.clone()))
            .collect();
        let namespaces = ip(&["netns", "list"]).await;
        let netns = String::from_utf8_lossy(&namespaces.stdout)
            .lines()
            .any(|line| line.split_whitespace().next() == Some(netns));
        let link = ip(&["link", "show", "dev", host_veth]).await;
        let route = ip(&["route", "show", pod_cidr]).await;
        Leftovers {
            processes,
            mentioning: processes_mentioning(run),
            netns,
            veth: link.status.success(),
            route: String::from_utf8_lossy(&route.stdout).trim().to_owned(),
        }
    }

    fn is_empty(&self) -> bool {
        self.processes.is_empty()
            && self.mentioning.is_empty()
            && !self.netns
            && !self.veth
            && self.route.is_empty()
    }
}

/// When a process started, in clock ticks since boot: with the pid, it names one process, so a
/// pid the kernel hands out again is not taken for the process that had it.
type Started = u64;

/// When process `pid` started, if it runs; a zombie has finished running.
fn started(pid: u32) -> Option<Started> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may hold spaces; the fields after it do not.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// Running processes whose command line names `run`, with that command line.
fn processes_mentioning(run: &Path) -> BTreeMap<u32, String> {
    let needle = run.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return BTreeMap::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| started(*pid).is_some())
        .filter_map(|pid| {
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
            cmdline
                .contains(&needle)
                .then(|| (pid, cmdline.trim().to_owned()))
        })
        .collect()
}

/// The processes in network namespace `netns`.
async fn netns_pids(netns: &str) -> Vec<u32> {
    let output = ip(&["netns", "pids", netns]).await;
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .filter_map(|pid| pid.parse().ok())
        .collect()
}

/// `KEY=value` lines, such as `netns.env`.
fn read_assignments(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
        .lines()
        .filter_map(|line| line.trim().trim_start_matches("export ").split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// kubectl for the control plane in `run`: the build that `run/env` names (`MODELDEPLOY_BIN`) and
/// the run's own kubeconfig, whatever the environment names.
#[derive(Clone, Debug)]
struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
}

impl Kubectl {
    fn for_run(run: &Path) -> Kubectl {
        let env = read_assignments(&run.join("env"));
        let bin = env
            .get("MODELDEPLOY_BIN")
            .unwrap_or_else(|| panic!("{} names no MODELDEPLOY_BIN", run.join("env").display()));
        Kubectl {
            binary: PathBuf::from(bin).join("kubectl"),
            kubeconfig: run.join("kubeconfig"),
        }
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new(&self.binary);
        command.arg("--kubeconfig").arg(&self.kubeconfig).args(args);
        run_blocking(command).await
    }
}

async fn ip(args: &[&str]) -> Output {
    let mut command = Command::new("ip");
    command.args(args);
    run_blocking(command).await
}

/// Runs `command` to the end on a blocking thread, its stdin closed.
async fn run_blocking(mut command: Command) -> Output {
    command.stdin(Stdio::null());
    let described = format!("{command:?}");
    tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap_or_else(|error| panic!("cannot run {described}: {error}"))
}
