//! Turning names from a store or an archive into paths that stay inside the destination.

use std::path::{Component, Path, PathBuf};

use crate::manifest::MANIFEST_FILE;

/// Directory inside the staging directory for files that are not part of the model
/// (archives before unpacking, the Hugging Face client's cache).
pub(crate) const SCRATCH_DIR: &str = ".modeldeploy-scratch";

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unsafe {
    /// Absolute, or climbs out with `..`.
    Escapes,
    /// Collides with a file the initializer writes itself.
    Reserved,
    /// Nothing left once `.` segments are dropped.
    Empty,
}

/// A relative path made only of normal components, or why not.
///
/// `.` segments are dropped; `..`, a root or a Windows prefix are refused rather than
/// normalised, because an archive that contains them was built to escape.
pub(crate) fn safe_relative(raw: &Path) -> Result<PathBuf, Unsafe> {
    let mut out = PathBuf::new();
    for component in raw.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(Unsafe::Escapes);
            }
        }
    }
    let Some(Component::Normal(first)) = out.components().next() else {
        return Err(Unsafe::Empty);
    };
    if first == MANIFEST_FILE || first == SCRATCH_DIR {
        return Err(Unsafe::Reserved);
    }
    Ok(out)
}

/// [`safe_relative`] for a `/`-separated object key or repository file name.
pub(crate) fn safe_relative_str(raw: &str) -> Result<PathBuf, Unsafe> {
    if raw.starts_with('/') || raw.split('/').any(|segment| segment == "..") {
        return Err(Unsafe::Escapes);
    }
    safe_relative(Path::new(raw))
}

/// `/`-separated form of a relative path, for the manifest.
pub(crate) fn slash_path(path: &Path) -> String {
    path.components()
        .map(|component| component.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn normal_paths_pass_and_dots_are_dropped() {
        assert_eq!(
            safe_relative(Path::new("./a/./b.bin")).unwrap(),
            PathBuf::from("a/b.bin")
        );
        assert_eq!(slash_path(Path::new("a/b/c")), "a/b/c");
    }

    #[test]
    fn escaping_paths_are_refused() {
        assert_eq!(
            safe_relative(Path::new("../etc/passwd")),
            Err(Unsafe::Escapes)
        );
        assert_eq!(safe_relative(Path::new("a/../../b")), Err(Unsafe::Escapes));
        assert_eq!(
            safe_relative(Path::new("/etc/passwd")),
            Err(Unsafe::Escapes)
        );
        assert_eq!(safe_relative_str("a/../b"), Err(Unsafe::Escapes));
        assert_eq!(safe_relative_str("/a"), Err(Unsafe::Escapes));
    }

    #[test]
    fn reserved_and_empty_names_are_refused() {
        assert_eq!(
            safe_relative(Path::new(MANIFEST_FILE)),
            Err(Unsafe::Reserved)
        );
        assert_eq!(
            safe_relative(Path::new(".modeldeploy-scratch/x")),
            Err(Unsafe::Reserved)
        );
        assert_eq!(safe_relative(Path::new("./")), Err(Unsafe::Empty));
    }
}
