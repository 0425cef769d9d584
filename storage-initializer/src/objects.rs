//! Downloading from an object_store: one object, or every object under a prefix.

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as StorePath;
use object_store::{GetOptions, ObjectMeta, ObjectStore};
use tracing::{debug, info};

use crate::archive::{ArchiveKind, unpack};
use crate::classify::store_failure;
use crate::digest::{StreamError, write_stream};
use crate::error::{ErrorKind, Failure};
use crate::manifest::FileRecord;
use crate::paths::{safe_relative_str, slash_path};
use crate::staging::Staging;

/// What a scheme fetched into the staging directory.
#[derive(Debug, Default)]
pub(crate) struct Fetched {
    pub(crate) files: Vec<FileRecord>,
    pub(crate) archive: Option<FileRecord>,
    pub(crate) revision: Option<String>,
}

/// What the URI points at inside a store.
#[derive(Debug)]
pub(crate) enum Target {
    /// A bucket key: a prefix if any object is under it, otherwise one object.
    KeyOrPrefix(String),
    /// One object, fetched without listing (plain HTTP servers cannot list).
    Object {
        location: StorePath,
        /// File name it gets in the destination, which also says whether it is an archive.
        name: String,
    },
}

/// Downloads `target` from `store` into `staging`, `concurrency` objects at a time.
pub(crate) async fn fetch(
    store: Arc<dyn ObjectStore>,
    target: Target,
    staging: &Staging,
    concurrency: usize,
) -> Result<Fetched, Failure> {
    match target {
        Target::Object { location, name } => {
            fetch_object(store.as_ref(), &location, &name, staging).await
        }
        Target::KeyOrPrefix(key) => {
            // Listing first: models are usually prefixes, and HEAD on a "directory" key is
            // answered inconsistently by S3-compatible stores (404, 403 or even 500).
            if let Some(fetched) =
                fetch_prefix(Arc::clone(&store), &key, staging, concurrency).await?
            {
                return Ok(fetched);
            }
            if key.is_empty() {
                return Err(Failure::new(ErrorKind::NotFound, "the bucket is empty"));
            }
            debug!(
                key,
                "no objects under the prefix; fetching it as a single object"
            );
            let location = StorePath::from_iter(key.split('/'));
            let name = location.filename().unwrap_or(&key).to_owned();
            fetch_object(store.as_ref(), &location, &name, staging)
                .await
                .map_err(|failure| match failure.kind {
                    ErrorKind::NotFound => Failure::new(
                        ErrorKind::NotFound,
                        format!("no object or prefix named {key:?} ({})", failure.cause),
                    ),
                    _ => failure,
                })
        }
    }
}

async fn fetch_object(
    store: &dyn ObjectStore,
    location: &StorePath,
    name: &str,
    staging: &Staging,
) -> Result<Fetched, Failure> {
    let shown = location.as_ref().to_owned();
    let archive = ArchiveKind::from_name(name);
    let path = match archive {
        Some(_) => staging.scratch(name),
        None => {
            let relative = safe_relative_str(name).map_err(|_| {
                Failure::new(
                    ErrorKind::InvalidUri,
                    format!("cannot use {name:?} as a file name"),
                )
            })?;
            staging.dir().join(relative)
        }
    };
    let result = store
        .get_opts(location, GetOptions::default())
        .await
        .map_err(|error| store_failure(&error, &shown))?;
    let meta = result.meta.clone();
    // For an archive this is a lower bound: the unpacked files need room too.
    staging.ensure_space(meta.size)?;
    info!(object = %shown, size = meta.size, "downloading");
    let written = write_stream(result.into_stream(), &path)
        .await
        .map_err(|error| stream_failure(error, &shown))?;
    check_size(&meta, written.size, &shown)?;
    let record = FileRecord {
        path: if shown.is_empty() {
            name.to_owned()
        } else {
            shown.clone()
        },
        size: written.size,
        sha256: written.sha256,
        etag: meta.e_tag.as_deref().map(unquote),
        object_version: meta.version.clone(),
    };
    let Some(kind) = archive else {
        return Ok(Fetched {
            files: vec![FileRecord {
                path: name.to_owned(),
                ..record
            }],
            ..Fetched::default()
        });
    };
    info!(archive = %record.path, ?kind, "unpacking");
    let dest = staging.dir().to_path_buf();
    let archive_path = path.clone();
    let files = tokio::task::spawn_blocking(move || unpack(&archive_path, kind, &dest))
        .await
        .map_err(|error| Failure::new(ErrorKind::Io, error))?
        .map_err(|failure| match failure.object {
            Some(_) => failure,
            None => failure.object(record.path.clone()),
        })?;
    std::fs::remove_file(&path)
        .map_err(|error| Failure::io(format!("removing {}", path.display()), &error))?;
    Ok(Fetched {
        files,
        archive: Some(record),
        revision: None,
    })
}

/// Downloads everything under `key`; `None` when there is nothing under it.
async fn fetch_prefix(
    store: Arc<dyn ObjectStore>,
    key: &str,
    staging: &Staging,
    concurrency: usize,
) -> Result<Option<Fetched>, Failure> {
    let prefix = (!key.is_empty()).then(|| StorePath::from_iter(key.split('/')));
    let objects: Vec<ObjectMeta> = store
        .list(prefix.as_ref())
        .try_collect()
        .await
        .map_err(|error| store_failure(&error, key))?;
    let mut planned = Vec::with_capacity(objects.len());
    for meta in objects {
        let relative = match &prefix {
            Some(prefix) => match meta.location.prefix_match(prefix) {
                Some(parts) => parts
                    .map(|part| part.as_ref().to_owned())
                    .collect::<Vec<_>>()
                    .join("/"),
                None => continue,
            },
            None => meta.location.as_ref().to_owned(),
        };
        let local = safe_relative_str(&relative).map_err(|_| {
            Failure::new(
                ErrorKind::Remote,
                "the object key cannot be mapped onto a file in the destination",
            )
            .object(meta.location.as_ref().to_owned())
        })?;
        planned.push((meta, local));
    }
    if planned.is_empty() {
        return Ok(None);
    }
    let total: u64 = planned.iter().map(|(meta, _)| meta.size).sum();
    staging.ensure_space(total)?;
    info!(
        prefix = key,
        objects = planned.len(),
        bytes = total,
        "downloading prefix"
    );
    let dir = staging.dir().to_path_buf();
    let files = futures::stream::iter(planned)
        .map(|(meta, local)| {
            let store = Arc::clone(&store);
            let path = dir.join(&local);
            async move {
                let shown = meta.location.as_ref().to_owned();
                // Pin the version listed, where the store reports one, so an object
                // overwritten mid-download cannot mix two versions of the model.
                let options = GetOptions::default().with_version(meta.version.clone());
                let result = store
                    .get_opts(&meta.location, options)
                    .await
                    .map_err(|error| store_failure(&error, &shown))?;
                let got = result.meta.clone();
                let written = write_stream(result.into_stream(), &path)
                    .await
                    .map_err(|error| stream_failure(error, &shown))?;
                check_size(&got, written.size, &shown)?;
                debug!(object = %shown, size = written.size, "downloaded");
                Ok::<_, Failure>(FileRecord {
                    path: slash_path(&local),
                    size: written.size,
                    sha256: written.sha256,
                    etag: got.e_tag.as_deref().map(unquote),
                    object_version: got.version,
                })
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    Ok(Some(Fetched {
        files,
        ..Fetched::default()
    }))
}

fn stream_failure(error: StreamError<object_store::Error>, object: &str) -> Failure {
    match error {
        StreamError::Source(error) => store_failure(&error, object),
        StreamError::Io(failure) => failure.object(object.to_owned()),
    }
}

/// A body shorter than its Content-Length means the connection was cut without an error.
fn check_size(meta: &ObjectMeta, written: u64, object: &str) -> Result<(), Failure> {
    if meta.size != written {
        return Err(Failure::new(
            ErrorKind::Integrity,
            format!("expected {} bytes, received {written}", meta.size),
        )
        .object(object.to_owned()));
    }
    Ok(())
}

fn unquote(etag: &str) -> String {
    etag.trim_start_matches("W/").trim_matches('"').to_owned()
}
