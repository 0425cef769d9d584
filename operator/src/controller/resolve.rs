//! Resolving `model.registry` at the edge: when [`pin::due`] says so, the registry is asked what
//! the reference points at, with credentials read from the referenced Secret at that moment, and
//! the answer is pinned. A registry that cannot be reached keeps the pin it gave before, so a
//! serving model never depends on the registry being up.

use std::sync::OnceLock;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use modeldeploy_api::v1alpha1::{RegistryReference, RegistryStatus};
use tracing::warn;

use crate::error::Error;
use crate::pin;
use crate::registry::mlflow::{MlflowRegistry, credentials_from_secret};
use crate::registry::{self, HttpClient, ModelRegistry, RegistryError};

/// Each request to a registry gives up after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client every registry lookup shares, built on first use.
fn http() -> Result<HttpClient, RegistryError> {
    static CLIENT: OnceLock<HttpClient> = OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client.clone());
    }
    let client = HttpClient::new(REQUEST_TIMEOUT)?;
    Ok(CLIENT.get_or_init(|| client).clone())
}

/// The pin for `reference` and when to look again; looks the reference up only when due.
pub(super) async fn resolve(
    client: &kube::Client,
    namespace: &str,
    reference: &RegistryReference,
    previous: Option<&RegistryStatus>,
    now: Timestamp,
) -> Result<(RegistryStatus, Option<Duration>), Error> {
    let text = pin::reference_text(reference);
    let kept = previous.filter(|p| p.reference == text);
    if let (Some(wait), Some(kept)) = (pin::due(reference, kept, now), kept) {
        return Ok((kept.clone(), (wait != Duration::MAX).then_some(wait)));
    }
    let again = reference.alias.is_some().then_some(pin::ALIAS_INTERVAL);
    match look_up(client, namespace, reference).await {
        Ok(resolved) => Ok((
            pin::pin(
                reference,
                kept,
                &resolved.version,
                &resolved.artifact_uri,
                now,
            ),
            again,
        )),
        Err(source) => match kept {
            Some(kept) => {
                warn!(reference = %text, error = %source, "the registry did not answer; the pinned version keeps serving");
                Ok((kept.clone(), Some(pin::ALIAS_INTERVAL)))
            }
            None => Err(Error::Registry {
                reference: text,
                source,
            }),
        },
    }
}

async fn look_up(
    client: &kube::Client,
    namespace: &str,
    reference: &RegistryReference,
) -> Result<registry::ResolvedModel, RegistryError> {
    let secret = match &reference.secret_name {
        Some(name) => {
            let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
            let found = secrets
                .get_opt(name)
                .await
                .map_err(|e| RegistryError::Misconfigured {
                    reason: format!("cannot read the Secret {name}: {e}"),
                })?;
            Some(found.ok_or_else(|| RegistryError::Misconfigured {
                reason: format!("the Secret {name} does not exist"),
            })?)
        }
        None => None,
    };
    let data = secret.and_then(|s| s.data).unwrap_or_default();
    let credentials = credentials_from_secret(|key| {
        data.get(key)
            .map(|v| String::from_utf8_lossy(&v.0).into_owned())
    })?;
    let registry = MlflowRegistry::new(http()?, &reference.uri, &credentials)?;
    registry.resolve(&pin::wanted(reference)).await
}
