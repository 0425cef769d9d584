//! Writing children: server-side apply with one field manager, skipped when nothing drifted.

mod drift;
mod quantity;

use std::fmt::Debug;

use kube::api::{DeleteParams, Patch, PatchParams, PropagationPolicy, ValidationDirective};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::labels::FIELD_MANAGER;

/// The annotation that records a hash of what the operator last applied to a child. Comparing
/// it finds a field the operator stopped setting (the apply then removes it from the live object),
/// which comparing present fields cannot.
pub const APPLIED_ANNOTATION: &str = "modeldeploy.io/applied";

/// Applies `desired` unless `live` already holds it. Returns whether a write was made.
/// Unknown fields are refused (strict validation), so that a field the installed CRD lacks
/// is reported instead of silently dropped and rewritten forever.
pub async fn apply<K>(api: &Api<K>, desired: &K, live: Option<&K>) -> Result<bool, Error>
where
    K: Resource + Clone + Debug + Serialize + DeserializeOwned,
    K::DynamicType: Default,
{
    let name = desired.name_any();
    let desired_json = stamped(desired).map_err(|source| Error::Serialize {
        kind: K::kind(&K::DynamicType::default()).into_owned(),
        name: name.clone(),
        source,
    })?;
    if let Some(live) = live {
        let live_json = serde_json::to_value(live).unwrap_or_default();
        if drift::satisfies(&live_json, &desired_json) {
            return Ok(false);
        }
    }
    let mut params = PatchParams::apply(FIELD_MANAGER).force();
    params.field_validation = Some(ValidationDirective::Strict);
    api.patch(&name, &params, &Patch::Apply(&desired_json))
        .await
        .map_err(|source| Error::kube::<K>("apply", &name, source))?;
    Ok(true)
}

/// Whether `live` holds `desired` as the operator would apply it: the same applied hash and
/// every desired field.
pub fn holds<K: Serialize>(live: &K, desired: &K) -> bool {
    match (serde_json::to_value(live), stamped(desired)) {
        (Ok(live), Ok(desired)) => drift::satisfies(&live, &desired),
        _ => false,
    }
}

/// `object` as JSON, with the hash of its content in [`APPLIED_ANNOTATION`].
pub(crate) fn stamped<K: Serialize>(object: &K) -> Result<serde_json::Value, serde_json::Error> {
    let mut json = serde_json::to_value(object)?;
    // serde_json orders object keys, so equal objects hash equally.
    let digest = Sha256::digest(serde_json::to_vec(&json)?);
    let hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    if let Some(metadata) = json.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        let annotations = metadata
            .entry("annotations")
            .or_insert_with(|| serde_json::json!({}));
        if let Some(map) = annotations.as_object_mut() {
            map.insert(APPLIED_ANNOTATION.to_owned(), hash.into());
        }
    }
    Ok(json)
}

/// Deletes `name`, its pods following in the background. Already gone counts as done.
pub async fn delete<K>(api: &Api<K>, name: &str) -> Result<(), Error>
where
    K: Resource + Clone + Debug + DeserializeOwned,
    K::DynamicType: Default,
{
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(Error::kube::<K>("delete", name, source)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use k8s_openapi::api::core::v1::Service;
    use kube::api::ObjectMeta;

    use super::*;

    fn annotated(extra: &[(&str, &str)]) -> Service {
        Service {
            metadata: ObjectMeta {
                name: Some("iris".into()),
                annotations: Some(
                    extra
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            ..Service::default()
        }
    }

    #[test]
    fn a_field_the_operator_stops_setting_is_drift() {
        let before = annotated(&[("mirror", "on")]);
        let live_json = stamped(&before).unwrap();
        let live: Service = serde_json::from_value(live_json).unwrap();
        assert!(holds(&live, &before));
        // The desired object no longer sets the field; the live one still has it.
        assert!(!holds(&live, &annotated(&[])));
    }
}
