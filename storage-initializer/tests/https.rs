//! https:// against a local TLS server whose certificate is signed by a test CA.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::Router;
use axum::routing::get;
use common::{https_server, sha256, test_pki, zip};
use modeldeploy_storage_initializer::{ErrorKind, Manifest, Options, run};

fn model_zip() -> Vec<u8> {
    zip(&[
        ("model.onnx", b"onnx graph bytes"),
        ("labels/classes.txt", b"setosa\nversicolor\nvirginica\n"),
    ])
}

async fn server(archive: Vec<u8>) -> (std::net::SocketAddr, String) {
    let pki = test_pki();
    let router = Router::new().route(
        "/models/iris%20v2.zip",
        get(move || {
            let archive = archive.clone();
            async move { archive }
        }),
    );
    (https_server(router, pki.server_config).await, pki.ca_pem)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_and_unpacks_a_zip_trusting_a_custom_ca() {
    let archive = model_zip();
    let (addr, ca_pem) = server(archive.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let dest = dir.path().join("models");
    // A presigned URL: the signature must reach the server but never a message.
    let uri = format!(
        "https://127.0.0.1:{}/models/iris%20v2.zip?X-Amz-Signature=s3cr3t",
        addr.port()
    );
    let mut options = Options::new(&uri, &dest);
    options.ca_file = Some(ca_file);

    run(&options).await.unwrap();

    assert_eq!(
        std::fs::read(dest.join("model.onnx")).unwrap(),
        b"onnx graph bytes"
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("labels/classes.txt")).unwrap(),
        "setosa\nversicolor\nvirginica\n"
    );
    let manifest = Manifest::read_from(&dest).unwrap();
    assert_eq!(
        manifest.uri,
        format!(
            "https://127.0.0.1:{}/models/iris%20v2.zip?<redacted>",
            addr.port()
        )
    );
    let archive_record = manifest.archive.unwrap();
    assert_eq!(archive_record.path, "iris v2.zip");
    assert_eq!(archive_record.sha256, sha256(&archive));
    assert_eq!(manifest.file_count, 2);
    assert!(!dest.join("iris v2.zip").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_refused() {
    let (addr, _ca_pem) = server(model_zip()).await;
    let dest = tempfile::tempdir().unwrap();
    let uri = format!("https://127.0.0.1:{}/models/iris%20v2.zip", addr.port());

    let error = run(&Options::new(&uri, dest.path())).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Network, "{error}");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("{uri}: network error")),
        "{message}"
    );
    assert!(
        message.contains("UnknownIssuer") && message.contains("--ca-file"),
        "{message}"
    );
    assert!(Manifest::read_from(dest.path()).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_needs_the_explicit_flag() {
    let dest = tempfile::tempdir().unwrap();
    let error = run(&Options::new("http://127.0.0.1:9/model.zip", dest.path()))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config, "{error}");
    assert!(
        error.to_string().contains("--allow-insecure-http"),
        "{error}"
    );
}
