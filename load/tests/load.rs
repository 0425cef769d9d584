//! The load generator against real demo-model servers on loopback; no cluster needed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use modeldeploy_demo_model::chance;
use modeldeploy_demo_model::server::spawn_on_loopback;
use modeldeploy_load::{LoadError, LoadSpec, Snapshot, Stop, TransportError, run, run_each_second};

/// Starts a demo model with the given environment on a free loopback port.
async fn start(env: &[(&str, &str)]) -> SocketAddr {
    spawn_on_loopback(env).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_every_answer_as_its_version_and_measures_latency() {
    let target = start(&[("MODEL_VERSION", "1"), ("LATENCY_MS", "20")]).await;
    let mut seconds: Vec<Snapshot> = Vec::new();
    let report = run_each_second(
        LoadSpec {
            rate: 500.0,
            stop: Stop::Requests(500),
            ..LoadSpec::new(target)
        },
        |snapshot| seconds.push(snapshot.clone()),
    )
    .await
    .unwrap();
    println!("{report}");
    assert_eq!((report.sent, report.skipped), (500, 0));
    assert_eq!(report.count("1"), 500, "{report}");
    assert_eq!(report.share("1"), 1.0);
    assert_eq!(report.total(), 500);
    assert_eq!(report.status(200), 500);
    assert_eq!(report.errors(), 0);
    assert!(report.latency.p50 >= Duration::from_millis(20), "{report}");
    assert!(report.latency.max >= report.latency.p99);
    // Open loop: the last request is due 998 ms in, however fast the answers come.
    assert!(report.elapsed >= Duration::from_millis(990), "{report}");
    // The per-second windows add up to the whole run.
    assert!(!seconds.is_empty());
    assert_eq!(
        seconds.iter().map(|s| s.counts.count("1")).sum::<u64>(),
        500
    );
    assert_eq!(seconds.iter().map(|s| s.sent).sum::<u64>(), 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_injected_errors() {
    let seed = 7_u64;
    let target = start(&[
        ("MODEL_VERSION", "2"),
        ("ERROR_RATE", "0.2"),
        ("SEED", &seed.to_string()),
    ])
    .await;
    let report = run(LoadSpec {
        rate: 500.0,
        stop: Stop::Requests(500),
        ..LoadSpec::new(target)
    })
    .await
    .unwrap();
    println!("{report}");
    // The server fails its n-th request when this draw is under the rate, so with a fixed seed
    // the count is known exactly; the tolerance says what the rate alone promises.
    let expected = (0..500)
        .filter(|n| chance::draw(seed ^ 0xe7, *n) < 0.2)
        .count() as u64;
    let failed = report.status(500);
    assert!((60..=140).contains(&failed), "{report}");
    assert_eq!(failed, expected, "{report}");
    assert_eq!(report.counts.error_responses, failed);
    assert_eq!(report.count("2"), 500 - failed);
    assert_eq!(report.share("2"), 1.0);
    assert!(report.counts.transport_errors.is_empty(), "{report}");
}

#[tokio::test]
async fn refuses_targets_off_loopback() {
    let target = SocketAddr::from(([10, 0, 0, 1], 8080));
    let error = run(LoadSpec::new(target)).await.err().unwrap();
    assert!(matches!(error, LoadError::NotLoopback { .. }), "{error}");
    assert!(
        error.to_string().contains("not a loopback address"),
        "{error}"
    );
    let error = run(LoadSpec {
        stop: Stop::After(Duration::from_secs(11 * 60)),
        ..LoadSpec::new(SocketAddr::from(([127, 0, 0, 1], 8080)))
    })
    .await
    .err()
    .unwrap();
    assert!(matches!(error, LoadError::TooLong { .. }), "{error}");
}

#[tokio::test]
async fn counts_refused_connections_by_kind() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap();
    drop(listener);
    // Spawned, which also proves that a run can be moved to another task.
    let report = tokio::spawn(run(LoadSpec {
        rate: 200.0,
        stop: Stop::Requests(20),
        ..LoadSpec::new(target)
    }))
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        report.counts.transport_errors.get(&TransportError::Refused),
        Some(&20),
        "{report}"
    );
    assert_eq!(report.counts.responses(), 0);
    assert_eq!(report.latency.samples, 0);
}

/// A model that is still loading answers 503, then its version: the timeline shows when the
/// switch happened and that nothing failed after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeline_answers_window_questions() {
    let target = start(&[("MODEL_VERSION", "2"), ("STARTUP_DELAY_MS", "400")]).await;
    let report = run(LoadSpec {
        rate: 100.0,
        stop: Stop::After(Duration::from_millis(1200)),
        record_timeline: true,
        ..LoadSpec::new(target)
    })
    .await
    .unwrap();
    println!("{report}");
    let timeline = report.timeline.as_ref().unwrap();
    assert_eq!(timeline.samples().len() as u64, report.sent);
    let loading = report.status(503) as usize;
    assert!(loading > 0 && report.count("2") > 0, "{report}");
    let settled = timeline.settled_on("2").unwrap();
    // The first request found the model loading; the switch came before the run ended. Where
    // exactly depends on when the model was created relative to the run, so it is not pinned.
    assert!(
        settled > Duration::ZERO && settled < Duration::from_millis(1200),
        "{settled:?}"
    );
    assert!(timeline.all_from(settled, "2"));
    assert!(!timeline.all_from(Duration::ZERO, "2"));
    assert_eq!(timeline.errors_between(Duration::ZERO, settled), loading);
    assert_eq!(timeline.errors_between(settled, Duration::MAX), 0);
    let last = timeline.samples().last().unwrap().sent_at;
    assert_eq!(
        timeline.between(settled, last).len() as u64,
        report.count("2")
    );
}
