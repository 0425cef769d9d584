//! Watch caches of the children: what each reconcile observes, read from memory, so that a
//! settled ModelDeployment costs the API server no reads. The same watches trigger reconciles.

use std::sync::Arc;

use futures::Stream;
use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use modeldeploy_api::v1alpha1::{ClusterModelAnalysisTemplate, ModelAnalysisTemplate};

use crate::labels::{self, controlled_by};
use crate::traffic::{Gateway, GatewayClass, HTTPRoute, VirtualService};

/// The caches of every kind of child.
#[derive(Clone)]
pub struct Caches {
    pub deployments: Store<Deployment>,
    /// The pods of every revision, their spec dropped: only labels and status are read.
    pub pods: Store<Pod>,
    pub services: Store<Service>,
    pub revisions: Store<ControllerRevision>,
    pub http_routes: Option<Store<HTTPRoute>>,
    pub virtual_services: Option<Store<VirtualService>>,
    pub router: RouterStores,
    /// Every Gateway and GatewayClass, for what the route's parents support; `None` when the
    /// Gateway API is not served or they may not be read.
    pub gateways: Option<Store<Gateway>>,
    pub gateway_classes: Option<Store<GatewayClass>>,
    /// The analysis templates, when they may be read.
    pub analysis_templates: Option<Store<ModelAnalysisTemplate>>,
    pub cluster_analysis_templates: Option<Store<ClusterModelAnalysisTemplate>>,
    /// True once every cache holds a first full listing.
    ready: tokio::sync::watch::Receiver<bool>,
}

impl std::fmt::Debug for Caches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caches").finish_non_exhaustive()
    }
}

/// What a kind needs to be watched into a cache.
pub trait Cacheable:
    Resource<DynamicType = ()> + Clone + std::fmt::Debug + DeserializeOwned + Send + Sync + 'static
{
}

impl<K> Cacheable for K where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + DeserializeOwned
        + Send
        + Sync
        + 'static
{
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
    K: Cacheable,
{
    reflected(api, children(), |_| {})
}

/// A watched stream of the pods of revisions, filling a cache. A pod's spec is dropped on the way
/// in: it is most of the pod, and only its labels and status tell what keeps it from running.
pub fn pods(
    api: Api<Pod>,
) -> (
    Store<Pod>,
    impl Stream<Item = Result<Pod, watcher::Error>> + Send + 'static,
) {
    reflected(api, children(), |pod| pod.spec = None)
}

/// A watched stream of every object of one kind (no label filter), filling a cache: for objects
/// others own that plans depend on, such as Gateways.
pub fn watched<K>(
    api: Api<K>,
) -> (
    Store<K>,
    impl Stream<Item = Result<K, watcher::Error>> + Send + 'static,
)
where
    K: Cacheable,
{
    reflected(api, watcher::Config::default(), |_| {})
}

/// What the operator labels as its own.
fn children() -> watcher::Config {
    watcher::Config::default().labels(&format!(
        "{}={}",
        labels::LABEL_MANAGED_BY,
        labels::MANAGED_BY
    ))
}

/// The objects `config` selects, stripped of managed fields and of what `strip` drops, in a
/// store; the stream must be polled for the store to fill.
fn reflected<K>(
    api: Api<K>,
    config: watcher::Config,
    strip: fn(&mut K),
) -> (
    Store<K>,
    impl Stream<Item = Result<K, watcher::Error>> + Send + 'static,
)
where
    K: Cacheable,
{
    let (store, writer) = reflector::store();
    let stream = watcher(api, config)
        .default_backoff()
        .modify(move |object: &mut K| {
            object.managed_fields_mut().clear();
            strip(object);
        })
        .reflect(writer)
        .touched_objects();
    (store, stream)
}

/// The caches of the model routers' objects: their ServiceAccounts, Roles, RoleBindings and
/// routing tables (ConfigMaps).
#[derive(Clone)]
pub struct RouterStores {
    pub service_accounts: Store<ServiceAccount>,
    pub roles: Store<Role>,
    pub role_bindings: Store<RoleBinding>,
    pub tables: Store<ConfigMap>,
}

impl std::fmt::Debug for RouterStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterStores").finish_non_exhaustive()
    }
}

/// The stores, before they are ready.
#[derive(Clone)]
pub struct Stores {
    pub deployments: Store<Deployment>,
    pub pods: Store<Pod>,
    pub services: Store<Service>,
    pub revisions: Store<ControllerRevision>,
    pub http_routes: Option<Store<HTTPRoute>>,
    pub virtual_services: Option<Store<VirtualService>>,
    pub router: RouterStores,
    pub gateways: Option<Store<Gateway>>,
    pub gateway_classes: Option<Store<GatewayClass>>,
    pub analysis_templates: Option<Store<ModelAnalysisTemplate>>,
    pub cluster_analysis_templates: Option<Store<ClusterModelAnalysisTemplate>>,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores").finish_non_exhaustive()
    }
}

impl Caches {
    pub fn new(stores: Stores) -> Caches {
        let (tell, ready) = tokio::sync::watch::channel(false);
        let waiting = stores.clone();
        // One task waits on the stores: their readiness signal wakes a single waiter only, so
        // reconciles running side by side wait on this task's answer instead.
        tokio::spawn(async move {
            let _ = waiting.deployments.wait_until_ready().await;
            let _ = waiting.pods.wait_until_ready().await;
            let _ = waiting.services.wait_until_ready().await;
            let _ = waiting.revisions.wait_until_ready().await;
            let _ = waiting.router.service_accounts.wait_until_ready().await;
            let _ = waiting.router.roles.wait_until_ready().await;
            let _ = waiting.router.role_bindings.wait_until_ready().await;
            let _ = waiting.router.tables.wait_until_ready().await;
            if let Some(store) = waiting.http_routes {
                let _ = store.wait_until_ready().await;
            }
            if let Some(store) = waiting.virtual_services {
                let _ = store.wait_until_ready().await;
            }
            if let Some(store) = waiting.gateways {
                let _ = store.wait_until_ready().await;
            }
            if let Some(store) = waiting.gateway_classes {
                let _ = store.wait_until_ready().await;
            }
            if let Some(store) = waiting.analysis_templates {
                let _ = store.wait_until_ready().await;
            }
            if let Some(store) = waiting.cluster_analysis_templates {
                let _ = store.wait_until_ready().await;
            }
            let _ = tell.send(true);
        });
        Caches {
            deployments: stores.deployments,
            pods: stores.pods,
            services: stores.services,
            revisions: stores.revisions,
            http_routes: stores.http_routes,
            virtual_services: stores.virtual_services,
            router: stores.router,
            gateways: stores.gateways,
            gateway_classes: stores.gateway_classes,
            analysis_templates: stores.analysis_templates,
            cluster_analysis_templates: stores.cluster_analysis_templates,
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
