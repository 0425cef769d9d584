//! Real requests through the local cluster: demo model servers on the pods' addresses, Traefik
//! serving the Gateway, Prometheus scraping both the servers and the operator. Each test asserts
//! what a client of the model would see while a rollout runs.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;
use modeldeploy_api::v1alpha1::{
    AbTestStrategy, HeaderMatch, HeaderMatchType, ModelDeployment, Phase, RequestAction,
    RouteMatch, StrategySpec,
};
use modeldeploy_e2e::load::{LoadReport, LoadSpec, Stop};
use modeldeploy_e2e::rollout::{reported_weight, request, until_status};
use modeldeploy_e2e::traffic::{
    Gateway, Prometheus, demo_model, predict_at, set_version, until_gateway_serves,
};
use modeldeploy_e2e::{Scenario, until};
use modeldeploy_operator::traffic::HTTPRoute;

use crate::strategies::{blue_green_manual, canary, pause, shadow_long, weight};
use crate::{TIMEOUT, apply_md, deploy};

/// Requests per measured step: enough for ±3 points at any weight (the binomial standard
/// deviation of a share over 2,000 requests is at most 1.1 points).
const STEP_REQUESTS: u64 = 2_000;
const RATE: f64 = 400.0;

fn host(scenario: &Scenario) -> String {
    format!("{}.models.local", scenario.ns.name)
}

/// Sends `STEP_REQUESTS` through the gateway and asserts the candidate's share is `expected` %
/// within 3 points, with no failed request.
async fn assert_split(gateway: &Gateway, host: &str, candidate: &str, expected: i32) -> LoadReport {
    let report = gateway.send(gateway.load(host, RATE, STEP_REQUESTS)).await;
    let share = report.share(candidate) * 100.0;
    eprintln!("step at {expected}%: the candidate answered {share:.1}%\n{report}");
    assert!(
        (share - f64::from(expected)).abs() <= 3.0,
        "at {expected}% the candidate answered {share:.1}% of requests:\n{report}"
    );
    assert_eq!(report.errors(), 0, "no request fails:\n{report}");
    assert!(report.total() >= STEP_REQUESTS, "{report}");
    report
}

/// Waits until the rollout of `iris` is at step `index` with `candidate_weight` % reported, and
/// the gateway serves the route as written.
async fn until_step(scenario: &Scenario, index: i32, candidate_weight: i32) {
    let models: Api<ModelDeployment> = scenario.api();
    crate::strategies::until_step(&models, index, candidate_weight).await;
    until_gateway_serves(&scenario.cluster.client, &scenario.ns.name, "iris").await;
}

#[tokio::test]
async fn canary_through_the_gateway_serves_each_step_weight_and_an_abort_returns_all_traffic_at_once()
 {
    let scenario = Scenario::start("traffic-canary", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let gateway = Gateway::local();
    let host = host(&scenario);
    let steps = vec![
        weight(10),
        pause(None),
        weight(30),
        pause(None),
        weight(60),
        pause(None),
    ];
    let mut md = demo_model("iris", "1", 2, gateway.traffic(&host), canary(steps), &[]);
    deploy(&models, &md).await;
    until_gateway_serves(&scenario.cluster.client, &scenario.ns.name, "iris").await;
    let report = gateway.send(gateway.load(&host, RATE, 500)).await;
    assert_eq!(
        report.count("1"),
        report.total(),
        "all on version 1:\n{report}"
    );

    set_version(&mut md, "2", &[]);
    apply_md(&models, &md).await;
    for (index, expected) in [(1, 10), (3, 30), (5, 60)] {
        until_step(&scenario, index, expected).await;
        assert_split(&gateway, &host, "2", expected).await;
        if index < 5 {
            request(&models, "iris", RequestAction::Promote, TIMEOUT).await;
        }
    }

    // Abort under steady load: from 2 s after the request on, every answer comes from stable.
    let load = tokio::spawn(modeldeploy_e2e::load::run(LoadSpec {
        record_timeline: true,
        stop: Stop::After(Duration::from_secs(6)),
        ..gateway.load(&host, RATE, 0)
    }));
    let started = std::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let aborted_at = started.elapsed();
    request(&models, "iris", RequestAction::Abort, TIMEOUT).await;
    let report = load.await.unwrap().unwrap();
    let timeline = report.timeline.as_ref().unwrap();
    let settled = timeline
        .settled_on("1")
        .expect("traffic settles on stable after the abort");
    eprintln!("abort at {aborted_at:?}, all answers from stable from {settled:?} on\n{report}");
    assert!(
        settled <= aborted_at + Duration::from_secs(2),
        "all answers come from stable {:?} after the abort request; expected within 2 s\n{report}",
        settled.saturating_sub(aborted_at)
    );
    assert_eq!(
        report.errors(),
        0,
        "no request fails during the abort:\n{report}"
    );
    scenario.finish().await;
}

#[tokio::test]
async fn every_pod_answers_on_its_ip_and_a_model_that_fails_to_start_gets_no_traffic() {
    let scenario = Scenario::start("traffic-pods", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let pods: Api<Pod> = scenario.api();
    let gateway = Gateway::local();
    let host = host(&scenario);
    let mut md = demo_model(
        "iris",
        "1",
        3,
        gateway.traffic(&host),
        canary(vec![weight(50), pause(None)]),
        &[],
    );
    deploy(&models, &md).await;
    let listed = pods
        .list(&ListParams::default().labels("modeldeploy.io/deployment=iris"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 3);
    for pod in &listed.items {
        let ip = pod.status.as_ref().unwrap().pod_ip.clone().unwrap();
        let address = format!("{ip}:8080").parse().unwrap();
        assert_eq!(predict_at(address).await, Ok("1".to_owned()), "pod {ip}");
    }

    // A version whose server exits at start-up: its pods never become Ready, the canary never
    // reaches its first weight, and every request is still answered by version 1.
    set_version(&mut md, "2", &[("FAIL_TO_START", "true")]);
    apply_md(&models, &md).await;
    let candidate = until_status(&models, "iris", TIMEOUT, "a candidate is started", |s| {
        s.candidate_revision.is_some()
    })
    .await
    .candidate_revision
    .unwrap();
    let selector = format!("modeldeploy.io/deployment=iris,modeldeploy.io/revision={candidate}");
    until(
        TIMEOUT,
        "the candidate's servers have crashed and restarted",
        || {
            let pods = pods.clone();
            let selector = selector.clone();
            async move {
                let listed = pods
                    .list(&ListParams::default().labels(&selector))
                    .await
                    .ok()?;
                let restarted = listed.items.iter().all(|pod| {
                    pod.status
                        .as_ref()
                        .and_then(|s| s.container_statuses.as_ref())
                        .is_some_and(|cs| cs.iter().all(|c| c.restart_count >= 1 && !c.ready))
                });
                (!listed.items.is_empty() && restarted).then_some(())
            }
        },
    )
    .await;
    let status = models.get("iris").await.unwrap().status.unwrap();
    assert_eq!(reported_weight(&status, &candidate), 0, "{status:?}");
    let report = gateway.send(gateway.load(&host, RATE, 1_000)).await;
    assert_eq!(
        report.count("1"),
        1_000,
        "only version 1 answers:\n{report}"
    );
    scenario.finish().await;
}

#[tokio::test]
async fn ab_test_through_the_gateway_sends_testers_to_the_candidate_and_splits_the_rest() {
    let scenario = Scenario::start("traffic-ab", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let gateway = Gateway::local();
    let host = host(&scenario);
    let strategy = Some(StrategySpec {
        ab_test: Some(AbTestStrategy {
            weight: Some(30),
            stickiness: None,
            matches: vec![RouteMatch {
                headers: vec![HeaderMatch {
                    name: "x-group".into(),
                    value: "b".into(),
                    match_type: HeaderMatchType::Exact,
                }],
            }],
            max_duration: modeldeploy_api::v1alpha1::Duration("2h".into()),
            analysis: None,
            decision: None,
        }),
        ..StrategySpec::default()
    });
    let mut md = demo_model("iris", "1", 2, gateway.traffic(&host), strategy, &[]);
    deploy(&models, &md).await;
    set_version(&mut md, "2", &[]);
    apply_md(&models, &md).await;
    until_step(&scenario, 1, 30).await;

    let testers = gateway
        .send(LoadSpec {
            headers: vec![("x-group".into(), "b".into())],
            ..gateway.load(&host, RATE, STEP_REQUESTS)
        })
        .await;
    assert_eq!(
        testers.count("2"),
        STEP_REQUESTS,
        "every request with x-group: b reaches the candidate:\n{testers}"
    );
    assert_split(&gateway, &host, "2", 30).await;
    scenario.finish().await;
}

#[tokio::test]
async fn blue_green_switch_under_steady_load_fails_no_request() {
    let scenario = Scenario::start("traffic-bg", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let gateway = Gateway::local();
    let host = host(&scenario);
    let mut md = demo_model(
        "iris",
        "1",
        2,
        gateway.traffic(&host),
        blue_green_manual(),
        &[],
    );
    deploy(&models, &md).await;
    set_version(&mut md, "2", &[]);
    apply_md(&models, &md).await;
    until_status(
        &models,
        "iris",
        TIMEOUT,
        "the preview waits for promotion",
        |s| s.phase == Some(Phase::Paused),
    )
    .await;
    until_gateway_serves(&scenario.cluster.client, &scenario.ns.name, "iris").await;

    let load = tokio::spawn(modeldeploy_e2e::load::run(LoadSpec {
        record_timeline: true,
        stop: Stop::After(Duration::from_secs(8)),
        ..gateway.load(&host, RATE, 0)
    }));
    // Load before the switch, so that the switch happens under it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    request(&models, "iris", RequestAction::Promote, TIMEOUT).await;
    let report = load.await.unwrap().unwrap();
    eprintln!("blue/green switch under load:\n{report}");
    assert_eq!(
        report.errors(),
        0,
        "no request fails over the switch:\n{report}"
    );
    assert!(
        report.count("1") > 0,
        "version 1 served before the switch:\n{report}"
    );
    let timeline = report.timeline.as_ref().unwrap();
    assert!(
        timeline.settled_on("2").is_some(),
        "version 2 serves everything after the switch:\n{report}"
    );
    scenario.finish().await;
}

#[tokio::test]
async fn prometheus_scrapes_the_model_servers_and_the_operator() {
    let scenario = Scenario::start("traffic-prom", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let gateway = Gateway::local();
    let prometheus = Prometheus::local();
    let host = host(&scenario);
    let job = format!("operator-{}", scenario.ns.name);
    prometheus.scrape(&job, scenario.operator.http_address());

    let mut md = demo_model(
        "iris",
        "1",
        2,
        gateway.traffic(&host),
        canary(vec![weight(50), pause(None)]),
        &[],
    );
    deploy(&models, &md).await;
    set_version(&mut md, "2", &[("ERROR_RATE", "0.2"), ("SEED", "11")]);
    apply_md(&models, &md).await;
    until_step(&scenario, 1, 50).await;

    // 200 requests a second, half of them to the candidate, which fails a fifth of its requests.
    let load = tokio::spawn(modeldeploy_e2e::load::run(LoadSpec {
        stop: Stop::After(Duration::from_secs(90)),
        ..gateway.load(&host, 200.0, 0)
    }));
    let ns = &scenario.ns.name;
    let rate = format!(
        "sum(rate(demo_model_inference_requests_total{{namespace=\"{ns}\",model_version=\"2\"}}[10s]))"
    );
    let errors = format!(
        "sum(rate(demo_model_inference_requests_total{{namespace=\"{ns}\",model_version=\"2\",code=\"500\"}}[10s])) / {rate}"
    );
    let (seen_rate, seen_errors) = until(
        TIMEOUT,
        "Prometheus reports the candidate at about 100 requests/s with about 20 % errors",
        || {
            let prometheus = prometheus.clone();
            let (rate, errors) = (rate.clone(), errors.clone());
            async move {
                let seen_rate = prometheus.value(&rate).await?;
                let seen_errors = prometheus.value(&errors).await?;
                ((seen_rate - 100.0).abs() <= 15.0 && (seen_errors - 0.2).abs() <= 0.05)
                    .then_some((seen_rate, seen_errors))
            }
        },
    )
    .await;
    eprintln!("candidate: {seen_rate:.1} requests/s, error ratio {seen_errors:.3}");
    load.abort();

    let up = format!("up{{component=\"{job}\"}}");
    let reconciles = format!("sum(modeldeploy_reconciles_total{{component=\"{job}\"}})");
    until(TIMEOUT, "Prometheus scrapes the operator", || {
        let prometheus = prometheus.clone();
        let (up, reconciles) = (up.clone(), reconciles.clone());
        async move {
            (prometheus.value(&up).await? == 1.0 && prometheus.value(&reconciles).await? > 0.0)
                .then_some(())
        }
    })
    .await;
    scenario.finish().await;
}

#[tokio::test]
async fn shadow_through_a_gateway_that_cannot_mirror_is_refused_and_clients_see_only_stable() {
    let scenario = Scenario::start("traffic-shadow", false).await;
    let models: Api<ModelDeployment> = scenario.api();
    let routes: Api<HTTPRoute> = scenario.api();
    let gateway = Gateway::local();
    let host = host(&scenario);
    let mut md = demo_model("iris", "1", 2, gateway.traffic(&host), shadow_long(50), &[]);
    deploy(&models, &md).await;
    set_version(&mut md, "2", &[]);
    apply_md(&models, &md).await;

    // Traefik 3.6 publishes no HTTPRouteRequestMirror in its GatewayClass status, and answers
    // 500 for a rule with a mirror: the operator says so instead of writing one.
    let status = until_status(&models, "iris", TIMEOUT, "the shadow is refused", |s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.reason == "TrafficNotSupported")
    })
    .await;
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert!(
        ready.message.contains("HTTPRouteRequestMirror"),
        "the status names the missing feature: {ready:?}"
    );
    let route = routes.get("iris").await.unwrap();
    assert!(
        route.spec.rules.iter().all(|r| r.filters.is_empty()),
        "no mirror is written: {route:?}"
    );
    until_gateway_serves(&scenario.cluster.client, &scenario.ns.name, "iris").await;
    let report = gateway.send(gateway.load(&host, RATE, 1_000)).await;
    assert_eq!(
        report.count("1"),
        1_000,
        "every answer comes from stable:\n{report}"
    );
    scenario.finish().await;
}
