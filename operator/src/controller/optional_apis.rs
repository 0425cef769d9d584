//! Which routing APIs the cluster serves.

use kube::{Api, Resource};
use tracing::info;

use crate::traffic::{Gateway, GatewayClass, HTTPRoute, VirtualService};

/// Whether the objects of `api` may be listed; says why not when they may not. Without the
/// Gateway API's Gateways and GatewayClasses, the features of a route's Gateways stay unknown.
async fn readable<K>(api: Api<K>) -> bool
where
    K: Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
    K::DynamicType: Default,
{
    match api
        .list_metadata(&kube::api::ListParams::default().limit(1))
        .await
    {
        Ok(_) => true,
        Err(error) => {
            let kind = K::kind(&K::DynamicType::default()).into_owned();
            info!(%kind, %error, "not watching this kind: its API is not served or not allowed");
            false
        }
    }
}

/// Which optional APIs the cluster serves; their objects are written and watched only then.
#[derive(Clone, Copy, Debug, Default)]
pub struct RouteApis {
    pub gateway_api: bool,
    pub istio: bool,
    /// Gateways and GatewayClasses may be read cluster-wide, to learn what a route's
    /// Gateways support.
    pub gateway_features: bool,
}

impl RouteApis {
    /// Asks the API server whether the Gateway API HTTPRoute and the Istio VirtualService exist.
    pub async fn discover(client: &kube::Client, namespace: Option<&str>) -> RouteApis {
        fn scoped<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
        where
            K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
            K::DynamicType: Default,
        {
            match namespace {
                Some(ns) => Api::namespaced(client.clone(), ns),
                None => Api::all(client.clone()),
            }
        }
        let gateway_api = readable(scoped::<HTTPRoute>(client, namespace)).await;
        RouteApis {
            gateway_api,
            istio: readable(scoped::<VirtualService>(client, namespace)).await,
            gateway_features: gateway_api
                && readable(Api::<Gateway>::all(client.clone())).await
                && readable(Api::<GatewayClass>::all(client.clone())).await,
        }
    }
}
