//! Every strategy over every traffic provider that can carry it, against the real API server and
//! the real Gateway API and Istio CRDs: at each step the Deployments, Services and routes are what
//! the spec says, and the status reports them.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::Api;
use modeldeploy_api::v1alpha1::{
    AbTestStrategy, BlueGreenStrategy, CanaryStep, CanaryStrategy, Duration, GatewayApiTraffic,
    HeaderMatch, HeaderMatchType, IstioTraffic, ModelDeployment, ModelDeploymentStatus,
    ParentReference, PauseReason, PauseStep, Phase, RequestAction, RolloutStage, RouteMatch,
    ShadowStrategy, StrategySpec, TrafficProvider, TrafficSpec,
};
use modeldeploy_e2e::rollout::{reported_weight, request, until_status};
use modeldeploy_e2e::{Scenario, sample, until};
use modeldeploy_operator::traffic::{HTTPRoute, VirtualService};

use crate::{TIMEOUT, apply_md, deploy, selected_revision, until_ready};

pub fn gateway_traffic() -> TrafficSpec {
    TrafficSpec {
        provider: TrafficProvider::GatewayApi,
        gateway_api: Some(GatewayApiTraffic {
            parent_refs: vec![ParentReference {
                group: None,
                kind: None,
                namespace: None,
                name: "inference".into(),
                section_name: None,
                port: None,
            }],
            hostnames: vec!["iris.models.example.com".into()],
        }),
        istio: None,
    }
}

pub fn istio_traffic() -> TrafficSpec {
    TrafficSpec {
        provider: TrafficProvider::Istio,
        gateway_api: None,
        istio: Some(IstioTraffic {
            hosts: vec!["iris.models.example.com".into()],
            gateways: vec![],
        }),
    }
}

pub fn weight(w: i32) -> CanaryStep {
    CanaryStep {
        set_weight: Some(w),
        ..CanaryStep::default()
    }
}

pub fn pause(duration: Option<&str>) -> CanaryStep {
    CanaryStep {
        pause: Some(PauseStep {
            duration: duration.map(|d| Duration(d.into())),
        }),
        ..CanaryStep::default()
    }
}

pub fn canary(steps: Vec<CanaryStep>) -> Option<StrategySpec> {
    Some(StrategySpec {
        canary: Some(CanaryStrategy {
            steps,
            ..CanaryStrategy::default()
        }),
        ..StrategySpec::default()
    })
}

/// The iris sample with quick drains, `replicas` pods, `traffic` and `strategy`.
pub fn iris(
    replicas: i32,
    traffic: TrafficSpec,
    strategy: Option<StrategySpec>,
) -> ModelDeployment {
    let mut md = sample("iris-sklearn.yaml");
    md.spec.replicas = replicas;
    md.spec.scale_down_delay_seconds = Some(2);
    md.spec.abort_scale_down_delay_seconds = Some(2);
    md.spec.traffic = traffic;
    md.spec.strategy = strategy;
    md
}

/// Waits until the rollout is at step `index` (from 0) and `status.traffic` gives the candidate
/// `candidate_weight` percent.
pub async fn until_step(
    models: &Api<ModelDeployment>,
    index: i32,
    candidate_weight: i32,
) -> ModelDeploymentStatus {
    until_status(
        models,
        "iris",
        TIMEOUT,
        &format!(
            "the rollout is at step {} with {candidate_weight}% on the candidate",
            index + 1
        ),
        |s| {
            s.rollout.as_ref().is_some_and(|r| {
                r.stage == RolloutStage::Steps
                    && r.step_index == index
                    && reported_weight(s, &r.revision) == candidate_weight
            })
        },
    )
    .await
}

/// `(backend, weight)` of the HTTPRoute's weighted rule, and whether it mirrors.
pub async fn route_split(routes: &Api<HTTPRoute>) -> (Vec<(String, i32)>, Option<i32>) {
    let route = routes.get("iris").await.unwrap();
    let split = route.spec.rules.last().cloned().unwrap_or_default();
    (
        split
            .backend_refs
            .iter()
            .map(|b| (b.name.clone(), b.weight.unwrap_or(1)))
            .collect(),
        split
            .filters
            .iter()
            .find_map(|f| f.request_mirror.as_ref().and_then(|m| m.percent)),
    )
}

/// `(host, weight)` of the VirtualService's last (default) route.
pub async fn virtual_service_split(api: &Api<VirtualService>) -> Vec<(String, i32)> {
    let vs = api.get("iris").await.unwrap();
    vs.spec
        .http
        .last()
        .map(|h| {
            h.route
                .iter()
                .map(|r| (r.destination.host.clone(), r.weight.unwrap_or(100)))
                .collect()
        })
        .unwrap_or_default()
}

pub async fn selects(services: &Api<Service>, name: &str) -> Option<String> {
    services
        .get_opt(name)
        .await
        .unwrap()
        .and_then(|s| selected_revision(&s))
}

/// Waits until the Service `name` is gone: one the routes stop naming drains for the scale-down
/// delay first, so that a gateway still on the previous route finds it.
pub async fn until_service_gone(services: &Api<Service>, name: &str) {
    until(
        TIMEOUT,
        &format!("the Service {name} drains and goes"),
        || async {
            services
                .get_opt(name)
                .await
                .unwrap()
                .is_none()
                .then_some(())
        },
    )
    .await;
}

pub async fn replicas(deployments: &Api<Deployment>, revision: &str) -> Option<i32> {
    deployments
        .get_opt(&format!("iris-{revision}"))
        .await
        .unwrap()
        .and_then(|d| d.spec?.replicas)
}

fn pairs(items: &[(&str, i32)]) -> Vec<(String, i32)> {
    items.iter().map(|(n, w)| ((*n).to_owned(), *w)).collect()
}

#[tokio::test]
async fn canary_over_gateway_api_walks_its_steps_and_promotes() {
    let scenario = Scenario::start("canary-gw", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let routes: Api<HTTPRoute> = scenario.api();
    let services: Api<Service> = scenario.api();
    let deployments: Api<Deployment> = scenario.api();
    let mut md = iris(
        5,
        gateway_traffic(),
        canary(vec![weight(20), pause(None), weight(60), pause(None)]),
    );
    let old = deploy(&models, &md).await;
    assert_eq!(
        route_split(&routes).await,
        (pairs(&[("iris-stable", 100)]), None)
    );

    md.spec.model.version = "1.1.0".into();
    apply_md(&models, &md).await;
    let status = until_step(&models, 1, 20).await;
    let new = status.candidate_revision.clone().unwrap();
    assert_eq!(status.phase, Some(Phase::Paused));
    assert_eq!(
        status
            .rollout
            .as_ref()
            .and_then(|r| r.pause.as_ref())
            .map(|p| p.reason),
        Some(PauseReason::Indefinite)
    );
    assert_eq!(
        status
            .rollout
            .as_ref()
            .and_then(|r| r.step.clone())
            .as_deref(),
        Some("2/4 pause until promoted")
    );
    assert_eq!(
        route_split(&routes).await,
        (pairs(&[("iris-stable", 80), ("iris-canary", 20)]), None)
    );
    assert_eq!(
        selects(&services, "iris").await.as_deref(),
        Some(old.as_str())
    );
    assert_eq!(
        selects(&services, "iris-stable").await.as_deref(),
        Some(old.as_str())
    );
    assert_eq!(
        selects(&services, "iris-canary").await.as_deref(),
        Some(new.as_str())
    );
    assert_eq!(replicas(&deployments, &new).await, Some(1));
    assert_eq!(replicas(&deployments, &old).await, Some(5));
    assert_eq!(reported_weight(&status, &old), 80);

    let answer = request(&models, "iris", RequestAction::Promote, TIMEOUT).await;
    assert!(answer.accepted, "{answer:?}");
    until_step(&models, 3, 60).await;
    assert_eq!(
        route_split(&routes).await,
        (pairs(&[("iris-stable", 40), ("iris-canary", 60)]), None)
    );
    assert_eq!(replicas(&deployments, &new).await, Some(3));

    request(&models, "iris", RequestAction::Promote, TIMEOUT).await;
    let done = until_ready(&models, "iris").await.status.unwrap();
    assert_eq!(done.stable_revision.as_deref(), Some(new.as_str()));
    assert_eq!(done.serving_model_version.as_deref(), Some("1.1.0"));
    assert_eq!(
        route_split(&routes).await,
        (pairs(&[("iris-stable", 100)]), None)
    );
    assert_eq!(
        selects(&services, "iris-stable").await.as_deref(),
        Some(new.as_str())
    );
    until_service_gone(&services, "iris-canary").await;
    until(TIMEOUT, "the old revision drains and goes", || async {
        replicas(&deployments, &old).await.is_none().then_some(())
    })
    .await;
    scenario.finish().await;
}

#[tokio::test]
async fn canary_over_istio_aborts_traffic_first_then_pods_and_retries() {
    let scenario = Scenario::start("canary-istio", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let vss: Api<VirtualService> = scenario.api();
    let services: Api<Service> = scenario.api();
    let deployments: Api<Deployment> = scenario.api();
    let mut md = iris(2, istio_traffic(), canary(vec![weight(50), pause(None)]));
    let old = deploy(&models, &md).await;
    let stable_host = format!("iris-stable.{}.svc.cluster.local", scenario.ns.name);
    let canary_host = format!("iris-canary.{}.svc.cluster.local", scenario.ns.name);
    assert_eq!(
        virtual_service_split(&vss).await,
        vec![(stable_host.clone(), 100)]
    );
    let vs = vss.get("iris").await.unwrap();
    assert!(
        vs.spec
            .hosts
            .contains(&format!("iris.{}.svc.cluster.local", scenario.ns.name))
    );

    md.spec.model.version = "1.1.0".into();
    apply_md(&models, &md).await;
    let status = until_step(&models, 1, 50).await;
    let new = status.candidate_revision.clone().unwrap();
    assert_eq!(
        virtual_service_split(&vss).await,
        vec![(stable_host.clone(), 50), (canary_host.clone(), 50)]
    );

    let answer = request(&models, "iris", RequestAction::Abort, TIMEOUT).await;
    assert!(answer.accepted, "{answer:?}");
    let aborted = until_status(&models, "iris", TIMEOUT, "the rollout is aborted", |s| {
        s.phase == Some(Phase::Aborted)
    })
    .await;
    assert_eq!(reported_weight(&aborted, &old), 100);
    assert_eq!(
        virtual_service_split(&vss).await,
        vec![(stable_host.clone(), 100)]
    );
    until_service_gone(&services, "iris-canary").await;
    assert!(
        aborted
            .conditions
            .iter()
            .any(|c| c.type_ == "Stalled" && c.status == "True"),
        "{aborted:?}"
    );
    until(
        TIMEOUT,
        "the aborted revision's pods go after the abort delay",
        || async { replicas(&deployments, &new).await.is_none().then_some(()) },
    )
    .await;

    let answer = request(&models, "iris", RequestAction::Retry, TIMEOUT).await;
    assert!(answer.accepted, "{answer:?}");
    until_step(&models, 1, 50).await;
    assert_eq!(
        virtual_service_split(&vss).await,
        vec![(stable_host, 50), (canary_host, 50)]
    );
    scenario.finish().await;
}

#[tokio::test]
async fn canary_without_a_mesh_splits_by_ready_pods_and_keeps_capacity_flat() {
    let scenario = Scenario::start("canary-replicas", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let services: Api<Service> = scenario.api();
    let deployments: Api<Deployment> = scenario.api();
    let mut strategy = canary(vec![weight(25), pause(None)]);
    if let Some(c) = strategy.as_mut().and_then(|s| s.canary.as_mut()) {
        c.dynamic_stable_scale = Some(true);
    }
    let mut md = iris(4, TrafficSpec::default(), strategy);
    let old = deploy(&models, &md).await;
    md.spec.model.version = "1.1.0".into();
    apply_md(&models, &md).await;
    let status = until_step(&models, 1, 25).await;
    let new = status.candidate_revision.clone().unwrap();
    // One Service over both revisions: 3 stable pods and 1 canary pod take 25 %.
    assert_eq!(selects(&services, "iris").await, None);
    assert_eq!(
        selects(&services, "iris-canary").await.as_deref(),
        Some(new.as_str())
    );
    assert_eq!(replicas(&deployments, &new).await, Some(1));
    assert_eq!(replicas(&deployments, &old).await, Some(3));
    assert_eq!(reported_weight(&status, &old), 75);
    let answer = request(&models, "iris", RequestAction::PromoteFull, TIMEOUT).await;
    assert!(answer.accepted, "{answer:?}");
    until_ready(&models, "iris").await;
    assert_eq!(
        selects(&services, "iris").await.as_deref(),
        Some(new.as_str())
    );
    scenario.finish().await;
}

#[tokio::test]
async fn blue_green_previews_then_switches_when_promoted() {
    let scenario = Scenario::start("bluegreen", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let services: Api<Service> = scenario.api();
    let deployments: Api<Deployment> = scenario.api();
    let strategy = Some(StrategySpec {
        blue_green: Some(BlueGreenStrategy {
            auto_promotion: Some(false),
            preview_replicas: Some(1),
            ..BlueGreenStrategy::default()
        }),
        ..StrategySpec::default()
    });
    let mut md = iris(3, TrafficSpec::default(), strategy);
    let old = deploy(&models, &md).await;
    md.spec.model.version = "1.1.0".into();
    apply_md(&models, &md).await;
    let status = until_status(
        &models,
        "iris",
        TIMEOUT,
        "the preview waits for promotion",
        |s| {
            s.rollout
                .as_ref()
                .and_then(|r| r.pause.as_ref())
                .is_some_and(|p| p.reason == PauseReason::AwaitingPromotion)
        },
    )
    .await;
    let new = status.candidate_revision.clone().unwrap();
    assert_eq!(
        selects(&services, "iris-preview").await.as_deref(),
        Some(new.as_str())
    );
    assert_eq!(
        selects(&services, "iris").await.as_deref(),
        Some(old.as_str())
    );
    assert_eq!(replicas(&deployments, &new).await, Some(1));
    request(&models, "iris", RequestAction::Promote, TIMEOUT).await;
    until_ready(&models, "iris").await;
    assert_eq!(
        selects(&services, "iris").await.as_deref(),
        Some(new.as_str())
    );
    assert_eq!(replicas(&deployments, &new).await, Some(3));
    until_service_gone(&services, "iris-preview").await;
    scenario.finish().await;
}

#[tokio::test]
async fn shadow_over_gateway_api_mirrors_then_leaves_no_mirror_on_the_live_route() {
    let scenario = Scenario::start("shadow-gw", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let routes: Api<HTTPRoute> = scenario.api();
    let mut md = iris(2, gateway_traffic(), shadow_long(40));
    deploy(&models, &md).await;
    md.spec.model.version = "1.1.0".into();
    apply_md(&models, &md).await;
    let status = until_status(
        &models,
        "iris",
        TIMEOUT,
        "the candidate receives a mirror",
        |s| s.mirror.as_ref().is_some_and(|m| m.percent == 40),
    )
    .await;
    assert_eq!(status.phase, Some(Phase::Paused));
    assert_eq!(
        route_split(&routes).await,
        (pairs(&[("iris-stable", 100), ("iris-canary", 0)]), Some(40))
    );
    request(&models, "iris", RequestAction::PromoteFull, TIMEOUT).await;
    until_ready(&models, "iris").await;
    let (split, mirror) = route_split(&routes).await;
    assert_eq!((split, mirror), (pairs(&[("iris-stable", 100)]), None));
    let live = serde_json::to_string(&routes.get("iris").await.unwrap()).unwrap();
    assert!(!live.contains("RequestMirror"), "{live}");
    scenario.finish().await;
}

#[tokio::test]
async fn ab_test_over_istio_routes_testers_then_leaves_no_header_rule_behind() {
    let scenario = Scenario::start("abtest-istio", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let vss: Api<VirtualService> = scenario.api();
    let strategy = Some(StrategySpec {
        ab_test: Some(AbTestStrategy {
            weight: Some(30),
            stickiness: None,
            matches: vec![RouteMatch {
                headers: vec![HeaderMatch {
                    name: "cookie".into(),
                    value: ".*group=b.*".into(),
                    match_type: HeaderMatchType::RegularExpression,
                }],
            }],
            max_duration: Duration("2h".into()),
            analysis: None,
            decision: None,
        }),
        ..StrategySpec::default()
    });
    let mut md = iris(2, istio_traffic(), strategy);
    deploy(&models, &md).await;
    md.spec.model.version = "1.1.0".into();
    apply_md(&models, &md).await;
    let status = until_step(&models, 1, 30).await;
    assert_eq!(status.phase, Some(Phase::Paused));
    let vs = vss.get("iris").await.unwrap();
    assert_eq!(vs.spec.http.len(), 2, "{vs:?}");
    assert_eq!(
        vs.spec.http[0].match_[0]
            .headers
            .get("cookie")
            .and_then(|m| m.regex.as_deref()),
        Some(".*group=b.*")
    );
    request(&models, "iris", RequestAction::Abort, TIMEOUT).await;
    until_status(&models, "iris", TIMEOUT, "the test is aborted", |s| {
        s.phase == Some(Phase::Aborted)
    })
    .await;
    let vs = vss.get("iris").await.unwrap();
    assert_eq!(vs.spec.http.len(), 1, "the header route is gone: {vs:?}");
    scenario.finish().await;
}

#[tokio::test]
async fn a_new_spec_or_provider_mid_rollout_leaves_nothing_stale() {
    let scenario = Scenario::start("supersede", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let routes: Api<HTTPRoute> = scenario.api();
    let vss: Api<VirtualService> = scenario.api();
    let deployments: Api<Deployment> = scenario.api();
    let services: Api<Service> = scenario.api();
    let mut md = iris(2, gateway_traffic(), canary(vec![weight(50), pause(None)]));
    let old = deploy(&models, &md).await;
    md.spec.model.version = "1.1.0".into();
    apply_md(&models, &md).await;
    let first = until_step(&models, 1, 50).await.candidate_revision.unwrap();

    // A new version: traffic returns to stable, then the new candidate starts from step one.
    md.spec.model.version = "1.2.0".into();
    apply_md(&models, &md).await;
    let status = until_status(
        &models,
        "iris",
        TIMEOUT,
        "the new candidate reaches 50 %",
        |s| {
            s.rollout.as_ref().is_some_and(|r| {
                r.revision != first && r.step_index == 1 && reported_weight(s, &r.revision) == 50
            })
        },
    )
    .await;
    let second = status.candidate_revision.clone().unwrap();
    assert_eq!(status.stable_revision.as_deref(), Some(old.as_str()));
    until(TIMEOUT, "the superseded candidate's pods go", || async {
        replicas(&deployments, &first).await.is_none().then_some(())
    })
    .await;

    // A new provider mid-flight: the HTTPRoute goes, a VirtualService carries the same step.
    md.spec.traffic = istio_traffic();
    apply_md(&models, &md).await;
    until(
        TIMEOUT,
        "the VirtualService carries the step and the HTTPRoute is gone",
        || async {
            let vs_ok = vss.get_opt("iris").await.unwrap().is_some_and(|vs| {
                vs.spec
                    .http
                    .last()
                    .is_some_and(|h| h.route.iter().any(|r| r.weight == Some(50)))
            });
            let route_gone = routes.get_opt("iris").await.unwrap().is_none();
            (vs_ok && route_gone).then_some(())
        },
    )
    .await;

    // A new strategy mid-flight: the same candidate starts over as a blue/green preview; the
    // canary's Service and weight go.
    md.spec.strategy = Some(StrategySpec {
        blue_green: Some(BlueGreenStrategy {
            auto_promotion: Some(false),
            ..BlueGreenStrategy::default()
        }),
        ..StrategySpec::default()
    });
    apply_md(&models, &md).await;
    until(
        TIMEOUT,
        "the preview replaces the canary, with no traffic",
        || async {
            let preview = selects(&services, "iris-preview").await;
            let canary_gone = selects(&services, "iris-canary").await.is_none();
            let no_weight = vss.get_opt("iris").await.unwrap().is_some_and(|vs| {
                vs.spec.http.last().is_some_and(|h| {
                    h.route.iter().all(|r| {
                        r.destination.host.starts_with("iris-stable.") || r.weight == Some(0)
                    })
                })
            });
            (preview.as_deref() == Some(second.as_str()) && canary_gone && no_weight).then_some(())
        },
    )
    .await;
    until_status(
        &models,
        "iris",
        TIMEOUT,
        "the preview waits for promotion",
        |s| {
            s.rollout.as_ref().is_some_and(|r| {
                r.strategy == "blueGreen"
                    && r.pause.as_ref().map(|p| p.reason) == Some(PauseReason::AwaitingPromotion)
            })
        },
    )
    .await;
    request(&models, "iris", RequestAction::Promote, TIMEOUT).await;
    let done = until_ready(&models, "iris").await.status.unwrap();
    assert_eq!(done.stable_revision.as_deref(), Some(second.as_str()));
    until_service_gone(&services, "iris-preview").await;
    until_service_gone(&services, "iris-canary").await;
    let mut left: Vec<String> = services
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|s| s.metadata.name)
        .collect();
    left.sort();
    assert_eq!(left, ["iris", "iris-stable"]);
    scenario.finish().await;
}

#[tokio::test]
async fn kubectl_wait_for_ready_returns_only_once_the_new_revision_serves() {
    let scenario = Scenario::start("wait-ready", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let mut md = iris(
        1,
        TrafficSpec::default(),
        canary(vec![weight(50), pause(None)]),
    );
    deploy(&models, &md).await;
    md.spec.model.version = "1.1.0".into();
    apply_md(&models, &md).await;
    until_step(&models, 1, 50).await;
    let kubectl = scenario.cluster.tool("kubectl");
    let kubeconfig = scenario.cluster.kubeconfig.clone();
    let namespace = scenario.ns.name.clone();
    // On a thread of its own: the operator runs on this test's runtime meanwhile.
    let wait = |timeout: &'static str| {
        let (kubectl, kubeconfig, namespace) =
            (kubectl.clone(), kubeconfig.clone(), namespace.clone());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(kubectl)
                .args([
                    "wait",
                    "--for=condition=Ready",
                    "mdep/iris",
                    "-n",
                    &namespace,
                ])
                .arg(format!("--timeout={timeout}"))
                .env("KUBECONFIG", kubeconfig)
                .output()
                .unwrap()
        })
    };
    assert!(
        !wait("3s").await.unwrap().status.success(),
        "Ready while the canary is paused"
    );
    let waiting = wait("90s");
    request(&models, "iris", RequestAction::Promote, TIMEOUT).await;
    let waited = waiting.await.unwrap();
    assert!(
        waited.status.success(),
        "{}",
        String::from_utf8_lossy(&waited.stderr)
    );
    let status = models.get("iris").await.unwrap().status.unwrap();
    assert_eq!(status.serving_model_version.as_deref(), Some("1.1.0"));
    scenario.finish().await;
}

/// What a provider's live objects give the candidate: weight (-1 for a split by ready pods),
/// mirror percent, and the number of header rules.
type Share = (i32, Option<i32>, usize);

async fn live_candidate_share(scenario: &Scenario, provider: TrafficProvider) -> Share {
    match provider {
        TrafficProvider::GatewayApi => {
            let routes: Api<HTTPRoute> = scenario.api();
            let route = routes.get("iris").await.unwrap();
            let split = route.spec.rules.last().cloned().unwrap_or_default();
            let weight = split
                .backend_refs
                .iter()
                .filter(|b| b.name != "iris-stable")
                .filter_map(|b| b.weight)
                .sum();
            let mirror = split
                .filters
                .iter()
                .find_map(|f| f.request_mirror.as_ref().and_then(|m| m.percent));
            (weight, mirror, route.spec.rules.len() - 1)
        }
        TrafficProvider::Istio => {
            let vss: Api<VirtualService> = scenario.api();
            let vs = vss.get("iris").await.unwrap();
            let primary = vs.spec.http.last().cloned().unwrap_or_default();
            let weight = primary
                .route
                .iter()
                .filter(|r| !r.destination.host.starts_with("iris-stable."))
                .filter_map(|r| r.weight)
                .sum();
            let mirror = primary.mirror_percentage.map(|m| m.value.round() as i32);
            (weight, mirror, vs.spec.http.len() - 1)
        }
        TrafficProvider::Replicas | TrafficProvider::Router => {
            let services: Api<Service> = scenario.api();
            let weight = match selects(&services, "iris").await {
                None => -1, // every revision: a split by ready pods
                Some(_) => 0,
            };
            (weight, None, 0)
        }
    }
}

pub fn blue_green_manual() -> Option<StrategySpec> {
    Some(StrategySpec {
        blue_green: Some(BlueGreenStrategy {
            auto_promotion: Some(false),
            ..BlueGreenStrategy::default()
        }),
        ..StrategySpec::default()
    })
}

pub fn shadow_long(percent: i32) -> Option<StrategySpec> {
    Some(StrategySpec {
        shadow: Some(ShadowStrategy {
            mirror_percent: Some(percent),
            mirror_all_methods: None,
            duration: Duration("1h".into()),
            agreement: None,
            drift: None,
            analysis: None,
            auto_promotion: None,
        }),
        ..StrategySpec::default()
    })
}

pub fn ab_testers(weight: i32) -> Option<StrategySpec> {
    Some(StrategySpec {
        ab_test: Some(AbTestStrategy {
            weight: Some(weight),
            stickiness: None,
            matches: vec![RouteMatch {
                headers: vec![HeaderMatch {
                    name: "x-tester".into(),
                    value: "yes".into(),
                    match_type: HeaderMatchType::Exact,
                }],
            }],
            max_duration: Duration("2h".into()),
            analysis: None,
            decision: None,
        }),
        ..StrategySpec::default()
    })
}

/// Every strategy over every provider that can carry it: at its resting step the live objects
/// give the candidate what the spec says, and after promotion nothing of the rollout is left.
#[tokio::test]
async fn every_strategy_over_every_provider_that_carries_it() {
    // (strategy, provider, expected (weight, mirror, header rules) at the resting step)
    let cases: Vec<(&str, TrafficSpec, Option<StrategySpec>, Share)> = vec![
        (
            "canary",
            TrafficSpec::default(),
            canary(vec![weight(50), pause(None)]),
            (-1, None, 0),
        ),
        (
            "canary",
            gateway_traffic(),
            canary(vec![weight(30), pause(None)]),
            (30, None, 0),
        ),
        (
            "canary",
            istio_traffic(),
            canary(vec![weight(30), pause(None)]),
            (30, None, 0),
        ),
        (
            "blueGreen",
            TrafficSpec::default(),
            blue_green_manual(),
            (0, None, 0),
        ),
        (
            "blueGreen",
            gateway_traffic(),
            blue_green_manual(),
            (0, None, 0),
        ),
        (
            "blueGreen",
            istio_traffic(),
            blue_green_manual(),
            (0, None, 0),
        ),
        (
            "shadow",
            gateway_traffic(),
            shadow_long(25),
            (0, Some(25), 0),
        ),
        ("shadow", istio_traffic(), shadow_long(25), (0, Some(25), 0)),
        ("abTest", gateway_traffic(), ab_testers(10), (10, None, 1)),
        ("abTest", istio_traffic(), ab_testers(10), (10, None, 1)),
    ];
    let runs = cases
        .into_iter()
        .map(|(strategy, traffic, spec, expected)| async move {
            let provider = traffic.provider;
            let scenario =
                Scenario::start(&format!("all-{}", strategy.to_lowercase()), false).await;
            let models: Api<ModelDeployment> = scenario.api();
            let services: Api<Service> = scenario.api();
            let mut md = iris(2, traffic, spec);
            deploy(&models, &md).await;
            md.spec.model.version = "1.1.0".into();
            apply_md(&models, &md).await;
            let status = until_status(
                &models,
                "iris",
                TIMEOUT,
                &format!("{strategy} over {provider:?} rests mid-rollout"),
                |s| s.phase == Some(Phase::Paused) && s.observed_generation == Some(2),
            )
            .await;
            assert_eq!(
                status.rollout.as_ref().map(|r| r.strategy.as_str()),
                Some(strategy)
            );
            let new = status.candidate_revision.clone().unwrap();
            until(
                TIMEOUT,
                &format!("{strategy} over {provider:?}: the live objects carry the step"),
                || async {
                    (live_candidate_share(&scenario, provider).await == expected).then_some(())
                },
            )
            .await;
            let role = if strategy == "blueGreen" {
                "iris-preview"
            } else {
                "iris-canary"
            };
            assert_eq!(
                selects(&services, role).await.as_deref(),
                Some(new.as_str()),
                "{strategy} over {provider:?}"
            );
            request(&models, "iris", RequestAction::PromoteFull, TIMEOUT).await;
            let done = until_ready(&models, "iris").await.status.unwrap();
            assert_eq!(done.stable_revision.as_deref(), Some(new.as_str()));
            assert_eq!(
                live_candidate_share(&scenario, provider).await,
                (0, None, 0),
                "{strategy} over {provider:?}"
            );
            until_service_gone(&services, role).await;
            scenario.finish().await;
        });
    futures::future::join_all(runs).await;
}
