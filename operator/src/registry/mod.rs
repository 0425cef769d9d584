//! Registry references: a `ModelDeployment` may name its model by a registry entry (a model
//! name and an alias or version) instead of a storage URI, and the operator resolves that entry
//! to one concrete version and the URI of its artifacts, which it then pins in status.
//!
//! [`ModelRegistry`] is the one extension point; each kind of registry is a module implementing
//! it ([`mlflow`] today). A new kind (SageMaker's, say) adds a module with its own client and a
//! variant to [`AnyRegistry`], so callers keep a single type. The HTTP transport
//! ([`HttpClient`]) and the [`Credentials`] are shared by every HTTP-based registry.

mod credentials;
mod error;
pub(crate) mod http;
pub mod mlflow;

use std::fmt;
use std::future::Future;

use jiff::Timestamp;

pub use credentials::Credentials;
pub use error::{Missing, RegistryError};
pub use http::HttpClient;

/// A model registry that resolves references to concrete model versions.
///
/// Implementations make network calls and so can fail in ways the operator reports in status;
/// see [`RegistryError`]. They must not cache: the caller decides when to resolve again (an
/// alias may move at any time) and pins the answer.
pub trait ModelRegistry: Send + Sync {
    /// Looks `reference` up and returns the version it points at now, with its artifact URI.
    fn resolve(
        &self,
        reference: &RegistryReference,
    ) -> impl Future<Output = Result<ResolvedModel, RegistryError>> + Send;
}

/// A model in a registry, selected by alias or by version.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RegistryReference {
    /// The registered model's name.
    pub name: String,
    /// Which of its versions.
    pub selector: Selector,
}

/// How a [`RegistryReference`] selects a version.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Selector {
    /// Whatever version the alias (e.g. `champion`) points at when resolved; it may move.
    Alias(String),
    /// One fixed version, as the registry spells it (MLflow: `"3"`).
    Version(String),
}

impl RegistryReference {
    /// The version that `alias` of model `name` points at.
    pub fn alias(name: impl Into<String>, alias: impl Into<String>) -> Self {
        RegistryReference {
            name: name.into(),
            selector: Selector::Alias(alias.into()),
        }
    }

    /// Version `version` of model `name`.
    pub fn version(name: impl Into<String>, version: impl Into<String>) -> Self {
        RegistryReference {
            name: name.into(),
            selector: Selector::Version(version.into()),
        }
    }
}

/// Written as MLflow writes model URIs (`fraud@champion`, `fraud/3`), which users know.
impl fmt::Display for RegistryReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.selector {
            Selector::Alias(alias) => write!(f, "{}@{alias}", self.name),
            Selector::Version(version) => write!(f, "{}/{version}", self.name),
        }
    }
}

/// What a reference resolved to: everything the operator pins in status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedModel {
    /// The registered model's name.
    pub name: String,
    /// The concrete version the reference points at.
    pub version: String,
    /// The version's source as registered; it may be registry-internal (`runs:/…`,
    /// `models:/…`) and so not downloadable as it stands.
    pub source: String,
    /// Where the version's files can be downloaded from (`s3://…`, `gs://…`, a local path, or
    /// `mlflow-artifacts:/…` when the tracking server proxies artifacts).
    pub artifact_uri: String,
    /// The training run that produced the version, when the registry knows it.
    pub run_id: Option<String>,
    /// The alias the reference went through, if it named one.
    pub alias: Option<String>,
    /// When the version was registered.
    pub registered_at: Option<Timestamp>,
    /// When the version was last changed (description, tags, stage…).
    pub last_updated: Option<Timestamp>,
}

/// A registry of any supported kind, so that callers need neither generics nor `dyn` (the
/// trait's futures are not object-safe).
#[derive(Clone, Debug)]
pub enum AnyRegistry {
    /// An MLflow tracking server's model registry.
    Mlflow(mlflow::MlflowRegistry),
}

impl ModelRegistry for AnyRegistry {
    async fn resolve(&self, reference: &RegistryReference) -> Result<ResolvedModel, RegistryError> {
        match self {
            AnyRegistry::Mlflow(registry) => registry.resolve(reference).await,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn references_display_like_mlflow_model_uris() {
        assert_eq!(
            RegistryReference::alias("fraud", "champion").to_string(),
            "fraud@champion"
        );
        assert_eq!(
            RegistryReference::version("fraud", "3").to_string(),
            "fraud/3"
        );
    }
}
