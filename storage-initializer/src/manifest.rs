//! `<dest>/.modeldeploy-source.json`: what was fetched, for the operator to pin in status.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, Failure};

/// File name of the manifest inside the destination.
pub const MANIFEST_FILE: &str = ".modeldeploy-source.json";

/// Format version, bumped on incompatible changes.
pub const MANIFEST_VERSION: u32 = 1;

/// Everything fetched for one storage URI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Format version ([`MANIFEST_VERSION`]).
    pub version: u32,
    /// The storage URI, with any query string redacted.
    pub uri: String,
    /// When the download finished (RFC 3339, UTC).
    pub fetched_at: String,
    /// The commit sha a Hugging Face revision resolved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The archive the files were unpacked from, when the URI named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<FileRecord>,
    /// Number of files in `files`.
    pub file_count: usize,
    /// Sum of the sizes in `files`.
    pub total_bytes: u64,
    /// Every file in the destination, sorted by path.
    pub files: Vec<FileRecord>,
}

/// One downloaded or unpacked file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileRecord {
    /// Path relative to the destination, `/`-separated (for an archive: its object key or name).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
    /// The store's ETag for the object, quotes removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The store's object version (S3 version id, GCS generation), when it reports one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_version: Option<String>,
}

impl Manifest {
    /// A manifest for `files` (sorted here) fetched from `uri`.
    #[must_use]
    pub fn new(
        uri: impl Into<String>,
        revision: Option<String>,
        archive: Option<FileRecord>,
        mut files: Vec<FileRecord>,
    ) -> Self {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Self {
            version: MANIFEST_VERSION,
            uri: uri.into(),
            fetched_at: jiff::Timestamp::now().to_string(),
            revision,
            archive,
            file_count: files.len(),
            total_bytes: files.iter().map(|file| file.size).sum(),
            files,
        }
    }

    /// Writes the manifest into `dir` atomically (temporary file, then rename).
    pub(crate) fn write_into(&self, dir: &Path) -> Result<(), Failure> {
        let json = serde_json::to_vec_pretty(self).map_err(|error| {
            Failure::new(ErrorKind::Io, format!("serializing the manifest: {error}"))
        })?;
        let tmp = dir.join(format!("{MANIFEST_FILE}.tmp"));
        std::fs::write(&tmp, json)
            .map_err(|error| Failure::io(format!("writing {}", tmp.display()), &error))?;
        let path = dir.join(MANIFEST_FILE);
        std::fs::rename(&tmp, &path)
            .map_err(|error| Failure::io(format!("renaming to {}", path.display()), &error))
    }

    /// Reads the manifest in `dir`, if there is a readable one.
    #[must_use]
    pub fn read_from(dir: &Path) -> Option<Self> {
        let bytes = std::fs::read(dir.join(MANIFEST_FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The one-line summary printed after a download.
    #[must_use]
    pub fn summary(&self, dest: &Path) -> String {
        let mut line = format!(
            "fetched {} into {}: {} files, {}",
            self.uri,
            dest.display(),
            self.file_count,
            human_bytes(self.total_bytes)
        );
        if let Some(revision) = &self.revision {
            line.push_str(&format!(", commit {revision}"));
        }
        if let Some(archive) = &self.archive {
            line.push_str(&format!(
                ", unpacked from {} (sha256 {})",
                archive.path, archive.sha256
            ));
        }
        line
    }
}

/// `1234567` → `1.2 MiB (1234567 bytes)`.
#[must_use]
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    #[allow(clippy::cast_precision_loss)] // one decimal is all that is shown
    let mut value = bytes as f64;
    let mut unit = "bytes";
    for next in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit} ({bytes} bytes)")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn record(path: &str, size: u64) -> FileRecord {
        FileRecord {
            path: path.into(),
            size,
            sha256: "00".into(),
            etag: None,
            object_version: None,
        }
    }

    #[test]
    fn totals_sorted_files_and_round_trip() {
        let manifest = Manifest::new(
            "s3://m/i",
            None,
            None,
            vec![record("b", 2), record("a/x", 3)],
        );
        assert_eq!(manifest.file_count, 2);
        assert_eq!(manifest.total_bytes, 5);
        assert_eq!(manifest.files[0].path, "a/x");
        let dir = tempfile::tempdir().unwrap();
        manifest.write_into(dir.path()).unwrap();
        assert_eq!(Manifest::read_from(dir.path()).unwrap(), manifest);
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(MANIFEST_FILE)).unwrap())
                .unwrap();
        assert_eq!(json["fileCount"], 2);
        assert!(json.get("revision").is_none());
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(12), "12 bytes");
        assert_eq!(human_bytes(1536), "1.5 KiB (1536 bytes)");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB (3221225472 bytes)");
    }
}
