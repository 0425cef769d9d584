//! Blue/green analysis with real traffic: the preview is reached through a route of its own (as
//! teams expose a preview host name), its metrics decide the switch, and the metrics after the
//! switch can switch back.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::events::v1::Event;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, PostParams};
use modeldeploy_api::v1alpha1::{
    BlueGreenStrategy, Duration as ApiDuration, RolloutStage, StrategySpec,
};
use modeldeploy_e2e::Scenario;
use modeldeploy_e2e::load::{LoadSpec, Stop};
use modeldeploy_e2e::rollout::{reported_weight, until_status};
use modeldeploy_e2e::traffic::Gateway;

use crate::analysis::{ERROR_RATE, P99, analysis, metric, rolling_out_from, until_aborted};
use crate::events_about;

/// An HTTPRoute `iris-preview` for `preview.<namespace>.models.local` to the preview Service,
/// and steady load on it. Created once the rollout has started, as the Service is the rollout's.
async fn preview_route(scenario: &Scenario) -> tokio::task::JoinHandle<()> {
    let gateway = Gateway::local();
    let host = format!("preview.{}.models.local", scenario.ns.name);
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "gateway.networking.k8s.io",
        "v1",
        "HTTPRoute",
    ));
    let routes: Api<DynamicObject> = Api::namespaced_with(
        scenario.cluster.client.clone(),
        &scenario.ns.name,
        &resource,
    );
    let mut route = DynamicObject::new("iris-preview", &resource);
    route.data = serde_json::json!({"spec": {
        "parentRefs": [{"namespace": gateway.namespace, "name": gateway.name}],
        "hostnames": [host],
        "rules": [{"backendRefs": [{"name": "iris-preview", "port": 8080}]}],
    }});
    routes.create(&PostParams::default(), &route).await.unwrap();
    tokio::spawn(async move {
        let _ = modeldeploy_e2e::load::run(LoadSpec {
            stop: Stop::After(Duration::from_secs(240)),
            ..gateway.load(&host, 50.0, 0)
        })
        .await;
    })
}

fn blue_green(
    pre: Vec<modeldeploy_api::v1alpha1::Metric>,
    post: Vec<modeldeploy_api::v1alpha1::Metric>,
) -> Option<StrategySpec> {
    Some(StrategySpec {
        blue_green: Some(BlueGreenStrategy {
            auto_promotion: None,
            // A timer far shorter than the analysis: it must not switch before the analysis passed.
            auto_promotion_after: Some(ApiDuration("1s".into())),
            preview_replicas: Some(1),
            pre_promotion_analysis: Some(analysis(pre)),
            post_promotion_analysis: (!post.is_empty()).then(|| analysis(post)),
        }),
        ..StrategySpec::default()
    })
}

#[tokio::test]
async fn a_failing_preview_never_takes_traffic() {
    let scenario = Scenario::start("bg-pre", false).await;
    let strategy = blue_green(
        vec![metric("error-rate", ERROR_RATE, "result > 0.05", Some(2))],
        Vec::new(),
    );
    let (models, old, load) = Box::pin(rolling_out_from(
        &scenario,
        strategy,
        &[],
        &[("ERROR_RATE", "0.5")],
    ))
    .await;
    let preview = preview_route(&scenario).await;
    let switched = Arc::new(Mutex::new(None));
    let seen = switched.clone();
    let status = Box::pin(until_status(
        &models,
        "iris",
        Duration::from_secs(120),
        "the preview is discarded",
        move |s| {
            if s.traffic.iter().any(|t| t.revision != old && t.weight > 0) {
                *seen.lock().unwrap() = Some(s.clone());
            }
            s.rollout
                .as_ref()
                .is_some_and(|r| r.stage == RolloutStage::Aborted)
        },
    ))
    .await;
    load.abort();
    preview.abort();
    assert!(
        switched.lock().unwrap().is_none(),
        "traffic moved to the failing preview: {switched:?}"
    );
    let rollout = status.rollout.as_ref().unwrap();
    let reason = rollout.abort_reason.as_deref().unwrap_or_default();
    assert!(reason.contains("prePromotion failed"), "{reason}");
    let events: Api<Event> = scenario.api();
    let events = events_about(&events, "iris").await;
    assert!(
        !events.iter().any(|(reason, _)| reason == "TrafficSwitched"),
        "{events:?}"
    );
    scenario.finish().await;
}

#[tokio::test]
async fn a_switch_is_made_only_after_the_preview_passed_and_a_failure_after_it_switches_back() {
    let scenario = Scenario::start("bg-post", false).await;
    // Errors pass before the switch; the p99 of 300 ms fails after it.
    let strategy = blue_green(
        vec![metric("error-rate", ERROR_RATE, "result > 0.05", Some(2))],
        vec![metric("p99-latency", P99, "result > 0.2", Some(3))],
    );
    let (models, old, load) = Box::pin(rolling_out_from(
        &scenario,
        strategy,
        &[],
        &[("LATENCY_MS", "300")],
    ))
    .await;
    let preview = preview_route(&scenario).await;
    let early = Arc::new(Mutex::new(None));
    let seen = early.clone();
    let old_revision = old.clone();
    Box::pin(until_status(
        &models,
        "iris",
        Duration::from_secs(120),
        "traffic switches to the preview",
        move |s| {
            let switched = s
                .traffic
                .iter()
                .any(|t| t.revision != old_revision && t.weight > 0);
            let pre_passed = s.rollout.as_ref().is_some_and(|r| {
                r.analysis.iter().any(|a| {
                    a.name == "prePromotion"
                        && a.phase == modeldeploy_api::v1alpha1::AnalysisPhase::Successful
                })
            });
            if switched && !pre_passed {
                *seen.lock().unwrap() = Some(s.clone());
            }
            switched
        },
    ))
    .await;
    assert!(
        early.lock().unwrap().is_none(),
        "switched before the analysis passed: {early:?}"
    );
    let status = Box::pin(until_aborted(
        &models,
        "the post-promotion analysis switches back",
    ))
    .await;
    load.abort();
    preview.abort();
    let rollout = status.rollout.as_ref().unwrap();
    let reason = rollout.abort_reason.as_deref().unwrap_or_default();
    assert!(reason.contains("postPromotion failed"), "{reason}");
    assert_eq!(reported_weight(&status, &old), 100, "{status:?}");
    assert_eq!(status.stable_revision.as_deref(), Some(old.as_str()));
    scenario.finish().await;
}
