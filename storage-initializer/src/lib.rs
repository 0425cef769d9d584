//! The modeldeploy storage initializer: an init container that downloads a ModelDeployment's
//! model from `model.storageUri` into the volume the model server mounts read-only.
//!
//! [`run`] does one download; the binary wraps it with flags, logging and the Kubernetes
//! termination message.

mod archive;
mod classify;
mod digest;
mod error;
mod manifest;
mod objects;
mod options;
mod paths;
mod redact;
mod scheme;
mod staging;
mod termination;
mod transport;
mod uri;

use std::path::PathBuf;

use tracing::info;

pub use crate::archive::{ArchiveKind, unpack};
pub use crate::error::{Error, ErrorKind, Failure};
pub use crate::manifest::{FileRecord, MANIFEST_FILE, MANIFEST_VERSION, Manifest, human_bytes};
pub use crate::options::{DEFAULT_CONCURRENCY, Options};
pub use crate::redact::{redact_urls, redact_values};
pub use crate::termination::{DEFAULT_TERMINATION_MESSAGE_PATH, write_termination_message};
pub use crate::transport::install_crypto_provider;
pub use crate::uri::{StorageUri, UriError};

use crate::objects::{Fetched, Target};
use crate::staging::Prepared;

/// How a successful run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The model was downloaded and the manifest written.
    Downloaded {
        /// What was fetched.
        manifest: Manifest,
        /// The destination directory.
        dest: PathBuf,
    },
    /// The destination already held this URI's model (the init container ran before).
    AlreadyPresent {
        /// The manifest found there.
        manifest: Manifest,
        /// The destination directory.
        dest: PathBuf,
    },
    /// `pvc://`: nothing to download, the operator mounts the claim into the server.
    MountedDirectly {
        /// The URI, as shown.
        uri: String,
    },
}

impl Outcome {
    /// The one-line summary to print.
    #[must_use]
    pub fn summary(&self) -> String {
        match self {
            Self::Downloaded { manifest, dest } => manifest.summary(dest),
            Self::AlreadyPresent { manifest, dest } => format!(
                "{} is already in {} ({} files); nothing to do",
                manifest.uri,
                dest.display(),
                manifest.file_count
            ),
            Self::MountedDirectly { uri } => format!(
                "{uri}: nothing to download; the volume is mounted into the model server directly"
            ),
        }
    }
}

/// Downloads `options.uri` into `options.dest`.
///
/// # Errors
/// An [`Error`] naming the URI, the kind of failure, the object concerned and the cause.
pub async fn run(options: &Options) -> Result<Outcome, Error> {
    install_crypto_provider();
    let parsed = StorageUri::parse(&options.uri).map_err(|error| {
        let shown = redact_urls(options.uri.trim());
        Error::new(shown, Failure::new(ErrorKind::InvalidUri, error))
    })?;
    let shown = parsed.to_string();
    let fail = |failure: Failure| Error::new(shown.clone(), failure);
    if let StorageUri::Pvc { .. } = parsed {
        return Ok(Outcome::MountedDirectly { uri: shown });
    }
    info!(uri = %shown, dest = %options.dest.display(), "fetching model");
    let staging = match staging::prepare(&options.dest, &shown).map_err(fail)? {
        Prepared::AlreadyPresent(manifest) => {
            return Ok(Outcome::AlreadyPresent {
                manifest,
                dest: options.dest.clone(),
            });
        }
        Prepared::Ready(staging) => staging,
    };
    let fetched = fetch(&parsed, &staging, options).await.map_err(fail)?;
    let manifest = Manifest::new(
        shown.clone(),
        fetched.revision,
        fetched.archive,
        fetched.files,
    );
    staging.commit(&manifest).map_err(fail)?;
    info!(
        uri = %shown,
        files = manifest.file_count,
        bytes = manifest.total_bytes,
        "model in place"
    );
    Ok(Outcome::Downloaded {
        manifest,
        dest: options.dest.clone(),
    })
}

async fn fetch(
    uri: &StorageUri,
    staging: &staging::Staging,
    options: &Options,
) -> Result<Fetched, Failure> {
    match uri {
        StorageUri::S3 { bucket, key } => {
            let store = scheme::s3::store(bucket, options)?;
            objects::fetch(
                store,
                Target::KeyOrPrefix(key.clone()),
                staging,
                options.concurrency,
            )
            .await
        }
        StorageUri::Gcs { bucket, key } => {
            let store = scheme::gcs::store(bucket, options)?;
            objects::fetch(
                store,
                Target::KeyOrPrefix(key.clone()),
                staging,
                options.concurrency,
            )
            .await
        }
        StorageUri::Http { url } => {
            let (store, target) = scheme::https::store(url, options)?;
            objects::fetch(store, target, staging, options.concurrency).await
        }
        StorageUri::HuggingFace { repo, revision } => {
            scheme::hf::fetch(repo, revision.as_deref(), staging, options).await
        }
        StorageUri::Pvc { .. } => Ok(Fetched::default()),
    }
}
