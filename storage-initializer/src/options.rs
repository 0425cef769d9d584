//! What one run needs to know, gathered from flags and the environment by `main`.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Default number of objects downloaded at once.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// Settings for one download.
///
/// The environment is passed in rather than read here so that tests can run several
/// downloads with different credentials in one process.
#[derive(Clone)]
pub struct Options {
    /// The storage URI, as written in the ModelDeployment.
    pub uri: String,
    /// Directory the model ends up in (usually `/mnt/models`).
    pub dest: PathBuf,
    /// Environment variables (`AWS_*`, `GOOGLE_*`, `HF_*`, ...). Treated as secret.
    pub env: BTreeMap<String, String>,
    /// Extra PEM CA certificates to trust for s3://, gs:// and https://.
    pub ca_file: Option<PathBuf>,
    /// Accept `http://` URIs and a plain-HTTP `HF_ENDPOINT`.
    pub allow_insecure_http: bool,
    /// Objects downloaded at once.
    pub concurrency: usize,
}

impl Options {
    /// Options for `uri` into `dest` with an empty environment and defaults elsewhere.
    #[must_use]
    pub fn new(uri: impl Into<String>, dest: impl Into<PathBuf>) -> Self {
        Self {
            uri: uri.into(),
            dest: dest.into(),
            env: BTreeMap::new(),
            ca_file: None,
            allow_insecure_http: false,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }

    /// Adds an environment variable.
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// The value of environment variable `key`, if set and not empty.
    #[must_use]
    pub fn var(&self, key: &str) -> Option<&str> {
        self.env
            .get(key)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }

    /// Values of the variables that hold credentials, to scrub from any message.
    pub fn secret_values(&self) -> impl Iterator<Item = &str> {
        const SECRETS: [&str; 5] = [
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "HF_TOKEN",
            "HUGGING_FACE_HUB_TOKEN",
            "GOOGLE_SERVICE_ACCOUNT_KEY",
        ];
        SECRETS.into_iter().filter_map(|key| self.var(key))
    }
}

/// Never prints the environment: it holds credentials.
impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("dest", &self.dest)
            .field("env_keys", &self.env.keys().collect::<Vec<_>>())
            .field("ca_file", &self.ca_file)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}
