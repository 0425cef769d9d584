//! How long from a failing analysis measurement to traffic back on the stable revision: written
//! (the HTTPRoute as the API server holds it) and served (Traefik's routing, as its API shows
//! it), with a warm operator and the demo model's real pods on the local control plane. Prints a
//! table with the target beside the figures, and exits non-zero when the median misses it. Run
//! with `make bench`.
//!
//! Each round: a canary holds 50 % on the candidate under a background analysis whose web
//! metric this program serves; the metric turns bad, and the clock starts when the operator
//! reads the first bad value; then `retry` brings the canary back to 50 % with a good metric.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use kube::Api;
use modeldeploy_api::v1alpha1::{
    AnalysisSpec, CanaryStep, CanaryStrategy, Duration as ApiDuration, Metric, MetricProvider,
    ModelDeployment, PauseStep, Phase, RequestAction, StrategySpec, WebMetric,
};
use modeldeploy_e2e::rollout::{request, until_status};
use modeldeploy_e2e::traffic::{Gateway, demo_model, until_gateway_serves};
use modeldeploy_e2e::{Scenario, until_object};
use modeldeploy_operator::traffic::HTTPRoute;

const TIMEOUT: Duration = Duration::from_secs(90);
/// From the failing measurement to the route written back to stable, median.
const TARGET: Duration = Duration::from_secs(1);

/// What the web metric answers, and when it first answered a failing value.
#[derive(Debug, Default)]
struct WebValue {
    failing: bool,
    first_failing_answer: Option<Instant>,
}

type Shared = Arc<Mutex<WebValue>>;

async fn value(State(state): State<Shared>) -> String {
    let mut state = state.lock().unwrap();
    if state.failing {
        state.first_failing_answer.get_or_insert_with(Instant::now);
        r#"{"errorRate": 0.5}"#.to_owned()
    } else {
        r#"{"errorRate": 0.0}"#.to_owned()
    }
}

fn strategy(url: String) -> Option<StrategySpec> {
    let metric = Metric {
        interval: Some(ApiDuration("1s".into())),
        failure_condition: Some("result > 0.1".into()),
        ..Metric::new(
            "error-rate",
            MetricProvider {
                prometheus: None,
                web: Some(WebMetric {
                    url,
                    json_path: Some("$.errorRate".into()),
                    headers: Vec::new(),
                    timeout: None,
                }),
            },
        )
    };
    Some(StrategySpec {
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
            analysis: Some(AnalysisSpec {
                metrics: vec![metric],
                ..AnalysisSpec::default()
            }),
            ..CanaryStrategy::default()
        }),
        ..StrategySpec::default()
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> ExitCode {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let shared: Shared = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/value", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/value", get(value))
        .with_state(shared.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let scenario = Scenario::start("bench-analysis", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let routes: Api<HTTPRoute> = scenario.api();
    let gateway = Gateway::local();
    let host = format!("{}.models.local", scenario.ns.name);
    let mut md = demo_model("bench", "1", 1, gateway.traffic(&host), strategy(url), &[]);
    // The candidate keeps its pods between rounds.
    md.spec.abort_scale_down_delay_seconds = Some(300);
    let ready = Box::pin(async {
        models
            .create(&kube::api::PostParams::default(), &md)
            .await
            .unwrap();
        until_status(&models, "bench", TIMEOUT, "version 1 serves", |s| {
            s.phase == Some(Phase::Healthy)
        })
        .await
    })
    .await;
    let stable = ready.stable_revision.unwrap();
    let stable_service = "bench-stable".to_owned();
    modeldeploy_e2e::traffic::set_version(&mut md, "2", &[]);
    let mut current = models.get("bench").await.unwrap();
    current.spec = md.spec.clone();
    models
        .replace("bench", &kube::api::PostParams::default(), &current)
        .await
        .unwrap();

    let (mut written, mut served) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        Box::pin(until_status(
            &models,
            "bench",
            TIMEOUT,
            "the canary holds 50 %",
            |s| {
                s.phase == Some(Phase::Paused)
                    && s.traffic
                        .iter()
                        .any(|t| t.revision != stable && t.weight == 50)
            },
        ))
        .await;
        until_gateway_serves(&scenario.cluster.client, &scenario.ns.name, "bench").await;
        *shared.lock().unwrap() = WebValue {
            failing: true,
            first_failing_answer: None,
        };
        Box::pin(until_object(
            &routes,
            "bench",
            TIMEOUT,
            "the HTTPRoute is back on stable",
            |r| {
                r.spec.rules.iter().all(|rule| {
                    rule.backend_refs
                        .iter()
                        .all(|b| b.name == stable_service || b.weight == Some(0))
                })
            },
        ))
        .await;
        let on_route = Instant::now();
        until_gateway_serves(&scenario.cluster.client, &scenario.ns.name, "bench").await;
        let on_gateway = Instant::now();
        let failed_at = {
            let mut state = shared.lock().unwrap();
            state.failing = false;
            state.first_failing_answer.take()
        }
        .expect("the operator read the failing value before it rolled back");
        written.push(on_route.duration_since(failed_at));
        served.push(on_gateway.duration_since(failed_at));
        Box::pin(until_status(
            &models,
            "bench",
            TIMEOUT,
            "the rollout is aborted",
            |s| s.phase == Some(Phase::Aborted),
        ))
        .await;
        request(&models, "bench", RequestAction::Retry, TIMEOUT).await;
        eprintln!(
            "round {round}: written {:?}, served {:?}",
            written[round], served[round]
        );
    }
    scenario.finish().await;

    written.sort();
    served.sort();
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    println!(
        "failing measurement → traffic on stable; {rounds} rounds, warm operator, real pods, Traefik"
    );
    println!(
        "{:<38} {:>8} {:>8} {:>8} {:>14}",
        "", "median", "p90", "max", "target"
    );
    println!(
        "{:<38} {:>8} {:>8} {:>8} {:>14}",
        "written (HTTPRoute on the API)",
        ms(percentile(&written, 0.5)),
        ms(percentile(&written, 0.9)),
        ms(written[written.len() - 1]),
        format!("median ≤ {}", ms(TARGET))
    );
    println!(
        "{:<38} {:>8} {:>8} {:>8} {:>14}",
        "served (Traefik, polled every 200 ms)",
        ms(percentile(&served, 0.5)),
        ms(percentile(&served, 0.9)),
        ms(served[served.len() - 1]),
        "-"
    );
    if percentile(&written, 0.5) > TARGET {
        eprintln!("missed the target: the median is above {}", ms(TARGET));
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
