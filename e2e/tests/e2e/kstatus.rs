//! What GitOps tools read: kstatus, the rules of `sigs.k8s.io/cli-utils` that Flux, kpt and
//! Helm's `--wait` apply, computed by the real library (`e2e/kstatus`): InProgress during a
//! rollout, Current when settled, Failed when the rollout cannot go on without a person.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use kube::Api;
use modeldeploy_api::v1alpha1::{ModelDeployment, Phase, RequestAction, TrafficSpec};
use modeldeploy_e2e::rollout::{request, until_status};
use modeldeploy_e2e::{Scenario, repo_path};

use crate::strategies::{canary, iris, pause, until_step, weight};
use crate::{TIMEOUT, apply_md, deploy};

/// The kstatus probe, built once (and cached across runs by version).
fn probe() -> &'static std::path::Path {
    static PROBE: OnceLock<std::path::PathBuf> = OnceLock::new();
    PROBE.get_or_init(|| {
        let built = Command::new(repo_path("e2e/kstatus/build.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("e2e/kstatus/build.sh runs");
        assert!(built.status.success(), "building the kstatus probe failed");
        String::from_utf8(built.stdout).unwrap().trim().into()
    })
}

/// kstatus of the live ModelDeployment: (status, message).
async fn kstatus(models: &Api<ModelDeployment>) -> (String, String) {
    let live = models.get("iris").await.unwrap();
    let json = serde_json::to_string(&live).unwrap();
    let probe = probe().to_owned();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(probe)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{json}").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let line = String::from_utf8(out.stdout).unwrap();
        let (status, message) = line.trim_end().split_once('\t').unwrap_or((&line, ""));
        (status.to_owned(), message.to_owned())
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn kstatus_reads_in_progress_current_and_failed() {
    let scenario = Scenario::start("kstatus", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    // One pod a side, so the ready-pod ratio is exactly the 50 % asked for.
    let mut md = iris(
        1,
        TrafficSpec::default(),
        canary(vec![weight(50), pause(None)]),
    );
    deploy(&models, &md).await;
    assert_eq!(kstatus(&models).await.0, "Current");

    md.spec.model.version = "1.1.0".into();
    apply_md(&models, &md).await;
    until_step(&models, 1, 50).await;
    let (status, message) = kstatus(&models).await;
    assert_eq!(status, "InProgress", "{message}");

    request(&models, "iris", RequestAction::Abort, TIMEOUT).await;
    until_status(&models, "iris", TIMEOUT, "the rollout is aborted", |s| {
        s.phase == Some(Phase::Aborted)
    })
    .await;
    let (status, message) = kstatus(&models).await;
    assert_eq!(status, "Failed", "{message}");

    request(&models, "iris", RequestAction::Retry, TIMEOUT).await;
    until_step(&models, 1, 50).await;
    request(&models, "iris", RequestAction::Promote, TIMEOUT).await;
    crate::until_ready(&models, "iris").await;
    assert_eq!(kstatus(&models).await.0, "Current");
    scenario.finish().await;
}
