//! Why a registry reference could not be resolved, in words fit for a status condition.
//!
//! Every variant names the registry by its redacted URI (no user info, no query) and no message
//! ever carries a credential: they end up in `kubectl describe` and in events.

use std::fmt;

/// A failed resolution.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The model, the alias or the version does not exist. Someone has to register it or fix
    /// the reference; resolving again only helps once they have.
    #[error("{missing} in the registry at {registry}")]
    NotFound { registry: String, missing: Missing },

    /// The version exists but the registry does not offer it for serving yet (or failed to
    /// register it).
    #[error(
        "version {version} of registered model \"{name}\" is not ready (status {status}) in the registry at {registry}"
    )]
    NotReady {
        registry: String,
        name: String,
        version: String,
        status: String,
    },

    /// The registry refused the credentials (HTTP 401) or denied them access (HTTP 403).
    #[error("the registry at {registry} {}{}; check the credentials in the referenced Secret", refusal(*status), detail_suffix(detail))]
    Unauthorized {
        registry: String,
        status: u16,
        /// The registry's own explanation, when it gave one in its error format.
        detail: Option<String>,
    },

    /// No answer, or no useful one: connection refused, DNS, TLS, timeout, or the registry
    /// answered that it is failing (HTTP 5xx, 429). Resolving again later may succeed.
    #[error("cannot reach the registry at {registry}: {reason}")]
    Unreachable { registry: String, reason: String },

    /// The registry answered, but not as the API says it should (unparsable JSON, a redirect,
    /// a status the API does not use, a reference it cannot resolve to an artifact URI).
    #[error("unexpected answer from the registry at {registry}: {reason}")]
    Invalid { registry: String, reason: String },

    /// The reference or the registry settings cannot work as given: a URI that is not
    /// http(s), credentials that cannot go in a header, a reference the registry rejects as
    /// malformed. Nothing changes until the spec or the Secret does.
    #[error("{reason}")]
    Misconfigured { reason: String },
}

impl RegistryError {
    /// A short CamelCase word for a condition's `reason` field.
    pub fn reason(&self) -> &'static str {
        match self {
            RegistryError::NotFound { .. } => "RegistryModelNotFound",
            RegistryError::NotReady { .. } => "RegistryModelNotReady",
            RegistryError::Unauthorized { .. } => "RegistryUnauthorized",
            RegistryError::Unreachable { .. } => "RegistryUnreachable",
            RegistryError::Invalid { .. } => "RegistryInvalidResponse",
            RegistryError::Misconfigured { .. } => "RegistryMisconfigured",
        }
    }

    /// Whether trying again soon, with nothing changed, may succeed; the others wait for a
    /// change of the spec, the Secret or the registry's content and deserve a longer back-off.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            RegistryError::Unreachable { .. }
                | RegistryError::Invalid { .. }
                | RegistryError::NotReady { .. }
        )
    }
}

/// What a [`RegistryError::NotFound`] did not find.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Missing {
    /// No registered model has this name.
    Model { name: String },
    /// The model exists but has no such alias.
    Alias { name: String, alias: String },
    /// The model exists (or could not be told apart) but has no such version.
    Version { name: String, version: String },
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::Model { name } => write!(f, "there is no registered model \"{name}\""),
            Missing::Alias { name, alias } => {
                write!(f, "registered model \"{name}\" has no alias \"{alias}\"")
            }
            Missing::Version { name, version } => {
                write!(
                    f,
                    "registered model \"{name}\" has no version \"{version}\""
                )
            }
        }
    }
}

fn refusal(status: u16) -> String {
    match status {
        401 => "did not accept the credentials (HTTP 401)".to_owned(),
        403 => "denied these credentials access (HTTP 403)".to_owned(),
        other => format!("refused the request (HTTP {other})"),
    }
}

fn detail_suffix(detail: &Option<String>) -> String {
    detail
        .as_deref()
        .map(|detail| format!(": {detail}"))
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn not_found_names_what_is_missing_and_where() {
        let error = RegistryError::NotFound {
            registry: "https://mlflow.example.com".into(),
            missing: Missing::Alias {
                name: "fraud".into(),
                alias: "champion".into(),
            },
        };
        assert_eq!(
            error.to_string(),
            "registered model \"fraud\" has no alias \"champion\" in the registry at https://mlflow.example.com"
        );
        assert_eq!(error.reason(), "RegistryModelNotFound");
        assert!(!error.is_transient());
    }

    #[test]
    fn unauthorized_says_which_refusal_and_points_at_the_secret() {
        let error = RegistryError::Unauthorized {
            registry: "https://mlflow.example.com".into(),
            status: 403,
            detail: Some("Permission denied".into()),
        };
        assert_eq!(
            error.to_string(),
            "the registry at https://mlflow.example.com denied these credentials access (HTTP 403): Permission denied; check the credentials in the referenced Secret"
        );
        let error = RegistryError::Unauthorized {
            registry: "http://mlflow".into(),
            status: 401,
            detail: None,
        };
        assert_eq!(
            error.to_string(),
            "the registry at http://mlflow did not accept the credentials (HTTP 401); check the credentials in the referenced Secret"
        );
    }

    #[test]
    fn only_unreachable_invalid_and_not_ready_are_transient() {
        let unreachable = RegistryError::Unreachable {
            registry: "http://mlflow".into(),
            reason: "connection refused".into(),
        };
        assert!(unreachable.is_transient());
        assert_eq!(
            unreachable.to_string(),
            "cannot reach the registry at http://mlflow: connection refused"
        );
        assert!(!RegistryError::Misconfigured { reason: "x".into() }.is_transient());
    }
}
