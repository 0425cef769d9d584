//! Bad start-up input gets a clear message and a non-zero exit, before anything else happens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

fn operator(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modeldeploy-operator"))
        .args(args)
        .env_remove("KUBECONFIG")
        .env_remove("WATCH_NAMESPACE")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn assert_fails_with(output: &Output, code: i32, message: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "{stderr}");
    assert!(
        stderr.contains(message),
        "expected {message:?} in:\n{stderr}"
    );
}

#[test]
fn a_missing_kubeconfig_is_named() {
    let output = operator(&["--kubeconfig", "/nonexistent/kubeconfig"]);
    assert_fails_with(&output, 1, "cannot read kubeconfig /nonexistent/kubeconfig");
}

#[test]
fn an_unreachable_api_server_is_reported() {
    let dir = std::env::temp_dir().join(format!("modeldeploy-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]\n\
         users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
    )
    .unwrap();
    let output = operator(&[
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--leader-elect=false",
    ]);
    assert_fails_with(&output, 1, "cannot reach the Kubernetes API server");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_runtime_presets_file_the_operator_cannot_use_is_named() {
    assert_fails_with(
        &operator(&["--runtime-presets", "/nonexistent/presets.yaml"]),
        1,
        "cannot read the runtime presets file /nonexistent/presets.yaml",
    );
    let file =
        std::env::temp_dir().join(format!("modeldeploy-presets-{}.yaml", std::process::id()));
    std::fs::write(
        &file,
        "- name: pmml\n  formats: []\n  image: r/p:1\n  readyPath: /health\n",
    )
    .unwrap();
    assert_fails_with(
        &operator(&["--runtime-presets", file.to_str().unwrap()]),
        1,
        "runtime preset \"pmml\"",
    );
    std::fs::remove_file(file).unwrap();
}

#[test]
fn invalid_flags_are_refused_with_the_allowed_values() {
    assert_fails_with(
        &operator(&["--log-format", "xml"]),
        2,
        "invalid value 'xml' for '--log-format <LOG_FORMAT>'",
    );
    assert_fails_with(
        &operator(&["--concurrency", "0"]),
        2,
        "invalid value '0' for '--concurrency <CONCURRENCY>'",
    );
    assert_fails_with(&operator(&["--lease-duration-seconds", "1"]), 2, "2..=300");
    assert_fails_with(
        &operator(&["--http-address", "localhost"]),
        2,
        "invalid value 'localhost' for '--http-address <HTTP_ADDRESS>'",
    );
    assert_fails_with(
        &operator(&["--log-level", "info,=["]),
        2,
        "invalid log filter",
    );
}
