//! The Kubernetes client, with every request counted by verb and resource.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Method, Request, Response, Uri};
use kube::client::ClientBuilder;
use tower::{Layer, Service};

use crate::metrics::{KubeRequestLabels, Metrics};

/// Builds a client for `config` whose requests show up in `modeldeploy_kube_requests_total`.
pub fn instrumented(
    config: kube::Config,
    metrics: Arc<Metrics>,
) -> Result<kube::Client, kube::Error> {
    Ok(ClientBuilder::try_from(config)?
        .with_layer(&CountRequests { metrics })
        .build())
}

#[derive(Clone, Debug)]
struct CountRequests {
    metrics: Arc<Metrics>,
}

impl<S> Layer<S> for CountRequests {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Counted {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Counted<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Counted<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (verb, resource) = classify(request.method(), request.uri());
        let metrics = self.metrics.clone();
        let response = self.inner.call(request);
        Box::pin(async move {
            let result = response.await;
            let code = match &result {
                Ok(response) if response.status().is_success() => "2xx",
                Ok(response) if response.status().is_client_error() => "4xx",
                Ok(response) if response.status().is_server_error() => "5xx",
                Ok(_) => "other",
                Err(_) => "error",
            };
            metrics.kube_request(KubeRequestLabels {
                verb,
                resource,
                code,
            });
            result
        })
    }
}

/// The Kubernetes verb and the resource (with subresource) a request addresses.
fn classify(method: &Method, uri: &Uri) -> (&'static str, String) {
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    // /api/v1/... or /apis/<group>/<version>/...
    let rest: &[&str] = match segments.as_slice() {
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => &[],
    };
    let rest = match rest {
        ["namespaces", _ns, tail @ ..] if !tail.is_empty() => tail,
        other => other,
    };
    let (resource, named) = match rest {
        [] => ("other".to_owned(), false),
        [resource] => ((*resource).to_owned(), false),
        [resource, _name] => ((*resource).to_owned(), true),
        [resource, _name, sub, ..] => (format!("{resource}/{sub}"), true),
    };
    let watching = uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
    let verb = match *method {
        Method::GET if watching => "watch",
        Method::GET if named => "get",
        Method::GET => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "other",
    };
    (verb, resource)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify_str(method: Method, uri: &str) -> (&'static str, String) {
        classify(&method, &uri.parse().unwrap_or_default())
    }

    #[test]
    fn names_verbs_and_resources() {
        let cases = [
            (
                Method::GET,
                "/apis/apps/v1/namespaces/ml/deployments?labelSelector=a",
                "list",
                "deployments",
            ),
            (
                Method::GET,
                "/apis/apps/v1/namespaces/ml/deployments?watch=true&resourceVersion=1",
                "watch",
                "deployments",
            ),
            (
                Method::GET,
                "/api/v1/namespaces/ml/services/iris",
                "get",
                "services",
            ),
            (
                Method::PATCH,
                "/apis/modeldeploy.io/v1alpha1/namespaces/ml/modeldeployments/iris/status",
                "patch",
                "modeldeployments/status",
            ),
            (
                Method::POST,
                "/apis/events.k8s.io/v1/namespaces/ml/events",
                "create",
                "events",
            ),
            (
                Method::DELETE,
                "/apis/apps/v1/namespaces/ml/deployments/iris-1",
                "delete",
                "deployments",
            ),
            (Method::GET, "/api/v1/namespaces", "list", "namespaces"),
            (
                Method::GET,
                "/apis/modeldeploy.io/v1alpha1/modeldeployments",
                "list",
                "modeldeployments",
            ),
        ];
        for (method, uri, verb, resource) in cases {
            assert_eq!(
                classify_str(method, uri),
                (verb, resource.to_owned()),
                "{uri}"
            );
        }
    }
}
