//! Real traffic in the local cluster: the shared Gateway that `up.sh` starts, demo model
//! ModelDeployments routed through it, requests to pods, and Prometheus queries.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;
use k8s_openapi::api::core::v1::EnvVar;
use kube::Api;
use kube::api::{ApiResource, DynamicObject};
use modeldeploy_api::v1alpha1::{
    GatewayApiTraffic, ModelDeployment, ParentReference, StrategySpec, TrafficProvider, TrafficSpec,
};
use modeldeploy_operator::traffic::HTTPRoute;
use serde_json::Value;

use crate::load::{LoadReport, LoadSpec, Stop};
use crate::{sample, until};

/// The image whose pods the local cluster runs for real (see `e2e/dataplane/`).
pub const DEMO_IMAGE: &str = "modeldeploy/demo-model:0.1.0";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests against a control plane started by e2e/controlplane/up.sh")
    })
}

/// The Gateway every test's routes attach to, and where it listens.
#[derive(Clone, Debug)]
pub struct Gateway {
    pub address: SocketAddr,
    pub namespace: String,
    pub name: String,
}

impl Gateway {
    pub fn local() -> Gateway {
        let gateway = env("MODELDEPLOY_GATEWAY");
        let (namespace, name) = gateway
            .split_once('/')
            .expect("MODELDEPLOY_GATEWAY is namespace/name");
        Gateway {
            address: env("MODELDEPLOY_GATEWAY_ADDRESS")
                .parse()
                .expect("MODELDEPLOY_GATEWAY_ADDRESS is host:port"),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// Traffic through this Gateway for `hostname`.
    pub fn traffic(&self, hostname: &str) -> TrafficSpec {
        TrafficSpec {
            provider: TrafficProvider::GatewayApi,
            gateway_api: Some(GatewayApiTraffic {
                parent_refs: vec![ParentReference {
                    group: None,
                    kind: None,
                    namespace: Some(self.namespace.clone()),
                    name: self.name.clone(),
                    section_name: None,
                    port: None,
                }],
                hostnames: vec![hostname.to_owned()],
            }),
            istio: None,
        }
    }

    /// A load run through this Gateway to `hostname`: `requests` at `rate` per second. Up to
    /// 2,048 requests may be in flight: on a busy 2-core machine the answers can take a second,
    /// and a test must send every request it counts on rather than skip some.
    pub fn load(&self, hostname: &str, rate: f64, requests: u64) -> LoadSpec {
        LoadSpec {
            host: Some(hostname.to_owned()),
            rate,
            stop: Stop::Requests(requests),
            max_in_flight: 2_048,
            ..LoadSpec::new(self.address)
        }
    }

    /// Sends `spec` and returns the report; panics on a refused spec.
    pub async fn send(&self, spec: LoadSpec) -> LoadReport {
        crate::load::run(spec).await.expect("a valid load spec")
    }
}

/// The demo model sample (`config/samples/demo-model-canary.yaml`) as `name`, serving `version`,
/// with `replicas` pods, quick drains and `env` added to the server's settings.
pub fn demo_model(
    name: &str,
    version: &str,
    replicas: i32,
    traffic: TrafficSpec,
    strategy: Option<StrategySpec>,
    env: &[(&str, &str)],
) -> ModelDeployment {
    let mut md = sample("demo-model-canary.yaml");
    md.metadata.name = Some(name.to_owned());
    md.spec.replicas = replicas;
    md.spec.scale_down_delay_seconds = Some(2);
    md.spec.abort_scale_down_delay_seconds = Some(2);
    md.spec.traffic = traffic;
    md.spec.strategy = strategy;
    set_version(&mut md, version, env);
    md
}

/// Moves `md` to model `version`, with the server's `env` settings on top of the sample's.
pub fn set_version(md: &mut ModelDeployment, version: &str, env: &[(&str, &str)]) {
    md.spec.model.version = version.to_owned();
    let mut vars: BTreeMap<String, String> = [
        ("MODEL_NAME", "iris"),
        ("MODEL_VERSION", version),
        ("LATENCY_MS", "2"),
    ]
    .iter()
    .chain(env)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    vars.insert("MODEL_VERSION".into(), version.to_owned());
    md.spec.runtime.env = vars
        .into_iter()
        .map(|(name, value)| EnvVar {
            name,
            value: Some(value),
            ..EnvVar::default()
        })
        .collect();
}

/// Waits until the Gateway has accepted the current generation of the HTTPRoute `name`, so
/// that requests from now on follow it.
async fn until_route_programmed(client: &kube::Client, namespace: &str, name: &str) {
    let resource = ApiResource::erase::<HTTPRoute>(&());
    let routes: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    until(
        Duration::from_secs(30),
        &format!("the gateway accepts the current HTTPRoute {namespace}/{name}"),
        || {
            let routes = routes.clone();
            async move {
                let route = routes.get_opt(name).await.ok()??;
                let generation = route.metadata.generation?;
                let parents = route.data.pointer("/status/parents")?.as_array()?.clone();
                let accepted = parents.iter().any(|parent| {
                    parent["conditions"].as_array().is_some_and(|conditions| {
                        conditions.iter().any(|c| {
                            c["type"] == "Accepted"
                                && c["status"] == "True"
                                && c["observedGeneration"].as_i64() == Some(generation)
                        })
                    })
                });
                accepted.then_some(())
            }
        },
    )
    .await;
}

/// Waits until the gateway serves the current HTTPRoute `name`: accepted for its generation, and
/// Traefik's running configuration (its API, `MODELDEPLOY_TRAEFIK_API`) holds the route's
/// weighted backends as written. A route's status is written before the gateway's new
/// configuration takes effect, so the status alone would let the first requests see the old one.
pub async fn until_gateway_serves(client: &kube::Client, namespace: &str, name: &str) {
    until_route_programmed(client, namespace, name).await;
    let routes: Api<HTTPRoute> = Api::namespaced(client.clone(), namespace);
    let traefik = env("MODELDEPLOY_TRAEFIK_API");
    until(
        Duration::from_secs(30),
        &format!("Traefik serves the HTTPRoute {namespace}/{name} as written"),
        || {
            let (routes, traefik) = (routes.clone(), traefik.clone());
            async move {
                let route = routes.get(name).await.ok()?;
                let written: Vec<Vec<(String, i64)>> = sorted(
                    route
                        .spec
                        .rules
                        .iter()
                        .map(|rule| {
                            sorted(
                                rule.backend_refs
                                    .iter()
                                    .map(|b| (b.name.clone(), i64::from(b.weight.unwrap_or(1))))
                                    .filter(|(_, weight)| *weight > 0)
                                    .collect(),
                            )
                        })
                        .collect(),
                );
                let served = traefik_weights(&traefik, namespace, name).await?;
                (served == written).then_some(())
            }
        },
    )
    .await;
}

fn sorted<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items
}

/// The weighted services Traefik runs for HTTPRoute `namespace/name`, as (Service, weight) per
/// rule, counting only members that have servers (endpoints) to send to. Traefik names them
/// `httproute-<namespace>-<route>-...-wrr` and their members
/// `<namespace>-<service>-<port name>-<port>`.
async fn traefik_weights(
    api: &str,
    namespace: &str,
    name: &str,
) -> Option<Vec<Vec<(String, i64)>>> {
    let services = get_json(&format!("{api}/api/http/services")).await?;
    let has_servers = |member: &str| {
        services.as_array().is_some_and(|all| {
            all.iter().any(|s| {
                s["name"].as_str() == Some(&format!("{member}@kubernetesgateway"))
                    && s["loadBalancer"]["servers"]
                        .as_array()
                        .is_some_and(|servers| !servers.is_empty())
            })
        })
    };
    let route_prefix = format!("httproute-{namespace}-{name}-");
    let member_prefix = format!("{namespace}-");
    let rules = services
        .as_array()?
        .iter()
        .filter(|s| {
            s["name"]
                .as_str()
                .is_some_and(|n| n.starts_with(&route_prefix))
        })
        .filter_map(|s| s["weighted"]["services"].as_array())
        .map(|members| {
            sorted(
                members
                    .iter()
                    .filter_map(|m| {
                        let full = m["name"].as_str()?;
                        if !has_servers(full) {
                            return None;
                        }
                        let member = full.strip_prefix(&member_prefix)?;
                        // `<service>-<port name>-<port>`: the Service is what precedes the last two parts.
                        let mut parts = member.rsplitn(3, '-');
                        let (_, _, service) = (parts.next()?, parts.next()?, parts.next()?);
                        Some((service.to_owned(), m["weight"].as_i64().unwrap_or(1)))
                    })
                    .filter(|(_, weight)| *weight > 0)
                    .collect(),
            )
        })
        .collect();
    Some(sorted(rules))
}

async fn get_json(url: &str) -> Option<Value> {
    let client = HttpClient::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let response = client
        .request(hyper::Request::get(url).body(Full::default()).ok()?)
        .await
        .ok()?;
    let body = response.into_body().collect().await.ok()?.to_bytes();
    serde_json::from_slice(&body).ok()
}

/// `POST /predict` to one pod; the answering `model_version`, or why there was none.
pub async fn predict_at(address: SocketAddr) -> Result<String, String> {
    let client = HttpClient::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = hyper::Request::post(format!("http://{address}/predict"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(
            crate::load::DEFAULT_BODY.as_bytes(),
        )))
        .map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(Duration::from_secs(5), client.request(request))
        .await
        .map_err(|_| format!("{address} did not answer within 5 s"))?
        .map_err(|e| format!("{address}: {e}"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let body: Value = serde_json::from_slice(&body).map_err(|e| format!("{address}: {e}"))?;
    if !status.is_success() {
        return Err(format!("{address} answered {status}: {body}"));
    }
    body["model_version"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{address} named no model_version: {body}"))
}

/// The local Prometheus.
#[derive(Clone, Debug)]
pub struct Prometheus {
    pub url: String,
}

impl Prometheus {
    pub fn local() -> Prometheus {
        Prometheus {
            url: env("MODELDEPLOY_PROMETHEUS_URL"),
        }
    }

    /// Adds a host process to Prometheus's targets (removed with the control plane).
    pub fn scrape(&self, job: &str, address: SocketAddr) {
        let dir = std::path::PathBuf::from(env("MODELDEPLOY_PROMETHEUS_TARGETS"));
        let content =
            serde_json::json!([{"targets": [address.to_string()], "labels": {"component": job}}]);
        let partial = dir.join(format!("{job}.json.partial"));
        std::fs::write(&partial, content.to_string()).unwrap();
        std::fs::rename(&partial, dir.join(format!("{job}.json"))).unwrap();
    }

    /// The value of an instant query's first sample, if it has one.
    pub async fn value(&self, query: &str) -> Option<f64> {
        let client = HttpClient::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let query: String = form_urlencoded::byte_serialize(query.as_bytes()).collect();
        let uri = format!("{}/api/v1/query?query={query}", self.url);
        let response = client
            .request(hyper::Request::get(uri).body(Full::default()).ok()?)
            .await
            .ok()?;
        let body = response.into_body().collect().await.ok()?.to_bytes();
        let body: Value = serde_json::from_slice(&body).ok()?;
        body.pointer("/data/result/0/value/1")?
            .as_str()?
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
    }
}
