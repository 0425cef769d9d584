//! One pod's model server process: start it in the network namespace, check its readiness,
//! report both in the pod's status, and restart it with a back-off when it exits.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Pod, Secret, ServiceAccount};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use tokio::process::{Child, Command};

use crate::init;
use crate::pod::ServedPod;
use crate::probe;
use crate::status::{self, InitState, InitStatus, ProcessState};

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
    /// Each pod's output goes to `<namespace>_<name>.log` here, and its volumes to
    /// `<namespace>_<name>/volumes/`.
    pub log_dir: PathBuf,
    /// Init container images run for real, by image prefix.
    pub init_binaries: Vec<(String, PathBuf)>,
    /// Main container images run by another binary than `server`, by image prefix.
    pub image_binaries: Vec<(String, PathBuf)>,
    /// How pods reach the API server with their ServiceAccount's token; without it they get
    /// no credentials.
    pub api_access: Option<ApiAccess>,
}

/// What a pod's kubeconfig names: the relay to the API server and the CA that signed it.
#[derive(Debug)]
pub struct ApiAccess {
    pub server: String,
    pub ca_file: PathBuf,
}

/// How long a pod's token lasts; a kubelet would renew it, and no test runs this long.
const TOKEN_SECONDS: i64 = 24 * 3600;

impl Runner {
    fn log(&self, pod: &ServedPod) -> std::io::Result<std::fs::File> {
        let log_path = self
            .log_dir
            .join(format!("{}_{}.log", pod.namespace, pod.name));
        OpenOptions::new().create(true).append(true).open(&log_path)
    }

    /// The pod's own directory, for its volumes and termination messages.
    fn pod_dir(&self, pod: &ServedPod) -> PathBuf {
        self.log_dir.join(format!("{}_{}", pod.namespace, pod.name))
    }

    /// The binary that runs `pod`'s main container.
    fn binary(&self, pod: &ServedPod) -> &PathBuf {
        self.image_binaries
            .iter()
            .find(|(prefix, _)| pod.image.starts_with(prefix.as_str()))
            .map_or(&self.server, |(_, binary)| binary)
    }

    fn spawn(&self, pod: &ServedPod, kubeconfig: Option<&PathBuf>) -> std::io::Result<Child> {
        let log = self.log(pod)?;
        Command::new("ip")
            .args(["netns", "exec", &self.netns])
            .arg(self.binary(pod))
            .args(&pod.args)
            // Only the pod's own environment: nothing of the harness leaks into a model server.
            .env_clear()
            .envs(&pod.env)
            .envs(kubeconfig.map(|path| ("KUBECONFIG", path)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
    }
}

/// Runs `pod`'s init containers, then its server, until the task is aborted; aborting kills
/// the process.
pub async fn supervise(pod: ServedPod, runner: &Runner, client: kube::Client) {
    let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace);
    if !pod.init.is_empty() {
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &pod.namespace);
        initialize(&pod, runner, &api, &secrets).await;
    }
    let kubeconfig = match (&pod.service_account, &runner.api_access) {
        (Some(account), Some(access)) => {
            Some(credentials(&pod, account, access, runner, &client, &api).await)
        }
        _ => None,
    };
    let mut restarts = 0;
    let mut backoff = FIRST_BACKOFF;
    loop {
        let since = Timestamp::now();
        let mut child = match runner.spawn(&pod, kubeconfig.as_ref()) {
            Ok(child) => child,
            Err(error) => {
                let message = format!("cannot start {}: {error}", runner.binary(&pod).display());
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

/// A kubeconfig holding a token of the pod's ServiceAccount, as a kubelet mounts one: retried
/// until the account exists (the operator may create it just after the pod).
async fn credentials(
    pod: &ServedPod,
    account: &str,
    access: &ApiAccess,
    runner: &Runner,
    client: &kube::Client,
    api: &Api<Pod>,
) -> PathBuf {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &pod.namespace);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![],
            expiration_seconds: Some(TOKEN_SECONDS),
            bound_object_ref: Some(BoundObjectReference {
                api_version: Some("v1".to_owned()),
                kind: Some("Pod".to_owned()),
                name: Some(pod.name.clone()),
                uid: Some(pod.uid.clone()),
            }),
        },
        ..TokenRequest::default()
    };
    let path = runner.pod_dir(pod).join("kubeconfig");
    let mut backoff = FIRST_BACKOFF;
    loop {
        let written = match accounts
            .create_token_request(account, &PostParams::default(), &request)
            .await
        {
            Ok(answer) => match answer.status {
                Some(status) => write_kubeconfig(&path, access, &pod.namespace, &status.token)
                    .map_err(|e| format!("cannot write {}: {e}", path.display())),
                None => Err("the token request came back without a token".to_owned()),
            },
            Err(error) => Err(format!("no token for ServiceAccount {account}: {error}")),
        };
        match written {
            Ok(()) => return path,
            Err(message) => {
                tracing::warn!(pod = %pod.key(), %message, "cannot give the pod its credentials yet");
                report(api, pod, &ProcessState::Failed { message }, 0).await;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

fn write_kubeconfig(
    path: &std::path::Path,
    access: &ApiAccess,
    namespace: &str,
    token: &str,
) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": {
            "server": access.server,
            "certificate-authority": access.ca_file,
        }}],
        "users": [{"name": "pod", "user": {"token": token}}],
        "contexts": [{"name": "pod", "context": {"cluster": "local", "user": "pod", "namespace": namespace}}],
        "current-context": "pod",
    });
    // JSON is YAML, which a kubeconfig is.
    std::fs::write(path, serde_json::to_vec_pretty(&config)?)
}

/// Runs the init containers in order, each until it succeeds, as a kubelet does; reports each
/// step in the pod's status.
async fn initialize(pod: &ServedPod, runner: &Runner, api: &Api<Pod>, secrets: &Api<Secret>) {
    let mut statuses: Vec<InitStatus> = pod
        .init
        .iter()
        .map(|c| InitStatus {
            name: c.name.clone(),
            image: c.image.clone(),
            state: InitState::Waiting {
                reason: "PodInitializing".to_owned(),
                message: String::new(),
            },
            restarts: 0,
            last_failure: None,
        })
        .collect();
    let volumes = runner.pod_dir(pod).join("volumes");
    for (index, container) in pod.init.iter().enumerate() {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let started = Timestamp::now();
            let Some(binary) = init::binary_for(&container.image, &runner.init_binaries) else {
                // An image the harness cannot run completes at once, as kwok would have it.
                statuses[index].state = InitState::Completed {
                    started,
                    finished: started,
                };
                break;
            };
            let env = match init::secret_env(secrets, &container.env_secrets).await {
                Ok(env) => env,
                Err(message) => {
                    statuses[index].state = InitState::Waiting {
                        reason: "CreateContainerConfigError".to_owned(),
                        message,
                    };
                    report_init(api, pod, &statuses).await;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            statuses[index].state = InitState::Running { since: started };
            report_init(api, pod, &statuses).await;
            let outcome = run_init(runner, pod, container, binary, &volumes, env).await;
            let finished = Timestamp::now();
            match outcome {
                Ok(()) => {
                    statuses[index].state = InitState::Completed { started, finished };
                    break;
                }
                Err((exit_code, message)) => {
                    tracing::warn!(pod = %pod.key(), container = %container.name, exit_code, %message, "init container failed");
                    statuses[index].restarts += 1;
                    statuses[index].last_failure = Some((exit_code, message, started, finished));
                    statuses[index].state = InitState::Waiting {
                        reason: "CrashLoopBackOff".to_owned(),
                        message: format!("back-off restarting failed container {}", container.name),
                    };
                    report_init(api, pod, &statuses).await;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
    report_init(api, pod, &statuses).await;
}

/// Runs one init container to its end: its exit code and termination message when it fails.
async fn run_init(
    runner: &Runner,
    pod: &ServedPod,
    container: &init::InitContainer,
    binary: &std::path::Path,
    volumes: &std::path::Path,
    secret_env: std::collections::BTreeMap<String, String>,
) -> Result<(), (i32, String)> {
    let termination = runner
        .pod_dir(pod)
        .join(format!("{}.termination", container.name));
    let prepared = std::fs::create_dir_all(volumes)
        .and_then(|()| {
            container
                .mounts
                .values()
                .try_for_each(|v| std::fs::create_dir_all(volumes.join(v)))
        })
        .and_then(|()| runner.log(pod));
    let log = prepared.map_err(|e| (-1, format!("cannot prepare the pod's volumes: {e}")))?;
    let stderr = log.try_clone().map_err(|e| (-1, e.to_string()))?;
    let _ = std::fs::remove_file(&termination);
    let status = Command::new("ip")
        .args(["netns", "exec", &runner.netns])
        .arg(binary)
        .args(container.host_args(volumes))
        .arg("--termination-message-path")
        .arg(&termination)
        .env_clear()
        .envs(&container.env)
        .envs(&secret_env)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(stderr)
        .kill_on_drop(true)
        .status()
        .await
        .map_err(|e| (-1, format!("cannot start {}: {e}", binary.display())))?;
    if status.success() {
        return Ok(());
    }
    let message = std::fs::read_to_string(&termination).unwrap_or_default();
    Err((status.code().unwrap_or(-1), message.trim().to_owned()))
}

async fn report_init(api: &Api<Pod>, pod: &ServedPod, statuses: &[InitStatus]) {
    let patch = status::init_patch(statuses, Timestamp::now());
    if let Err(error) = api
        .patch_status(&pod.name, &PatchParams::default(), &Patch::Strategic(patch))
        .await
    {
        tracing::warn!(pod = %pod.key(), %error, "cannot write the pod's status");
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
