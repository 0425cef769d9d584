use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use modeldeploy_api::v1alpha1::{ModelDeploymentSpec, Protocol};

use super::Owner;
use crate::labels;

/// A Service `name` of the ModelDeployment on the runtime port, selecting `selector`.
pub fn service(
    owner: &Owner,
    spec: &ModelDeploymentSpec,
    name: &str,
    component: &str,
    selector: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
) -> Service {
    let port_name = spec.runtime.protocol.port_name();
    Service {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(owner.namespace.clone()),
            labels: Some(labels::common(&owner.name, component)),
            annotations: (!annotations.is_empty()).then_some(annotations),
            owner_references: Some(vec![owner.reference.clone()]),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            selector: Some(selector),
            ports: Some(vec![ServicePort {
                name: Some(port_name.to_owned()),
                port: spec.runtime.port(),
                target_port: Some(IntOrString::String(port_name.to_owned())),
                protocol: Some("TCP".to_owned()),
                app_protocol: Some(
                    match spec.runtime.protocol {
                        Protocol::Http => "http",
                        Protocol::Grpc => "kubernetes.io/h2c",
                    }
                    .to_owned(),
                ),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// The revision a Service selects, if it selects exactly one of ours.
pub fn selected_revision(service: &Service) -> Option<String> {
    service
        .spec
        .as_ref()?
        .selector
        .as_ref()?
        .get(labels::LABEL_REVISION)
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{owner, spec};

    #[test]
    fn selects_the_given_revision_on_the_runtime_port() {
        let s = service(
            &owner("iris"),
            &spec("1.0.0"),
            "iris",
            "service",
            labels::revision_selector("iris", "abc123"),
            BTreeMap::new(),
        );
        assert_eq!(s.metadata.name.as_deref(), Some("iris"));
        assert_eq!(selected_revision(&s).as_deref(), Some("abc123"));
        let port = &s.spec.and_then(|s| s.ports).unwrap_or_default()[0];
        assert_eq!(port.port, 8080);
        assert_eq!(port.target_port, Some(IntOrString::String("http".into())));
    }
}
