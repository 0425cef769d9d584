//! Parsing of `model.storageUri` values. Pure: no I/O, no environment.

use std::fmt;

use url::Url;

/// Where a model lives, as written in a ModelDeployment's `model.storageUri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageUri {
    /// `s3://bucket/key-or-prefix` (AWS S3 or any S3-compatible store).
    S3 {
        /// Bucket name.
        bucket: String,
        /// Object key or key prefix, without leading or trailing `/`; empty for the whole bucket.
        key: String,
    },
    /// `gs://bucket/key-or-prefix` (Google Cloud Storage).
    Gcs {
        /// Bucket name.
        bucket: String,
        /// Object name or prefix, without leading or trailing `/`; empty for the whole bucket.
        key: String,
    },
    /// `https://host/path` (or `http://`, which the caller only accepts when explicitly allowed).
    Http {
        /// The full URL, query string included (presigned URLs carry their signature there).
        url: Url,
    },
    /// `hf://org/repo[@revision]` (a Hugging Face model repository).
    HuggingFace {
        /// Repository id, `org/name`.
        repo: String,
        /// Branch, tag or commit sha; `None` means the Hub's default branch, `main`.
        revision: Option<String>,
    },
    /// `pvc://claim/path`: the model already sits on a PersistentVolumeClaim.
    Pvc {
        /// PersistentVolumeClaim name.
        claim: String,
        /// Path inside the claim, without leading or trailing `/`; may be empty.
        path: String,
    },
}

/// Why a storage URI was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// The URI is empty or only whitespace.
    #[error("the storage URI is empty")]
    Empty,
    /// The URI has whitespace or control characters in it.
    #[error("the storage URI contains whitespace or control characters")]
    Whitespace,
    /// The scheme is not one this initializer downloads from.
    #[error("unsupported scheme {0:?}: expected s3://, gs://, https://, hf:// or pvc://")]
    UnsupportedScheme(String),
    /// There is no `scheme://` at all.
    #[error("missing scheme: expected s3://, gs://, https://, hf:// or pvc://")]
    MissingScheme,
    /// `s3://` or `gs://` without a bucket.
    #[error("missing bucket name (expected {scheme}://bucket/prefix)")]
    MissingBucket {
        /// `s3` or `gs`.
        scheme: &'static str,
    },
    /// A bucket name with characters no object store accepts.
    #[error("invalid bucket name {0:?}")]
    InvalidBucket(String),
    /// A key or path with an empty, `.` or `..` segment.
    #[error("invalid path {0:?}: empty, \".\" and \"..\" segments are not allowed")]
    InvalidPath(String),
    /// An `http(s)://` URL that does not parse.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// User and password in an `http(s)://` URL would end up in logs and status.
    #[error(
        "credentials in the URL are not allowed (they would be logged); use a presigned URL or a credentials Secret"
    )]
    CredentialsInUrl,
    /// `hf://` without `org/name`.
    #[error("invalid Hugging Face repository {0:?} (expected hf://org/repo[@revision])")]
    InvalidRepo(String),
    /// `hf://org/repo@` with an empty or malformed revision.
    #[error("invalid revision {0:?} (expected a branch, tag or commit sha after @)")]
    InvalidRevision(String),
    /// `pvc://` without a claim name, or with one Kubernetes would not accept.
    #[error("invalid PersistentVolumeClaim name {0:?} (expected pvc://claim/path)")]
    InvalidClaim(String),
}

impl StorageUri {
    /// Parses a storage URI.
    ///
    /// # Errors
    /// Returns a [`UriError`] saying what is wrong with the URI and what was expected.
    pub fn parse(input: &str) -> Result<Self, UriError> {
        if input.trim().is_empty() {
            return Err(UriError::Empty);
        }
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UriError::Whitespace);
        }
        let Some((scheme, rest)) = input.split_once("://") else {
            return Err(UriError::MissingScheme);
        };
        match scheme.to_ascii_lowercase().as_str() {
            "s3" => {
                let (bucket, key) = bucket_and_key(rest, "s3")?;
                Ok(Self::S3 { bucket, key })
            }
            "gs" => {
                let (bucket, key) = bucket_and_key(rest, "gs")?;
                Ok(Self::Gcs { bucket, key })
            }
            "http" | "https" => parse_http(input),
            "hf" => parse_hf(rest),
            "pvc" => parse_pvc(rest),
            other => Err(UriError::UnsupportedScheme(other.to_owned())),
        }
    }

    /// The scheme, as it appears in the URI.
    #[must_use]
    pub fn scheme(&self) -> &str {
        match self {
            Self::S3 { .. } => "s3",
            Self::Gcs { .. } => "gs",
            Self::Http { url } => url.scheme(),
            Self::HuggingFace { .. } => "hf",
            Self::Pvc { .. } => "pvc",
        }
    }
}

/// Displays the URI with any query string redacted: a presigned URL's signature is a credential.
impl fmt::Display for StorageUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::S3 { bucket, key } => write_bucket(f, "s3", bucket, key),
            Self::Gcs { bucket, key } => write_bucket(f, "gs", bucket, key),
            Self::Http { url } => {
                let mut shown = url.clone();
                shown.set_query(None);
                shown.set_fragment(None);
                write!(f, "{shown}")?;
                if url.query().is_some() {
                    f.write_str("?<redacted>")?;
                }
                Ok(())
            }
            Self::HuggingFace { repo, revision } => match revision {
                Some(revision) => write!(f, "hf://{repo}@{revision}"),
                None => write!(f, "hf://{repo}"),
            },
            Self::Pvc { claim, path } => write_bucket(f, "pvc", claim, path),
        }
    }
}

fn write_bucket(f: &mut fmt::Formatter<'_>, scheme: &str, bucket: &str, key: &str) -> fmt::Result {
    if key.is_empty() {
        write!(f, "{scheme}://{bucket}")
    } else {
        write!(f, "{scheme}://{bucket}/{key}")
    }
}

fn bucket_and_key(rest: &str, scheme: &'static str) -> Result<(String, String), UriError> {
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(UriError::MissingBucket { scheme });
    }
    // Lenient on purpose: S3-compatible stores accept names AWS would not (upper case,
    // underscores), but none accept URL syntax characters.
    let bucket_ok = bucket
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if !bucket_ok {
        return Err(UriError::InvalidBucket(bucket.to_owned()));
    }
    Ok((bucket.to_owned(), clean_path(key)?))
}

/// Strips leading and trailing `/` and rejects empty, `.` and `..` segments, which object
/// stores allow in keys but which would not map onto a local directory safely.
fn clean_path(path: &str) -> Result<String, UriError> {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if trimmed
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err(UriError::InvalidPath(path.to_owned()));
    }
    Ok(trimmed.to_owned())
}

fn parse_http(input: &str) -> Result<StorageUri, UriError> {
    let url = Url::parse(input).map_err(|error| UriError::InvalidUrl(error.to_string()))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(UriError::InvalidUrl("missing host".to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UriError::CredentialsInUrl);
    }
    Ok(StorageUri::Http { url })
}

fn parse_hf(rest: &str) -> Result<StorageUri, UriError> {
    let (repo, revision) = match rest.split_once('@') {
        Some((repo, revision)) => (repo, Some(revision)),
        None => (rest, None),
    };
    let repo = repo.trim_end_matches('/');
    let mut parts = repo.split('/');
    let valid = match (parts.next(), parts.next(), parts.next()) {
        (Some(org), Some(name), None) => is_hf_name(org) && is_hf_name(name),
        _ => false,
    };
    if !valid {
        return Err(UriError::InvalidRepo(repo.to_owned()));
    }
    let revision = match revision {
        None => None,
        Some(revision) => {
            // Branch names may contain `/` (`refs/pr/1`), so only path-like abuse is refused.
            let bad = revision.is_empty()
                || revision.starts_with('/')
                || revision.ends_with('/')
                || revision
                    .split('/')
                    .any(|segment| segment.is_empty() || segment == "." || segment == "..")
                || revision.contains(['?', '#', '@', '\\']);
            if bad {
                return Err(UriError::InvalidRevision(revision.to_owned()));
            }
            Some(revision.to_owned())
        }
    };
    Ok(StorageUri::HuggingFace {
        repo: repo.to_owned(),
        revision,
    })
}

/// The Hub's rule for user, organisation and repository names.
fn is_hf_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 96
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with(['-', '.'])
        && !name.ends_with(['-', '.'])
        && !name.contains("--")
        && !name.contains("..")
}

fn parse_pvc(rest: &str) -> Result<StorageUri, UriError> {
    let (claim, path) = rest.split_once('/').unwrap_or((rest, ""));
    // A claim name is a DNS-1123 subdomain.
    let valid = !claim.is_empty()
        && claim.len() <= 253
        && claim
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'))
        && claim.starts_with(|c: char| c.is_ascii_alphanumeric())
        && claim.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !valid {
        return Err(UriError::InvalidClaim(claim.to_owned()));
    }
    Ok(StorageUri::Pvc {
        claim: claim.to_owned(),
        path: clean_path(path)?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn parse(input: &str) -> StorageUri {
        StorageUri::parse(input).unwrap()
    }

    fn reject(input: &str) -> UriError {
        StorageUri::parse(input).unwrap_err()
    }

    #[test]
    fn s3_bucket_and_prefix() {
        assert_eq!(
            parse("s3://models/iris/1.0.0/"),
            StorageUri::S3 {
                bucket: "models".into(),
                key: "iris/1.0.0".into()
            }
        );
        assert_eq!(
            parse("s3://models"),
            StorageUri::S3 {
                bucket: "models".into(),
                key: String::new()
            }
        );
        assert_eq!(
            parse("s3://models/iris/1.0.0/").to_string(),
            "s3://models/iris/1.0.0"
        );
    }

    #[test]
    fn gs_bucket_and_object() {
        assert_eq!(
            parse("gs://acme-models/fraud/4.2.0/model.tar.gz"),
            StorageUri::Gcs {
                bucket: "acme-models".into(),
                key: "fraud/4.2.0/model.tar.gz".into()
            }
        );
    }

    #[test]
    fn bucket_errors_say_what_was_expected() {
        assert_eq!(reject("s3://"), UriError::MissingBucket { scheme: "s3" });
        assert_eq!(reject("gs:///x"), UriError::MissingBucket { scheme: "gs" });
        assert!(
            reject("s3://")
                .to_string()
                .contains("expected s3://bucket/prefix")
        );
        assert_eq!(reject("s3://a:b/x"), UriError::InvalidBucket("a:b".into()));
    }

    #[test]
    fn traversal_and_empty_segments_in_keys_are_refused() {
        assert_eq!(
            reject("s3://models/iris/../secrets"),
            UriError::InvalidPath("iris/../secrets".into())
        );
        assert_eq!(
            reject("s3://models/a//b"),
            UriError::InvalidPath("a//b".into())
        );
        assert_eq!(
            reject("pvc://claim/./x"),
            UriError::InvalidPath("./x".into())
        );
    }

    #[test]
    fn https_keeps_the_query_but_never_shows_it() {
        let uri = parse("https://example.com/models/m.zip?X-Amz-Signature=secret#frag");
        let StorageUri::Http { url } = &uri else {
            panic!("not http: {uri:?}")
        };
        assert_eq!(url.query(), Some("X-Amz-Signature=secret"));
        let shown = uri.to_string();
        assert!(!shown.contains("secret"), "{shown}");
        assert_eq!(shown, "https://example.com/models/m.zip?<redacted>");
        assert_eq!(uri.scheme(), "https");
        assert_eq!(parse("http://127.0.0.1:8080/m.tar").scheme(), "http");
    }

    #[test]
    fn https_errors() {
        assert_eq!(
            reject("https://user:pw@example.com/m"),
            UriError::CredentialsInUrl
        );
        assert!(matches!(reject("https://"), UriError::InvalidUrl(_)));
        assert!(matches!(
            reject("https://exa mple.com/"),
            UriError::Whitespace
        ));
    }

    #[test]
    fn hugging_face_with_and_without_revision() {
        assert_eq!(
            parse("hf://acme/review-sentiment-distilbert"),
            StorageUri::HuggingFace {
                repo: "acme/review-sentiment-distilbert".into(),
                revision: None
            }
        );
        assert_eq!(
            parse("hf://acme/llm@0123456789abcdef0123456789abcdef01234567"),
            StorageUri::HuggingFace {
                repo: "acme/llm".into(),
                revision: Some("0123456789abcdef0123456789abcdef01234567".into())
            }
        );
        assert_eq!(
            parse("hf://acme/llm@refs/pr/1"),
            StorageUri::HuggingFace {
                repo: "acme/llm".into(),
                revision: Some("refs/pr/1".into())
            }
        );
        assert_eq!(
            parse("hf://acme/llm@v1.0").to_string(),
            "hf://acme/llm@v1.0"
        );
    }

    #[test]
    fn hugging_face_errors() {
        assert_eq!(reject("hf://gpt2"), UriError::InvalidRepo("gpt2".into()));
        assert_eq!(reject("hf://a/b/c"), UriError::InvalidRepo("a/b/c".into()));
        assert_eq!(reject("hf://a/-b"), UriError::InvalidRepo("a/-b".into()));
        assert_eq!(
            reject("hf://a/b@"),
            UriError::InvalidRevision(String::new())
        );
        assert_eq!(
            reject("hf://a/b@../x"),
            UriError::InvalidRevision("../x".into())
        );
        assert!(
            reject("hf://gpt2")
                .to_string()
                .contains("expected hf://org/repo[@revision]")
        );
    }

    #[test]
    fn pvc_claim_and_path() {
        assert_eq!(
            parse("pvc://model-store/iris/1.0.0"),
            StorageUri::Pvc {
                claim: "model-store".into(),
                path: "iris/1.0.0".into()
            }
        );
        assert_eq!(
            reject("pvc://Model_Store/x"),
            UriError::InvalidClaim("Model_Store".into())
        );
        assert_eq!(reject("pvc:///x"), UriError::InvalidClaim(String::new()));
    }

    #[test]
    fn scheme_errors() {
        assert_eq!(reject(""), UriError::Empty);
        assert_eq!(reject("   "), UriError::Empty);
        assert_eq!(reject("models/iris"), UriError::MissingScheme);
        assert_eq!(
            reject("ftp://host/model"),
            UriError::UnsupportedScheme("ftp".into())
        );
        assert!(
            reject("azure://c/m")
                .to_string()
                .contains("expected s3://, gs://, https://, hf:// or pvc://")
        );
        assert_eq!(reject("s3://models/iris\n"), UriError::Whitespace);
    }

    #[test]
    fn scheme_is_case_insensitive() {
        assert_eq!(parse("S3://models/iris").scheme(), "s3");
    }
}
