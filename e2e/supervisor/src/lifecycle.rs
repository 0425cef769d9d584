//! One pod's model server process: start it in the network namespace, check its readiness,
//! report both in the pod's status, and restart it with a back-off when it exits.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{Patch, PatchParams};
use tokio::process::{Child, Command};

use crate::pod::ServedPod;
use crate::probe;
use crate::status::{self, ProcessState};

/// Readiness is checked this often: more often than a kubelet's default 10 s, so that tests see a
/// model become ready without waiting.
const PROBE_PERIOD: Duration = Duration::from_millis(250);
/// Restarts back off from 1 s, doubling to 10 s: a kubelet's 10 s to 5 min, scaled to tests.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// A process that ran this long starts the back-off afresh when it exits.
const STABLE_RUN: Duration = Duration::from_secs(10);

/// How processes are started.
#[derive(Debug)]
pub struct Runner {
    /// Network namespace holding the pod addresses (`ip netns exec` joins it).
    pub netns: String,
    /// The model server binary run for every served pod.
    pub server: PathBuf,
    /// Each pod's output goes to `<namespace>_<name>.log` here.
    pub log_dir: PathBuf,
}

impl Runner {
    fn spawn(&self, pod: &ServedPod) -> std::io::Result<Child> {
        let log_path = self
            .log_dir
            .join(format!("{}_{}.log", pod.namespace, pod.name));
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?;
        Command::new("ip")
            .args(["netns", "exec", &self.netns])
            .arg(&self.server)
            // Only the pod's own environment: nothing of the harness leaks into a model server.
            .env_clear()
            .envs(&pod.env)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
    }
}

/// Runs `pod` until the task is aborted; aborting kills the process.
pub async fn supervise(pod: ServedPod, runner: &Runner, api: Api<Pod>) {
    let mut restarts = 0;
    let mut backoff = FIRST_BACKOFF;
    loop {
        let since = Timestamp::now();
        let mut child = match runner.spawn(&pod) {
            Ok(child) => child,
            Err(error) => {
                let message = format!("cannot start {}: {error}", runner.server.display());
                tracing::warn!(pod = %pod.key(), %message, "start failed");
                report(&api, &pod, &ProcessState::Failed { message }, restarts).await;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        tracing::info!(pod = %pod.key(), ip = %pod.ip, port = pod.port, "started");
        let started = tokio::time::Instant::now();
        let mut reported: Option<bool> = None;
        let mut probes = tokio::time::interval(PROBE_PERIOD);
        let exit = loop {
            tokio::select! {
                exit = child.wait() => break exit,
                _ = probes.tick() => {
                    let ready = probe::ready(pod.ip, &pod.readiness).await;
                    if reported != Some(ready) {
                        let state = ProcessState::Running { since, ready };
                        if report(&api, &pod, &state, restarts).await {
                            tracing::info!(pod = %pod.key(), ready, "readiness changed");
                            reported = Some(ready);
                        }
                    }
                }
            }
        };
        let exit_code = exit.ok().and_then(|s| s.code()).unwrap_or(-1);
        tracing::warn!(pod = %pod.key(), exit_code, "model server exited");
        let state = ProcessState::BackingOff {
            exit_code,
            started: since,
            finished: Timestamp::now(),
        };
        restarts += 1;
        report(&api, &pod, &state, restarts).await;
        if started.elapsed() >= STABLE_RUN {
            backoff = FIRST_BACKOFF;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Writes the pod's status; false when the API server refused it (the next check retries).
pub async fn report(api: &Api<Pod>, pod: &ServedPod, state: &ProcessState, restarts: i32) -> bool {
    let patch = status::patch(pod, state, restarts, Timestamp::now());
    match api
        .patch_status(&pod.name, &PatchParams::default(), &Patch::Strategic(patch))
        .await
    {
        Ok(_) => true,
        Err(error) => {
            tracing::warn!(pod = %pod.key(), %error, "cannot write the pod's status");
            false
        }
    }
}
