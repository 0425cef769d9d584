//! The binary end to end: exit codes, stdout summary, stderr message and the Kubernetes
//! termination message file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Output};

use common::{ACCESS_KEY, SECRET_KEY, put, s3_server};

const BINARY: &str = env!("CARGO_BIN_EXE_modeldeploy-storage-initializer");

/// Runs the binary with only the variables a pod spec would give it (credentials as a
/// Secret injects them), off the async runtime so the in-process S3 server keeps serving.
async fn initializer(args: Vec<String>, env: Vec<(&'static str, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(BINARY)
            .args(args)
            .env_clear()
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn aws_env(addr: std::net::SocketAddr, secret: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", format!("http://{addr}")),
        ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", secret.to_owned()),
        ("AWS_ALLOW_HTTP", "true".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_writes_the_termination_message_and_success_prints_a_summary() {
    let root = tempfile::tempdir().unwrap();
    put(root.path(), "models/iris/1.0.0/model.pkl", b"model");
    let addr = s3_server(root.path()).await;
    let work = tempfile::tempdir().unwrap();
    let termination = work.path().join("termination-log");
    let dest = work.path().join("models");
    let args = |uri: &str| {
        vec![
            uri.to_owned(),
            dest.display().to_string(),
            "--termination-message-path".to_owned(),
            termination.display().to_string(),
        ]
    };

    // Wrong credentials: exit 1, one line on stderr, the same line in the termination log.
    let wrong = "wrong-secret-access-key-0123456789";
    let output = initializer(args("s3://models/iris/1.0.0"), aws_env(addr, wrong)).await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    let last = stderr.lines().last().unwrap();
    assert!(
        last.starts_with("s3://models/iris/1.0.0: access denied (check the credentials Secret)"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&termination).unwrap(), last);
    assert!(!stderr.contains(wrong), "{stderr}");
    assert!(output.stdout.is_empty());

    // Right credentials: exit 0 and a one-line summary on stdout.
    std::fs::remove_file(&termination).unwrap();
    let output = initializer(args("s3://models/iris/1.0.0"), aws_env(addr, SECRET_KEY)).await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with(&format!(
            "fetched s3://models/iris/1.0.0 into {}: 1 files, 5 bytes",
            dest.display()
        )),
        "{stdout}"
    );
    assert_eq!(std::fs::read(dest.join("model.pkl")).unwrap(), b"model");
    assert!(!termination.exists());

    // A bad URI fails before any network access, with a message saying what was expected.
    let output = initializer(args("ftp://models/iris"), Vec::new()).await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(
        std::fs::read_to_string(&termination).unwrap(),
        "ftp://models/iris: invalid storage URI: unsupported scheme \"ftp\": expected s3://, gs://, https://, hf:// or pvc://"
    );

    // pvc:// has nothing to download.
    let output = initializer(args("pvc://model-store/iris"), Vec::new()).await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        String::from_utf8(output.stdout)
            .unwrap()
            .contains("mounted into the model server directly")
    );
}

#[tokio::test]
async fn a_missing_termination_log_directory_is_skipped() {
    let work = tempfile::tempdir().unwrap();
    let output = initializer(
        vec![
            "s3://".to_owned(),
            work.path().join("models").display().to_string(),
            "--termination-message-path".to_owned(),
            work.path()
                .join("no/such/dir/termination-log")
                .display()
                .to_string(),
        ],
        Vec::new(),
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("missing bucket name")
    );
    assert!(!work.path().join("no").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_cert_file_is_the_environment_way_to_trust_a_private_ca() {
    let pki = common::test_pki();
    let router = axum::Router::new().route(
        "/m/model.bin",
        axum::routing::get(|| async { b"weights".to_vec() }),
    );
    let addr = common::https_server(router, pki.server_config).await;
    let work = tempfile::tempdir().unwrap();
    let ca = work.path().join("ca.pem");
    std::fs::write(&ca, pki.ca_pem).unwrap();
    let dest = work.path().join("models");
    let output = initializer(
        vec![
            format!("https://127.0.0.1:{}/m/model.bin", addr.port()),
            dest.display().to_string(),
        ],
        vec![("SSL_CERT_FILE", ca.display().to_string())],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(std::fs::read(dest.join("model.bin")).unwrap(), b"weights");
}
