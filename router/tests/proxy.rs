//! The router over real HTTP on loopback: two model servers that name themselves, the router in
//! front, and a client that reads which revision answered.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use modeldeploy_api::routing::{RouterAgreement, TrafficPlan};
use modeldeploy_api::v1alpha1::Stickiness;
use modeldeploy_router::compare::Comparator;
use modeldeploy_router::proxy::{Limits, Proxy, REVISION_HEADER, Routes};
use modeldeploy_router::shadow::ShadowLimits;
use modeldeploy_router::table::RoutingTable;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A model server that answers every request with `name`, echoing the request body's length.
async fn backend(name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service =
                    service_fn(move |request: Request<hyper::body::Incoming>| async move {
                        let length = request
                            .into_body()
                            .collect()
                            .await
                            .map_or(0, |b| b.to_bytes().len());
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(format!(
                            "{name} {length}"
                        )))))
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

fn plan(weight: i32, stickiness: Option<Stickiness>) -> TrafficPlan {
    let mut plan = TrafficPlan::canary("old", "new", weight);
    if let Some(c) = plan.candidate.as_mut() {
        c.stickiness = stickiness;
    }
    plan
}

/// Every request, POST included, copied to the candidate.
fn mirrored() -> RoutingTable {
    let mut plan = plan(0, None);
    if let Some(c) = plan.candidate.as_mut() {
        c.mirror_percent = Some(100);
    }
    let mut table = RoutingTable::compile(&plan, "ml/iris").unwrap();
    if let Some(c) = table.candidate.as_mut() {
        c.mirror_all_methods = true;
    }
    table
}

struct Running {
    address: SocketAddr,
    routes: watch::Sender<Arc<Routes>>,
    proxy: Arc<Proxy>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Running {
    async fn start(plan: &TrafficPlan, endpoints: BTreeMap<String, Vec<SocketAddr>>) -> Running {
        let table = RoutingTable::compile(plan, "ml/iris").unwrap();
        Running::serve(table, endpoints, ShadowLimits::default()).await
    }

    async fn serve(
        table: RoutingTable,
        endpoints: BTreeMap<String, Vec<SocketAddr>>,
        shadow: ShadowLimits,
    ) -> Running {
        let (routes, watched) = watch::channel(Arc::new(Routes::new(table, endpoints)));
        let limits = Limits {
            max_body_bytes: 1024,
            shadow,
            ..Limits::default()
        };
        let proxy = Arc::new(Proxy::new(watched, limits));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(modeldeploy_router::server::serve(
            listener,
            Arc::clone(&proxy),
            std::future::pending(),
        ));
        Running {
            address,
            routes,
            proxy,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Status, answering revision and body of a request with `headers` and `body`.
    async fn send(
        &self,
        headers: &[(&str, &str)],
        body: &'static [u8],
    ) -> (StatusCode, String, String) {
        let mut request = Request::post(format!("http://{}/v2/models/iris/infer", self.address));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self
            .client
            .request(request.body(Full::new(Bytes::from_static(body))).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let revision = response
            .headers()
            .get(REVISION_HEADER)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            revision,
            String::from_utf8_lossy(&body).into_owned(),
        )
    }
}

async fn two_revisions() -> BTreeMap<String, Vec<SocketAddr>> {
    BTreeMap::from([
        (
            "old".to_owned(),
            vec![backend("old").await, backend("old").await],
        ),
        ("new".to_owned(), vec![backend("new").await]),
    ])
}

#[tokio::test]
async fn ten_thousand_requests_split_within_a_point_and_each_answer_names_its_revision() {
    let router = Running::start(&plan(20, None), two_revisions().await).await;
    let mut by_revision: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..10_000 {
        let (status, revision, body) = router.send(&[], b"{}").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            format!("{revision} 2"),
            "the header names who answered"
        );
        *by_revision.entry(revision).or_default() += 1;
    }
    let new = by_revision.get("new").copied().unwrap_or_default();
    assert!((1900..=2100).contains(&new), "{by_revision:?}");
}

#[tokio::test]
async fn a_user_keeps_their_variant_and_a_weight_change_moves_users_only_into_the_candidate() {
    let stickiness = Some(Stickiness {
        header: Some("x-user".into()),
        cookie: None,
    });
    let endpoints = two_revisions().await;
    let router = Running::start(&plan(10, stickiness.clone()), endpoints.clone()).await;
    let mut at_ten = BTreeMap::new();
    for i in 0..1000 {
        let user = format!("user-{i}");
        let (_, first, _) = router.send(&[("x-user", &user)], b"").await;
        let (_, again, _) = router.send(&[("x-user", &user)], b"").await;
        assert_eq!(first, again, "{user} moved between two requests");
        at_ten.insert(user, first);
    }
    let table = RoutingTable::compile(&plan(20, stickiness), "ml/iris").unwrap();
    router
        .routes
        .send_replace(Arc::new(Routes::new(table, endpoints)));
    let mut moved_in = 0;
    for (user, before) in &at_ten {
        let (_, now, _) = router.send(&[("x-user", user)], b"").await;
        if before == "new" {
            assert_eq!(now, "new", "{user} moved out of the candidate");
        } else if now == "new" {
            moved_in += 1;
        }
    }
    assert!(
        (50..=150).contains(&moved_in),
        "{moved_in} of 1000 users moved in"
    );
}

#[tokio::test]
async fn oversized_bodies_missing_endpoints_and_dead_backends_get_plain_answers() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = listener.local_addr().unwrap();
    drop(listener);
    let endpoints = BTreeMap::from([("old".to_owned(), vec![dead])]);
    let router = Running::start(&plan(0, None), endpoints).await;
    let (status, revision, _) = router.send(&[], b"x").await;
    assert_eq!(
        (status, revision.as_str()),
        (StatusCode::BAD_GATEWAY, "old")
    );
    let (status, _, _) = router.send(&[], &[b'x'; 2048]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    let table = RoutingTable::compile(&plan(100, None), "ml/iris").unwrap();
    router
        .routes
        .send_replace(Arc::new(Routes::new(table, BTreeMap::new())));
    let (status, revision, _) = router.send(&[], b"").await;
    assert_eq!(
        (status, revision.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "new")
    );
}

/// A server that takes connections and never answers.
async fn hung() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    address
}

/// Stable answers from a real server; every request, POST included, copied to `shadow`.
async fn shadowed(shadow: SocketAddr, concurrency: usize) -> Running {
    let table = mirrored();
    let endpoints = BTreeMap::from([
        ("old".to_owned(), vec![backend("old").await]),
        ("new".to_owned(), vec![shadow]),
    ]);
    let limits = ShadowLimits {
        concurrency,
        timeout: std::time::Duration::from_secs(120),
    };
    Running::serve(table, endpoints, limits).await
}

#[tokio::test]
async fn a_shadow_that_never_answers_changes_nothing_users_get_and_full_slots_drop_copies() {
    let router = shadowed(hung().await, 4).await;
    for _ in 0..50 {
        // Each answer arrives while the copies before it still hang.
        let (status, revision, body) = router.send(&[], b"{}").await;
        assert_eq!(
            (status, revision.as_str(), body.as_str()),
            (StatusCode::OK, "old", "old 2")
        );
    }
    let counts = router.proxy.shadow_counts();
    assert_eq!(counts.sent.get(), 4, "one copy per slot");
    assert_eq!(counts.dropped.get(), 46);
}

#[tokio::test]
async fn a_dead_shadow_changes_nothing_users_get_its_failures_are_counted_and_it_rests() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = listener.local_addr().unwrap();
    drop(listener);
    let router = shadowed(dead, 64).await;
    let (status, revision, _) = router.send(&[], b"{}").await;
    assert_eq!((status, revision.as_str()), (StatusCode::OK, "old"));
    let counts = router.proxy.shadow_counts();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while counts.failed.get() < 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "failure not counted: {counts:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // The refused connection rests the shadow: the next copies are dropped, not each refused.
    for _ in 0..19 {
        let (status, revision, _) = router.send(&[], b"{}").await;
        assert_eq!((status, revision.as_str()), (StatusCode::OK, "old"));
    }
    assert_eq!((counts.sent.get(), counts.dropped.get()), (1, 19));
}

#[tokio::test]
async fn only_idempotent_requests_are_copied_unless_the_routes_allow_every_method() {
    let mut plan = plan(0, None);
    if let Some(c) = plan.candidate.as_mut() {
        c.mirror_percent = Some(100);
    }
    let table = RoutingTable::compile(&plan, "ml/iris").unwrap();
    let endpoints = BTreeMap::from([
        ("old".to_owned(), vec![backend("old").await]),
        ("new".to_owned(), vec![backend("new").await]),
    ]);
    let router = Running::serve(table, endpoints, ShadowLimits::default()).await;
    router.send(&[], b"{}").await;
    let counts = router.proxy.shadow_counts();
    assert_eq!(counts.sent.get(), 0, "a POST is not copied");
    let response = router
        .client
        .request(
            Request::get(format!("http://{}/v2/health/ready", router.address))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(counts.sent.get(), 1, "a GET is");
}

/// A model that predicts 1.0 for every request, or 2.0 for every `every`-th one.
async fn predicting(every: u64) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let served = Arc::new(std::sync::atomic::AtomicU64::new(0));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let served = Arc::clone(&served);
            tokio::spawn(async move {
                let service = service_fn(move |_: Request<hyper::body::Incoming>| {
                    let n = served.fetch_add(1, Ordering::Relaxed) + 1;
                    async move {
                        let value = if every > 0 && n.is_multiple_of(every) {
                            2.0
                        } else {
                            1.0
                        };
                        let body = format!(
                            r#"{{"id":"{n}","outputs":[{{"name":"p","data":[{value}]}}]}}"#
                        );
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

#[tokio::test]
async fn a_shadow_that_differs_on_a_tenth_of_requests_measures_a_tenth_disagreement() {
    let table = mirrored();
    let endpoints = BTreeMap::from([
        ("old".to_owned(), vec![predicting(0).await]),
        ("new".to_owned(), vec![predicting(10).await]),
    ]);
    let router = Running::serve(table, endpoints, ShadowLimits::default()).await;
    let comparator = Comparator::new(&RouterAgreement {
        json_path: Some("$.outputs[0].data".into()),
        tolerance: None,
        relative_tolerance: None,
        top_k: None,
        noise_sample_percent: 10,
    })
    .unwrap();
    router.routes.send_modify(|routes| {
        let mut with = (**routes).clone();
        with.agreement = Some(Arc::new(comparator));
        with.noise_sample_percent = 10;
        *routes = Arc::new(with);
    });
    for _ in 0..200 {
        let (status, revision, body) = router.send(&[], b"{}").await;
        assert_eq!((status, revision.as_str()), (StatusCode::OK, "old"));
        assert!(body.contains(r#""data":[1]"#), "{body}");
    }
    let counts = router.proxy.shadow_counts();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while counts.agreed.get() + counts.disagreed.get() < 200 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not all compared: {counts:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(counts.disagreed.get(), 20, "{counts:?}");
    assert_eq!(counts.agreed.get(), 180, "{counts:?}");
    // A tenth of the compared requests also went to the stable model again, which agrees with
    // itself: the noise floor is 0.
    while counts.noise_agreed.get() + counts.noise_disagreed.get() < 20 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "noise not compared: {counts:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        (counts.noise_sent.get(), counts.noise_disagreed.get()),
        (20, 0)
    );
}

#[tokio::test]
async fn requests_and_copies_are_counted_per_revision_in_prometheus_format() {
    let router = shadowed(backend("new").await, 8).await;
    for _ in 0..5 {
        router.send(&[], b"{}").await;
    }
    let counts = router.proxy.shadow_counts();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while counts.answered.get() < 5 {
        assert!(tokio::time::Instant::now() < deadline, "{counts:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut registry = prometheus_client::registry::Registry::with_prefix("modeldeploy_router");
    router.proxy.register(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    for line in [
        r#"modeldeploy_router_requests_total{revision="old",reason="weight",code="2xx"} 5"#,
        r#"modeldeploy_router_request_duration_seconds_count{revision="old"} 5"#,
        "modeldeploy_router_in_flight 0",
        "modeldeploy_router_mirror_sent_total 5",
        "modeldeploy_router_mirror_answered_total 5",
        "modeldeploy_router_comparisons_uncompared_total 5",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
}
