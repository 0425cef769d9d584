//! The destination directory: a staging directory inside it, a free-space check, and the
//! final move into place.
//!
//! The destination is normally the mount point of the pod's model volume, and rename(2)
//! can neither replace a mount point nor cross into another filesystem. So the model is
//! downloaded into `<dest>/.modeldeploy-staging` (same filesystem), the manifest is written
//! there once everything is complete, and only then are the entries renamed into `<dest>`,
//! the manifest last. A crash before that leaves only the hidden staging directory, which
//! the next run (an init container is restarted with its volume intact) deletes; a crash
//! during the moves is finished by the next run, because the staged manifest says the
//! staged files are complete. The model server only starts once this exits 0.

use std::path::{Path, PathBuf};

use tracing::{info, warn};

use crate::error::{ErrorKind, Failure};
use crate::manifest::{MANIFEST_FILE, Manifest, human_bytes};
use crate::paths::SCRATCH_DIR;

/// Name of the staging directory inside the destination.
pub(crate) const STAGING_DIR: &str = ".modeldeploy-staging";

/// Entries a fresh volume may hold that do not make the destination "not empty".
const IGNORED_ENTRIES: [&str; 1] = ["lost+found"];

/// What [`prepare`] found.
#[derive(Debug)]
pub(crate) enum Prepared {
    /// The destination already holds this URI's model (the init container was restarted).
    AlreadyPresent(Manifest),
    /// Download into this staging directory.
    Ready(Staging),
}

/// A staging directory inside the destination.
#[derive(Debug)]
pub(crate) struct Staging {
    dest: PathBuf,
    dir: PathBuf,
}

/// Makes sure `dest` exists and is empty (or already complete for `uri`), and creates a
/// fresh staging directory inside it.
pub(crate) fn prepare(dest: &Path, uri: &str) -> Result<Prepared, Failure> {
    std::fs::create_dir_all(dest)
        .map_err(|error| Failure::io(format!("creating destination {}", dest.display()), &error))?;
    if let Some(manifest) = Manifest::read_from(dest) {
        if manifest.uri == uri {
            return Ok(Prepared::AlreadyPresent(manifest));
        }
        return Err(Failure::new(
            ErrorKind::Config,
            format!(
                "destination {} already holds a model from {}",
                dest.display(),
                manifest.uri
            ),
        ));
    }
    let staging = Staging {
        dest: dest.to_path_buf(),
        dir: dest.join(STAGING_DIR),
    };
    if staging.dir.exists() {
        match Manifest::read_from(&staging.dir) {
            Some(manifest) if manifest.uri == uri => {
                info!(dest = %dest.display(), "finishing a download interrupted while moving files into place");
                staging.move_into_place()?;
                return Ok(Prepared::AlreadyPresent(manifest));
            }
            _ => {
                warn!(dir = %staging.dir.display(), "removing an incomplete earlier download");
                std::fs::remove_dir_all(&staging.dir).map_err(|error| {
                    Failure::io(format!("removing {}", staging.dir.display()), &error)
                })?;
            }
        }
    }
    let entries = std::fs::read_dir(dest)
        .map_err(|error| Failure::io(format!("listing {}", dest.display()), &error))?;
    for entry in entries {
        let entry =
            entry.map_err(|error| Failure::io(format!("listing {}", dest.display()), &error))?;
        let name = entry.file_name();
        if !IGNORED_ENTRIES.iter().any(|ignored| name == *ignored) {
            return Err(Failure::new(
                ErrorKind::Config,
                format!(
                    "destination {} is not empty (it holds {:?}); the initializer only fills an empty directory",
                    dest.display(),
                    name
                ),
            ));
        }
    }
    std::fs::create_dir(&staging.dir)
        .map_err(|error| Failure::io(format!("creating {}", staging.dir.display()), &error))?;
    Ok(Prepared::Ready(staging))
}

impl Staging {
    /// The directory files are downloaded into.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// A path for a file that is not part of the model (removed before the move).
    pub(crate) fn scratch(&self, name: &str) -> PathBuf {
        self.dir.join(SCRATCH_DIR).join(name)
    }

    /// Fails with [`ErrorKind::NoSpace`] when the staging filesystem has less than `needed`
    /// bytes available to unprivileged users.
    pub(crate) fn ensure_space(&self, needed: u64) -> Result<(), Failure> {
        let stat = rustix::fs::statvfs(&self.dir).map_err(|error| {
            Failure::io(
                format!("checking free space on {}", self.dir.display()),
                &std::io::Error::from(error),
            )
        })?;
        let free = stat.f_bavail.saturating_mul(stat.f_frsize);
        if needed > free {
            return Err(Failure::new(
                ErrorKind::NoSpace,
                format!(
                    "needs {needed} bytes, {free} free on {} ({} needed, {} free)",
                    self.dest.display(),
                    human_bytes(needed),
                    human_bytes(free)
                ),
            ));
        }
        Ok(())
    }

    /// Records the download as complete and moves it into the destination.
    pub(crate) fn commit(self, manifest: &Manifest) -> Result<(), Failure> {
        let scratch = self.dir.join(SCRATCH_DIR);
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch)
                .map_err(|error| Failure::io(format!("removing {}", scratch.display()), &error))?;
        }
        manifest.write_into(&self.dir)?;
        self.move_into_place()
    }

    fn move_into_place(&self) -> Result<(), Failure> {
        let listing =
            |error: std::io::Error| Failure::io(format!("listing {}", self.dir.display()), &error);
        for entry in std::fs::read_dir(&self.dir).map_err(listing)? {
            let name = entry.map_err(listing)?.file_name();
            if name == MANIFEST_FILE || name == SCRATCH_DIR {
                continue;
            }
            let target = self.dest.join(&name);
            std::fs::rename(self.dir.join(&name), &target).map_err(|error| {
                Failure::io(format!("moving into {}", target.display()), &error)
            })?;
        }
        // Last, so that a manifest in the destination means the model is complete.
        let manifest = self.dest.join(MANIFEST_FILE);
        std::fs::rename(self.dir.join(MANIFEST_FILE), &manifest)
            .map_err(|error| Failure::io(format!("moving into {}", manifest.display()), &error))?;
        std::fs::remove_dir_all(&self.dir)
            .map_err(|error| Failure::io(format!("removing {}", self.dir.display()), &error))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn ready(dest: &Path, uri: &str) -> Staging {
        match prepare(dest, uri).unwrap() {
            Prepared::Ready(staging) => staging,
            Prepared::AlreadyPresent(_) => panic!("already present"),
        }
    }

    #[test]
    fn commit_moves_files_and_writes_manifest_last() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("models");
        let staging = ready(&dest, "s3://b/k");
        std::fs::create_dir_all(staging.dir().join("sub")).unwrap();
        std::fs::write(staging.dir().join("sub/w.bin"), b"w").unwrap();
        std::fs::create_dir_all(staging.scratch("x").parent().unwrap()).unwrap();
        std::fs::write(staging.scratch("x"), b"scratch").unwrap();
        staging
            .commit(&Manifest::new("s3://b/k", None, None, Vec::new()))
            .unwrap();
        assert_eq!(std::fs::read(dest.join("sub/w.bin")).unwrap(), b"w");
        assert!(dest.join(MANIFEST_FILE).exists());
        assert!(!dest.join(STAGING_DIR).exists());
        assert!(!dest.join(SCRATCH_DIR).exists());
        // A restarted init container finds the model complete.
        assert!(matches!(
            prepare(&dest, "s3://b/k").unwrap(),
            Prepared::AlreadyPresent(_)
        ));
        let other = prepare(&dest, "s3://b/other").unwrap_err();
        assert_eq!(other.kind, ErrorKind::Config);
        assert!(
            other.cause.contains("already holds a model from s3://b/k"),
            "{}",
            other.cause
        );
    }

    #[test]
    fn an_incomplete_staging_directory_is_discarded() {
        let root = tempfile::tempdir().unwrap();
        let staging = ready(root.path(), "s3://b/k");
        std::fs::write(staging.dir().join("half.bin"), b"h").unwrap();
        let staging = ready(root.path(), "s3://b/k");
        assert!(!staging.dir().join("half.bin").exists());
    }

    #[test]
    fn an_interrupted_move_is_finished() {
        let root = tempfile::tempdir().unwrap();
        let staging = ready(root.path(), "s3://b/k");
        std::fs::write(staging.dir().join("a.bin"), b"a").unwrap();
        std::fs::write(staging.dir().join("b.bin"), b"b").unwrap();
        Manifest::new("s3://b/k", None, None, Vec::new())
            .write_into(staging.dir())
            .unwrap();
        // As if the process died after moving a.bin.
        std::fs::rename(staging.dir().join("a.bin"), root.path().join("a.bin")).unwrap();
        assert!(matches!(
            prepare(root.path(), "s3://b/k").unwrap(),
            Prepared::AlreadyPresent(_)
        ));
        assert!(root.path().join("b.bin").exists());
        assert!(root.path().join(MANIFEST_FILE).exists());
    }

    #[test]
    fn a_foreign_non_empty_destination_is_refused() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("old.bin"), b"o").unwrap();
        let failure = prepare(root.path(), "s3://b/k").unwrap_err();
        assert_eq!(failure.kind, ErrorKind::Config);
        assert!(failure.cause.contains("is not empty"), "{}", failure.cause);
    }

    #[test]
    fn too_little_space_names_both_numbers() {
        let root = tempfile::tempdir().unwrap();
        let staging = ready(root.path(), "s3://b/k");
        staging.ensure_space(1).unwrap();
        let failure = staging.ensure_space(u64::MAX).unwrap_err();
        assert_eq!(failure.kind, ErrorKind::NoSpace);
        assert!(
            failure
                .cause
                .starts_with(&format!("needs {} bytes, ", u64::MAX)),
            "{}",
            failure.cause
        );
        assert!(failure.cause.contains(" free on "), "{}", failure.cause);
    }
}
