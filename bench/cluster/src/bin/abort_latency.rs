//! How long from `kubectl modeldeploy abort` to all traffic back on the stable revision, as the
//! API server holds it (Service selector, HTTPRoute weights, VirtualService weights), with a warm
//! operator on the local control plane. Prints a table; run with `make bench`.
//!
//! Each round: a canary holds 50 % on the candidate; the abort request is written (the
//! annotation the plugin writes) and the clock stops when a watch shows the routing object
//! sending everything to the stable revision; then `retry` brings the canary back to 50 %.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Service;
use kube::Api;
use kube::api::{Patch, PatchParams};
use modeldeploy_api::v1alpha1::{
    CanaryStep, CanaryStrategy, GatewayApiTraffic, IstioTraffic, ModelDeployment, ParentReference,
    PauseStep, Phase, REQUEST_ANNOTATION, RequestAction, RolloutRequest, StrategySpec,
    TrafficProvider, TrafficSpec,
};
use modeldeploy_e2e::rollout::{request, until_status};
use modeldeploy_e2e::{Scenario, sample, until_object};
use modeldeploy_operator::render::selected_revision;
use modeldeploy_operator::traffic::{HTTPRoute, VirtualService};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(90);

fn traffic(provider: TrafficProvider) -> TrafficSpec {
    TrafficSpec {
        provider,
        gateway_api: (provider == TrafficProvider::GatewayApi).then(|| GatewayApiTraffic {
            parent_refs: vec![ParentReference {
                group: None,
                kind: None,
                namespace: None,
                name: "inference".into(),
                section_name: None,
                port: None,
            }],
            hostnames: vec![],
        }),
        istio: (provider == TrafficProvider::Istio).then(|| IstioTraffic {
            hosts: vec!["bench.models.example.com".into()],
            gateways: vec![],
        }),
    }
}

fn model(name: &str, provider: TrafficProvider, version: &str) -> ModelDeployment {
    let mut md = sample("iris-sklearn.yaml");
    md.metadata.name = Some(name.to_owned());
    md.metadata.namespace = None;
    md.spec.model.version = version.to_owned();
    md.spec.replicas = 1;
    md.spec.abort_scale_down_delay_seconds = Some(300);
    md.spec.traffic = traffic(provider);
    md.spec.strategy = Some(StrategySpec {
        canary: Some(CanaryStrategy {
            steps: vec![
                CanaryStep {
                    set_weight: Some(50),
                    ..CanaryStep::default()
                },
                CanaryStep {
                    pause: Some(PauseStep { duration: None }),
                    ..CanaryStep::default()
                },
            ],
            ..CanaryStrategy::default()
        }),
        ..StrategySpec::default()
    });
    md
}

async fn apply(api: &Api<ModelDeployment>, md: &ModelDeployment) {
    api.patch(
        md.metadata.name.as_deref().unwrap(),
        &PatchParams::apply("bench").force(),
        &Patch::Apply(md),
    )
    .await
    .unwrap();
}

/// Waits until the routing object of `provider` sends every request to `stable`.
async fn until_on_stable(scenario: &Scenario, name: &str, provider: TrafficProvider, stable: &str) {
    let stable_service = format!("{name}-stable");
    match provider {
        TrafficProvider::GatewayApi => {
            let api: Api<HTTPRoute> = scenario.api();
            until_object(
                &api,
                name,
                TIMEOUT,
                "the HTTPRoute is back on stable",
                |r| {
                    r.spec.rules.iter().all(|rule| {
                        rule.backend_refs
                            .iter()
                            .all(|b| b.name == stable_service || b.weight == Some(0))
                    })
                },
            )
            .await;
        }
        TrafficProvider::Istio => {
            let api: Api<VirtualService> = scenario.api();
            until_object(
                &api,
                name,
                TIMEOUT,
                "the VirtualService is back on stable",
                |vs| {
                    vs.spec.http.iter().all(|h| {
                        h.route.iter().all(|r| {
                            r.destination
                                .host
                                .starts_with(&format!("{stable_service}."))
                                || r.weight == Some(0)
                        })
                    })
                },
            )
            .await;
        }
        TrafficProvider::Replicas | TrafficProvider::Router => {
            let api: Api<Service> = scenario.api();
            until_object(
                &api,
                name,
                TIMEOUT,
                "the Service selects only stable",
                |s| selected_revision(s).as_deref() == Some(stable),
            )
            .await;
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let scenario = Scenario::start("bench-abort", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let providers = [
        (
            "Service selector (replicas)",
            "plain",
            TrafficProvider::Replicas,
        ),
        (
            "HTTPRoute (gatewayAPI)",
            "gateway",
            TrafficProvider::GatewayApi,
        ),
        ("VirtualService (istio)", "mesh", TrafficProvider::Istio),
    ];
    println!(
        "abort → traffic on stable, as the API server holds it; {rounds} rounds each, warm operator"
    );
    println!(
        "{:<30} {:>8} {:>8} {:>8} {:>8}",
        "provider", "median", "p90", "min", "max"
    );
    for (label, name, provider) in providers {
        apply(&models, &model(name, provider, "1.0.0")).await;
        let ready = until_status(&models, name, TIMEOUT, "version 1 serves", |s| {
            s.phase == Some(Phase::Healthy)
        })
        .await;
        let stable = ready.stable_revision.unwrap();
        apply(&models, &model(name, provider, "2.0.0")).await;
        let mut timings = Vec::with_capacity(rounds);
        for round in 0..rounds {
            until_status(&models, name, TIMEOUT, "the canary holds 50 %", |s| {
                s.phase == Some(Phase::Paused)
                    && s.traffic
                        .iter()
                        .any(|t| t.revision != stable && t.weight == 50)
            })
            .await;
            let id = format!("bench-{round}");
            let value = serde_json::to_string(&RolloutRequest {
                id,
                action: RequestAction::Abort,
                to_revision: None,
            })
            .unwrap();
            let started = Instant::now();
            models
                .patch(
                    name,
                    &PatchParams::default(),
                    &Patch::Merge(
                        json!({"metadata": {"annotations": {REQUEST_ANNOTATION: value}}}),
                    ),
                )
                .await
                .unwrap();
            until_on_stable(&scenario, name, provider, &stable).await;
            timings.push(started.elapsed());
            until_status(&models, name, TIMEOUT, "the rollout is aborted", |s| {
                s.phase == Some(Phase::Aborted)
            })
            .await;
            request(&models, name, RequestAction::Retry, TIMEOUT).await;
        }
        timings.sort();
        let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
        println!(
            "{:<30} {:>8} {:>8} {:>8} {:>8}",
            label,
            ms(percentile(&timings, 0.5)),
            ms(percentile(&timings, 0.9)),
            ms(timings[0]),
            ms(timings[timings.len() - 1])
        );
    }
    scenario.finish().await;
}
