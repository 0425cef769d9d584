//! hf:// against a local stand-in for the Hugging Face Hub, reached through HF_ENDPOINT.
//! It serves the two endpoints the initializer uses: repository info at a revision
//! (`/api/models/{org}/{repo}/revision/{revision}`) and file download
//! (`/{org}/{repo}/resolve/{revision}/{file}`, with the Range requests hf-hub makes).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::{http_server, sha256};
use modeldeploy_storage_initializer::{ErrorKind, Manifest, Options, run};

const COMMIT: &str = "5f1c2a9e0b7d4c3a8e6f1b2d9c0a7e4f3b6d8c1a";
const TOKEN: &str = "hf_modeldeploy_test_token_123";

#[derive(Clone)]
struct Hub {
    files: Arc<Vec<(&'static str, Vec<u8>, bool)>>,
    /// Every revision the initializer asked for, per endpoint: ("info" | "resolve", revision).
    requests: Arc<Mutex<Vec<(String, String)>>>,
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .is_some_and(|value| value == format!("Bearer {TOKEN}").as_str())
}

async fn info(
    State(hub): State<Hub>,
    Path((org, repo, revision)): Path<(String, String, String)>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    hub.requests
        .lock()
        .unwrap()
        .push(("info".into(), revision.clone()));
    if !authorized(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            "Invalid credentials in Authorization header",
        )
            .into_response();
    }
    if (org.as_str(), repo.as_str()) != ("acme", "iris") {
        return (
            StatusCode::UNAUTHORIZED,
            [("x-error-code", "RepoNotFound")],
            "Repository not found",
        )
            .into_response();
    }
    if revision != "v1.0" && revision != COMMIT {
        return (
            StatusCode::NOT_FOUND,
            [
                ("x-error-code", "RevisionNotFound"),
                ("x-error-message", "Invalid rev id"),
            ],
            "",
        )
            .into_response();
    }
    assert_eq!(query.get("blobs").map(String::as_str), Some("true"));
    let siblings: Vec<_> = hub
        .files
        .iter()
        .map(|(name, data, lfs)| {
            let mut sibling = serde_json::json!({"rfilename": name, "size": data.len()});
            if *lfs {
                sibling["lfs"] = serde_json::json!({"sha256": sha256(data), "size": data.len(), "pointerSize": 134});
            }
            sibling
        })
        .collect();
    axum::Json(serde_json::json!({"id": "acme/iris", "sha": COMMIT, "siblings": siblings}))
        .into_response()
}

async fn resolve(
    State(hub): State<Hub>,
    Path((_org, _repo, revision, file)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> Response {
    hub.requests
        .lock()
        .unwrap()
        .push(("resolve".into(), revision.clone()));
    if !authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Some((_, data, lfs)) = hub.files.iter().find(|(name, _, _)| *name == file) else {
        return (
            StatusCode::NOT_FOUND,
            [("x-error-code", "EntryNotFound")],
            "",
        )
            .into_response();
    };
    if revision != COMMIT {
        return (
            StatusCode::NOT_FOUND,
            [("x-error-code", "RevisionNotFound")],
            "",
        )
            .into_response();
    }
    let etag = if *lfs {
        sha256(data)
    } else {
        "0123abcd".to_owned()
    };
    let common = [
        ("x-repo-commit".to_owned(), COMMIT.to_owned()),
        ("etag".to_owned(), format!("\"{etag}\"")),
    ];
    let range = headers
        .get(header::RANGE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("bytes="))
        .and_then(|value| value.split_once('-'))
        .and_then(|(start, end)| Some((start.parse::<usize>().ok()?, end.parse::<usize>().ok()?)));
    let mut response = match range {
        Some((start, end)) => {
            let end = end.min(data.len() - 1);
            let mut response = data[start..=end].to_vec().into_response();
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                format!("bytes {start}-{end}/{}", data.len())
                    .parse()
                    .unwrap(),
            );
            response
        }
        None => data.clone().into_response(),
    };
    for (name, value) in common {
        response.headers_mut().insert(
            header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    response
}

async fn hub() -> (String, Hub) {
    let weights: Vec<u8> = (0..12_000_000u32).map(|i| (i % 251) as u8).collect();
    let hub = Hub {
        files: Arc::new(vec![
            ("config.json", br#"{"model_type": "bert"}"#.to_vec(), false),
            ("weights/model.safetensors", weights, true),
            (
                ".gitattributes",
                b"*.safetensors filter=lfs\n".to_vec(),
                false,
            ),
        ]),
        requests: Arc::default(),
    };
    let router = Router::new()
        .route("/api/models/{org}/{repo}/revision/{revision}", get(info))
        .route("/{org}/{repo}/resolve/{revision}/{*file}", get(resolve))
        .with_state(hub.clone());
    let addr = http_server(router).await;
    (format!("http://{addr}"), hub)
}

fn options(uri: &str, dest: &std::path::Path, endpoint: &str, token: &str) -> Options {
    let mut options = Options::new(uri, dest)
        .env("HF_ENDPOINT", endpoint)
        .env("HF_TOKEN", token);
    options.allow_insecure_http = true;
    options
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_a_repository_at_the_pinned_revision() {
    let (endpoint, hub) = hub().await;
    let dest = tempfile::tempdir().unwrap();

    run(&options(
        "hf://acme/iris@v1.0",
        dest.path(),
        &endpoint,
        TOKEN,
    ))
    .await
    .unwrap();

    for (name, data, _) in hub.files.iter() {
        assert_eq!(
            &std::fs::read(dest.path().join(name)).unwrap(),
            data,
            "{name}"
        );
    }
    let manifest = Manifest::read_from(dest.path()).unwrap();
    assert_eq!(manifest.uri, "hf://acme/iris@v1.0");
    assert_eq!(manifest.revision.as_deref(), Some(COMMIT));
    assert_eq!(manifest.file_count, 3);
    let weights = manifest
        .files
        .iter()
        .find(|file| file.path == "weights/model.safetensors")
        .unwrap();
    assert_eq!(weights.sha256, sha256(&hub.files[1].1));
    assert_eq!(weights.size, 12_000_000);
    // hf-hub's cache was only scratch space.
    let leftovers: Vec<_> = std::fs::read_dir(dest.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with(".modeldeploy-") && name != ".modeldeploy-source.json")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let requests = hub.requests.lock().unwrap().clone();
    // The revision in the URI is the one resolved, and every file comes from the commit it
    // resolved to, so a tag or branch that moves mid-download cannot mix commits.
    assert_eq!(requests[0], ("info".to_owned(), "v1.0".to_owned()));
    let resolves: Vec<_> = requests
        .iter()
        .filter(|(kind, _)| kind == "resolve")
        .collect();
    assert!(resolves.len() >= 3, "{requests:?}");
    assert!(
        resolves.iter().all(|(_, revision)| revision == COMMIT),
        "{requests:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_is_access_denied() {
    let (endpoint, _hub) = hub().await;
    let dest = tempfile::tempdir().unwrap();
    let wrong = "hf_wrong_token_456789";

    let error = run(&options(
        "hf://acme/iris@v1.0",
        dest.path(),
        &endpoint,
        wrong,
    ))
    .await
    .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::AccessDenied, "{error}");
    let message = error.to_string();
    assert!(
        message.starts_with("hf://acme/iris@v1.0: access denied"),
        "{message}"
    );
    assert!(message.contains("HF_TOKEN"), "{message}");
    assert!(!message.contains(wrong), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_revisions_and_repositories_are_not_found() {
    let (endpoint, _hub) = hub().await;
    let dest = tempfile::tempdir().unwrap();

    let error = run(&options("hf://acme/iris@v9", dest.path(), &endpoint, TOKEN))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound, "{error}");
    assert!(error.to_string().contains("RevisionNotFound"), "{error}");

    let error = run(&options("hf://acme/missing", dest.path(), &endpoint, TOKEN))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound, "{error}");
    assert!(
        error
            .to_string()
            .starts_with("hf://acme/missing: not found"),
        "{error}"
    );
}
