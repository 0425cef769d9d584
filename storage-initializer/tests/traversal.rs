//! Archives built to write outside the destination are refused with a clear error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;

use common::{SECRET_KEY, put, s3_options, s3_server, tar_gz};
use modeldeploy_storage_initializer::{ArchiveKind, ErrorKind, Manifest, run, unpack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tar_gz_with_dot_dot_entries_is_refused_end_to_end() {
    let root = tempfile::tempdir().unwrap();
    let archive = tar_gz(&[("model.pkl", b"fine"), ("../../escaped.txt", b"pwned")]);
    put(root.path(), "models/evil/model.tar.gz", &archive);
    let addr = s3_server(root.path()).await;
    let work = tempfile::tempdir().unwrap();
    let dest = work.path().join("mnt/models");

    let error = run(&s3_options(
        "s3://models/evil/model.tar.gz",
        &dest,
        addr,
        SECRET_KEY,
    ))
    .await
    .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::PathTraversal, "{error}");
    let message = error.to_string();
    assert!(
        message.starts_with("s3://models/evil/model.tar.gz: archive entry escapes the destination (path traversal) (entry \"../../escaped.txt\")"),
        "{message}"
    );
    assert!(!work.path().join("escaped.txt").exists());
    assert!(!work.path().join("mnt/escaped.txt").exists());
    assert!(
        Manifest::read_from(&dest).is_none(),
        "no manifest for a refused archive"
    );
    assert!(
        !dest.join("model.pkl").exists(),
        "nothing half-unpacked in place"
    );
}

#[test]
fn absolute_tar_entries_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("abs.tar.gz");
    std::fs::write(
        &archive,
        tar_gz(&[("/tmp/modeldeploy-escaped.txt", b"pwned")]),
    )
    .unwrap();
    let failure = unpack(&archive, ArchiveKind::TarGz, &dir.path().join("out")).unwrap_err();
    assert_eq!(failure.kind, ErrorKind::PathTraversal);
    assert_eq!(
        failure.object.as_deref(),
        Some("entry \"/tmp/modeldeploy-escaped.txt\"")
    );
}

#[test]
fn zip_entries_with_dot_dot_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    writer.start_file("ok.txt", options).unwrap();
    writer.write_all(b"ok").unwrap();
    writer.start_file("sub/../../escaped.txt", options).unwrap();
    writer.write_all(b"pwned").unwrap();
    let bytes = writer.finish().unwrap().into_inner();
    let archive = dir.path().join("evil.zip");
    std::fs::write(&archive, bytes).unwrap();
    let out = dir.path().join("out");

    let failure = unpack(&archive, ArchiveKind::Zip, &out).unwrap_err();

    assert_eq!(failure.kind, ErrorKind::PathTraversal);
    assert_eq!(
        failure.object.as_deref(),
        Some("entry \"sub/../../escaped.txt\"")
    );
    assert!(!dir.path().join("escaped.txt").exists());
}
