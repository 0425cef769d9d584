//! Error kinds and the one-line messages the operator shows in a ModelDeployment's status.

use std::fmt;

use crate::redact::redact_urls;

/// What went wrong, in the terms a person fixing a ModelDeployment thinks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The storage URI does not parse.
    InvalidUri,
    /// A flag, environment variable or destination is unusable.
    Config,
    /// The bucket, object, prefix, repository, revision or URL does not exist.
    NotFound,
    /// The store refused the credentials, or there were none it accepts.
    AccessDenied,
    /// The store could not be reached or the connection broke.
    Network,
    /// The destination volume is too small.
    NoSpace,
    /// An archive is corrupt or holds something that cannot be unpacked.
    BadArchive,
    /// An archive entry would be written outside the destination.
    PathTraversal,
    /// What was downloaded is not what the store said it is.
    Integrity,
    /// Reading or writing the destination failed.
    Io,
    /// The store answered with an error that fits no other kind.
    Remote,
}

impl ErrorKind {
    fn describe(self) -> &'static str {
        match self {
            Self::InvalidUri => "invalid storage URI",
            Self::Config => "invalid configuration",
            Self::NotFound => "not found",
            Self::AccessDenied => "access denied (check the credentials Secret)",
            Self::Network => "network error",
            Self::NoSpace => "not enough space",
            Self::BadArchive => "bad archive",
            Self::PathTraversal => "archive entry escapes the destination (path traversal)",
            Self::Integrity => "integrity check failed",
            Self::Io => "I/O error",
            Self::Remote => "storage error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// A failure inside a download, before it is tied to the URI being fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The object, file or archive entry concerned, if it is not the whole URI.
    pub object: Option<String>,
    /// The underlying cause, on one line.
    pub cause: String,
}

impl Failure {
    /// A failure of `kind` caused by `cause`.
    pub fn new(kind: ErrorKind, cause: impl fmt::Display) -> Self {
        Self {
            kind,
            object: None,
            cause: one_line(&cause.to_string()),
        }
    }

    /// A failure whose cause is an error with a source chain, flattened onto one line.
    pub fn from_error(kind: ErrorKind, error: &(dyn std::error::Error + 'static)) -> Self {
        Self::new(kind, chain(error))
    }

    /// Names the object, file or entry the failure concerns.
    #[must_use]
    pub fn object(mut self, object: impl Into<String>) -> Self {
        self.object = Some(object.into());
        self
    }

    /// Classifies a local I/O error: a full disk is [`ErrorKind::NoSpace`], anything else
    /// [`ErrorKind::Io`].
    pub fn io(what: impl fmt::Display, error: &std::io::Error) -> Self {
        let kind = if is_no_space(error) {
            ErrorKind::NoSpace
        } else {
            ErrorKind::Io
        };
        Self::new(kind, format!("{what}: {}", chain(error)))
    }
}

/// True for the "disk full" and "quota exceeded" errors.
pub(crate) fn is_no_space(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// A failed storage initialization: the URI, what went wrong, and why.
///
/// Its `Display` is the single line written to stderr and to the termination message,
/// e.g. `s3://models/iris/1.0.0: access denied (check the credentials Secret): <cause>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Error {
    uri: String,
    failure: Failure,
}

impl Error {
    /// Ties `failure` to the URI being fetched. `uri` must already be safe to show (see
    /// [`crate::StorageUri`]'s `Display`).
    #[must_use]
    pub fn new(uri: impl Into<String>, failure: Failure) -> Self {
        Self {
            uri: uri.into(),
            failure,
        }
    }

    /// What kind of failure this is.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.failure.kind
    }

    /// The storage URI, as shown.
    #[must_use]
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The object, file or archive entry concerned, if any.
    #[must_use]
    pub fn object(&self) -> Option<&str> {
        self.failure.object.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.uri, self.failure.kind)?;
        if let Some(object) = &self.failure.object {
            write!(f, " ({object})")?;
        }
        if !self.failure.cause.is_empty() {
            write!(f, ": {}", self.failure.cause)?;
        }
        Ok(())
    }
}

/// Flattens an error and its sources into `a: b: c`, skipping a source whose text its parent
/// already includes (object_store and reqwest both embed their source in their own message).
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(next) = source {
        let next_text = next.to_string();
        if !next_text.is_empty() && !text.contains(&next_text) {
            text.push_str(": ");
            text.push_str(&next_text);
        }
        source = next.source();
    }
    one_line(&text)
}

/// Collapses whitespace runs (newlines included, from XML error bodies) into single spaces
/// and redacts URL query strings and user info, which may carry credentials.
fn one_line(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    redact_urls(&collapsed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer: {0}")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner")]
    struct Inner(#[source] std::io::Error);

    #[test]
    fn message_names_uri_kind_object_and_cause() {
        let error = Error::new(
            "s3://models/iris/1.0.0",
            Failure::new(ErrorKind::AccessDenied, "403 Forbidden").object("iris/1.0.0/model.pkl"),
        );
        assert_eq!(
            error.to_string(),
            "s3://models/iris/1.0.0: access denied (check the credentials Secret) (iris/1.0.0/model.pkl): 403 Forbidden"
        );
        assert_eq!(error.kind(), ErrorKind::AccessDenied);
    }

    #[test]
    fn chain_skips_repeated_sources_and_is_one_line() {
        let error = Outer(Inner(std::io::Error::other("disk\non fire")));
        assert_eq!(chain(&error), "outer: inner: disk on fire");
    }

    #[test]
    fn full_disk_is_no_space() {
        let error = std::io::Error::from(std::io::ErrorKind::StorageFull);
        assert_eq!(Failure::io("writing x", &error).kind, ErrorKind::NoSpace);
        let error = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert_eq!(Failure::io("writing x", &error).kind, ErrorKind::Io);
    }

    #[test]
    fn causes_never_show_url_secrets() {
        let failure = Failure::new(
            ErrorKind::Remote,
            "Error performing GET https://h/m.zip?X-Amz-Signature=abc in 1s",
        );
        assert!(!failure.cause.contains("abc"), "{}", failure.cause);
    }
}
