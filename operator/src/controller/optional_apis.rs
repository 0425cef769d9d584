//! Which optional APIs the cluster serves and this operator may read: routing APIs, and the
//! analysis template kinds.

use kube::{Api, Resource};
use tracing::info;

use modeldeploy_api::v1alpha1::{ClusterModelAnalysisTemplate, ModelAnalysisTemplate};

use super::scoped;
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
pub struct OptionalApis {
    pub gateway_api: bool,
    pub istio: bool,
    /// Gateways and GatewayClasses may be read cluster-wide, to learn what a route's
    /// Gateways support.
    pub gateway_features: bool,
    /// ModelAnalysisTemplates may be read in the watched namespaces.
    pub analysis_templates: bool,
    /// ClusterModelAnalysisTemplates may be read (not with a namespaced Role).
    pub cluster_analysis_templates: bool,
}

impl OptionalApis {
    /// Asks the API server which of the optional APIs it serves and lets this operator list.
    pub async fn discover(client: &kube::Client, namespace: Option<&str>) -> OptionalApis {
        let gateway_api = readable(scoped::<HTTPRoute>(client, namespace)).await;
        OptionalApis {
            gateway_api,
            istio: readable(scoped::<VirtualService>(client, namespace)).await,
            gateway_features: gateway_api
                && readable(Api::<Gateway>::all(client.clone())).await
                && readable(Api::<GatewayClass>::all(client.clone())).await,
            analysis_templates: readable(scoped::<ModelAnalysisTemplate>(client, namespace)).await,
            cluster_analysis_templates: readable(Api::<ClusterModelAnalysisTemplate>::all(
                client.clone(),
            ))
            .await,
        }
    }
}
