//! What every reconcile shares: the client, the event recorder, metrics, the clock, the watch
//! caches and the statuses known to be current.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use modeldeploy_api::v1alpha1::{ModelDeployment, ModelDeploymentStatus};

use super::OptionalApis;
use crate::cache::Caches;
use crate::labels::FIELD_MANAGER;
use crate::metrics::Metrics;

/// What every reconcile shares.
pub struct Context {
    pub client: kube::Client,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    /// Failures in a row per ModelDeployment, for the retry backoff.
    failures: Mutex<HashMap<ObjectRef<ModelDeployment>, u32>>,
    /// The clock; whole seconds, as the API stores times.
    pub now: fn() -> Timestamp,
    /// Which routing APIs the cluster serves.
    pub routes: OptionalApis,
    /// This replica's name in the events it publishes.
    pub identity: String,
    /// The runtime presets in force.
    pub presets: crate::preset::Presets,
    /// Takes analysis measurements.
    pub measurer: crate::analysis::Measurer,
    /// The watch caches of the children, while the controller runs.
    caches: std::sync::RwLock<Option<Caches>>,
    /// A hash of the last status known to be current per ModelDeployment (written or read
    /// fresh): a cached object with that status is fresh enough to plan from.
    known_status: Mutex<HashMap<ObjectRef<ModelDeployment>, u64>>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

impl Context {
    /// Runs `f` on the failure counts. A poisoned lock only means another reconcile panicked
    /// while counting; the counts are still usable.
    pub(super) fn failures_of<T>(
        &self,
        f: impl FnOnce(&mut HashMap<ObjectRef<ModelDeployment>, u32>) -> Option<T>,
    ) -> Option<T> {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut failures)
    }

    pub(super) fn set_caches(&self, caches: Option<Caches>) {
        *self
            .caches
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = caches;
    }

    pub(super) fn caches(&self) -> Option<Caches> {
        self.caches
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Records `status` as the current status of `md`.
    pub(super) fn know(&self, md: &ModelDeployment, status: Option<&ModelDeploymentStatus>) {
        let hash = status_hash(status);
        self.known_status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(ObjectRef::from_obj(md), hash);
    }

    /// Whether `md` (from the watch cache) carries the status last known to be current.
    pub(super) fn is_current(&self, md: &ModelDeployment) -> bool {
        self.known_status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&ObjectRef::from_obj(md))
            == Some(&status_hash(md.status.as_ref()))
    }

    pub fn new(
        client: kube::Client,
        metrics: Arc<Metrics>,
        identity: &str,
        routes: OptionalApis,
        presets: crate::preset::Presets,
        measurer: crate::analysis::Measurer,
    ) -> Self {
        let reporter = Reporter {
            controller: FIELD_MANAGER.to_owned(),
            instance: Some(identity.to_owned()),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            failures: Mutex::default(),
            now: Timestamp::now,
            routes,
            identity: identity.to_owned(),
            presets,
            measurer,
            caches: std::sync::RwLock::default(),
            known_status: Mutex::default(),
        }
    }
}

/// A hash of a status, to tell whether two are the same without keeping either.
fn status_hash(status: Option<&ModelDeploymentStatus>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(&status)
        .unwrap_or_default()
        .hash(&mut hasher);
    hasher.finish()
}
