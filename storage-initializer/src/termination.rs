//! The Kubernetes termination message: the file whose content the kubelet copies into the
//! container's `state.terminated.message`, where the operator reads it.

use std::path::Path;

use tracing::warn;

/// Where Kubernetes reads the termination message unless the pod spec says otherwise.
pub const DEFAULT_TERMINATION_MESSAGE_PATH: &str = "/dev/termination-log";

/// The kubelet keeps at most 4096 bytes of a termination message.
const MAX_BYTES: usize = 4096;

/// Writes `message` (one line, at most 4096 bytes) to `path`.
///
/// Skipped silently when `path`'s directory does not exist (running outside Kubernetes);
/// a failed write is logged, never fatal: the message also goes to stderr.
pub fn write_termination_message(path: &Path, message: &str) {
    let exists = path
        .parent()
        .is_none_or(|dir| dir.as_os_str().is_empty() || dir.is_dir());
    if !exists {
        return;
    }
    let mut line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.len() > MAX_BYTES {
        let mut end = MAX_BYTES;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
    }
    if let Err(error) = std::fs::write(path, line) {
        warn!(path = %path.display(), %error, "could not write the termination message");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn writes_one_bounded_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("termination-log");
        write_termination_message(&path, "a\nb");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a b");
        write_termination_message(&path, &"é".repeat(3000));
        assert!(std::fs::read_to_string(&path).unwrap().len() <= MAX_BYTES);
    }

    #[test]
    fn missing_directory_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        write_termination_message(&dir.path().join("nope/termination-log"), "x");
        assert!(!dir.path().join("nope").exists());
    }
}
