//! Values a metric reads by reference: Secret and ConfigMap keys, read once per reconcile that
//! measures, and only those the due metrics name.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use modeldeploy_api::v1alpha1::{AnalysisArg, KeyReference};

use super::MeasureError;
use crate::plan::analysis::Due;

/// The keys the due metrics need, read.
#[derive(Debug, Default)]
pub struct Lookup {
    secrets: BTreeMap<KeyReference, Result<String, String>>,
    config_maps: BTreeMap<KeyReference, Result<String, String>>,
}

/// Where the keys are read from.
pub trait Values {
    fn secret(&self, key: &KeyReference) -> impl Future<Output = Result<String, String>> + Send;
    fn config_map(&self, key: &KeyReference)
    -> impl Future<Output = Result<String, String>> + Send;
}

/// The API server, in one namespace.
#[derive(Debug)]
pub struct ApiValues {
    pub secrets: Api<Secret>,
    pub config_maps: Api<ConfigMap>,
}

impl Values for ApiValues {
    async fn secret(&self, key: &KeyReference) -> Result<String, String> {
        let secret = self
            .secrets
            .get_opt(&key.name)
            .await
            .map_err(|e| format!("cannot read the Secret {}: {e}", key.name))?
            .ok_or_else(|| format!("the Secret {} does not exist", key.name))?;
        let data = secret.data.unwrap_or_default();
        let value = data
            .get(&key.key)
            .ok_or_else(|| format!("the Secret {} has no key {}", key.name, key.key))?;
        String::from_utf8(value.0.clone())
            .map(|v| v.trim_end_matches(['\n', '\r']).to_owned())
            .map_err(|_| {
                format!(
                    "the key {} of the Secret {} is not UTF-8",
                    key.key, key.name
                )
            })
    }

    async fn config_map(&self, key: &KeyReference) -> Result<String, String> {
        let map = self
            .config_maps
            .get_opt(&key.name)
            .await
            .map_err(|e| format!("cannot read the ConfigMap {}: {e}", key.name))?
            .ok_or_else(|| format!("the ConfigMap {} does not exist", key.name))?;
        map.data
            .unwrap_or_default()
            .get(&key.key)
            .cloned()
            .ok_or_else(|| format!("the ConfigMap {} has no key {}", key.name, key.key))
    }
}

impl Lookup {
    /// Reads every key `due` names, each once.
    pub async fn read(values: &impl Values, due: &[Due]) -> Lookup {
        let mut secrets = BTreeSet::new();
        let mut config_maps = BTreeSet::new();
        for d in due {
            for arg in &d.args {
                if let Some(from) = &arg.value_from {
                    secrets.extend(from.secret_key_ref.clone());
                    config_maps.extend(from.config_map_key_ref.clone());
                }
            }
            if let Some(p) = &d.metric.provider.prometheus {
                secrets.extend(p.bearer_token_secret_ref.clone());
            }
            if let Some(w) = &d.metric.provider.web {
                for h in &w.headers {
                    if let Some(from) = &h.value_from {
                        secrets.extend(from.secret_key_ref.clone());
                        config_maps.extend(from.config_map_key_ref.clone());
                    }
                }
            }
        }
        let mut lookup = Lookup::default();
        for key in secrets {
            let value = values.secret(&key).await;
            lookup.secrets.insert(key, value);
        }
        for key in config_maps {
            let value = values.config_map(&key).await;
            lookup.config_maps.insert(key, value);
        }
        lookup
    }

    /// A value read from a Secret.
    pub fn secret(&self, key: &KeyReference) -> Result<&str, MeasureError> {
        found(self.secrets.get(key), "Secret", key)
    }

    /// The value of `valueFrom`.
    pub fn value_from(
        &self,
        from: &modeldeploy_api::v1alpha1::ValueSource,
    ) -> Result<String, MeasureError> {
        if let Some(key) = &from.secret_key_ref {
            return self.secret(key).map(str::to_owned);
        }
        if let Some(key) = &from.config_map_key_ref {
            return found(self.config_maps.get(key), "ConfigMap", key).map(str::to_owned);
        }
        Err(MeasureError::Reference(
            "valueFrom names neither a Secret nor a ConfigMap".to_owned(),
        ))
    }

    /// The value of an analysis argument.
    pub fn arg(&self, arg: &AnalysisArg) -> Result<String, MeasureError> {
        match (&arg.value, &arg.value_from) {
            (Some(value), _) => Ok(value.clone()),
            (None, Some(from)) => self.value_from(from),
            (None, None) => Err(MeasureError::Reference(format!(
                "argument {} has no value",
                arg.name
            ))),
        }
    }

    /// `text` with every value read from a Secret replaced by `***`: an error message may echo a
    /// query or a header, and status, events and logs must never hold a credential.
    pub fn redact(&self, text: &str) -> String {
        self.secrets
            .values()
            .filter_map(|v| v.as_ref().ok())
            .filter(|v| !v.is_empty())
            .fold(text.to_owned(), |text, secret| {
                text.replace(secret.as_str(), "***")
            })
    }
}

fn found<'a>(
    value: Option<&'a Result<String, String>>,
    kind: &str,
    key: &KeyReference,
) -> Result<&'a str, MeasureError> {
    match value {
        Some(Ok(value)) => Ok(value),
        Some(Err(error)) => Err(MeasureError::Reference(error.clone())),
        None => Err(MeasureError::Reference(format!(
            "the {kind} key {}/{} was not read",
            key.name, key.key
        ))),
    }
}
