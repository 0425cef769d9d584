//! `hf://org/repo[@revision]`: a Hugging Face model repository.
//!
//! The revision (branch, tag or sha; `main` by default) is resolved once to a commit sha,
//! and every file is then fetched at that sha, so a branch that moves mid-download cannot
//! mix two commits.

use std::path::PathBuf;

use hf_hub::api::tokio::{Api, ApiBuilder, ApiError};
use hf_hub::{Cache, Repo, RepoType};
use serde::Deserialize;
use tracing::{debug, info};

use crate::digest::hash_file;
use crate::error::{ErrorKind, Failure, chain};
use crate::manifest::FileRecord;
use crate::objects::Fetched;
use crate::options::Options;
use crate::paths::{safe_relative_str, slash_path};
use crate::staging::Staging;

const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
const DEFAULT_REVISION: &str = "main";

/// `GET /api/models/{repo}/revision/{revision}?blobs=true`, the fields used.
///
/// hf-hub's `ApiRepo::info` returns only file names and the sha; sizes (for the free-space
/// check) and LFS sha256s (to verify downloads) need the documented `blobs=true` parameter,
/// so the request is built with hf-hub's `info_request` and the answer parsed here.
#[derive(Debug, Deserialize)]
struct RepoInfo {
    sha: String,
    #[serde(default)]
    siblings: Vec<Sibling>,
}

#[derive(Debug, Deserialize)]
struct Sibling {
    rfilename: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    lfs: Option<Lfs>,
}

#[derive(Debug, Deserialize)]
struct Lfs {
    sha256: String,
    size: u64,
}

/// Downloads every file of `repo` at `revision` into `staging`.
pub(crate) async fn fetch(
    repo: &str,
    revision: Option<&str>,
    staging: &Staging,
    options: &Options,
) -> Result<Fetched, Failure> {
    let api = client(staging, options)?;
    let requested = revision.unwrap_or(DEFAULT_REVISION);
    let info = repo_info(&api, repo, requested).await?;
    info!(repo, revision = requested, commit = %info.sha, files = info.siblings.len(), "resolved revision");

    let mut planned = Vec::with_capacity(info.siblings.len());
    for sibling in info.siblings {
        let local = safe_relative_str(&sibling.rfilename).map_err(|_| {
            Failure::new(
                ErrorKind::Remote,
                "the repository file name cannot be mapped onto a file in the destination",
            )
            .object(sibling.rfilename.clone())
        })?;
        planned.push((sibling, local));
    }
    if planned.is_empty() {
        return Err(Failure::new(
            ErrorKind::NotFound,
            format!("the repository has no files at commit {}", info.sha),
        ));
    }
    let sizes: Option<Vec<u64>> = planned
        .iter()
        .map(|(sibling, _)| expected_size(sibling))
        .collect();
    if let Some(sizes) = sizes {
        staging.ensure_space(sizes.iter().sum())?;
    }

    let pinned = api.repo(Repo::with_revision(
        repo.to_owned(),
        RepoType::Model,
        info.sha.clone(),
    ));
    let mut files = Vec::with_capacity(planned.len());
    // One file at a time: hf-hub already downloads each file in parallel ranges, and its
    // cache locks blobs by ETag, so two files with the same content must not run at once.
    for (sibling, local) in planned {
        files.push(fetch_file(&pinned, &sibling, local, staging).await?);
    }
    Ok(Fetched {
        files,
        archive: None,
        revision: Some(info.sha),
    })
}

fn client(staging: &Staging, options: &Options) -> Result<Api, Failure> {
    let endpoint = options
        .var("HF_ENDPOINT")
        .unwrap_or(DEFAULT_ENDPOINT)
        .trim_end_matches('/')
        .to_owned();
    if endpoint.starts_with("http://") && !options.allow_insecure_http {
        return Err(Failure::new(
            ErrorKind::Config,
            "HF_ENDPOINT is plain http://; use https://, or pass --allow-insecure-http (MODELDEPLOY_ALLOW_INSECURE_HTTP=true)",
        ));
    }
    let token = options
        .var("HF_TOKEN")
        .or_else(|| options.var("HUGGING_FACE_HUB_TOKEN"))
        .map(str::to_owned);
    // hf-hub only downloads into its cache layout (blobs plus snapshot symlinks). The cache
    // lives in the staging directory, on the destination's filesystem, so each blob is
    // renamed into place rather than copied, and the rest is deleted before the move.
    ApiBuilder::from_cache(Cache::new(staging.scratch("hf-cache")))
        .with_endpoint(endpoint)
        .with_token(token)
        .with_progress(false)
        .with_max_files(options.concurrency.max(1))
        .build()
        .map_err(|error| api_failure(&error))
}

async fn repo_info(api: &Api, repo: &str, revision: &str) -> Result<RepoInfo, Failure> {
    let response = api
        .repo(Repo::with_revision(
            repo.to_owned(),
            RepoType::Model,
            revision.to_owned(),
        ))
        .info_request()
        .query(&[("blobs", "true")])
        .send()
        .await
        .map_err(|error| request_failure(&error))?;
    let status = response.status();
    if !status.is_success() {
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let code = header("x-error-code");
        let message = header("x-error-message");
        // The Hub answers 401 both for a private or gated repository without a valid token
        // and for one that does not exist; X-Error-Code tells them apart.
        let kind = match (status.as_u16(), code.as_deref()) {
            (_, Some("RepoNotFound" | "RevisionNotFound" | "EntryNotFound")) | (404, _) => {
                ErrorKind::NotFound
            }
            (401 | 403, _) | (_, Some("GatedRepo")) => ErrorKind::AccessDenied,
            _ => ErrorKind::Remote,
        };
        let mut cause = format!("the Hub answered {status} for revision {revision:?}");
        for detail in [code, message].into_iter().flatten() {
            cause.push_str(": ");
            cause.push_str(&detail);
        }
        if kind == ErrorKind::AccessDenied {
            cause.push_str(" (is HF_TOKEN set and allowed to read this repository?)");
        }
        return Err(Failure::new(kind, cause));
    }
    response.json::<RepoInfo>().await.map_err(|error| {
        Failure::new(
            ErrorKind::Remote,
            format!("unreadable repository info: {}", chain(&error)),
        )
    })
}

fn expected_size(sibling: &Sibling) -> Option<u64> {
    sibling.lfs.as_ref().map(|lfs| lfs.size).or(sibling.size)
}

async fn fetch_file(
    pinned: &hf_hub::api::tokio::ApiRepo,
    sibling: &Sibling,
    local: PathBuf,
    staging: &Staging,
) -> Result<FileRecord, Failure> {
    let name = &sibling.rfilename;
    let pointer = pinned
        .download(name)
        .await
        .map_err(|error| api_failure(&error).object(name.clone()))?;
    let io = |what: &str, error: &std::io::Error| Failure::io(what, error).object(name.clone());
    let blob = std::fs::canonicalize(&pointer)
        .map_err(|error| io("resolving the downloaded file", &error))?;
    let target = staging.dir().join(&local);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|error| io("creating directory", &error))?;
    }
    std::fs::rename(&blob, &target).map_err(|error| io("moving the downloaded file", &error))?;
    let written = hash_file(&target)
        .await
        .map_err(|failure| failure.object(name.clone()))?;
    if let Some(expected) = expected_size(sibling)
        && expected != written.size
    {
        return Err(Failure::new(
            ErrorKind::Integrity,
            format!("expected {expected} bytes, received {}", written.size),
        )
        .object(name.clone()));
    }
    if let Some(lfs) = &sibling.lfs
        && !lfs.sha256.eq_ignore_ascii_case(&written.sha256)
    {
        return Err(Failure::new(
            ErrorKind::Integrity,
            format!(
                "sha256 {} does not match the Hub's {}",
                written.sha256, lfs.sha256
            ),
        )
        .object(name.clone()));
    }
    debug!(file = %name, size = written.size, "downloaded");
    Ok(FileRecord {
        path: slash_path(&local),
        size: written.size,
        sha256: written.sha256,
        etag: None,
        object_version: None,
    })
}

fn request_failure(error: &reqwest_hf::Error) -> Failure {
    let kind = match error.status().map(|status| status.as_u16()) {
        Some(401 | 403) => ErrorKind::AccessDenied,
        Some(404) => ErrorKind::NotFound,
        Some(_) => ErrorKind::Remote,
        None if error.is_connect()
            || error.is_timeout()
            || error.is_request()
            || error.is_body() =>
        {
            ErrorKind::Network
        }
        None => ErrorKind::Remote,
    };
    Failure::from_error(kind, error)
}

fn api_failure(error: &ApiError) -> Failure {
    match error {
        ApiError::RequestError(error) => request_failure(error),
        ApiError::IoError(error) => Failure::io("writing the download", error),
        ApiError::TooManyRetries(inner) => api_failure(inner),
        ApiError::MissingHeader(header) => Failure::new(
            ErrorKind::Remote,
            format!(
                "the Hub's answer lacks the {header} header (is HF_ENDPOINT a Hugging Face Hub?)"
            ),
        ),
        other => Failure::from_error(ErrorKind::Remote, other),
    }
}
