//! Unpacking `.tar.gz`/`.tgz`, `.tar` and `.zip` model archives, refusing anything that
//! would land outside the destination.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use tracing::warn;

use crate::digest::HashingWriter;
use crate::error::{ErrorKind, Failure};
use crate::manifest::FileRecord;
use crate::paths::{Unsafe, safe_relative, slash_path};

/// An archive format the initializer unpacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    /// `.tar.gz` or `.tgz`.
    TarGz,
    /// `.tar`.
    Tar,
    /// `.zip`.
    Zip,
}

impl ArchiveKind {
    /// The archive format a file name says it is, if any (case-insensitive).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
            Some(Self::TarGz)
        } else if lower.ends_with(".tar") {
            Some(Self::Tar)
        } else if lower.ends_with(".zip") {
            Some(Self::Zip)
        } else {
            None
        }
    }
}

/// Unpacks `archive` into `dest` and returns the files it wrote, hashed as they were written.
///
/// Blocking: call it from `spawn_blocking`. Entries are streamed, never held in memory.
pub fn unpack(archive: &Path, kind: ArchiveKind, dest: &Path) -> Result<Vec<FileRecord>, Failure> {
    let file = File::open(archive)
        .map_err(|error| Failure::io(format!("opening {}", archive.display()), &error))?;
    let mut files = BTreeMap::new();
    match kind {
        ArchiveKind::TarGz => unpack_tar(
            flate2::read::MultiGzDecoder::new(BufReader::new(file)),
            dest,
            &mut files,
        )?,
        ArchiveKind::Tar => unpack_tar(BufReader::new(file), dest, &mut files)?,
        ArchiveKind::Zip => unpack_zip(file, dest, &mut files)?,
    }
    // A later entry for the same path replaces an earlier one, as tar itself does.
    Ok(files.into_values().collect())
}

fn bad(entry: Option<&str>, cause: impl std::fmt::Display) -> Failure {
    let failure = Failure::new(ErrorKind::BadArchive, cause);
    match entry {
        Some(entry) => failure.object(format!("entry {entry:?}")),
        None => failure,
    }
}

fn checked(raw: &Path, shown: &str) -> Result<Option<std::path::PathBuf>, Failure> {
    match safe_relative(raw) {
        Ok(path) => Ok(Some(path)),
        Err(Unsafe::Empty) => Ok(None),
        Err(Unsafe::Escapes) => Err(Failure::new(
            ErrorKind::PathTraversal,
            "refusing to unpack an absolute path or one with \"..\"",
        )
        .object(format!("entry {shown:?}"))),
        Err(Unsafe::Reserved) => Err(bad(Some(shown), "the name is reserved for the initializer")),
    }
}

fn unpack_tar<R: Read>(
    reader: R,
    dest: &Path,
    files: &mut BTreeMap<String, FileRecord>,
) -> Result<(), Failure> {
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries().map_err(|error| bad(None, error))?;
    for entry in entries {
        let mut entry = entry.map_err(|error| bad(None, error))?;
        let raw = entry.path().map_err(|error| bad(None, error))?.into_owned();
        let shown = raw.display().to_string();
        let Some(relative) = checked(&raw, &shown)? else {
            continue;
        };
        let entry_type = entry.header().entry_type();
        if entry_type.is_dir() {
            create_dir(dest, &relative, &shown)?;
        } else if entry_type.is_file() || entry_type == tar::EntryType::Continuous {
            let record = write_entry(&mut entry, dest, &relative, &shown)?;
            files.insert(record.path.clone(), record);
        } else if entry_type.is_symlink() || entry_type.is_hard_link() {
            // A link can point anywhere, and a later entry written through it would follow it.
            return Err(bad(
                Some(&shown),
                "links are not supported in model archives",
            ));
        } else {
            warn!(entry = %shown, kind = ?entry_type, "skipping archive entry that is not a file or directory");
        }
    }
    Ok(())
}

fn unpack_zip(
    file: File,
    dest: &Path,
    files: &mut BTreeMap<String, FileRecord>,
) -> Result<(), Failure> {
    let mut archive =
        zip::ZipArchive::new(BufReader::new(file)).map_err(|error| bad(None, error))?;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(|error| bad(None, error))?;
        let shown = entry.name().map_err(|error| bad(None, error))?.into_owned();
        // Zip names are `/`-separated, but Windows tools write `\`; both must be checked.
        let raw = shown.replace('\\', "/");
        let Some(relative) = checked(Path::new(&raw), &shown)? else {
            continue;
        };
        if entry.enclosed_name().is_none() {
            return Err(Failure::new(
                ErrorKind::PathTraversal,
                "refusing to unpack a path outside the destination",
            )
            .object(format!("entry {shown:?}")));
        }
        if entry.is_symlink() {
            return Err(bad(
                Some(&shown),
                "links are not supported in model archives",
            ));
        }
        if entry.is_dir() {
            create_dir(dest, &relative, &shown)?;
        } else {
            let record = write_entry(&mut entry, dest, &relative, &shown)?;
            files.insert(record.path.clone(), record);
        }
    }
    Ok(())
}

fn create_dir(dest: &Path, relative: &Path, shown: &str) -> Result<(), Failure> {
    std::fs::create_dir_all(dest.join(relative))
        .map_err(|error| Failure::io(format!("creating directory for entry {shown:?}"), &error))
}

/// Copies one entry to disk. Read errors mean a corrupt archive, write errors a local problem,
/// so the copy loop is written out instead of `io::copy`, which does not say which side failed.
fn write_entry(
    entry: &mut impl Read,
    dest: &Path,
    relative: &Path,
    shown: &str,
) -> Result<FileRecord, Failure> {
    let target = dest.join(relative);
    let write_failure = |error: &std::io::Error| {
        Failure::io(
            format!("writing entry {shown:?} to {}", target.display()),
            error,
        )
    };
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|error| write_failure(&error))?;
    }
    let out = File::create(&target).map_err(|error| write_failure(&error))?;
    let mut writer = HashingWriter::new(BufWriter::with_capacity(1 << 20, out));
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let read = match entry.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(bad(Some(shown), error)),
        };
        writer
            .write_all(&buffer[..read])
            .map_err(|error| write_failure(&error))?;
    }
    writer.flush().map_err(|error| write_failure(&error))?;
    let written = writer.finish();
    Ok(FileRecord {
        path: slash_path(relative),
        size: written.size,
        sha256: written.sha256,
        etag: None,
        object_version: None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn kinds_from_names() {
        assert_eq!(
            ArchiveKind::from_name("model.tar.gz"),
            Some(ArchiveKind::TarGz)
        );
        assert_eq!(
            ArchiveKind::from_name("MODEL.TGZ"),
            Some(ArchiveKind::TarGz)
        );
        assert_eq!(ArchiveKind::from_name("m.tar"), Some(ArchiveKind::Tar));
        assert_eq!(ArchiveKind::from_name("m.zip"), Some(ArchiveKind::Zip));
        assert_eq!(ArchiveKind::from_name("model.safetensors"), None);
        assert_eq!(ArchiveKind::from_name("tar"), None);
    }

    fn tar_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            // set_path refuses "..", so the name is written into the raw header.
            let bytes = name.as_bytes();
            header.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            header.set_cksum();
            builder.append(&header, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn tar_unpacks_and_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("m.tar");
        std::fs::write(&archive, tar_with(&[("./a/b.txt", b"abc"), ("c.txt", b"")])).unwrap();
        let out = dir.path().join("out");
        let files = unpack(&archive, ArchiveKind::Tar, &out).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].path, "a/b.txt");
        assert_eq!(
            files[0].sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(std::fs::read(out.join("a/b.txt")).unwrap(), b"abc");
    }

    #[test]
    fn tar_traversal_is_refused_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("evil.tar");
        std::fs::write(&archive, tar_with(&[("../evil.txt", b"x")])).unwrap();
        let out = dir.path().join("out");
        let failure = unpack(&archive, ArchiveKind::Tar, &out).unwrap_err();
        assert_eq!(failure.kind, ErrorKind::PathTraversal);
        assert_eq!(failure.object.as_deref(), Some("entry \"../evil.txt\""));
        assert!(!dir.path().join("evil.txt").exists());
    }

    #[test]
    fn garbage_is_a_bad_archive() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("m.tgz");
        std::fs::write(&archive, b"definitely not gzip").unwrap();
        let failure = unpack(&archive, ArchiveKind::TarGz, &dir.path().join("out")).unwrap_err();
        assert_eq!(failure.kind, ErrorKind::BadArchive);
        let failure = unpack(&archive, ArchiveKind::Zip, &dir.path().join("out")).unwrap_err();
        assert_eq!(failure.kind, ErrorKind::BadArchive);
    }
}
