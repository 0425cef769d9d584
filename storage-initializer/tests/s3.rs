//! s3:// against a real S3-compatible server (s3s + s3s-fs) on 127.0.0.1, with signed requests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{SECRET_KEY, put, s3_options, s3_server, sha256, tar_gz};
use modeldeploy_storage_initializer::{ErrorKind, MANIFEST_FILE, Manifest, Outcome, run};

const MODEL: &[u8] = b"pickled iris classifier";
const SETTINGS: &[u8] = br#"{"name": "iris"}"#;
const WEIGHTS: &[u8] = &[7u8; 300_000];

fn bucket() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    put(root.path(), "models/iris/1.0.0/model.pkl", MODEL);
    put(
        root.path(),
        "models/iris/1.0.0/config/settings.json",
        SETTINGS,
    );
    put(
        root.path(),
        "models/iris/1.0.0/nested/deep/weights.bin",
        WEIGHTS,
    );
    // Shares the prefix string but not the directory: must not be downloaded.
    put(
        root.path(),
        "models/iris/1.0.0-rc1/model.pkl",
        b"release candidate",
    );
    root
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_a_prefix_recursively_with_credentials_from_the_environment() {
    let root = bucket();
    let addr = s3_server(root.path()).await;
    let dest = tempfile::tempdir().unwrap();
    let models = dest.path().join("mnt/models");

    let outcome = run(&s3_options(
        "s3://models/iris/1.0.0",
        &models,
        addr,
        SECRET_KEY,
    ))
    .await
    .unwrap();

    assert_eq!(std::fs::read(models.join("model.pkl")).unwrap(), MODEL);
    assert_eq!(
        std::fs::read(models.join("config/settings.json")).unwrap(),
        SETTINGS
    );
    assert_eq!(
        std::fs::read(models.join("nested/deep/weights.bin")).unwrap(),
        WEIGHTS
    );
    let mut names: Vec<_> = std::fs::read_dir(&models)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, [MANIFEST_FILE, "config", "model.pkl", "nested"]);

    let manifest = Manifest::read_from(&models).unwrap();
    assert_eq!(manifest.uri, "s3://models/iris/1.0.0");
    assert_eq!(manifest.file_count, 3);
    assert_eq!(
        manifest.total_bytes,
        (MODEL.len() + SETTINGS.len() + WEIGHTS.len()) as u64
    );
    let paths: Vec<_> = manifest
        .files
        .iter()
        .map(|file| file.path.as_str())
        .collect();
    assert_eq!(
        paths,
        [
            "config/settings.json",
            "model.pkl",
            "nested/deep/weights.bin"
        ]
    );
    let weights = &manifest.files[2];
    assert_eq!(weights.sha256, sha256(WEIGHTS));
    assert!(weights.etag.as_deref().is_some_and(|etag| !etag.is_empty()));
    assert!(manifest.archive.is_none() && manifest.revision.is_none());
    assert!(matches!(outcome, Outcome::Downloaded { .. }));
    assert!(outcome.summary().starts_with(&format!(
        "fetched s3://models/iris/1.0.0 into {}: 3 files, ",
        models.display()
    )));

    // An init container restarted in the same pod finds the model and does nothing.
    let again = run(&s3_options(
        "s3://models/iris/1.0.0",
        &models,
        addr,
        SECRET_KEY,
    ))
    .await
    .unwrap();
    assert!(matches!(again, Outcome::AlreadyPresent { .. }), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_a_single_object() {
    let root = bucket();
    let addr = s3_server(root.path()).await;
    let dest = tempfile::tempdir().unwrap();

    run(&s3_options(
        "s3://models/iris/1.0.0/model.pkl",
        dest.path(),
        addr,
        SECRET_KEY,
    ))
    .await
    .unwrap();

    assert_eq!(std::fs::read(dest.path().join("model.pkl")).unwrap(), MODEL);
    let manifest = Manifest::read_from(dest.path()).unwrap();
    assert_eq!(manifest.file_count, 1);
    assert_eq!(manifest.files[0].path, "model.pkl");
    assert_eq!(manifest.files[0].sha256, sha256(MODEL));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_and_unpacks_a_tar_gz_object() {
    let root = tempfile::tempdir().unwrap();
    let archive = tar_gz(&[
        ("model/saved_model.pb", b"graph"),
        ("model/variables/variables.index", b"index"),
    ]);
    put(root.path(), "models/tf/2.0.0/model.tar.gz", &archive);
    let addr = s3_server(root.path()).await;
    let dest = tempfile::tempdir().unwrap();

    run(&s3_options(
        "s3://models/tf/2.0.0/model.tar.gz",
        dest.path(),
        addr,
        SECRET_KEY,
    ))
    .await
    .unwrap();

    assert_eq!(
        std::fs::read(dest.path().join("model/saved_model.pb")).unwrap(),
        b"graph"
    );
    assert_eq!(
        std::fs::read(dest.path().join("model/variables/variables.index")).unwrap(),
        b"index"
    );
    assert!(!dest.path().join("model.tar.gz").exists());
    let manifest = Manifest::read_from(dest.path()).unwrap();
    let archive_record = manifest.archive.unwrap();
    assert_eq!(archive_record.path, "tf/2.0.0/model.tar.gz");
    assert_eq!(archive_record.sha256, sha256(&archive));
    assert_eq!(archive_record.size, archive.len() as u64);
    assert_eq!(manifest.file_count, 2);
    assert_eq!(manifest.files[0].sha256, sha256(b"graph"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_access_denied_naming_the_uri() {
    let root = bucket();
    let addr = s3_server(root.path()).await;
    let dest = tempfile::tempdir().unwrap();
    let wrong = "not-the-secret-key-at-all-0123456789";

    let error = run(&s3_options(
        "s3://models/iris/1.0.0",
        dest.path(),
        addr,
        wrong,
    ))
    .await
    .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::AccessDenied, "{error}");
    let message = error.to_string();
    assert!(
        message.starts_with("s3://models/iris/1.0.0: access denied (check the credentials Secret)"),
        "{message}"
    );
    assert!(
        !message.contains(wrong) && !message.contains(SECRET_KEY),
        "{message}"
    );
    assert!(!message.contains('\n'));
    // Nothing that looks like a model was left behind.
    assert!(Manifest::read_from(dest.path()).is_none());
    assert!(!dest.path().join("model.pkl").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_key_is_not_found_naming_the_uri() {
    let root = bucket();
    let addr = s3_server(root.path()).await;
    let dest = tempfile::tempdir().unwrap();

    let error = run(&s3_options(
        "s3://models/iris/9.9.9",
        dest.path(),
        addr,
        SECRET_KEY,
    ))
    .await
    .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::NotFound, "{error}");
    let message = error.to_string();
    assert!(
        message.starts_with("s3://models/iris/9.9.9: not found"),
        "{message}"
    );
    assert!(message.contains("iris/9.9.9"), "{message}");

    let error = run(&s3_options(
        "s3://no-such-bucket/iris",
        dest.path(),
        addr,
        SECRET_KEY,
    ))
    .await
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound, "{error}");
    assert!(
        error
            .to_string()
            .starts_with("s3://no-such-bucket/iris: not found"),
        "{error}"
    );
}
