//! The Helm chart lints, renders and installs; the kustomize base builds and applies.

use std::process::Command;

use modeldeploy_e2e::{Cluster, repo_path};

fn run(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn the_helm_chart_lints_renders_least_privilege_rbac_and_installs() {
    let cluster = Cluster::connect().await;
    let helm = cluster.tool("helm");
    let chart = repo_path("charts/modeldeploy");
    run(Command::new(&helm).arg("lint").arg("--strict").arg(&chart));
    for extra in [
        &[][..],
        &[
            "--set",
            "watchNamespace=ml",
            "--set",
            "serviceMonitor.enabled=true",
        ][..],
    ] {
        let rendered = run(Command::new(&helm)
            .args(["template", "modeldeploy"])
            .arg(&chart)
            .args(extra));
        assert!(rendered.contains("kind: Deployment"));
        assert!(
            !rendered.contains("\"*\"")
                && !rendered.contains("- '*'")
                && !rendered.contains("- \"*\""),
            "RBAC must list verbs and resources, not wildcards"
        );
    }

    let ns = cluster.namespace("helm").await;
    run(Command::new(&helm)
        .args(["install", "modeldeploy"])
        .arg(&chart)
        .args(["--namespace", &ns.name, "--kubeconfig"])
        .arg(&cluster.kubeconfig)
        .args([
            "--set",
            &format!("watchNamespace={}", ns.name),
            "--skip-crds",
            "--wait",
            "--timeout",
            "90s",
        ]));
    run(Command::new(&helm)
        .args([
            "uninstall",
            "modeldeploy",
            "--namespace",
            &ns.name,
            "--kubeconfig",
        ])
        .arg(&cluster.kubeconfig));
    ns.delete().await;
}

#[tokio::test]
async fn the_kustomize_base_builds_and_applies() {
    let cluster = Cluster::connect().await;
    let kubectl = cluster.tool("kubectl");
    let built = run(Command::new(&kubectl)
        .arg("kustomize")
        .arg(repo_path("config/default")));
    for kind in [
        "CustomResourceDefinition",
        "ClusterRole",
        "Deployment",
        "ServiceAccount",
    ] {
        assert!(
            built.contains(&format!("kind: {kind}")),
            "config/default lacks a {kind}"
        );
    }
    run(Command::new(&kubectl)
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig)
        .args([
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=modeldeploy-e2e",
            "-k",
        ])
        .arg(repo_path("config/default")));
    run(Command::new(&kubectl)
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig)
        .args([
            "wait",
            "--namespace",
            "modeldeploy-system",
            "--for=condition=Available",
            "deployment/modeldeploy-operator",
            "--timeout=90s",
        ]));
}
