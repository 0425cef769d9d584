//! What the supervisor runs for a pod: read from the pod alone, so it is testable without a
//! cluster.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Container, EnvVarSource, Pod, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::init::InitContainer;

/// Port a container listens on when it declares none, as the demo model server does.
const DEFAULT_PORT: u16 = 8080;

/// One pod whose first container the supervisor runs as a local process.
#[derive(Clone, Debug, PartialEq)]
pub struct ServedPod {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub ip: IpAddr,
    pub port: u16,
    pub container: String,
    pub image: String,
    /// The container's environment (literal values and the downward API's pod fields); `HOST`
    /// and `PORT` are set to the pod's address.
    pub env: BTreeMap<String, String>,
    /// The container's arguments, `$(VAR)` expanded from `env` as a kubelet does.
    pub args: Vec<String>,
    /// The ServiceAccount whose token the process gets, unless the pod opts out.
    pub service_account: Option<String>,
    /// Where Prometheus scrapes the pod: its `prometheus.io/port` annotation, else `port`.
    pub metrics_port: u16,
    pub labels: BTreeMap<String, String>,
    pub readiness: Readiness,
    /// Containers after the first are not run; they are reported ready so that the pod can be.
    pub other_containers: Vec<(String, String)>,
    /// Run to completion, in order, before the server.
    pub init: Vec<InitContainer>,
}

/// How the supervisor decides that the process is ready, following the container's probe.
#[derive(Clone, Debug, PartialEq)]
pub enum Readiness {
    /// No readiness probe: ready once the process runs, as with a kubelet.
    Running,
    Http {
        port: u16,
        path: String,
    },
    Tcp {
        port: u16,
    },
}

/// Why a pod on the node is left to kwok alone.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum Skip {
    #[error("its image is not one this supervisor runs")]
    OtherImage,
    #[error("it is being deleted")]
    Deleting,
    #[error("it has no pod IP yet")]
    NoAddress,
    #[error("{0}")]
    Unsupported(String),
}

impl ServedPod {
    /// The pod as the supervisor runs it, when its first container's image starts with one of
    /// `image_prefixes`.
    pub fn from_pod(pod: &Pod, image_prefixes: &[String]) -> Result<ServedPod, Skip> {
        let spec = pod.spec.as_ref().ok_or(Skip::OtherImage)?;
        let container = spec.containers.first().ok_or(Skip::OtherImage)?;
        let image = container.image.clone().unwrap_or_default();
        if !image_prefixes.iter().any(|p| image.starts_with(p.as_str())) {
            return Err(Skip::OtherImage);
        }
        if pod.metadata.deletion_timestamp.is_some() {
            return Err(Skip::Deleting);
        }
        let ip = pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.as_deref())
            .ok_or(Skip::NoAddress)?
            .parse::<IpAddr>()
            .map_err(|e| Skip::Unsupported(format!("its pod IP does not parse: {e}")))?;
        let port = container
            .ports
            .as_ref()
            .and_then(|ports| ports.first())
            .map(|p| port_number(p.container_port))
            .transpose()?
            .unwrap_or(DEFAULT_PORT);
        let mut env = BTreeMap::new();
        for var in container.env.iter().flatten() {
            let value = match (&var.value, &var.value_from) {
                (_, Some(source)) => pod_field(pod, &ip, source).ok_or_else(|| {
                    Skip::Unsupported(format!(
                        "env {} uses a valueFrom the local cluster does not resolve (only the pod's name, namespace, IP, node and ServiceAccount)",
                        var.name
                    ))
                })?,
                (value, None) => expand(value.as_deref().unwrap_or_default(), &env),
            };
            env.insert(var.name.clone(), value);
        }
        env.insert("HOST".to_owned(), ip.to_string());
        env.insert("PORT".to_owned(), port.to_string());
        let args = container
            .command
            .iter()
            .flatten()
            .skip(1)
            .chain(container.args.iter().flatten())
            .map(|arg| expand(arg, &env))
            .collect();
        let service_account = (spec.automount_service_account_token != Some(false))
            .then(|| spec.service_account_name.clone())
            .flatten();
        let metrics_port = pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("prometheus.io/port"))
            .and_then(|p| p.parse().ok())
            .unwrap_or(port);
        Ok(ServedPod {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            ip,
            port,
            container: container.name.clone(),
            image,
            env,
            args,
            service_account,
            metrics_port,
            labels: pod.metadata.labels.clone().unwrap_or_default(),
            readiness: readiness(container, container.readiness_probe.as_ref())?,
            other_containers: spec.containers[1..]
                .iter()
                .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
                .collect(),
            init: crate::init::of_pod(pod),
        })
    }

    /// `namespace/name`, for logs.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// The downward API's value of a pod field, as a kubelet resolves `fieldRef`.
fn pod_field(pod: &Pod, ip: &IpAddr, source: &EnvVarSource) -> Option<String> {
    let field = source.field_ref.as_ref()?;
    let spec = pod.spec.as_ref();
    match field.field_path.as_str() {
        "metadata.name" => pod.metadata.name.clone(),
        "metadata.namespace" => pod.metadata.namespace.clone(),
        "status.podIP" => Some(ip.to_string()),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()),
        "spec.serviceAccountName" => spec.and_then(|s| s.service_account_name.clone()),
        _ => None,
    }
}

/// `text` with each `$(NAME)` of a variable in `env` replaced by its value and `$$` made `$`;
/// references to unknown variables stay as written, as a kubelet leaves them.
fn expand(text: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(reference) = after.strip_prefix('(')
            && let Some(end) = reference.find(')')
            && let Some(value) = env.get(&reference[..end])
        {
            out.push_str(value);
            rest = &reference[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn readiness(container: &Container, probe: Option<&Probe>) -> Result<Readiness, Skip> {
    let Some(probe) = probe else {
        return Ok(Readiness::Running);
    };
    if let Some(http) = &probe.http_get {
        return Ok(Readiness::Http {
            port: named_port(container, &http.port)?,
            path: http.path.clone().unwrap_or_else(|| "/".to_owned()),
        });
    }
    if let Some(tcp) = &probe.tcp_socket {
        return Ok(Readiness::Tcp {
            port: named_port(container, &tcp.port)?,
        });
    }
    Err(Skip::Unsupported(
        "its readiness probe is neither httpGet nor tcpSocket".to_owned(),
    ))
}

fn named_port(container: &Container, port: &IntOrString) -> Result<u16, Skip> {
    match port {
        IntOrString::Int(number) => port_number(*number),
        IntOrString::String(name) => container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .map(|p| port_number(p.container_port))
            .unwrap_or_else(|| {
                Err(Skip::Unsupported(format!(
                    "its probe names port {name:?}, which the container does not declare"
                )))
            }),
    }
}

fn port_number(number: i32) -> Result<u16, Skip> {
    u16::try_from(number)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| Skip::Unsupported(format!("port {number} is out of range")))
}

/// A served pod for unit tests.
#[cfg(test)]
pub fn fixture() -> ServedPod {
    ServedPod {
        namespace: "models".into(),
        name: "iris-1".into(),
        uid: "u1".into(),
        ip: IpAddr::from([198, 18, 0, 7]),
        port: 8080,
        container: "model".into(),
        image: "modeldeploy/demo-model:0.1.0".into(),
        env: BTreeMap::new(),
        args: vec![],
        service_account: None,
        metrics_port: 8080,
        labels: BTreeMap::new(),
        readiness: Readiness::Running,
        other_containers: vec![],
        init: vec![],
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn pod(image: &str, extra: serde_json::Value) -> Pod {
        let mut pod = json!({
            "metadata": {"name": "iris-1", "namespace": "models", "uid": "u1"},
            "spec": {"containers": [{
                "name": "model", "image": image,
                "ports": [{"name": "http", "containerPort": 9000}],
                "env": [{"name": "MODEL_VERSION", "value": "2"}],
                "readinessProbe": {"httpGet": {"path": "/v2/health/ready", "port": "http"}}
            }]},
            "status": {"podIP": "198.18.0.7"}
        });
        json_patch(&mut pod, extra);
        serde_json::from_value(pod).unwrap()
    }

    fn json_patch(target: &mut serde_json::Value, patch: serde_json::Value) {
        if let (Some(t), serde_json::Value::Object(p)) = (target.as_object_mut(), patch.clone()) {
            for (k, v) in p {
                match t.get_mut(&k) {
                    Some(existing) if v.is_object() => json_patch(existing, v),
                    _ => {
                        t.insert(k, v);
                    }
                }
            }
        }
    }

    const PREFIXES: &[&str] = &["modeldeploy/demo-model"];

    fn served(pod: &Pod) -> Result<ServedPod, Skip> {
        let prefixes: Vec<String> = PREFIXES.iter().map(|p| (*p).to_owned()).collect();
        ServedPod::from_pod(pod, &prefixes)
    }

    #[test]
    fn a_demo_model_pod_runs_on_its_ip_and_port_with_its_probe() {
        let served = served(&pod("modeldeploy/demo-model:0.1.0", json!({}))).unwrap();
        assert_eq!(served.ip.to_string(), "198.18.0.7");
        assert_eq!(served.port, 9000);
        assert_eq!(served.env["HOST"], "198.18.0.7");
        assert_eq!(served.env["PORT"], "9000");
        assert_eq!(served.env["MODEL_VERSION"], "2");
        assert_eq!(
            served.readiness,
            Readiness::Http {
                port: 9000,
                path: "/v2/health/ready".into()
            }
        );
    }

    #[test]
    fn pod_fields_reach_the_environment_and_arguments_are_expanded_from_it() {
        let served = served(&pod(
            "modeldeploy/demo-model:0.1.0",
            json!({
                "metadata": {"annotations": {"prometheus.io/port": "9090"}},
                "spec": {"serviceAccountName": "iris-router", "containers": [{
                "name": "router", "image": "modeldeploy/demo-model:0.1.0",
                "args": ["--address=$(POD_IP)", "--name=$(POD_NAME)", "--keep=$$(POD_IP)", "--unknown=$(NOPE)"],
                "env": [
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
                ]
            }]}}),
        ))
        .unwrap();
        assert_eq!(served.env["POD_IP"], "198.18.0.7");
        assert_eq!(
            served.args,
            [
                "--address=198.18.0.7",
                "--name=iris-1",
                "--keep=$(POD_IP)",
                "--unknown=$(NOPE)"
            ]
        );
        assert_eq!(served.service_account.as_deref(), Some("iris-router"));
        assert_eq!(served.metrics_port, 9090);

        let secret = pod(
            "modeldeploy/demo-model:0.1.0",
            json!({"spec": {"containers": [{
                "name": "model", "image": "modeldeploy/demo-model:0.1.0",
                "env": [{"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]
            }]}}),
        );
        assert!(matches!(served_err(&secret), Skip::Unsupported(m) if m.contains("env KEY")));
    }

    fn served_err(pod: &Pod) -> Skip {
        served(pod).err().unwrap()
    }

    #[test]
    fn other_images_deleting_pods_and_pods_without_an_ip_are_left_alone() {
        assert_eq!(
            served(&pod("docker.io/seldonio/mlserver:1.6.1", json!({}))),
            Err(Skip::OtherImage)
        );
        assert_eq!(
            served(&pod(
                "modeldeploy/demo-model:0.1.0",
                json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}})
            )),
            Err(Skip::Deleting)
        );
        assert_eq!(
            served(&pod(
                "modeldeploy/demo-model:0.1.0",
                json!({"status": {"podIP": null}})
            )),
            Err(Skip::NoAddress)
        );
    }

    #[test]
    fn a_probe_on_an_undeclared_port_name_is_refused_with_the_name() {
        let pod = pod(
            "modeldeploy/demo-model:0.1.0",
            json!({"spec": {"containers": [{
                "name": "model", "image": "modeldeploy/demo-model:0.1.0",
                "readinessProbe": {"httpGet": {"path": "/", "port": "metrics"}}
            }]}}),
        );
        let Err(Skip::Unsupported(message)) = served(&pod) else {
            panic!("expected a refusal")
        };
        assert!(message.contains("\"metrics\""), "{message}");
    }
}
