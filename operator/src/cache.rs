//! Watch caches of the children: what each reconcile observes, read from memory, so that a
//! settled ModelDeployment costs the API server no reads. The same watches trigger reconciles.

use std::sync::Arc;

use futures::Stream;
use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment};
use k8s_openapi::api::core::v1::Service;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::labels::{self, controlled_by};
use crate::traffic::{HTTPRoute, VirtualService};

/// The caches of every kind of child.
#[derive(Clone)]
pub struct Caches {
    pub deployments: Store<Deployment>,
    pub services: Store<Service>,
    pub revisions: Store<ControllerRevision>,
    pub http_routes: Option<Store<HTTPRoute>>,
    pub virtual_services: Option<Store<VirtualService>>,
    /// True once every cache holds a first full listing.
    ready: tokio::sync::watch::Receiver<bool>,
}

impl std::fmt::Debug for Caches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caches").finish_non_exhaustive()
    }
}

/// A watched stream of the children of one kind, filling a cache as it goes. Managed fields are
/// dropped on the way in: they are most of an object's size and nothing here reads them.
pub fn cached<K>(
    api: Api<K>,
) -> (
    Store<K>,
    impl Stream<Item = Result<K, watcher::Error>> + Send + 'static,
)
where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store();
    let config = watcher::Config::default().labels(&format!(
        "{}={}",
        labels::LABEL_MANAGED_BY,
        labels::MANAGED_BY
    ));
    let stream = watcher(api, config)
        .default_backoff()
        .modify(|object: &mut K| object.managed_fields_mut().clear())
        .reflect(writer)
        .touched_objects();
    (store, stream)
}

impl Caches {
    pub fn new(
        deployments: Store<Deployment>,
        services: Store<Service>,
        revisions: Store<ControllerRevision>,
        http_routes: Option<Store<HTTPRoute>>,
        virtual_services: Option<Store<VirtualService>>,
    ) -> Caches {
        let (tell, ready) = tokio::sync::watch::channel(false);
        let stores = (
            deployments.clone(),
            services.clone(),
            revisions.clone(),
            http_routes.clone(),
            virtual_services.clone(),
        );
        // One task waits on the stores: their readiness signal wakes a single waiter only, so
        // reconciles running side by side wait on this task's answer instead.
        tokio::spawn(async move {
            let (deployments, services, revisions, http_routes, virtual_services) = stores;
            let _ = deployments.wait_until_ready().await;
            let _ = services.wait_until_ready().await;
            let _ = revisions.wait_until_ready().await;
            if let Some(store) = http_routes {
                let _ = store.wait_until_ready().await;
            }
            if let Some(store) = virtual_services {
                let _ = store.wait_until_ready().await;
            }
            let _ = tell.send(true);
        });
        Caches {
            deployments,
            services,
            revisions,
            http_routes,
            virtual_services,
            ready,
        }
    }

    /// Waits until every cache holds a first full listing, so that a reconcile never mistakes
    /// an empty cache for missing children.
    pub async fn ready(&self) {
        let mut ready = self.ready.clone();
        let _ = ready.wait_for(|ready| *ready).await;
    }
}

/// The cached objects of `store` in `namespace` that belong to ModelDeployment `name` with
/// `owner_uid`.
pub fn children_of<K>(store: &Store<K>, namespace: &str, name: &str, owner_uid: &str) -> Vec<Arc<K>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    store
        .state()
        .into_iter()
        .filter(|o| o.namespace().as_deref() == Some(namespace))
        .filter(|o| o.labels().get(labels::LABEL_DEPLOYMENT).map(String::as_str) == Some(name))
        .filter(|o| controlled_by(o.owner_references(), owner_uid))
        .collect()
}
