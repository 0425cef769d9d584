//! MLflow's model registry, through a tracking server's REST API 2.0.
//!
//! A reference resolves in up to three GETs:
//!
//! 1. The version: `registered-models/alias?name=&alias=` for an alias,
//!    `model-versions/get?name=&version=` for a version. A version whose status is not `READY`
//!    is refused ([`RegistryError::NotReady`]).
//! 2. Its artifact URI: always `model-versions/get-download-uri?name=&version=`, because only
//!    the server knows how its sources map to storage (a `models:/fraud/1` source becomes that
//!    version's storage, an MLflow 3 logged model `models:/m-…` its artifact location, and a
//!    plain `s3://…` source comes back as it is).
//! 3. Only when that is still `runs:/<run>/<path>` (MLflow hands run URIs back unchanged):
//!    `runs/get?run_id=`, and the run's artifact root joined with the path, as MLflow's own
//!    `RunsArtifactRepository` does.
//!
//! `mlflow-artifacts:/…` URIs are returned as they are: they are downloadable only through the
//! tracking server's artifact proxy, which the downloader has to support.

mod wire;

use std::time::Instant;

use http::HeaderValue;
use tracing::{debug, info};

use super::http::{HttpClient, TransportError};
use super::{
    Credentials, Missing, ModelRegistry, RegistryError, RegistryReference, ResolvedModel, Selector,
};
use wire::{Base, Failure};

/// The Secret key of a bearer token, as the MLflow client reads it from the environment.
pub const TOKEN_KEY: &str = "MLFLOW_TRACKING_TOKEN";
/// The Secret key of a basic-auth username.
pub const USERNAME_KEY: &str = "MLFLOW_TRACKING_USERNAME";
/// The Secret key of a basic-auth password.
pub const PASSWORD_KEY: &str = "MLFLOW_TRACKING_PASSWORD";

/// What MLflow calls a version that can be served.
const READY: &str = "READY";

/// A client of one MLflow tracking server's model registry. Cheap to build and to clone: the
/// connection pool belongs to the [`HttpClient`].
#[derive(Clone, Debug)]
pub struct MlflowRegistry {
    http: HttpClient,
    base: Base,
    /// Built once so that credentials that cannot be sent fail at construction.
    authorization: Option<HeaderValue>,
}

impl MlflowRegistry {
    /// A client of the tracking server at `uri` (`https://mlflow.example.com`, with a path
    /// prefix if the server has one).
    pub fn new(
        http: HttpClient,
        uri: &str,
        credentials: &Credentials,
    ) -> Result<Self, RegistryError> {
        let base = Base::parse(uri).map_err(|reason| RegistryError::Misconfigured { reason })?;
        let authorization =
            credentials
                .authorization()
                .map_err(|error| RegistryError::Misconfigured {
                    reason: format!(
                        "cannot use the credentials for the registry at {base}: {error}"
                    ),
                })?;
        Ok(MlflowRegistry {
            http,
            base,
            authorization,
        })
    }

    /// The server's URI as messages name it: without credentials or a trailing slash.
    pub fn uri(&self) -> String {
        self.base.to_string()
    }

    async fn version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<wire::ModelVersion, RegistryError> {
        let answer = self
            .get::<wire::ModelVersionAnswer>(wire::ALIAS, &[("name", name), ("alias", alias)])
            .await;
        match answer {
            Ok(answer) => Ok(answer.model_version),
            // MLflow answers a missing model with RESOURCE_DOES_NOT_EXIST and a missing alias
            // of an existing model with INVALID_PARAMETER_VALUE "Registered model alias … not
            // found."; other servers may use the former for both.
            Err(Failure::DoesNotExist(message)) if mentions_alias(&message) => {
                Err(self.not_found(Missing::Alias {
                    name: name.to_owned(),
                    alias: alias.to_owned(),
                }))
            }
            Err(Failure::DoesNotExist(_)) => Err(self.not_found(Missing::Model {
                name: name.to_owned(),
            })),
            Err(Failure::InvalidParameter(message))
                if mentions_alias(&message) && message.to_lowercase().contains("not found") =>
            {
                Err(self.not_found(Missing::Alias {
                    name: name.to_owned(),
                    alias: alias.to_owned(),
                }))
            }
            Err(failure) => Err(self.error(failure, &format!("{name}@{alias}"))),
        }
    }

    async fn version_by_number(
        &self,
        name: &str,
        version: &str,
    ) -> Result<wire::ModelVersion, RegistryError> {
        let answer = self
            .get::<wire::ModelVersionAnswer>(
                wire::MODEL_VERSION,
                &[("name", name), ("version", version)],
            )
            .await;
        match answer {
            Ok(answer) => Ok(answer.model_version),
            // MLflow says "Model Version (name=…, version=…) not found" whether the model or
            // only the version is missing; asking for the model tells which to report.
            Err(Failure::DoesNotExist(_)) => {
                let model = self
                    .get::<serde_json::Value>(wire::REGISTERED_MODEL, &[("name", name)])
                    .await;
                let missing = match model {
                    Err(Failure::DoesNotExist(_)) => Missing::Model {
                        name: name.to_owned(),
                    },
                    _ => Missing::Version {
                        name: name.to_owned(),
                        version: version.to_owned(),
                    },
                };
                Err(self.not_found(missing))
            }
            Err(failure) => Err(self.error(failure, &format!("{name}/{version}"))),
        }
    }

    /// Where the files of `version` are; see the module documentation.
    async fn artifact_uri(&self, version: &wire::ModelVersion) -> Result<String, RegistryError> {
        let reference = format!("{}/{}", version.name, version.version);
        let answer = self
            .get::<wire::DownloadUriAnswer>(
                wire::DOWNLOAD_URI,
                &[("name", &version.name), ("version", &version.version)],
            )
            .await;
        let uri = match answer {
            Ok(answer) => answer.artifact_uri,
            // Deleted between the two requests.
            Err(Failure::DoesNotExist(_)) => {
                return Err(self.not_found(Missing::Version {
                    name: version.name.clone(),
                    version: version.version.clone(),
                }));
            }
            Err(failure) => return Err(self.error(failure, &reference)),
        };
        let Some((run_id, path)) = wire::runs_uri(&uri) else {
            return self.downloadable(uri, &reference);
        };
        let run = self
            .get::<wire::RunAnswer>(wire::RUN, &[("run_id", run_id)])
            .await;
        match run {
            Ok(run) => self.downloadable(wire::join(&run.run.info.artifact_uri, path), &reference),
            Err(Failure::DoesNotExist(_)) => Err(RegistryError::Invalid {
                registry: self.uri(),
                reason: format!(
                    "model version {reference} comes from run {run_id}, which the tracking server does not know"
                ),
            }),
            Err(failure) => Err(self.error(failure, &reference)),
        }
    }

    /// Refuses URIs that only the registry itself could resolve further.
    fn downloadable(&self, uri: String, reference: &str) -> Result<String, RegistryError> {
        if uri.is_empty() || uri.starts_with("models:") || uri.starts_with("runs:") {
            return Err(RegistryError::Invalid {
                registry: self.uri(),
                reason: format!(
                    "the download URI of model version {reference} is {uri:?}, which names no storage"
                ),
            });
        }
        Ok(uri)
    }

    /// GETs an API endpoint and parses a 200 answer as `T`.
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, Failure> {
        let uri = self
            .base
            .endpoint(path, query)
            .map_err(Failure::Unexpected)?;
        let answer = self
            .http
            .get(uri, self.authorization.as_ref())
            .await
            .map_err(transport)?;
        if !answer.status.is_success() {
            return Err(wire::classify(answer.status, &answer.body));
        }
        wire::parse(path, &answer.body).map_err(Failure::Unexpected)
    }

    fn not_found(&self, missing: Missing) -> RegistryError {
        RegistryError::NotFound {
            registry: self.uri(),
            missing,
        }
    }

    /// The generic meaning of a failure that the caller had nothing to add to.
    fn error(&self, failure: Failure, reference: &str) -> RegistryError {
        let registry = self.uri();
        match failure {
            Failure::DoesNotExist(message) | Failure::Unexpected(message) => {
                RegistryError::Invalid {
                    registry,
                    reason: message,
                }
            }
            Failure::InvalidParameter(message) => RegistryError::Misconfigured {
                reason: format!(
                    "the registry at {registry} rejected the reference {reference}: {message}"
                ),
            },
            Failure::Unauthorized { status, detail } => RegistryError::Unauthorized {
                registry,
                status,
                detail,
            },
            Failure::Unavailable(reason) => RegistryError::Unreachable { registry, reason },
        }
    }
}

/// Transport failures keep their own words; they become [`RegistryError::Unreachable`].
fn transport(error: TransportError) -> Failure {
    Failure::Unavailable(error.to_string())
}

fn mentions_alias(message: &str) -> bool {
    message.to_lowercase().contains("alias")
}

impl ModelRegistry for MlflowRegistry {
    async fn resolve(&self, reference: &RegistryReference) -> Result<ResolvedModel, RegistryError> {
        let started = Instant::now();
        let name = reference.name.as_str();
        let (version, alias) = match &reference.selector {
            Selector::Alias(alias) => (
                self.version_by_alias(name, alias).await,
                Some(alias.clone()),
            ),
            Selector::Version(version) => (self.version_by_number(name, version).await, None),
        };
        let version = version.inspect_err(|error| {
            debug!(registry = %self.base, %reference, %error, "cannot resolve registry reference");
        })?;
        if let Some(status) = version.status.as_deref().filter(|status| *status != READY) {
            return Err(RegistryError::NotReady {
                registry: self.uri(),
                name: version.name,
                version: version.version,
                status: status.to_owned(),
            });
        }
        let artifact_uri = self.artifact_uri(&version).await?;
        let resolved = ResolvedModel {
            run_id: Some(version.run_id).filter(|run| !run.is_empty()),
            registered_at: version.creation_timestamp.and_then(|t| t.timestamp()),
            last_updated: version.last_updated_timestamp.and_then(|t| t.timestamp()),
            name: version.name,
            version: version.version,
            source: version.source,
            artifact_uri,
            alias,
        };
        info!(
            registry = %self.base,
            %reference,
            version = %resolved.version,
            artifact_uri = %resolved.artifact_uri,
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "resolved registry reference"
        );
        Ok(resolved)
    }
}

/// Credentials from a Secret holding MLflow's own variables, looked up by key: a username and a
/// password (basic auth) win over a token (bearer), as in the MLflow client; none at all is
/// anonymous access.
pub fn credentials_from_secret(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Credentials, RegistryError> {
    let present = |key: &str| lookup(key).filter(|value| !value.is_empty());
    match (
        present(USERNAME_KEY),
        present(PASSWORD_KEY),
        present(TOKEN_KEY),
    ) {
        (Some(username), Some(password), _) => Ok(Credentials::basic(username, password)),
        (Some(_), None, _) => Err(RegistryError::Misconfigured {
            reason: format!("the Secret has {USERNAME_KEY} but no {PASSWORD_KEY}"),
        }),
        (None, Some(_), _) => Err(RegistryError::Misconfigured {
            reason: format!("the Secret has {PASSWORD_KEY} but no {USERNAME_KEY}"),
        }),
        (None, None, Some(token)) => Ok(Credentials::bearer(token)),
        (None, None, None) => Ok(Credentials::Anonymous),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use http::StatusCode;

    use super::*;

    fn registry() -> MlflowRegistry {
        let http = HttpClient::new(Duration::from_secs(1)).unwrap();
        MlflowRegistry::new(http, "https://mlflow.example.com/", &Credentials::Anonymous).unwrap()
    }

    fn secret(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |key| map.get(key).cloned()
    }

    #[test]
    fn the_uri_is_named_without_a_trailing_slash() {
        assert_eq!(registry().uri(), "https://mlflow.example.com");
    }

    #[test]
    fn failures_map_to_registry_errors() {
        let registry = registry();
        let error = registry.error(
            Failure::InvalidParameter("Parameter 'version' must be an integer, got 'abc'.".into()),
            "fraud/abc",
        );
        assert_eq!(
            error.to_string(),
            "the registry at https://mlflow.example.com rejected the reference fraud/abc: Parameter 'version' must be an integer, got 'abc'."
        );
        assert!(matches!(error, RegistryError::Misconfigured { .. }));
        let error = registry.error(Failure::Unavailable("no answer within 1s".into()), "m/1");
        assert_eq!(
            error.to_string(),
            "cannot reach the registry at https://mlflow.example.com: no answer within 1s"
        );
        let error = registry.error(
            wire::classify(StatusCode::UNAUTHORIZED, b"You are not authenticated."),
            "m/1",
        );
        assert!(matches!(
            error,
            RegistryError::Unauthorized {
                status: 401,
                detail: None,
                ..
            }
        ));
        let error = registry.error(Failure::Unexpected("HTTP 302 Found".into()), "m/1");
        assert_eq!(error.reason(), "RegistryInvalidResponse");
    }

    #[test]
    fn registry_internal_download_uris_are_refused() {
        let registry = registry();
        assert_eq!(
            registry
                .downloadable("s3://models/fraud/1".into(), "fraud/1")
                .unwrap(),
            "s3://models/fraud/1"
        );
        for uri in ["", "models:/fraud/1", "runs:/abc/model"] {
            let error = registry.downloadable(uri.into(), "fraud/1").unwrap_err();
            assert!(error.to_string().contains("names no storage"), "{error}");
        }
    }

    #[test]
    fn credentials_in_the_uri_are_refused() {
        let http = HttpClient::new(Duration::from_secs(1)).unwrap();
        let error = MlflowRegistry::new(http, "https://u:p4ss@mlflow", &Credentials::Anonymous)
            .unwrap_err();
        assert!(!error.to_string().contains("p4ss"), "{error}");
        assert_eq!(error.reason(), "RegistryMisconfigured");
    }

    #[test]
    fn secrets_give_credentials_like_the_mlflow_client() {
        let basic = credentials_from_secret(secret(&[
            (USERNAME_KEY, "alice"),
            (PASSWORD_KEY, "pw"),
            (TOKEN_KEY, "t"),
        ]))
        .unwrap();
        assert!(matches!(basic, Credentials::Basic { ref username, .. } if username == "alice"));
        let bearer = credentials_from_secret(secret(&[(TOKEN_KEY, "t")])).unwrap();
        assert!(matches!(bearer, Credentials::Bearer(_)));
        let anonymous = credentials_from_secret(secret(&[(TOKEN_KEY, "")])).unwrap();
        assert!(matches!(anonymous, Credentials::Anonymous));
        let half = credentials_from_secret(secret(&[(USERNAME_KEY, "alice"), (TOKEN_KEY, "t")]))
            .unwrap_err();
        assert_eq!(
            half.to_string(),
            "the Secret has MLFLOW_TRACKING_USERNAME but no MLFLOW_TRACKING_PASSWORD"
        );
    }
}
