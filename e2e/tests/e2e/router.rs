//! The model router in the local cluster: `traffic.provider: router` deploys a router per
//! ModelDeployment that follows the operator's routing table; a shadow's answers are compared
//! with the stable ones by the router, and Prometheus's count of those comparisons promotes or
//! discards the shadow. A canary and an A/B test through the router are judged on the router's
//! own counts.

use std::net::SocketAddr;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use kube::api::ListParams;
use modeldeploy_api::v1alpha1::{
    AnalysisSpec, BuiltInCheck, CanaryStrategy, CheckSource, DecisionPhase,
    Duration as ApiDuration, MetricProvider, ModelDeployment, PredictionAgreement, ShadowStrategy,
    StrategySpec, SuccessRateCheck, TrafficProvider, TrafficSpec,
};
use modeldeploy_e2e::forward::PortForward;
use modeldeploy_e2e::load::{LoadSpec, Stop};
use modeldeploy_e2e::rollout::until_status;
use modeldeploy_e2e::traffic::{demo_model, predict_at, set_version};
use modeldeploy_e2e::{Scenario, until};
use tokio::task::JoinHandle;

use crate::analysis::{ab_by_proportion, until_aborted, until_decided};
use crate::strategies::{pause, weight};
use crate::{TIMEOUT, apply_md, deploy, events_about};

fn router_traffic() -> TrafficSpec {
    TrafficSpec {
        provider: TrafficProvider::Router,
        gateway_api: None,
        istio: None,
    }
}

/// A shadow of every request for 15 s whose predictions must agree on 95 % of at least 100
/// compared requests.
fn shadow_agreeing() -> Option<StrategySpec> {
    Some(StrategySpec {
        shadow: Some(ShadowStrategy {
            mirror_percent: Some(100),
            mirror_all_methods: Some(true),
            duration: ApiDuration("15s".into()),
            agreement: Some(PredictionAgreement {
                min_percent: 95,
                relative_tolerance: None,
                top_k: None,
                noise_sample_percent: None,
                tolerance: None,
                json_path: Some("$.predictions".into()),
                min_samples: Some(100),
            }),
            drift: None,
            analysis: None,
            auto_promotion: None,
        }),
        ..StrategySpec::default()
    })
}

/// The addresses of `name`'s ready router pods, once there are two and one answers a
/// prediction.
async fn until_routers_serve(pods: &Api<Pod>, name: &str) -> Vec<SocketAddr> {
    until(TIMEOUT, "two router pods are ready and answer", || async {
        let listed = pods
            .list(&ListParams::default().labels(&format!("modeldeploy.io/router={name}")))
            .await
            .ok()?;
        let addresses: Vec<SocketAddr> = listed
            .items
            .iter()
            .filter(|p| {
                p.status.as_ref().is_some_and(|s| {
                    s.conditions
                        .iter()
                        .flatten()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
                })
            })
            .filter_map(|p| p.status.as_ref()?.pod_ip.as_ref()?.parse().ok())
            .map(|ip| SocketAddr::new(ip, 8080))
            .collect();
        if addresses.len() < 2 {
            return None;
        }
        predict_at(addresses[0]).await.ok()?;
        Some(addresses)
    })
    .await
}

/// `rate` requests a second to the router replica at `router` for up to five minutes, through a
/// port-forward kept as long as the load runs.
async fn load_through(router: SocketAddr, rate: f64) -> (PortForward, JoinHandle<()>) {
    let forward = PortForward::start(router).await;
    let spec = LoadSpec {
        rate,
        stop: Stop::After(Duration::from_secs(300)),
        ..LoadSpec::new(forward.local)
    };
    let load = tokio::spawn(async move {
        let report = modeldeploy_e2e::load::run(spec).await;
        assert!(report.is_ok(), "{report:?}");
    });
    (forward, load)
}

#[tokio::test]
async fn a_shadow_that_agrees_is_promoted_and_one_that_disagrees_is_discarded_with_its_figure() {
    let scenario = Scenario::start("router-shadow", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let mut md = demo_model("iris", "1", 1, router_traffic(), shadow_agreeing(), &[]);
    let first = deploy(&models, &md).await;
    let routers = until_routers_serve(&scenario.api(), "iris").await;
    // Real requests to one router replica, for the whole test.
    let (forward, load) = load_through(routers[0], 50.0).await;

    // Version 2 answers as version 1 does: promoted by its agreement.
    set_version(&mut md, "2", &[]);
    apply_md(&models, &md).await;
    let promoted = until_status(
        &models,
        "iris",
        Duration::from_secs(180),
        "the agreeing shadow is promoted",
        |s| s.stable_revision.as_deref().is_some_and(|r| r != first) && s.rollout.is_none(),
    )
    .await;
    let second = promoted.stable_revision.clone().unwrap_or_default();
    let events: Api<Event> = scenario.api();
    let seen = events_about(&events, "iris").await;
    assert!(
        seen.iter()
            .any(|(reason, note)| reason == "AnalysisSuccessful" && note.contains("agreement")),
        "no AnalysisSuccessful event about the agreement: {seen:?}"
    );

    // Version 3 moves every answer to another class: discarded, and the figure is kept.
    set_version(&mut md, "3", &[("PERTURBATION", "1")]);
    apply_md(&models, &md).await;
    let status = Box::pin(until_aborted(
        &models,
        "the disagreeing shadow is discarded",
    ))
    .await;
    load.abort();
    drop(forward);
    assert_eq!(status.stable_revision.as_deref(), Some(second.as_str()));
    let rollout = status.rollout.as_ref().unwrap();
    let reason = rollout.abort_reason.as_deref().unwrap_or_default();
    assert!(reason.contains("agreement Failed"), "{reason}");
    let agreement = rollout
        .analysis
        .iter()
        .find(|a| a.name == "agreement")
        .expect("the agreement analysis in status");
    let figure: f64 = agreement.metrics[0]
        .measurements
        .last()
        .and_then(|m| m.value.as_deref())
        .and_then(|v| v.parse().ok())
        .expect("a measured agreement");
    assert!(figure < 5.0, "every answer differed, yet {figure} % agreed");
    let seen = events_about(&events, "iris").await;
    assert!(
        seen.iter()
            .any(|(_, note)| note.contains("agreement") && note.contains(&format!("{figure}"))),
        "no event names the agreement figure {figure}: {seen:?}"
    );
    scenario.finish().await;
}

/// Requests the router replica at `metrics` answered, by revision, from its own metrics.
async fn routed(metrics: SocketAddr) -> Option<std::collections::BTreeMap<String, f64>> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<hyper::body::Bytes>>();
    let uri: hyper::Uri = format!("http://{metrics}/metrics").parse().ok()?;
    let response = client.get(uri).await.ok()?;
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .ok()?
        .to_bytes();
    let mut counts = std::collections::BTreeMap::new();
    for line in String::from_utf8_lossy(&body).lines() {
        let Some(rest) = line.strip_prefix("modeldeploy_router_requests_total{revision=\"") else {
            continue;
        };
        let (revision, rest) = rest.split_once('"')?;
        let value: f64 = rest.rsplit(' ').next()?.parse().ok()?;
        *counts.entry(revision.to_owned()).or_default() += value;
    }
    Some(counts)
}

#[tokio::test]
async fn a_canary_through_the_router_splits_exactly_and_analysis_promotes_or_rolls_it_back() {
    let scenario = Scenario::start("router-canary", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let strategy = Some(StrategySpec {
        canary: Some(CanaryStrategy {
            steps: vec![weight(50), pause(Some("20s"))],
            // Judged on the router's own counts of the candidate's answers.
            analysis: Some(AnalysisSpec {
                checks: vec![BuiltInCheck {
                    source: Some(CheckSource::Router),
                    interval: Some(ApiDuration("10s".into())),
                    count: None,
                    failure_limit: None,
                    min_requests: None,
                    success_rate: Some(SuccessRateCheck {
                        min_percent: Some("95".into()),
                        max_drop_percent: None,
                    }),
                    latency: None,
                }],
                ..AnalysisSpec::default()
            }),
            ..CanaryStrategy::default()
        }),
        ..StrategySpec::default()
    });
    let mut md = demo_model("iris", "1", 1, router_traffic(), strategy, &[]);
    let first = deploy(&models, &md).await;
    let routers = until_routers_serve(&scenario.api(), "iris").await;
    let (forward, load) = load_through(routers[0], 50.0).await;
    let metrics = SocketAddr::new(routers[0].ip(), 9090);

    set_version(&mut md, "2", &[]);
    apply_md(&models, &md).await;
    let at_half = until_status(&models, "iris", TIMEOUT, "the canary takes 50 %", |s| {
        s.rollout.as_ref().is_some_and(|r| r.step_index == 1)
    })
    .await;
    let second = at_half.candidate_revision.clone().unwrap_or_default();
    // While the canary holds 50 %, the router sends exactly every other request to it.
    let before = routed(metrics).await.expect("the router's metrics");
    let after = until(TIMEOUT, "200 more requests through the router", || async {
        let now = routed(metrics).await?;
        let more: f64 = now.values().sum::<f64>() - before.values().sum::<f64>();
        (more >= 200.0).then_some(now)
    })
    .await;
    let grew =
        |r: &str| after.get(r).copied().unwrap_or(0.0) - before.get(r).copied().unwrap_or(0.0);
    let share = grew(&second) / (grew(&second) + grew(&first));
    assert!(
        (0.48..=0.52).contains(&share),
        "the canary got {share} of {after:?}"
    );
    until_status(
        &models,
        "iris",
        Duration::from_secs(180),
        "the healthy canary is promoted",
        |s| s.stable_revision.as_deref() == Some(second.as_str()) && s.rollout.is_none(),
    )
    .await;

    // Version 3 fails half of its requests: rolled back by the analysis of the router's traffic.
    set_version(&mut md, "3", &[("ERROR_RATE", "0.5")]);
    apply_md(&models, &md).await;
    let status = Box::pin(until_aborted(&models, "the failing canary is rolled back")).await;
    load.abort();
    drop(forward);
    assert_eq!(status.stable_revision.as_deref(), Some(second.as_str()));
    let reason = status
        .rollout
        .as_ref()
        .and_then(|r| r.abort_reason.clone())
        .unwrap_or_default();
    assert!(reason.contains("success-rate Failed"), "{reason}");
    scenario.finish().await;
}

/// The requests `{{revision}}` answered through the router since the test began; with
/// `not_failed`, those not answered 5xx.
fn router_answers(not_failed: bool) -> MetricProvider {
    let filter = if not_failed { r#",code!="5xx""# } else { "" };
    MetricProvider::prometheus(format!(
        r#"sum(increase(modeldeploy_router_requests_total{{namespace="{{{{namespace}}}}",modeldeploy_io_router="{{{{name}}}}",revision="{{{{revision}}}}"{filter}}}[{{{{elapsed}}}}]))"#
    ))
}

#[tokio::test]
async fn an_ab_test_through_the_router_promotes_the_candidate_its_counts_show_better() {
    let scenario = Scenario::start("router-abtest", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let strategy = ab_by_proportion(router_answers(true), router_answers(false));
    // The stable version fails a tenth of its requests; the candidate none.
    let mut md = demo_model(
        "iris",
        "1",
        1,
        router_traffic(),
        strategy,
        &[("ERROR_RATE", "0.1")],
    );
    let first = deploy(&models, &md).await;
    let routers = until_routers_serve(&scenario.api(), "iris").await;
    let (forward, load) = load_through(routers[0], 100.0).await;
    set_version(&mut md, "2", &[]);
    apply_md(&models, &md).await;
    let decision = Box::pin(until_decided(&models)).await;
    assert_eq!(decision.phase, DecisionPhase::CandidateWins, "{decision:?}");
    until_status(
        &models,
        "iris",
        Duration::from_secs(180),
        "the winner is promoted",
        |s| s.stable_revision.as_deref().is_some_and(|r| r != first) && s.rollout.is_none(),
    )
    .await;
    load.abort();
    drop(forward);
    scenario.finish().await;
}
