//! The modeldeploy model router (`traffic.provider: router`): one router Deployment per
//! ModelDeployment, `<name>-router`, in its namespace, behind the Service `<name>`. It reads
//! the routing table the operator writes at every step (the ConfigMap `<name>-router`) and the
//! EndpointSlices of `<name>-stable` and the candidate's Service, and splits, matches, keeps
//! users sticky and mirrors by the table, comparing a shadow's answers with the stable's.
//!
//! One router per ModelDeployment rather than one shared by all: a router knows which model it
//! serves without parsing host names, a ModelDeployment's load and failures stay its own, and
//! the router's access is limited to its own table (a Role naming that one ConfigMap).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction, ObjectFieldSelector,
    PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SecurityContext, ServiceAccount,
};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use modeldeploy_api::routing::{
    ROUTER_TABLE_KEY, RouterAgreement, RouterDrift, RouterTable, RouterTopK, TrafficPlan,
    router_table_name,
};
use modeldeploy_api::v1alpha1::ModelDeploymentSpec;

use super::{GatewayFeatures, Routing, TrafficRouter, plan_annotation, services};
use crate::labels;
use crate::plan::analysis::agreement;
use crate::render::{self, Owner};

/// Image of the model router, released with the operator.
pub const ROUTER_IMAGE: &str = concat!("docker.io/modeldeploy/router:", env!("CARGO_PKG_VERSION"));
/// The label that selects a ModelDeployment's router pods. Not `modeldeploy.io/deployment`,
/// which selects its model pods.
pub const LABEL_ROUTER: &str = "modeldeploy.io/router";
/// Router replicas: two, so that one can stop without a break in service.
const REPLICAS: i32 = 2;
const PORT: i32 = 8080;
const METRICS_PORT: i32 = 9090;

#[derive(Debug)]
pub struct ModelRouter;

impl TrafficRouter for ModelRouter {
    fn unsupported(&self, _plan: &TrafficPlan, _features: &GatewayFeatures) -> Option<String> {
        None
    }

    fn render(&self, owner: &Owner, spec: &ModelDeploymentSpec, plan: &TrafficPlan) -> Routing {
        let mut list = vec![
            services::main(owner, spec, router_selector(&owner.name), BTreeMap::new()),
            services::stable(owner, spec, plan),
        ];
        list.extend(services::candidate(owner, spec, plan));
        Routing {
            services: list,
            router: Some(RouterObjects::render(owner, spec, plan)),
            ..Routing::default()
        }
    }
}

/// The objects of one ModelDeployment's router.
#[derive(Clone, Debug)]
pub struct RouterObjects {
    pub service_account: ServiceAccount,
    pub role: Role,
    pub role_binding: RoleBinding,
    /// The routing table; also the carrier of the plan.
    pub table: ConfigMap,
    pub deployment: Deployment,
}

/// The live objects of a router, by kind.
#[derive(Clone, Debug, Default)]
pub struct LiveRouter {
    pub service_account: Option<ServiceAccount>,
    pub role: Option<Role>,
    pub role_binding: Option<RoleBinding>,
    pub table: Option<ConfigMap>,
    pub deployment: Option<Deployment>,
}

impl LiveRouter {
    pub fn is_empty(&self) -> bool {
        self.service_account.is_none()
            && self.role.is_none()
            && self.role_binding.is_none()
            && self.table.is_none()
            && self.deployment.is_none()
    }

    /// Whether a router pod is ready to take requests, so that the Service `<name>` may point
    /// at the router without a break.
    pub fn serving(&self) -> bool {
        self.deployment
            .as_ref()
            .and_then(|d| d.status.as_ref())
            .and_then(|s| s.available_replicas)
            .unwrap_or_default()
            > 0
    }
}

/// The name every object of the router of ModelDeployment `name` shares.
pub fn name(model_deployment: &str) -> String {
    router_table_name(model_deployment)
}

/// Selects the router pods of ModelDeployment `name`.
pub fn router_selector(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(LABEL_ROUTER.to_owned(), name.to_owned())])
}

impl RouterObjects {
    pub fn render(owner: &Owner, spec: &ModelDeploymentSpec, plan: &TrafficPlan) -> RouterObjects {
        let name = name(&owner.name);
        let metadata = |annotations: Option<BTreeMap<String, String>>| ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(owner.namespace.clone()),
            labels: Some(labels::common(&owner.name, "router")),
            annotations,
            owner_references: Some(vec![owner.reference.clone()]),
            ..ObjectMeta::default()
        };
        RouterObjects {
            service_account: ServiceAccount {
                metadata: metadata(None),
                automount_service_account_token: Some(true),
                ..ServiceAccount::default()
            },
            role: Role {
                metadata: metadata(None),
                rules: Some(vec![
                    PolicyRule {
                        api_groups: Some(vec![String::new()]),
                        resources: Some(vec!["configmaps".to_owned()]),
                        resource_names: Some(vec![name.clone()]),
                        verbs: ["get", "list", "watch"].map(str::to_owned).to_vec(),
                        ..PolicyRule::default()
                    },
                    PolicyRule {
                        api_groups: Some(vec!["discovery.k8s.io".to_owned()]),
                        resources: Some(vec!["endpointslices".to_owned()]),
                        verbs: ["list", "watch"].map(str::to_owned).to_vec(),
                        ..PolicyRule::default()
                    },
                ]),
            },
            role_binding: RoleBinding {
                metadata: metadata(None),
                role_ref: RoleRef {
                    api_group: "rbac.authorization.k8s.io".to_owned(),
                    kind: "Role".to_owned(),
                    name: name.clone(),
                },
                subjects: Some(vec![Subject {
                    kind: "ServiceAccount".to_owned(),
                    name: name.clone(),
                    namespace: Some(owner.namespace.clone()),
                    ..Subject::default()
                }]),
            },
            table: ConfigMap {
                metadata: metadata(Some(plan_annotation(plan))),
                data: Some(BTreeMap::from([(
                    ROUTER_TABLE_KEY.to_owned(),
                    table_json(owner, spec, plan),
                )])),
                ..ConfigMap::default()
            },
            deployment: deployment(owner, spec, &name, metadata(None)),
        }
    }
}

/// The routing table of `plan`, as the router reads it.
pub fn table(owner: &Owner, spec: &ModelDeploymentSpec, plan: &TrafficPlan) -> RouterTable {
    let mut services = BTreeMap::from([(plan.stable.clone(), services::stable_name(owner))]);
    if let (Some(candidate), Some(service)) =
        (&plan.candidate, services::candidate_name(owner, plan))
    {
        services.insert(candidate.revision.clone(), service);
    }
    let shadow = spec.strategy.as_ref().and_then(|s| s.shadow.as_ref());
    let agreement = shadow
        .and_then(|s| s.agreement.as_ref())
        .map(|a| RouterAgreement {
            json_path: a.json_path.clone(),
            tolerance: a.tolerance.clone(),
            relative_tolerance: a.relative_tolerance.clone(),
            top_k: a.top_k.as_ref().map(|t| RouterTopK {
                k: u8::try_from(t.k.clamp(1, 100)).unwrap_or(100),
                min_overlap_percent: u8::try_from(
                    t.min_overlap_percent.unwrap_or(100).clamp(1, 100),
                )
                .unwrap_or(100),
            }),
            noise_sample_percent: u8::try_from(
                a.noise_sample_percent
                    .unwrap_or(agreement::DEFAULT_NOISE_SAMPLE_PERCENT)
                    .clamp(0, 100),
            )
            .unwrap_or(0),
        });
    let drift = shadow.and_then(|s| s.drift.as_ref()).map(|d| RouterDrift {
        json_path: d.json_path.clone(),
        bins: d.bins.clone(),
    });
    RouterTable {
        salt: format!("{}/{}", owner.namespace, owner.name),
        plan: plan.clone(),
        services,
        mirror_all_methods: shadow.and_then(|s| s.mirror_all_methods) == Some(true),
        agreement,
        drift,
    }
}

fn table_json(owner: &Owner, spec: &ModelDeploymentSpec, plan: &TrafficPlan) -> String {
    // Serializing plain data cannot fail; an empty table would be refused by the router, which
    // keeps its last good one.
    serde_json::to_string(&table(owner, spec, plan)).unwrap_or_default()
}

fn deployment(
    owner: &Owner,
    spec: &ModelDeploymentSpec,
    name: &str,
    metadata: ObjectMeta,
) -> Deployment {
    let mut pod_labels = labels::common(&owner.name, "router");
    // Router pods must not be taken for model pods.
    pod_labels.remove(labels::LABEL_DEPLOYMENT);
    pod_labels.extend(router_selector(&owner.name));
    let field = |path: &str| EnvVarSource {
        field_ref: Some(ObjectFieldSelector {
            field_path: path.to_owned(),
            ..ObjectFieldSelector::default()
        }),
        ..EnvVarSource::default()
    };
    let probe = |path: &str| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String("metrics".to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(2),
        ..Probe::default()
    };
    let container = Container {
        name: "router".to_owned(),
        image: Some(ROUTER_IMAGE.to_owned()),
        args: Some(vec![
            format!("--model-deployment={}", owner.name),
            // Its own address only: in the local cluster, pods share one network namespace.
            "--address=$(POD_IP)".to_owned(),
            format!("--port={PORT}"),
            format!("--metrics-port={METRICS_PORT}"),
        ]),
        env: Some(vec![
            EnvVar {
                name: "POD_IP".to_owned(),
                value_from: Some(field("status.podIP")),
                ..EnvVar::default()
            },
            EnvVar {
                name: "POD_NAMESPACE".to_owned(),
                value_from: Some(field("metadata.namespace")),
                ..EnvVar::default()
            },
        ]),
        ports: Some(vec![
            ContainerPort {
                name: Some(spec.runtime.protocol.port_name().to_owned()),
                container_port: PORT,
                protocol: Some("TCP".to_owned()),
                ..ContainerPort::default()
            },
            ContainerPort {
                name: Some("metrics".to_owned()),
                container_port: METRICS_PORT,
                protocol: Some("TCP".to_owned()),
                ..ContainerPort::default()
            },
        ]),
        readiness_probe: Some(probe("/readyz")),
        liveness_probe: Some(probe("/healthz")),
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".to_owned(), Quantity("100m".to_owned())),
                ("memory".to_owned(), Quantity("64Mi".to_owned())),
            ])),
            limits: Some(BTreeMap::from([(
                "memory".to_owned(),
                Quantity("256Mi".to_owned()),
            )])),
            ..ResourceRequirements::default()
        }),
        security_context: Some(SecurityContext {
            read_only_root_filesystem: Some(true),
            ..render::restricted()
        }),
        ..Container::default()
    };
    Deployment {
        metadata,
        spec: Some(DeploymentSpec {
            replicas: Some(REPLICAS),
            selector: LabelSelector {
                match_labels: Some(router_selector(&owner.name)),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(BTreeMap::from([
                        ("prometheus.io/scrape".to_owned(), "true".to_owned()),
                        ("prometheus.io/port".to_owned(), METRICS_PORT.to_string()),
                    ])),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(name.to_owned()),
                    containers: vec![container],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    }
}
