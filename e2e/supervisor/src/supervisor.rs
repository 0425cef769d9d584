//! Watches the pods of one kwok node and keeps one model server process per served pod.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use tokio::task::JoinHandle;

use crate::lifecycle::{self, Runner};
use crate::pod::{ServedPod, Skip};
use crate::targets;

/// The processes started so far, by pod UID.
#[derive(Debug)]
pub struct Running {
    pods: HashMap<String, (ServedPod, JoinHandle<()>)>,
    /// Where the Prometheus targets of the running pods are kept, if anywhere.
    targets: Option<PathBuf>,
}

impl Running {
    pub fn new(targets: Option<PathBuf>) -> Running {
        Running {
            pods: HashMap::new(),
            targets,
        }
    }

    fn write_targets(&self) {
        if let Some(path) = &self.targets {
            let content = targets::render(self.pods.values().map(|(pod, _)| pod));
            if let Err(error) = targets::write(path, &content) {
                tracing::warn!(path = %path.display(), %error, "cannot write the Prometheus targets");
            }
        }
    }

    /// Stops every process and waits until each is gone.
    pub async fn stop_all(&mut self) {
        for (_, (pod, task)) in self.pods.drain() {
            task.abort();
            let _ = task.await;
            tracing::info!(pod = %pod.key(), "stopped");
        }
        self.write_targets();
    }

    fn stop(&mut self, uid: &str) {
        if let Some((pod, task)) = self.pods.remove(uid) {
            task.abort();
            tracing::info!(pod = %pod.key(), "stopping");
            self.write_targets();
        }
    }
}

/// Runs until the watch fails for good; `running` holds what was started, for the caller to stop.
pub async fn run(
    client: Client,
    node: &str,
    image_prefixes: &[String],
    runner: Arc<Runner>,
    running: &mut Running,
) -> anyhow::Result<()> {
    let pods: Api<Pod> = Api::all(client.clone());
    let config = watcher::Config::default().fields(&format!("spec.nodeName={node}"));
    let mut events = std::pin::pin!(watcher::watcher(pods, config).default_backoff());
    let mut listed: HashSet<String> = HashSet::new();
    let mut refused: HashSet<String> = HashSet::new();
    while let Some(event) = events.try_next().await? {
        match event {
            Event::Init => listed.clear(),
            Event::InitApply(pod) | Event::Apply(pod) => {
                if let Some(uid) = pod.metadata.uid.clone() {
                    listed.insert(uid.clone());
                    let served = ServedPod::from_pod(&pod, image_prefixes);
                    apply(&client, served, uid, &runner, running, &mut refused).await;
                }
            }
            Event::Delete(pod) => {
                if let Some(uid) = pod.metadata.uid.as_deref() {
                    running.stop(uid);
                }
            }
            Event::InitDone => {
                let gone: Vec<String> = running
                    .pods
                    .keys()
                    .filter(|uid| !listed.contains(*uid))
                    .cloned()
                    .collect();
                for uid in gone {
                    running.stop(&uid);
                }
            }
        }
    }
    Ok(())
}

async fn apply(
    client: &Client,
    served: Result<ServedPod, Skip>,
    uid: String,
    runner: &Arc<Runner>,
    running: &mut Running,
    refused: &mut HashSet<String>,
) {
    match served {
        Ok(pod) => {
            if running.pods.get(&uid).is_some_and(|(p, _)| *p == pod) {
                return;
            }
            running.stop(&uid);
            let client = client.clone();
            let runner = Arc::clone(runner);
            let task_pod = pod.clone();
            let task = tokio::spawn(async move {
                lifecycle::supervise(task_pod, &runner, client).await;
            });
            running.pods.insert(uid, (pod, task));
            running.write_targets();
        }
        Err(Skip::Unsupported(message)) => {
            running.stop(&uid);
            // Said once per pod; the pod stays not ready, as kwok left it.
            if refused.insert(uid) {
                tracing::warn!(%message, "cannot run a pod");
            }
        }
        Err(Skip::OtherImage | Skip::Deleting | Skip::NoAddress) => running.stop(&uid),
    }
}
