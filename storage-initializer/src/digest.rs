//! Writing downloaded bytes to disk while hashing them, so no file is read twice.

use std::io::Write;
use std::path::Path;

use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::error::Failure;

/// Size and SHA-256 of a written file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Bytes written.
    pub size: u64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
}

/// Why streaming into a file stopped.
#[derive(Debug)]
pub(crate) enum StreamError<E> {
    /// The source failed (network, store).
    Source(E),
    /// The file could not be written.
    Io(Failure),
}

/// Streams `chunks` into a new file at `path` (parents created), hashing as it goes.
pub(crate) async fn write_stream<S, B, E>(
    mut chunks: S,
    path: &Path,
) -> Result<Written, StreamError<E>>
where
    S: Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
{
    let io = |what: &str, error: std::io::Error| {
        StreamError::Io(Failure::io(format!("{what} {}", path.display()), &error))
    };
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|error| io("creating directory for", error))?;
    }
    let file = tokio::fs::File::create(path)
        .await
        .map_err(|error| io("creating", error))?;
    let mut file = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(StreamError::Source)?;
        let bytes = chunk.as_ref();
        hasher.update(bytes);
        size += bytes.len() as u64;
        file.write_all(bytes)
            .await
            .map_err(|error| io("writing", error))?;
    }
    file.flush().await.map_err(|error| io("writing", error))?;
    Ok(Written {
        size,
        sha256: hex(&hasher.finalize()),
    })
}

/// SHA-256 of an existing file, read in a blocking thread.
pub(crate) async fn hash_file(path: &Path) -> Result<Written, Failure> {
    let owned = path.to_path_buf();
    let result = tokio::task::spawn_blocking(move || -> std::io::Result<Written> {
        let mut file = std::fs::File::open(&owned)?;
        let mut writer = HashingWriter::new(std::io::sink());
        std::io::copy(&mut file, &mut writer)?;
        Ok(writer.finish())
    })
    .await;
    match result {
        Ok(Ok(written)) => Ok(written),
        Ok(Err(error)) => Err(Failure::io(format!("reading {}", path.display()), &error)),
        Err(join) => Err(Failure::new(crate::error::ErrorKind::Io, join)),
    }
}

/// A writer that hashes and counts what passes through it.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    pub(crate) fn finish(self) -> Written {
        Written {
            size: self.size,
            sha256: hex(&self.hasher.finalize()),
        }
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.size += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(64), |mut out, byte| {
            let _infallible = write!(out, "{byte:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[tokio::test]
    async fn streams_and_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/file");
        let chunks =
            futures::stream::iter([Ok::<_, std::io::Error>(b"a".to_vec()), Ok(b"bc".to_vec())]);
        let written = write_stream(chunks, &path)
            .await
            .map_err(|_| "failed")
            .unwrap();
        assert_eq!(written.size, 3);
        assert_eq!(written.sha256, ABC_SHA256);
        assert_eq!(std::fs::read(&path).unwrap(), b"abc");
        assert_eq!(hash_file(&path).await.unwrap(), written);
    }

    #[test]
    fn hashing_writer_of_nothing() {
        assert_eq!(
            HashingWriter::new(std::io::sink()).finish().sha256,
            EMPTY_SHA256
        );
    }
}
