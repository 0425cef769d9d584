//! Every manifest in `config/samples/` is one the API server accepts as it is, and together they
//! show each strategy over each traffic provider that can carry it.

use std::collections::BTreeSet;
use std::path::PathBuf;

use kube::ResourceExt;
use modeldeploy_api::v1alpha1::TrafficProvider;
use modeldeploy_e2e::{Scenario, repo_path, sample};

/// The strategy × provider pairs the samples must show; shadow and abTest cannot run over
/// `replicas`, which admission refuses.
const COVERED: [(&str, TrafficProvider); 10] = [
    ("canary", TrafficProvider::Replicas),
    ("canary", TrafficProvider::GatewayApi),
    ("canary", TrafficProvider::Istio),
    ("blueGreen", TrafficProvider::Replicas),
    ("blueGreen", TrafficProvider::GatewayApi),
    ("blueGreen", TrafficProvider::Istio),
    ("shadow", TrafficProvider::GatewayApi),
    ("shadow", TrafficProvider::Istio),
    ("abTest", TrafficProvider::GatewayApi),
    ("abTest", TrafficProvider::Istio),
];

fn sample_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_path("config/samples"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn every_sample_is_accepted_by_a_server_side_dry_run() {
    let scenario = Scenario::start("samples-dry", false).await;
    let files = sample_files();
    assert!(
        files.len() >= 13,
        "config/samples holds the 3 basic samples and one per strategy and provider, found {files:?}"
    );

    // Each file alone, so that a failure names its file.
    let mut failures = Vec::new();
    for file in &files {
        let kubectl = scenario.cluster.tool("kubectl");
        let kubeconfig = scenario.cluster.kubeconfig.clone();
        let namespace = scenario.ns.name.clone();
        let path = file.clone();
        // On a thread of its own: the operator runs on this test's runtime meanwhile.
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new(kubectl)
                .args(["apply", "--dry-run=server", "-n", &namespace, "-f"])
                .arg(path)
                .env("KUBECONFIG", kubeconfig)
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() || !stdout.contains("(server dry run)") || !stderr.is_empty() {
            failures.push(format!(
                "{}: exit {}, stdout {stdout:?}, stderr {stderr:?}",
                file.display(),
                output.status
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Distinct names, so that all samples can run side by side in one namespace; a comment
    // first that says what the sample shows; and every strategy × provider pair shown.
    let mut names = BTreeSet::new();
    let mut shown = BTreeSet::new();
    for file in &files {
        let file_name = file.file_name().unwrap().to_str().unwrap();
        let text = std::fs::read_to_string(file).unwrap();
        assert!(
            text.starts_with("# "),
            "{file_name} starts with a comment that says what it shows"
        );
        let md = sample(file_name);
        assert!(
            names.insert(md.name_any()),
            "{file_name}: metadata.name {} is taken by another sample",
            md.name_any()
        );
        if let Some(strategy) = md.spec.strategy.as_ref() {
            shown.insert((
                strategy.kind().as_str(),
                format!("{:?}", md.spec.traffic.provider),
            ));
        }
    }
    for (strategy, provider) in COVERED {
        assert!(
            shown.contains(&(strategy, format!("{provider:?}"))),
            "no sample shows {strategy} over {provider:?}; samples show {shown:?}"
        );
    }
    scenario.finish().await;
}
