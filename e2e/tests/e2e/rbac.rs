//! The Helm chart's RBAC is enough for the operator, and no more than it needs.

use std::io::Write;
use std::process::{Command, Stdio};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::{ListParams, PostParams};
use kube::{Api, ResourceExt};
use modeldeploy_api::v1alpha1::ModelDeployment;
use modeldeploy_e2e::{Cluster, OperatorOptions, repo_path, sample, start_operator};

use crate::{apply_md, until_ready};

#[tokio::test]
async fn the_operator_reconciles_the_samples_with_only_the_charts_rbac() {
    let cluster = Cluster::connect().await;
    let ns = cluster.namespace("rbac").await;
    let release = ns.name.clone();

    let rendered = Command::new(cluster.tool("helm"))
        .args(["template", &release])
        .arg(repo_path("charts/modeldeploy"))
        .args([
            "--namespace",
            &ns.name,
            "--show-only",
            "templates/serviceaccount.yaml",
            "--show-only",
            "templates/rbac.yaml",
        ])
        .output()
        .unwrap();
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    kubectl(
        &cluster,
        &["apply", "--namespace", &ns.name, "-f", "-"],
        &rendered.stdout,
    );

    let accounts: Api<ServiceAccount> = ns.api();
    let account = accounts
        .list(&ListParams::default().labels(&format!("app.kubernetes.io/instance={release}")))
        .await
        .unwrap()
        .items
        .pop()
        .expect("the chart's ServiceAccount");
    let token = accounts
        .create_token_request(
            &account.name_any(),
            &PostParams::default(),
            &TokenRequest {
                spec: TokenRequestSpec {
                    expiration_seconds: Some(3600),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .status
        .unwrap()
        .token;
    let token_file = std::env::temp_dir().join(format!("modeldeploy-e2e-{release}.token"));
    std::fs::File::create(&token_file)
        .unwrap()
        .write_all(token.as_bytes())
        .unwrap();
    let mut config = cluster.config.clone();
    config.auth_info = kube::config::AuthInfo {
        token_file: Some(token_file.display().to_string()),
        ..Default::default()
    };

    // Least privilege: the operator's identity cannot read Secrets.
    let restricted = kube::Client::try_from(config.clone()).unwrap();
    let secrets: Api<Secret> = Api::namespaced(restricted, &ns.name);
    match secrets.list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403),
        other => panic!("the operator's ServiceAccount must not list Secrets: {other:?}"),
    }

    let operator = start_operator(
        config,
        &OperatorOptions {
            namespace: ns.name.clone(),
            leader_election: true,
        },
    )
    .await;
    let models: Api<ModelDeployment> = ns.api();
    for file in ["iris-sklearn.yaml", "llm-gpu.yaml", "fraud-grpc.yaml"] {
        apply_md(&models, &sample(file)).await;
    }
    for file in ["iris-sklearn.yaml", "llm-gpu.yaml", "fraud-grpc.yaml"] {
        until_ready(&models, &sample(file).name_any()).await;
    }
    operator.shutdown().await.unwrap();

    kubectl(
        &cluster,
        &[
            "delete",
            "--namespace",
            &ns.name,
            "--ignore-not-found",
            "-f",
            "-",
        ],
        &rendered.stdout,
    );
    let _ = std::fs::remove_file(token_file);
    ns.delete().await;
}

fn kubectl(cluster: &Cluster, args: &[&str], stdin: &[u8]) {
    let mut child = Command::new(cluster.tool("kubectl"))
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
