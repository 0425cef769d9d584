//! Invalid manifests are refused at `kubectl apply` time with a message naming the field and
//! the fix. Each file in `e2e/invalid/` starts with `# expect: <part of the message>`.

use std::process::Command;

use modeldeploy_e2e::{Cluster, repo_path};

#[tokio::test]
async fn invalid_manifests_are_rejected_by_the_api_server_with_a_helpful_message() {
    let cluster = Cluster::connect().await;
    let ns = cluster.namespace("invalid").await;
    let kubectl = cluster.tool("kubectl");

    let mut files: Vec<_> = std::fs::read_dir(repo_path("e2e/invalid"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 12,
        "at least 12 invalid manifests, found {}",
        files.len()
    );

    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let expected = text
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} must start with `# expect: `", file.display()));
        let output = Command::new(&kubectl)
            .arg("--kubeconfig")
            .arg(&cluster.kubeconfig)
            .args(["apply", "--namespace", &ns.name, "-f"])
            .arg(file)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.success() || !stderr.contains(expected) {
            failures.push(format!(
                "{}: expected rejection containing {expected:?}, got exit {} and {stderr}",
                file.display(),
                output.status
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The samples, by contrast, are all accepted.
    let output = Command::new(&kubectl)
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig)
        .args(["apply", "--dry-run=server", "--namespace", &ns.name, "-f"])
        .arg(repo_path("config/samples"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    ns.delete().await;
}
