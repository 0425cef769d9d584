//! Writing children: server-side apply with one field manager, skipped when nothing drifted.

mod drift;
mod quantity;

use std::fmt::Debug;

use kube::api::{DeleteParams, Patch, PatchParams, PropagationPolicy};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::labels::FIELD_MANAGER;

/// Applies `desired` unless `live` already holds all of it. Returns whether a write was made.
pub async fn apply<K>(api: &Api<K>, desired: &K, live: Option<&K>) -> Result<bool, Error>
where
    K: Resource + Clone + Debug + Serialize + DeserializeOwned,
    K::DynamicType: Default,
{
    let name = desired.name_any();
    let desired_json = serde_json::to_value(desired).map_err(|source| Error::Serialize {
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
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&desired_json),
    )
    .await
    .map_err(|source| Error::kube::<K>("apply", &name, source))?;
    Ok(true)
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
