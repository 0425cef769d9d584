//! The operator runs as its own process (`target/debug/modeldeploy-operator`, built by the test
//! when stale) and is killed with SIGKILL at many points of every strategy, then started again.
//! Each test watches the ModelDeployment, its routes, Services, Deployments and Events; a trigger
//! names a state (a step recorded, a route written, a request answered, a revision retired, an
//! event announced) and kills the operator the moment the watch shows it, so the kill lands
//! between the write that showed it and whatever the operator was about to do next. The next
//! operator starts at once, or, mid-pause, only once the pause has run on for a while or run
//! out, so that a restarted clock would show. Every rollout must end as intended, and everything
//! observed on the way must hold:
//!
//! - `status.rollout` only moves forward: within one attempt the step index grows one at a time
//!   and the stage goes Steps → Promoting, or Steps → Aborting → Aborted (→ Steps on a retry);
//!   only a `promoteFull` request skips steps. When the rollout and each of its steps started
//!   never changes, so no timed wait starts over;
//! - every split observed, in `status.traffic`, the HTTPRoute or the VirtualService, sums to 100;
//!   without a mesh, the Service selects one revision at a time (blue/green);
//! - the pods of a retired revision go no earlier than the time recorded for them, and that time
//!   never moves;
//! - no event is announced twice: each (reason, note) appears at most once per attempt, and never
//!   as a series.
//!
//! Each test prints its kill points, the recorded progress and a timeline (`--nocapture`). Operator
//! logs: `$TMPDIR/modeldeploy-e2e/<namespace>/operator.log`. Set `MODELDEPLOY_OPERATOR_BIN` to test
//! a prebuilt binary. A failed test deletes its namespace so that its pods do not fill the fake
//! node; set `MODELDEPLOY_E2E_KEEP_NAMESPACE=1` to keep it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ListParams, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource, ResourceExt};
use modeldeploy_api::v1alpha1::{
    AbTestStrategy, AnalysisSpec, BlueGreenStrategy, CanaryStep, Duration, HeaderMatch,
    HeaderMatchType, Metric, MetricProvider, ModelDeployment, ModelDeploymentStatus, PauseReason,
    Phase, REQUEST_ANNOTATION, RequestAction, RequestStatus, RolloutStage, RolloutStatus,
    RouteMatch, ShadowStrategy, StrategySpec, TrafficSpec, WebMetric,
};
use modeldeploy_e2e::process::{
    OperatorCommand, OperatorProcess, killed_by_sigkill, operator_binary, tail, test_dir,
};
use modeldeploy_e2e::{Cluster, TestNamespace};
use modeldeploy_operator::traffic::{HTTPRoute, VirtualService};
use serde::de::DeserializeOwned;
use serde_json::json;
use tokio::sync::{oneshot, watch};

use crate::strategies::{canary, gateway_traffic, iris, istio_traffic, pause, weight};
use crate::{TIMEOUT, apply_md, selected_revision};

/// Each strategy's share of the acceptance bar of 20 distinct kill points over the four.
const MIN_POINTS_PER_STRATEGY: usize = 5;
const OLD: &str = "1.0.0";
const NEW: &str = "1.1.0";
/// The new revision has all traffic; the old one is retired, its pods still up for their drain.
const RETIRED: &str = "between the traffic write and the scale-down: the old revision is retired";
const SCALED_DOWN: &str = "event announced: the old revision's pods are removed";
const CANDIDATE_SCALED_DOWN: &str = "event announced: the aborted revision's pods are removed";
/// The scale-down is due and recorded (the revision leaves `status.retiredRevisions`), and its
/// Deployment is not deleted yet. Its `RevisionScaledDown` event may be lost then (events are
/// announced at most once), so a test kills at this point or at the event, not both.
const DUE: &str = "scale-down due: recorded, the old revision's Deployment not yet deleted";
const CANDIDATE_DUE: &str =
    "scale-down due: recorded, the aborted revision's Deployment not yet deleted";

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn canary_over_gateway_api_survives_sigkill_at_every_step() {
    use RolloutStage::{Promoting, Steps};
    let mut rig = Rig::start("kill-canary", false).await;
    let mut md = light(iris(
        4,
        gateway_traffic(),
        canary(vec![weight(20), pause(Some("2s")), weight(50), pause(None)]),
    ));
    rig.launch();
    let first = rig.arm(
        "first deploy: the revision is recorded before it serves",
        |w| {
            w.status()
                .is_some_and(|s| s.stable_revision.is_none() && s.rollout.is_some())
        },
    );
    let available = rig.arm_on_event(
        "event announced: the first revision is available",
        "RevisionAvailable",
        "(model 1.0.0)",
    );
    rig.apply(&md).await;
    rig.fired(first).await;
    rig.fired(available).await;
    let old = rig.until_settled(OLD, None, &["iris", "iris-stable"]).await;

    let started = rig.arm("mid-step: setWeight 20 recorded", |w| w.at(Steps, 0));
    let written = rig.arm("traffic written: the route gives the canary 20%", |w| {
        w.candidate_weight() == Some(20)
    });
    let paused = rig.arm_without_restart(
        "mid-pause: the timed pause is recorded; down until it has run out",
        |w| w.at(Steps, 1) && w.paused(PauseReason::Timed),
    );
    md.spec.model.version = NEW.into();
    rig.apply(&md).await;
    rig.fired(started).await;
    rig.fired(written).await;
    let at_pause = rig.fired(paused).await;
    let pause_ends = at_pause
        .rollout()
        .and_then(|r| r.pause.as_ref())
        .and_then(|p| p.until.clone())
        .expect("a timed pause records when it ends");

    let step50 = rig.arm("mid-step: setWeight 50 recorded", |w| w.at(Steps, 2));
    let written50 = rig.arm("traffic written: the route gives the canary 50%", |w| {
        w.candidate_weight() == Some(50)
    });
    let waiting = rig.arm("mid-pause: the indefinite pause is recorded", |w| {
        w.at(Steps, 3) && w.paused(PauseReason::Indefinite)
    });
    // The next operator starts after the pause has run out: it must go on at once, from the
    // recorded start of the pause, and not wait it out again.
    wait_until(pause_ends.0).await;
    rig.launch();
    rig.fired(step50).await;
    rig.fired(written50).await;
    rig.fired(waiting).await;

    let promoting = rig.arm(
        "request answered: promote recorded, promotion starts",
        |w| w.stage_is(Promoting),
    );
    let id = rig.request(RequestAction::Promote).await;
    let answered = rig.fired(promoting).await;
    assert_accepted(&answered, &id);
    let switched = rig.arm("mid-promotion: the route gives the canary 100%", |w| {
        w.candidate_weight() == Some(100)
    });
    let retired = rig.arm(RETIRED, {
        let old = old.clone();
        move |w| w.retired(&old)
    });
    let scaled_down = rig.arm_on_event(SCALED_DOWN, "RevisionScaledDown", &old);
    rig.fired(switched).await;
    rig.fired(retired).await;
    rig.fired(scaled_down).await;

    rig.until_settled(NEW, Some(&old), &["iris", "iris-stable"])
        .await;
    assert_eq!(rig.world().split(), Some(Split::stable_only()));
    let weights = rig.candidate_weights();
    assert!(
        weights.windows(2).all(|w| w[0] <= w[1]),
        "the canary's share never went back: {weights:?}"
    );
    for step in [20, 50, 100] {
        assert!(weights.contains(&step), "{step}% was carried: {weights:?}");
    }
    rig.finish(12).await;
}

/// A web metric this test serves: always healthy; counts the requests it answers.
async fn healthy_metric() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/value", listener.local_addr().unwrap());
    let counted = hits.clone();
    let app = axum::Router::new().route(
        "/value",
        axum::routing::get(move || {
            counted.fetch_add(1, Ordering::Relaxed);
            async { r#"{"errorRate": 0.0}"# }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits)
}

fn web_metric(name: &str, url: &str, count: Option<i32>) -> Metric {
    Metric {
        interval: Some(Duration("2s".into())),
        count,
        failure_condition: Some("result > 0.1".into()),
        ..Metric::new(
            name,
            MetricProvider {
                prometheus: None,
                web: Some(WebMetric {
                    url: url.to_owned(),
                    json_path: Some("$.errorRate".into()),
                    headers: Vec::new(),
                    timeout: None,
                }),
            },
        )
    }
}

fn analysis_of(metrics: Vec<Metric>) -> AnalysisSpec {
    AnalysisSpec {
        metrics,
        ..AnalysisSpec::default()
    }
}

#[tokio::test]
async fn analyses_survive_sigkill_at_every_measurement_without_losing_or_repeating_one() {
    use RolloutStage::Steps;
    const GATE: i32 = 5;
    let rig = Rig::start("kill-analysis", false).await;
    let (url, hits) = healthy_metric().await;
    let mut strategy = canary(vec![
        weight(50),
        CanaryStep {
            analysis: Some(analysis_of(vec![web_metric("gate", &url, Some(GATE))])),
            ..CanaryStep::default()
        },
    ]);
    if let Some(canary) = strategy.as_mut().and_then(|s| s.canary.as_mut()) {
        canary.analysis = Some(analysis_of(vec![web_metric("watch", &url, None)]));
    }
    let mut md = light(iris(2, gateway_traffic(), strategy));
    rig.launch();
    rig.apply(&md).await;
    let old = rig.until_settled(OLD, None, &["iris", "iris-stable"]).await;

    let measured = |run: &'static str, metric: &'static str, n: i32| {
        move |w: &World| {
            w.rollout().is_some_and(|r| {
                r.analysis.iter().any(|a| {
                    a.name == run
                        && a.metrics
                            .iter()
                            .any(|m| m.name == metric && m.measured >= n)
                })
            })
        }
    };
    let started = rig.arm("analysis recorded: the background run starts", |w| {
        w.rollout()
            .is_some_and(|r| r.analysis.iter().any(|a| a.name == "background"))
    });
    md.spec.model.version = NEW.into();
    rig.apply(&md).await;
    rig.fired(started).await;
    let written = rig.arm("traffic written: the route gives the canary 50%", |w| {
        w.candidate_weight() == Some(50)
    });
    rig.fired(written).await;
    let mut passed = None;
    for n in 1..=GATE {
        let point = rig.arm(
            &format!("measurement recorded: the step gate's measurement {n}"),
            measured("step-2", "gate", n),
        );
        passed = Some(rig.fired(point).await);
    }
    // The last measurement and the gate's verdict are one write: the kill lands right after it.
    let passed = passed.expect("the gate measured");
    let background = rig.arm(
        "measurement recorded: the background's measurement 4",
        measured("background", "watch", 4),
    );
    rig.fired(background).await;
    let gate = passed
        .rollout()
        .and_then(|r| r.analysis.iter().find(|a| a.name == "step-2"))
        .and_then(|a| a.metrics.first())
        .cloned()
        .expect("the gate's record");
    assert_eq!(gate.measured, GATE, "every measurement once: {gate:?}");
    assert_eq!(
        gate.phase,
        modeldeploy_api::v1alpha1::AnalysisPhase::Successful,
        "{gate:?}"
    );
    let times: Vec<Timestamp> = gate.measurements.iter().map(|m| m.measured_at.0).collect();
    assert!(
        times
            .windows(2)
            .all(|w| w[1].duration_since(w[0]).as_secs() >= 2),
        "an interval apart, none taken again after a restart: {times:?}"
    );
    let promoting = rig.arm("promotion recorded: past the gate", |w| {
        w.at(Steps, 2) || w.stage_is(RolloutStage::Promoting)
    });
    rig.fired(promoting).await;
    let retired = rig.arm(RETIRED, {
        let old = old.clone();
        move |w| w.retired(&old)
    });
    rig.fired(retired).await;
    rig.until_settled(NEW, Some(&old), &["iris", "iris-stable"])
        .await;
    assert!(
        hits.load(std::sync::atomic::Ordering::Relaxed) >= usize::try_from(GATE).unwrap() + 4,
        "the metric was read at least once per recorded measurement"
    );
    rig.finish(usize::try_from(GATE).unwrap() + 5).await;
}

#[tokio::test]
async fn blue_green_over_replicas_survives_sigkill_through_abort_retry_and_promotion() {
    use RolloutStage::{Aborted, Aborting, Promoting, Steps};
    let mut rig = Rig::start("kill-bluegreen", true).await;
    let strategy = Some(StrategySpec {
        blue_green: Some(BlueGreenStrategy {
            auto_promotion: Some(false),
            preview_replicas: Some(1),
            ..BlueGreenStrategy::default()
        }),
        ..StrategySpec::default()
    });
    let mut md = light(iris(3, TrafficSpec::default(), strategy));
    rig.launch();
    rig.apply(&md).await;
    let old = rig.until_settled(OLD, None, &["iris"]).await;

    let started = rig.arm("mid-step: the preview step is recorded", |w| w.at(Steps, 0));
    let preview = rig.arm("traffic written: the preview Service exists", |w| {
        w.services.contains_key("iris-preview")
    });
    let waiting = rig.arm("mid-pause: waiting for promotion is recorded", |w| {
        w.at(Steps, 1) && w.paused(PauseReason::AwaitingPromotion)
    });
    md.spec.model.version = NEW.into();
    rig.apply(&md).await;
    let new = revision_of(&rig.fired(started).await);
    rig.fired(preview).await;
    rig.fired(waiting).await;

    let aborting = rig.arm("request answered: abort recorded, rollback starts", |w| {
        w.stage_is(Aborting)
    });
    let id = rig.request(RequestAction::Abort).await;
    assert_accepted(&rig.fired(aborting).await, &id);
    let aborted = rig.arm(
        "mid-abort: Aborted recorded, the preview retired before its scale-down",
        {
            let new = new.clone();
            move |w| w.stage_is(Aborted) && w.retired(&new)
        },
    );
    let rolled_back = rig.fired(aborted).await;
    assert_eq!(
        rolled_back.status().map(|s| s.traffic.clone()),
        Some(vec![target(&old, 100)])
    );
    let due = rig.arm(CANDIDATE_DUE, {
        let new = new.clone();
        move |w| !w.retired(&new)
    });
    rig.fired(due).await;
    rig.until_gone(&new).await;

    let retried = rig.arm("request answered: retry recorded", |w| {
        w.at(Steps, 0) && w.answered(RequestAction::Retry)
    });
    let recreated = rig.arm("mid-step after a retry: the preview Deployment is back", {
        let new = new.clone();
        move |w| w.replicas(&new) == Some(1)
    });
    let paused_again = rig.arm_on_event(
        "event announced after a retry: the preview waits for promotion",
        "RolloutPaused",
        &new,
    );
    let id = rig.request(RequestAction::Retry).await;
    assert_accepted(&rig.fired(retried).await, &id);
    rig.fired(recreated).await;
    rig.fired(paused_again).await;
    rig.until("the preview waits for promotion again", |w| {
        w.at(Steps, 1) && w.paused(PauseReason::AwaitingPromotion)
    })
    .await;

    let promoting = rig.arm(
        "request answered: promote recorded, promotion starts",
        |w| w.stage_is(Promoting),
    );
    let full = rig.arm("mid-promotion: the new revision is scaled to full size", {
        let new = new.clone();
        move |w| w.replicas(&new) == Some(3)
    });
    let switched = rig.arm("traffic written: Service iris selects the new revision", {
        let new = new.clone();
        move |w| w.selects("iris").as_deref() == Some(new.as_str())
    });
    let retired = rig.arm(RETIRED, {
        let old = old.clone();
        move |w| w.retired(&old)
    });
    let scaled_down = rig.arm_on_event(SCALED_DOWN, "RevisionScaledDown", &old);
    let id = rig.request(RequestAction::Promote).await;
    assert_accepted(&rig.fired(promoting).await, &id);
    rig.fired(full).await;
    rig.fired(switched).await;
    rig.fired(retired).await;
    rig.fired(scaled_down).await;

    rig.until_settled(NEW, Some(&old), &["iris"]).await;
    assert_eq!(
        rig.main_service_history(),
        vec![old.clone(), new.clone()],
        "Service iris switched once, from the old revision to the new one"
    );
    rig.finish(14).await;
}

#[tokio::test]
async fn shadow_over_gateway_api_survives_sigkill_through_abort_retry_and_auto_promotion() {
    use RolloutStage::{Aborted, Aborting, Promoting, Steps};
    let mut rig = Rig::start("kill-shadow", false).await;
    let strategy = Some(StrategySpec {
        shadow: Some(ShadowStrategy {
            mirror_percent: Some(50),
            mirror_all_methods: None,
            duration: Duration("4s".into()),
            agreement: None,
            drift: None,
            analysis: None,
            auto_promotion: None,
        }),
        ..StrategySpec::default()
    });
    let mut md = light(iris(2, gateway_traffic(), strategy));
    rig.launch();
    rig.apply(&md).await;
    let old = rig.until_settled(OLD, None, &["iris", "iris-stable"]).await;

    let started = rig.arm("mid-step: the mirror step is recorded", |w| w.at(Steps, 0));
    let mirrored = rig.arm(
        "traffic written: the route mirrors 50% to the candidate",
        |w| w.split().is_some_and(|s| s.mirror == Some(50)),
    );
    let shadowing = rig.arm_without_restart(
        "mid-pause: the shadow duration is recorded; an abort arrives while no operator runs",
        |w| w.at(Steps, 1) && w.paused(PauseReason::Timed),
    );
    md.spec.model.version = NEW.into();
    rig.apply(&md).await;
    let new = revision_of(&rig.fired(started).await);
    rig.fired(mirrored).await;
    rig.fired(shadowing).await;

    let aborting = rig.arm(
        "request answered mid-pause: abort recorded, rollback starts",
        |w| w.stage_is(Aborting),
    );
    let unmirrored = rig.arm("mid-abort: the route no longer mirrors", |w| {
        w.split().is_some_and(|s| s.mirror.is_none())
    });
    let aborted = rig.arm("mid-abort: Aborted recorded, the candidate retired", {
        let new = new.clone();
        move |w| w.stage_is(Aborted) && w.retired(&new)
    });
    // The next operator answers the abort before it looks at the pause, however late it starts.
    let id = rig.request(RequestAction::Abort).await;
    rig.launch();
    assert_accepted(&rig.fired(aborting).await, &id);
    rig.fired(unmirrored).await;
    rig.fired(aborted).await;
    let removed = rig.arm_on_event(CANDIDATE_SCALED_DOWN, "RevisionScaledDown", &new);
    rig.fired(removed).await;
    rig.until_gone(&new).await;

    let retried = rig.arm("request answered: retry recorded", |w| {
        w.at(Steps, 0) && w.answered(RequestAction::Retry)
    });
    let shadowing_again = rig.arm_on_event_without_restart(
        "event announced after a retry: the shadow pause has started; down for 1.5s of it",
        "StepStarted",
        "2/2 pause",
    );
    let over = rig.arm(
        "the shadow duration is over: the step past the last is recorded",
        |w| w.at(Steps, 2),
    );
    let promoting = rig.arm("mid-promotion: automatic promotion recorded", |w| {
        w.stage_is(Promoting)
    });
    let switched = rig.arm("mid-promotion: the route gives the candidate 100%", |w| {
        w.candidate_weight() == Some(100)
    });
    let retired = rig.arm(RETIRED, {
        let old = old.clone();
        move |w| w.retired(&old)
    });
    let due = rig.arm(DUE, {
        let old = old.clone();
        move |w| !w.retired(&old)
    });
    let id = rig.request(RequestAction::Retry).await;
    assert_accepted(&rig.fired(retried).await, &id);
    let paused = rig.fired(shadowing_again).await;
    rig.launch_well_into_the_step(&paused).await;
    rig.fired(over).await;
    rig.fired(promoting).await;
    rig.fired(switched).await;
    rig.fired(retired).await;
    rig.fired(due).await;

    rig.until_settled(NEW, Some(&old), &["iris", "iris-stable"])
        .await;
    assert_eq!(rig.world().split(), Some(Split::stable_only()));
    let weights = rig.candidate_weights();
    assert!(
        weights.iter().all(|w| *w == 0 || *w == 100),
        "a shadow never gets live traffic before its promotion: {weights:?}"
    );
    rig.finish(14).await;
}

#[tokio::test]
async fn ab_test_over_istio_survives_sigkill_through_max_duration_retry_and_promotion() {
    use RolloutStage::{Aborted, Aborting, Promoting, Steps};
    let mut rig = Rig::start("kill-abtest", false).await;
    let mut md = light(iris(2, istio_traffic(), ab_test("3s")));
    rig.launch();
    rig.apply(&md).await;
    let old = rig.until_settled(OLD, None, &["iris", "iris-stable"]).await;

    let started = rig.arm("mid-step: the A/B split is recorded", |w| w.at(Steps, 0));
    let split = rig.arm(
        "traffic written: the VirtualService splits 70/30 and routes testers",
        |w| {
            w.split()
                .is_some_and(|s| s.candidate == Some(30) && s.matches)
        },
    );
    let testing = rig.arm_without_restart(
        "mid-pause: the test's maximum duration is recorded; down for 1.5s of it",
        |w| w.at(Steps, 1) && w.paused(PauseReason::Timed),
    );
    let ending = rig.arm(
        "the maximum duration is reached without a winner: rollback recorded",
        |w| w.stage_is(Aborting),
    );
    let returned = rig.arm(
        "mid-abort: the VirtualService sends everything to the stable revision",
        |w| {
            w.split()
                .is_some_and(|s| s.candidate.unwrap_or(0) == 0 && !s.matches)
        },
    );
    let ended = rig.arm("mid-abort: Aborted recorded, the candidate retired", |w| {
        w.stage_is(Aborted)
    });
    md.spec.model.version = NEW.into();
    rig.apply(&md).await;
    let new = revision_of(&rig.fired(started).await);
    rig.fired(split).await;
    let paused = rig.fired(testing).await;
    rig.launch_well_into_the_step(&paused).await;
    let ending = rig.fired(ending).await;
    assert!(
        ending
            .rollout()
            .and_then(|r| r.abort_reason.as_deref())
            .is_some_and(|r| r.contains("maximum duration")),
        "{:?}",
        ending.rollout()
    );
    rig.fired(returned).await;
    let ended = rig.fired(ended).await;
    assert!(ended.retired(&new), "{:?}", ended.status());
    let due = rig.arm(CANDIDATE_DUE, {
        let new = new.clone();
        move |w| !w.retired(&new)
    });
    rig.fired(due).await;
    rig.until_gone(&new).await;

    // A longer test this time, decided by a person.
    md.spec.strategy = ab_test("1h");
    rig.apply(&md).await;
    let retried = rig.arm("request answered: retry recorded", |w| {
        w.at(Steps, 0) && w.answered(RequestAction::Retry)
    });
    let testing_again = rig.arm_on_event(
        "event announced after a retry: the test's pause has started",
        "StepStarted",
        "2/2 pause",
    );
    let id = rig.request(RequestAction::Retry).await;
    assert_accepted(&rig.fired(retried).await, &id);
    rig.fired(testing_again).await;
    rig.until("the test runs again", |w| {
        w.at(Steps, 1) && w.paused(PauseReason::Timed)
    })
    .await;

    let promoting = rig.arm(
        "request answered: promote recorded, promotion starts",
        |w| w.stage_is(Promoting),
    );
    let switched = rig.arm(
        "mid-promotion: the VirtualService gives the new revision 100%",
        |w| w.candidate_weight() == Some(100),
    );
    let retired = rig.arm(RETIRED, {
        let old = old.clone();
        move |w| w.retired(&old)
    });
    let due = rig.arm(DUE, {
        let old = old.clone();
        move |w| !w.retired(&old)
    });
    let id = rig.request(RequestAction::Promote).await;
    assert_accepted(&rig.fired(promoting).await, &id);
    rig.fired(switched).await;
    rig.fired(retired).await;
    rig.fired(due).await;

    rig.until_settled(NEW, Some(&old), &["iris", "iris-stable"])
        .await;
    assert_eq!(rig.world().split(), Some(Split::stable_only()));
    let weights = rig.candidate_weights();
    assert!(
        weights.iter().all(|w| [0, 30, 100].contains(w)),
        "{weights:?}"
    );
    rig.finish(13).await;
}

fn ab_test(max_duration: &str) -> Option<StrategySpec> {
    Some(StrategySpec {
        ab_test: Some(AbTestStrategy {
            weight: Some(30),
            stickiness: None,
            matches: vec![RouteMatch {
                headers: vec![HeaderMatch {
                    name: "x-tester".into(),
                    value: "yes".into(),
                    match_type: HeaderMatchType::Exact,
                }],
            }],
            max_duration: Duration(max_duration.into()),
            analysis: None,
            decision: None,
        }),
        ..StrategySpec::default()
    })
}

/// `md` with pods that ask for a sliver of CPU: the tests share one fake node with every other
/// end-to-end test.
fn light(mut md: ModelDeployment) -> ModelDeployment {
    let requests = md
        .spec
        .runtime
        .resources
        .get_or_insert_with(Default::default)
        .requests
        .get_or_insert_with(Default::default);
    requests.insert("cpu".to_owned(), Quantity("10m".to_owned()));
    md
}

fn revision_of(world: &World) -> String {
    world
        .rollout()
        .map(|r| r.revision.clone())
        .expect("a rollout is recorded")
}

fn target(revision: &str, weight: i32) -> modeldeploy_api::v1alpha1::TrafficTarget {
    modeldeploy_api::v1alpha1::TrafficTarget {
        revision: revision.to_owned(),
        weight,
    }
}

fn assert_accepted(world: &World, id: &str) {
    let answer = world.status().and_then(|s| s.last_request.as_ref());
    assert!(
        answer.is_some_and(|a| a.id == id && a.accepted),
        "request {id} was accepted: {answer:?}"
    );
}

/// Returns once the wall clock has reached `at`.
async fn wait_until(at: Timestamp) {
    let left = at.as_millisecond() - Timestamp::now().as_millisecond();
    if let Ok(left) = u64::try_from(left) {
        tokio::time::sleep(std::time::Duration::from_millis(left + 1)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// What the watches show
// ---------------------------------------------------------------------------------------------

/// The objects of ModelDeployment `iris` as last seen.
#[derive(Clone, Debug, Default)]
struct World {
    md: Option<ModelDeployment>,
    route: Option<HTTPRoute>,
    vs: Option<VirtualService>,
    services: BTreeMap<String, Service>,
    deployments: BTreeMap<String, Deployment>,
    /// Events about `iris` as (reason, note), in the order they were first seen.
    events: Vec<(String, String)>,
}

/// Where the route (HTTPRoute or VirtualService) sends requests.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Split {
    stable: i32,
    /// The candidate's weight, when the route has a candidate.
    candidate: Option<i32>,
    mirror: Option<i32>,
    /// Whether a header rule sends testers to the candidate.
    matches: bool,
}

impl Split {
    fn stable_only() -> Split {
        Split {
            stable: 100,
            candidate: None,
            mirror: None,
            matches: false,
        }
    }
}

impl World {
    fn status(&self) -> Option<&ModelDeploymentStatus> {
        self.md.as_ref()?.status.as_ref()
    }

    fn rollout(&self) -> Option<&RolloutStatus> {
        self.status()?.rollout.as_ref()
    }

    /// The rollout of the new model version is at `stage`, step `index`.
    fn at(&self, stage: RolloutStage, index: i32) -> bool {
        self.rollout()
            .is_some_and(|r| r.model_version == NEW && r.stage == stage && r.step_index == index)
    }

    fn stage_is(&self, stage: RolloutStage) -> bool {
        self.rollout()
            .is_some_and(|r| r.model_version == NEW && r.stage == stage)
    }

    fn paused(&self, reason: PauseReason) -> bool {
        self.rollout()
            .and_then(|r| r.pause.as_ref())
            .is_some_and(|p| p.reason == reason)
    }

    /// The last request answered was `action`, and accepted.
    fn answered(&self, action: RequestAction) -> bool {
        self.status()
            .and_then(|s| s.last_request.as_ref())
            .is_some_and(|r| r.action == action.as_str() && r.accepted)
    }

    fn retired(&self, revision: &str) -> bool {
        self.status()
            .is_some_and(|s| s.retired_revisions.iter().any(|r| r.name == revision))
    }

    fn split(&self) -> Option<Split> {
        self.route
            .as_ref()
            .map(route_split)
            .or_else(|| self.vs.as_ref().map(vs_split))
    }

    fn candidate_weight(&self) -> Option<i32> {
        self.split()?.candidate
    }

    fn selects(&self, service: &str) -> Option<String> {
        self.services.get(service).and_then(selected_revision)
    }

    fn replicas(&self, revision: &str) -> Option<i32> {
        self.deployments
            .get(&format!("iris-{revision}"))?
            .spec
            .as_ref()?
            .replicas
    }

    /// `version` serves alone: Healthy for the current generation, nothing rolling out or
    /// draining, all traffic on its revision, only its Deployment and `services` left.
    fn settled(&self, version: &str, services: &[&str]) -> bool {
        let Some(md) = &self.md else { return false };
        let Some(s) = &md.status else { return false };
        let Some(stable) = s.stable_revision.as_deref() else {
            return false;
        };
        s.phase == Some(Phase::Healthy)
            && s.observed_generation == md.metadata.generation
            && s.rollout.is_none()
            && s.candidate_revision.is_none()
            && s.serving_model_version.as_deref() == Some(version)
            && s.traffic == [target(stable, 100)]
            && s.retired_revisions.is_empty()
            && self
                .deployments
                .keys()
                .eq([format!("iris-{stable}")].iter())
            && self
                .services
                .keys()
                .map(String::as_str)
                .eq(services.iter().copied())
            && self
                .split()
                .is_none_or(|split| split == Split::stable_only())
    }
}

fn route_split(route: &HTTPRoute) -> Split {
    let rules = &route.spec.rules;
    let split = rules
        .iter()
        .find(|r| r.name.as_deref() == Some("split"))
        .or(rules.last());
    let weight = |names: &[&str]| {
        split.and_then(|r| {
            r.backend_refs
                .iter()
                .find(|b| names.contains(&b.name.as_str()))
                .map(|b| b.weight.unwrap_or(1))
        })
    };
    Split {
        stable: weight(&["iris-stable"]).unwrap_or(0),
        candidate: weight(&["iris-canary", "iris-preview"]),
        mirror: split.and_then(|r| {
            r.filters
                .iter()
                .find_map(|f| f.request_mirror.as_ref().and_then(|m| m.percent))
        }),
        matches: rules.iter().any(header_rule),
    }
}

fn vs_split(vs: &VirtualService) -> Split {
    let http = &vs.spec.http;
    let primary = http
        .iter()
        .find(|h| h.name.as_deref() == Some("primary"))
        .or(http.last());
    let weight = |prefixes: &[&str]| {
        primary.and_then(|h| {
            let alone = h.route.len() == 1;
            h.route
                .iter()
                .find(|d| prefixes.iter().any(|p| d.destination.host.starts_with(p)))
                .map(|d| d.weight.unwrap_or(if alone { 100 } else { 0 }))
        })
    };
    Split {
        stable: weight(&["iris-stable."]).unwrap_or(0),
        candidate: weight(&["iris-canary.", "iris-preview."]),
        mirror: primary
            .and_then(|h| h.mirror_percentage.as_ref())
            .map(|p| p.value.round() as i32),
        matches: http.iter().any(|h| !h.match_.is_empty()),
    }
}

/// Whether an HTTPRoute rule matches by header (the A/B testers' rule). The API server gives
/// every rule a `PathPrefix /` match by default, so only header matches tell.
fn header_rule(rule: &modeldeploy_operator::traffic::routes::HttpRouteRule) -> bool {
    rule.matches.iter().any(|m| !m.headers.is_empty())
}

/// Weighted rules of an HTTPRoute whose weights do not sum to 100. A header rule has one backend
/// and takes all it matches.
fn route_problems(route: &HTTPRoute) -> Vec<String> {
    route
        .spec
        .rules
        .iter()
        .filter(|r| !header_rule(r))
        .filter_map(|r| {
            let sum: i32 = r.backend_refs.iter().map(|b| b.weight.unwrap_or(1)).sum();
            (sum != 100).then(|| {
                format!(
                    "HTTPRoute rule {:?} has weights summing to {sum}: {:?}",
                    r.name, r.backend_refs
                )
            })
        })
        .collect()
}

/// Routes of a VirtualService whose weights do not sum to 100 (one destination without a weight
/// takes 100).
fn vs_problems(vs: &VirtualService) -> Vec<String> {
    vs.spec
        .http
        .iter()
        .filter_map(|h| {
            let fine = match h.route.as_slice() {
                [one] => one.weight.is_none_or(|w| w == 100),
                many => {
                    many.iter().all(|d| d.weight.is_some())
                        && many.iter().filter_map(|d| d.weight).sum::<i32>() == 100
                }
            };
            (!fine).then(|| {
                format!(
                    "VirtualService route {:?} has weights {:?}",
                    h.name, h.route
                )
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The recorder: applies watch events to the world, checks every state, fires the kill triggers
// ---------------------------------------------------------------------------------------------

enum Seen {
    Model(Box<watcher::Event<ModelDeployment>>),
    Route(Box<watcher::Event<HTTPRoute>>),
    Virtual(Box<watcher::Event<VirtualService>>),
    Service(Box<watcher::Event<Service>>),
    Deployment(Box<watcher::Event<Deployment>>),
    Announced(Box<watcher::Event<Event>>),
}

/// The kinds watched; each must have listed once before the test acts.
const KINDS: usize = 6;

fn watch<K>(
    api: Api<K>,
    config: watcher::Config,
    wrap: fn(watcher::Event<K>) -> Seen,
) -> BoxStream<'static, Result<Seen, watcher::Error>>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    watcher(api, config)
        .default_backoff()
        .map(move |event| event.map(wrap))
        .boxed()
}

type Predicate = Box<dyn Fn(&World) -> bool + Send>;

struct Trigger {
    point: String,
    when: Predicate,
    restart: bool,
    fired: oneshot::Sender<World>,
}

/// A trigger, armed: await it with [`Rig::fired`].
struct Armed {
    point: String,
    fired: oneshot::Receiver<World>,
}

#[derive(Clone, Debug)]
struct Kill {
    point: String,
    operator: u32,
}

/// Everything the recorder and the test share.
struct Shared {
    world: World,
    started: Instant,
    command: OperatorCommand,
    operator: Option<OperatorProcess>,
    starts: u32,
    /// Armed triggers, in order: only the first is evaluated, on every new observation.
    triggers: VecDeque<Trigger>,
    kills: Vec<Kill>,
    checks: Checks,
    /// Without a mesh the Service `iris` must select one revision at a time (blue/green).
    single_revision_service: bool,
    listed: BTreeSet<&'static str>,
    /// Names of the events already in `world.events`.
    announced: BTreeSet<String>,
    timeline: Vec<String>,
    last_note: BTreeMap<String, String>,
    /// Route splits seen, consecutive repeats left out.
    splits: Vec<Split>,
    /// Revisions Service `iris` selected, consecutive repeats left out.
    main_selects: Vec<Option<String>>,
}

impl Shared {
    fn note(&mut self, text: String) {
        let at = self.started.elapsed().as_secs_f64();
        self.timeline.push(format!("{at:8.3}s {text}"));
    }

    /// Notes `text` about `what` unless it says the same as last time.
    fn note_change(&mut self, what: &str, text: String) {
        if self.last_note.get(what) != Some(&text) {
            self.last_note.insert(what.to_owned(), text.clone());
            self.note(format!("{what}: {text}"));
        }
    }

    fn violation(&mut self, text: String) {
        self.note(format!("VIOLATION {text}"));
        self.checks.violations.push(text);
    }

    fn launch(&mut self) {
        assert!(self.operator.is_none(), "one operator at a time");
        self.starts += 1;
        let process = self.command.spawn(self.starts);
        self.note(format!(
            "started operator #{} (pid {})",
            self.starts,
            process.id()
        ));
        self.operator = Some(process);
    }

    fn kill(&mut self, point: &str) {
        let Some(mut operator) = self.operator.take() else {
            return;
        };
        let pid = operator.id();
        let status = operator.kill();
        if !killed_by_sigkill(status) {
            self.violation(format!(
                "operator #{} had already ended ({status}) when it was to be killed at {point:?}",
                operator.number()
            ));
        }
        self.note(format!(
            "SIGKILL operator #{} (pid {pid}) at {point:?}",
            operator.number()
        ));
        self.kills.push(Kill {
            point: point.to_owned(),
            operator: operator.number(),
        });
    }

    /// Fires the first armed trigger if the world now shows its state.
    fn trigger(&mut self) {
        if self.operator.is_none() {
            return;
        }
        let Some(first) = self.triggers.front() else {
            return;
        };
        if !(first.when)(&self.world) {
            return;
        }
        let Some(trigger) = self.triggers.pop_front() else {
            return;
        };
        self.kill(&trigger.point);
        if trigger.restart {
            self.launch();
        }
        let _ = trigger.fired.send(self.world.clone());
    }

    fn observe(&mut self, seen: Seen) {
        use watcher::Event::{Apply, Delete, Init, InitApply, InitDone};
        let at = Timestamp::now();
        match seen {
            Seen::Model(event) => match *event {
                Apply(md) | InitApply(md) => {
                    if let Some(status) = &md.status {
                        self.checks.status(status);
                        self.note_change("status", describe(status));
                    }
                    self.world.md = Some(md);
                }
                Delete(_) => self.world.md = None,
                Init => self.relisted("ModelDeployment"),
                InitDone => self.listed("ModelDeployment"),
            },
            Seen::Route(event) => match *event {
                Apply(route) | InitApply(route) => {
                    for problem in route_problems(&route) {
                        self.violation(problem);
                    }
                    self.world.route = Some(route);
                    self.note_split();
                }
                Delete(_) => {
                    self.world.route = None;
                    self.note_split();
                }
                Init => self.relisted("HTTPRoute"),
                InitDone => self.listed("HTTPRoute"),
            },
            Seen::Virtual(event) => match *event {
                Apply(vs) | InitApply(vs) => {
                    for problem in vs_problems(&vs) {
                        self.violation(problem);
                    }
                    self.world.vs = Some(vs);
                    self.note_split();
                }
                Delete(_) => {
                    self.world.vs = None;
                    self.note_split();
                }
                Init => self.relisted("VirtualService"),
                InitDone => self.listed("VirtualService"),
            },
            Seen::Service(event) => match *event {
                Apply(service) | InitApply(service) => {
                    let name = service.name_any();
                    if name == "iris" {
                        let selects = selected_revision(&service);
                        if self.single_revision_service && selects.is_none() {
                            self.violation(format!(
                                "Service iris selects more than one revision: {:?}",
                                service.spec.as_ref().and_then(|s| s.selector.as_ref())
                            ));
                        }
                        if self.main_selects.last() != Some(&selects) {
                            self.main_selects.push(selects.clone());
                        }
                        self.note_change("service iris", format!("selects {selects:?}"));
                    }
                    self.world.services.insert(name, service);
                }
                Delete(service) => {
                    self.world.services.remove(&service.name_any());
                }
                Init => self.relisted("Service"),
                InitDone => self.listed("Service"),
            },
            Seen::Deployment(event) => match *event {
                Apply(deployment) | InitApply(deployment) => {
                    let name = deployment.name_any();
                    if deployment.metadata.deletion_timestamp.is_some() {
                        self.deleted(&name, at);
                    }
                    let replicas = deployment.spec.as_ref().and_then(|s| s.replicas);
                    let status = deployment.status.as_ref();
                    let ready = status.and_then(|s| s.ready_replicas).unwrap_or(0);
                    let available = status.and_then(|s| s.available_replicas).unwrap_or(0);
                    self.note_change(
                        &format!("deployment {name}"),
                        format!("replicas {replicas:?}, {ready} ready, {available} available"),
                    );
                    self.world.deployments.insert(name, deployment);
                }
                Delete(deployment) => {
                    let name = deployment.name_any();
                    self.deleted(&name, at);
                    self.world.deployments.remove(&name);
                }
                Init => self.relisted("Deployment"),
                InitDone => self.listed("Deployment"),
            },
            Seen::Announced(event) => match *event {
                Apply(event) | InitApply(event) => {
                    let about = event.regarding.as_ref();
                    let ours = about.and_then(|r| r.name.as_deref()) == Some("iris")
                        && about.and_then(|r| r.kind.as_deref()) == Some("ModelDeployment");
                    if ours && self.announced.insert(event.name_any()) {
                        let reason = event.reason.clone().unwrap_or_default();
                        let note = event.note.clone().unwrap_or_default();
                        self.note(format!("event {reason}: {note}"));
                        self.world.events.push((reason, note));
                    }
                }
                Delete(_) => {}
                InitDone => self.listed("Event"),
                Init => self.relisted("Event"),
            },
        }
        if let Some(operator) = self.operator.as_mut()
            && let Some(status) = operator.exited()
        {
            let number = operator.number();
            self.operator = None;
            self.violation(format!("operator #{number} exited on its own: {status}"));
        }
    }

    fn note_split(&mut self) {
        let split = self.world.split();
        if let Some(split) = &split
            && self.splits.last() != Some(split)
        {
            self.splits.push(split.clone());
        }
        self.note_change("route", format!("{split:?}"));
    }

    fn listed(&mut self, kind: &'static str) {
        self.listed.insert(kind);
    }

    /// A watch listed again: changes in between may be lost, so the next status is not
    /// compared with the one before the gap.
    fn relisted(&mut self, kind: &'static str) {
        if self.listed.contains(kind) {
            self.note(format!("the {kind} watch lists again"));
            if kind == "ModelDeployment" {
                self.checks.gap = true;
            }
        }
    }

    /// The Deployment `name` goes: its pods must have served their drain.
    fn deleted(&mut self, name: &str, at: Timestamp) {
        let Some(revision) = name.strip_prefix("iris-") else {
            return;
        };
        if let Some(due) = self.checks.scale_down_at.remove(revision) {
            self.note(format!(
                "deployment {name} deleted; its scale-down was due at {due}"
            ));
            if at < due {
                self.violation(format!(
                    "the pods of revision {revision} were removed at {at}, before their scale-down time {due}"
                ));
            }
        }
    }
}

fn describe(s: &ModelDeploymentStatus) -> String {
    let rollout = s.rollout.as_ref().map_or("-".to_owned(), |r| {
        format!(
            "{} {} {:?} {}/{} pause={}",
            r.model_version,
            r.revision,
            r.stage,
            r.step_index,
            r.step_count,
            r.pause.as_ref().map_or("-", |p| p.reason.as_str())
        )
    });
    format!(
        "phase={} stable={} rollout=[{rollout}] traffic={} retired={:?} request={}",
        s.phase.map_or("-", Phase::as_str),
        s.stable_revision.as_deref().unwrap_or("-"),
        s.traffic_summary.as_deref().unwrap_or("-"),
        s.retired_revisions
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        s.last_request
            .as_ref()
            .map_or("-".to_owned(), |r| format!("{}:{}", r.action, r.accepted)),
    )
}

/// Invariants of the recorded progress, checked on every status the watch shows.
#[derive(Default)]
struct Checks {
    violations: Vec<String>,
    /// The status seen before this one.
    last: Option<ModelDeploymentStatus>,
    /// The watch listed again since `last`: the next status is not compared with it.
    gap: bool,
    /// Attempt of each revision's rollout: 1, and one more for each retry.
    attempts: BTreeMap<String, u32>,
    started_at: BTreeMap<String, Timestamp>,
    step_started_at: BTreeMap<(String, u32, String, i32), Timestamp>,
    /// Scale-down times recorded for retired revisions, until their Deployment goes.
    scale_down_at: BTreeMap<String, Timestamp>,
    /// `revision#attempt stage index`, consecutive repeats left out, for the report.
    progress: Vec<String>,
    /// Measurements recorded per (revision, attempt, analysis, metric), and when the last was
    /// taken.
    measured: BTreeMap<MetricKey, (i32, Option<Timestamp>)>,
}

/// A metric of one attempt of a revision's rollout: (revision, attempt, analysis, metric).
type MetricKey = (String, u32, String, String);

impl Checks {
    /// No recorded measurement is lost, none is recorded twice (one write records at most one
    /// per metric), and each is taken after the one before.
    fn measurements(&mut self, r: &RolloutStatus, attempt: u32, gap: bool) {
        for run in &r.analysis {
            for m in &run.metrics {
                let key = (
                    r.revision.clone(),
                    attempt,
                    run.name.clone(),
                    m.name.clone(),
                );
                let last_at = m.measurements.last().map(|x| x.measured_at.0);
                if let Some((before, before_at)) = self.measured.get(&key) {
                    let at = format!(
                        "{} {} of revision {}#{attempt}",
                        run.name, m.name, r.revision
                    );
                    if m.measured < *before {
                        self.violations.push(format!(
                            "{at}: measurements lost, {before} recorded before and {} now",
                            m.measured
                        ));
                    } else if !gap && m.measured > before + 1 {
                        self.violations.push(format!(
                            "{at}: {} measurements recorded in one write",
                            m.measured - before
                        ));
                    }
                    if m.measured > *before && last_at <= *before_at {
                        self.violations.push(format!(
                            "{at}: a measurement recorded at {last_at:?}, not after the one before at {before_at:?}"
                        ));
                    }
                }
                self.measured.insert(key, (m.measured, last_at));
            }
        }
    }

    fn status(&mut self, s: &ModelDeploymentStatus) {
        if !s.traffic.is_empty() {
            let sum: i32 = s.traffic.iter().map(|t| t.weight).sum();
            if sum != 100 {
                self.violations
                    .push(format!("status.traffic sums to {sum}: {:?}", s.traffic));
            }
        }
        for retired in &s.retired_revisions {
            let due = retired.scale_down_at.0;
            match self.scale_down_at.get(&retired.name) {
                Some(recorded) if *recorded != due => self.violations.push(format!(
                    "the scale-down of revision {} moved from {recorded} to {due}",
                    retired.name
                )),
                Some(_) => {}
                None => {
                    self.scale_down_at.insert(retired.name.clone(), due);
                }
            }
        }

        let before = self.last.as_ref();
        let previous = before.and_then(|b| b.rollout.as_ref());
        let new_request = |action: RequestAction| {
            s.last_request.as_ref().is_some_and(|r| {
                r.action == action.as_str()
                    && r.accepted
                    && before
                        .and_then(|b| b.last_request.as_ref())
                        .is_none_or(|l: &RequestStatus| l.id != r.id)
            })
        };
        let gap = std::mem::take(&mut self.gap);
        match (previous, s.rollout.as_ref()) {
            _ if gap => {}
            (a, Some(b)) if a.is_none_or(|a| a.revision != b.revision) => {
                let first_deploy =
                    s.stable_revision.is_none() && b.stage == RolloutStage::Promoting;
                if self.attempts.contains_key(&b.revision) {
                    self.violations.push(format!(
                        "the rollout of revision {} started over",
                        b.revision
                    ));
                } else if !first_deploy && (b.stage != RolloutStage::Steps || b.step_index != 0) {
                    self.violations.push(format!(
                        "the rollout of revision {} was first seen at {:?} step {}",
                        b.revision, b.stage, b.step_index
                    ));
                }
                self.attempts.insert(b.revision.clone(), 1);
            }
            (Some(a), Some(b)) => {
                use RolloutStage::{Aborted, Aborting, Promoting, Steps};
                let (i, j) = (a.step_index, b.step_index);
                let fine = match (a.stage, b.stage) {
                    (Steps, Steps) => j == i || j == i + 1,
                    (Steps, Promoting) => {
                        (j == i && (i == a.step_count || new_request(RequestAction::PromoteFull)))
                            || (j == i + 1 && j == b.step_count)
                    }
                    (Steps | Promoting, Aborting) | (Aborting, Aborted) => j == i,
                    (Aborted, Steps) => {
                        let retried = j == 0 && new_request(RequestAction::Retry);
                        if retried {
                            *self.attempts.entry(b.revision.clone()).or_insert(1) += 1;
                        }
                        retried
                    }
                    (x, y) => x == y && j == i,
                };
                if !fine {
                    self.violations.push(format!(
                        "the rollout of revision {} went from {:?} step {i} to {:?} step {j} (last request {:?})",
                        b.revision, a.stage, b.stage, s.last_request
                    ));
                }
            }
            (Some(a), None) => {
                if s.stable_revision.as_deref() != Some(a.revision.as_str()) {
                    self.violations.push(format!(
                        "the rollout of revision {} ended without it serving; stable is {:?}",
                        a.revision, s.stable_revision
                    ));
                }
            }
            (None, _) => {}
        }

        if let Some(r) = &s.rollout {
            let attempt = self.attempts.get(&r.revision).copied().unwrap_or(1);
            self.measurements(r, attempt, gap);
        }
        if let Some(r) = &s.rollout {
            let attempt = self.attempts.get(&r.revision).copied().unwrap_or(1);
            let started = r.started_at.0;
            if let Some(recorded) = self.started_at.get(&r.revision)
                && *recorded != started
            {
                self.violations.push(format!(
                    "the rollout of revision {} moved its start from {recorded} to {started}",
                    r.revision
                ));
            }
            self.started_at.entry(r.revision.clone()).or_insert(started);
            if let Some(step_started) = r.step_started_at.as_ref().map(|t| t.0) {
                let key = (
                    r.revision.clone(),
                    attempt,
                    format!("{:?}", r.stage),
                    r.step_index,
                );
                match self.step_started_at.get(&key) {
                    Some(recorded) if *recorded != step_started => {
                        self.violations.push(format!(
                            "step {} ({:?}) of revision {} started again: {recorded}, then {step_started}",
                            r.step_index, r.stage, r.revision
                        ));
                    }
                    Some(_) => {}
                    None => {
                        self.step_started_at.insert(key, step_started);
                    }
                }
            }
            let entry = format!("{}#{attempt} {:?} {}", r.revision, r.stage, r.step_index);
            if self.progress.last() != Some(&entry) {
                self.progress.push(entry);
            }
        }
        self.last = Some(s.clone());
    }
}

async fn record(
    shared: Arc<Mutex<Shared>>,
    mut seen: BoxStream<'static, Result<Seen, watcher::Error>>,
    changes: watch::Sender<u64>,
) {
    while let Some(item) = seen.next().await {
        {
            let mut shared = shared.lock().unwrap();
            match item {
                Ok(seen) => shared.observe(seen),
                Err(error) => shared.note(format!("watch error: {error}")),
            }
            shared.trigger();
        }
        changes.send_modify(|n| *n += 1);
    }
}

/// The events announced twice within one attempt (the retries, at `retries`, separate the
/// attempts), or counted as a series. A failed reconcile (`Reconcile*`) is reported each time it
/// fails; it is no announcement.
fn announced_twice(events: &[Event], retries: &[Timestamp]) -> Vec<String> {
    let mut count: BTreeMap<(usize, String, String), usize> = BTreeMap::new();
    let mut problems = Vec::new();
    for event in events {
        let reason = event.reason.clone().unwrap_or_default();
        let note = event.note.clone().unwrap_or_default();
        if reason.starts_with("Reconcile") {
            continue;
        }
        if let Some(series) = &event.series {
            problems.push(format!(
                "{reason} {note:?} was announced {} times (as a series)",
                series.count
            ));
        }
        let at = event
            .event_time
            .as_ref()
            .map(|t| t.0)
            .or_else(|| event.deprecated_first_timestamp.as_ref().map(|t| t.0))
            .unwrap_or_default();
        let attempt = retries.iter().filter(|r| **r <= at).count();
        *count.entry((attempt, reason, note)).or_default() += 1;
    }
    for ((attempt, reason, note), n) in count {
        if n > 1 {
            problems.push(format!(
                "{reason} {note:?} was announced {n} times in attempt {}",
                attempt + 1
            ));
        }
    }
    problems
}

/// `reason×count, ...` of `events`, for the report.
fn event_summary(events: &[Event]) -> String {
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for event in events {
        *reasons
            .entry(event.reason.as_deref().unwrap_or("-"))
            .or_default() += 1;
    }
    let parts: Vec<String> = reasons
        .iter()
        .map(|(reason, n)| format!("{reason}×{n}"))
        .collect();
    format!("{} ({})", events.len(), parts.join(", "))
}

// ---------------------------------------------------------------------------------------------
// The rig: one namespace, one operator process at a time, the recorder, and the test's steering
// ---------------------------------------------------------------------------------------------

struct Rig {
    ns: TestNamespace,
    client: kube::Client,
    /// `kubectl` and the kubeconfig, to delete the namespace of a failed test.
    kubectl: PathBuf,
    kubeconfig: PathBuf,
    finished: bool,
    models: Api<ModelDeployment>,
    events: Api<Event>,
    shared: Arc<Mutex<Shared>>,
    changes: watch::Receiver<u64>,
    recorder: tokio::task::JoinHandle<()>,
    log: PathBuf,
    /// When each retry was asked for: events are unique within the attempts these separate.
    retries: Vec<Timestamp>,
    started: Instant,
}

impl Rig {
    async fn start(prefix: &str, single_revision_service: bool) -> Rig {
        let started = Instant::now();
        let cluster = Cluster::connect().await;
        let ns = cluster.namespace(prefix).await;
        let binary = tokio::task::spawn_blocking(operator_binary).await.unwrap();
        let log = test_dir(&ns.name).join("operator.log");
        let command = OperatorCommand {
            binary,
            kubeconfig: cluster.kubeconfig.clone(),
            namespace: ns.name.clone(),
            log: log.clone(),
        };
        let iris = watcher::Config::default().fields("metadata.name=iris");
        let all = watcher::Config::default;
        let seen = futures::stream::select_all([
            watch(ns.api(), iris, |event| Seen::Model(Box::new(event))),
            watch(ns.api(), all(), |event| Seen::Route(Box::new(event))),
            watch(ns.api(), all(), |event| Seen::Virtual(Box::new(event))),
            watch(ns.api(), all(), |event| Seen::Service(Box::new(event))),
            watch(ns.api(), all(), |event| Seen::Deployment(Box::new(event))),
            watch(ns.api(), all(), |event| Seen::Announced(Box::new(event))),
        ]);
        let shared = Arc::new(Mutex::new(Shared {
            world: World::default(),
            started,
            command,
            operator: None,
            starts: 0,
            triggers: VecDeque::new(),
            kills: Vec::new(),
            checks: Checks::default(),
            single_revision_service,
            listed: BTreeSet::new(),
            announced: BTreeSet::new(),
            timeline: Vec::new(),
            last_note: BTreeMap::new(),
            splits: Vec::new(),
            main_selects: Vec::new(),
        }));
        let (sender, changes) = watch::channel(0);
        let recorder = tokio::spawn(record(shared.clone(), seen.boxed(), sender));
        let rig = Rig {
            models: ns.api(),
            events: ns.api(),
            ns,
            client: cluster.client.clone(),
            kubectl: cluster.tool("kubectl"),
            kubeconfig: cluster.kubeconfig.clone(),
            finished: false,
            shared,
            changes,
            recorder,
            log,
            retries: Vec::new(),
            started,
        };
        rig.until_shared("every watch has listed once", |s| {
            (s.listed.len() == KINDS).then_some(())
        })
        .await;
        rig
    }

    fn launch(&self) {
        self.shared.lock().unwrap().launch();
    }

    fn world(&self) -> World {
        self.shared.lock().unwrap().world.clone()
    }

    /// Arms a kill at `point`: the operator is killed the moment the watches show a state that
    /// satisfies `when` (after the triggers armed before this one have fired), then started again.
    fn arm(&self, point: &str, when: impl Fn(&World) -> bool + Send + 'static) -> Armed {
        self.arm_trigger(point, Box::new(when), true)
    }

    /// Like [`Rig::arm`], but the test starts the next operator itself.
    fn arm_without_restart(
        &self,
        point: &str,
        when: impl Fn(&World) -> bool + Send + 'static,
    ) -> Armed {
        self.arm_trigger(point, Box::new(when), false)
    }

    /// Arms a kill the moment an event `reason` whose note contains `note` is announced (after
    /// this call): the operator has recorded the transition and published its events, and the
    /// next operator must not announce them again.
    fn arm_on_event(&self, point: &str, reason: &'static str, note: &str) -> Armed {
        self.arm_trigger(point, self.announced(reason, note), true)
    }

    /// Like [`Rig::arm_on_event`], but the test starts the next operator itself.
    fn arm_on_event_without_restart(&self, point: &str, reason: &'static str, note: &str) -> Armed {
        self.arm_trigger(point, self.announced(reason, note), false)
    }

    /// Whether an event `reason` whose note contains `note` was announced after this call.
    fn announced(&self, reason: &'static str, note: &str) -> Predicate {
        let after = self.shared.lock().unwrap().world.events.len();
        let note = note.to_owned();
        Box::new(move |w: &World| {
            w.events
                .iter()
                .skip(after)
                .any(|(r, n)| r == reason && n.contains(&note))
        })
    }

    /// Starts the next operator 1.5 s after the current step started, as recorded in `world`:
    /// an operator that took the step as started anew would record a later second.
    async fn launch_well_into_the_step(&self, world: &World) {
        let started = world
            .rollout()
            .and_then(|r| r.step_started_at.clone())
            .expect("a step records when it started");
        wait_until(started.0 + std::time::Duration::from_millis(1500)).await;
        self.launch();
    }

    fn arm_trigger(&self, point: &str, when: Predicate, restart: bool) -> Armed {
        let (sender, fired) = oneshot::channel();
        self.shared.lock().unwrap().triggers.push_back(Trigger {
            point: point.to_owned(),
            when,
            restart,
            fired: sender,
        });
        Armed {
            point: point.to_owned(),
            fired,
        }
    }

    /// Waits until the kill armed as `armed` has happened; returns the world it was made in.
    async fn fired(&self, armed: Armed) -> World {
        match tokio::time::timeout(TIMEOUT, armed.fired).await {
            Ok(Ok(world)) => world,
            _ => self.fail(&format!(
                "the kill at {:?} did not happen within {TIMEOUT:?}",
                armed.point
            )),
        }
    }

    async fn until_shared<T>(&self, description: &str, check: impl Fn(&Shared) -> Option<T>) -> T {
        let mut changes = self.changes.clone();
        let wait = async {
            loop {
                changes.borrow_and_update();
                if let Some(value) = check(&self.shared.lock().unwrap()) {
                    return Some(value);
                }
                if changes.changed().await.is_err() {
                    return None;
                }
            }
        };
        match tokio::time::timeout(TIMEOUT, wait).await {
            Ok(Some(value)) => value,
            Ok(None) => self.fail(&format!("the recorder stopped before {description}")),
            Err(_) => self.fail(&format!(
                "timed out after {TIMEOUT:?} waiting until {description}"
            )),
        }
    }

    async fn until(&self, description: &str, check: impl Fn(&World) -> bool) -> World {
        self.until_shared(description, |s| check(&s.world).then(|| s.world.clone()))
            .await
    }

    /// Waits until model `version` serves alone (`old`'s Deployment gone); returns its revision.
    async fn until_settled(&self, version: &str, old: Option<&str>, services: &[&str]) -> String {
        let world = self
            .until(
                &format!("model {version} serves alone with Services {services:?}"),
                |w| w.settled(version, services) && old.is_none_or(|old| w.replicas(old).is_none()),
            )
            .await;
        world
            .status()
            .and_then(|s| s.stable_revision.clone())
            .unwrap()
    }

    async fn until_gone(&self, revision: &str) {
        self.until(
            &format!("the Deployment of revision {revision} is removed"),
            |w| w.replicas(revision).is_none(),
        )
        .await;
    }

    async fn apply(&self, md: &ModelDeployment) {
        apply_md(&self.models, md).await;
    }

    /// Asks for `action` as `kubectl modeldeploy` does; returns the request's id.
    async fn request(&mut self, action: RequestAction) -> String {
        let id = format!(
            "{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        if action == RequestAction::Retry {
            self.retries.push(Timestamp::now());
        }
        let value = json!({"id": id, "action": action.as_str()}).to_string();
        self.models
            .patch(
                "iris",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"annotations": {REQUEST_ANNOTATION: value}}})),
            )
            .await
            .unwrap();
        id
    }

    /// The candidate's weight on the route each time it changed.
    fn candidate_weights(&self) -> Vec<i32> {
        let shared = self.shared.lock().unwrap();
        let mut weights: Vec<i32> = shared.splits.iter().filter_map(|s| s.candidate).collect();
        weights.dedup();
        weights
    }

    /// The revisions Service `iris` selected, in order.
    fn main_service_history(&self) -> Vec<String> {
        let shared = self.shared.lock().unwrap();
        let mut history: Vec<String> = shared.main_selects.iter().flatten().cloned().collect();
        history.dedup();
        history
    }

    fn report(&self, shared: &Shared) -> String {
        let kills: Vec<String> = shared
            .kills
            .iter()
            .enumerate()
            .map(|(n, k)| format!("  {:2}. operator #{}: {}", n + 1, k.operator, k.point))
            .collect();
        format!(
            "namespace {} after {:.1}s, {} operator starts, operator log {}\nkills:\n{}\nprogress: {}\nroute splits: {:?}\nviolations: {:#?}\ntimeline:\n{}",
            self.ns.name,
            self.started.elapsed().as_secs_f64(),
            shared.starts,
            self.log.display(),
            kills.join("\n"),
            shared.checks.progress.join(" → "),
            shared.splits,
            shared.checks.violations,
            shared.timeline.join("\n"),
        )
    }

    fn fail(&self, message: &str) -> ! {
        let report = match self.shared.lock() {
            Ok(shared) => self.report(&shared),
            Err(_) => String::from("(the recorder panicked)"),
        };
        panic!(
            "{message}\n{report}\nlast lines of the operator log:\n{}\n(the namespace is deleted; set {KEEP}=1 to keep it)",
            tail(&self.log, 40)
        );
    }

    /// The events about ModelDeployment `iris`.
    async fn events_about_iris(&self) -> Vec<Event> {
        let events = self.events.list(&ListParams::default()).await.unwrap();
        events
            .items
            .into_iter()
            .filter(|e| {
                let about = e.regarding.as_ref();
                about.and_then(|r| r.name.as_deref()) == Some("iris")
                    && about.and_then(|r| r.kind.as_deref()) == Some("ModelDeployment")
            })
            .collect()
    }

    /// Stops the last operator (no kill point), checks everything recorded and the events, and
    /// deletes the namespace. `points` is the number of kill points this test armed.
    async fn finish(mut self, points: usize) {
        {
            let mut shared = self.shared.lock().unwrap();
            shared.operator.take();
        }
        self.recorder.abort();
        let events = self.events_about_iris().await;
        let duplicates = announced_twice(&events, &self.retries);
        let (kills, violations, report) = {
            let shared = self.shared.lock().unwrap();
            (
                shared.kills.clone(),
                shared.checks.violations.clone(),
                self.report(&shared),
            )
        };
        println!("{report}\nevents about iris: {}", event_summary(&events));
        if !violations.is_empty() || !duplicates.is_empty() {
            self.fail(&format!(
                "invariants broken across SIGKILLs:\n{violations:#?}\nevents announced twice:\n{duplicates:#?}"
            ));
        }
        let distinct: BTreeSet<&str> = kills.iter().map(|k| k.point.as_str()).collect();
        assert_eq!(
            distinct.len(),
            kills.len(),
            "every kill point is distinct: {kills:#?}"
        );
        assert_eq!(kills.len(), points, "every armed kill happened: {kills:#?}");
        assert!(
            distinct.len() >= MIN_POINTS_PER_STRATEGY,
            "at least {MIN_POINTS_PER_STRATEGY} kill points: {kills:#?}"
        );
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let _ = namespaces
            .delete(&self.ns.name, &kube::api::DeleteParams::default())
            .await;
        self.finished = true;
    }
}

/// Set to keep the namespace of a failed test for a look at it.
const KEEP: &str = "MODELDEPLOY_E2E_KEEP_NAMESPACE";

impl Drop for Rig {
    /// A failed test stops its operator and deletes its namespace, so its pods do not take the
    /// fake node's capacity from the tests that follow.
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if let Ok(mut shared) = self.shared.lock() {
            shared.operator.take();
        }
        if std::env::var_os(KEEP).is_none() {
            let _ = std::process::Command::new(&self.kubectl)
                .args(["delete", "namespace", &self.ns.name, "--wait=false"])
                .env("KUBECONFIG", &self.kubeconfig)
                .output();
        }
    }
}

/// The checks themselves, without a cluster: each catches what it is there for, and a rollout
/// walked as it should passes them.
mod the_checks {
    use super::*;

    fn status(
        stage: &str,
        index: i32,
        step_started: u32,
        request: Option<&str>,
    ) -> ModelDeploymentStatus {
        let mut value = json!({
            "stableRevision": "old",
            "traffic": [{"revision": "old", "weight": 80}, {"revision": "new", "weight": 20}],
            "rollout": {
                "revision": "new",
                "modelVersion": NEW,
                "startedAt": "2026-01-01T00:00:00Z",
                "strategy": "canary",
                "stage": stage,
                "stepIndex": index,
                "stepCount": 4,
                "stepStartedAt": format!("2026-01-01T00:00:{step_started:02}Z"),
            },
        });
        if let Some(action) = request {
            value["lastRequest"] = json!({"id": format!("{action}-{step_started}"), "action": action, "accepted": true, "message": ""});
        }
        serde_json::from_value(value).unwrap()
    }

    fn violations(statuses: &[ModelDeploymentStatus]) -> Vec<String> {
        let mut checks = Checks::default();
        for s in statuses {
            checks.status(s);
        }
        checks.violations
    }

    #[test]
    fn pass_a_rollout_walked_step_by_step() {
        let walked = [
            status("Steps", 0, 0, None),
            status("Steps", 1, 1, None),
            status("Steps", 1, 1, None),
            status("Steps", 2, 5, Some("promote")),
            status("Steps", 3, 6, Some("promote")),
            status("Steps", 4, 7, Some("promote")),
            status("Promoting", 4, 8, Some("promote")),
            status("Aborting", 4, 9, Some("abort")),
            status("Aborted", 4, 9, Some("abort")),
            status("Steps", 0, 10, Some("retry")),
            status("Promoting", 0, 11, Some("promoteFull")),
        ];
        assert_eq!(violations(&walked), Vec::<String>::new());
    }

    /// Checks `sequence`, after the first step, and expects a violation that mentions `what`.
    fn caught(sequence: &[ModelDeploymentStatus], what: &str) {
        let mut all = vec![status("Steps", 0, 0, None)];
        all.extend_from_slice(sequence);
        let found = violations(&all);
        assert!(
            found.iter().any(|v| v.contains(what)),
            "expected a violation about {what:?}: {found:?}"
        );
    }

    #[test]
    fn catch_a_skipped_step_a_step_done_again_and_a_restarted_pause() {
        caught(
            &[status("Steps", 2, 1, None)],
            "from Steps step 0 to Steps step 2",
        );
        caught(
            &[status("Steps", 1, 1, None), status("Steps", 0, 2, None)],
            "from Steps step 1 to Steps step 0",
        );
        caught(
            &[status("Steps", 1, 1, None), status("Steps", 1, 3, None)],
            "step 1 (Steps) of revision new started again",
        );
        caught(
            &[status("Steps", 1, 1, None), status("Promoting", 1, 2, None)],
            "from Steps step 1 to Promoting step 1",
        );
        caught(
            &[
                status("Steps", 1, 1, None),
                status("Aborting", 1, 2, Some("abort")),
                status("Aborted", 1, 2, Some("abort")),
                status("Steps", 0, 3, Some("abort")),
            ],
            "from Aborted step 1 to Steps step 0",
        );
        let mut gone = status("Steps", 1, 1, None);
        gone.rollout = None;
        caught(&[gone], "ended without it serving");
    }

    #[test]
    fn catch_splits_that_do_not_sum_to_100() {
        let mut bad = status("Steps", 0, 0, None);
        bad.traffic[1].weight = 30;
        assert_eq!(violations(&[bad]).len(), 1);

        let route = |stable: i32, canary: i32| -> HTTPRoute {
            serde_json::from_value(json!({
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "HTTPRoute",
                "metadata": {"name": "iris"},
                "spec": {"rules": [
                    {
                        "name": "matches",
                        "matches": [{"headers": [{"name": "x-tester", "value": "yes"}]}],
                        "backendRefs": [{"name": "iris-canary", "weight": 1}],
                    },
                    {
                        "name": "split",
                        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                        "backendRefs": [
                            {"name": "iris-stable", "weight": stable},
                            {"name": "iris-canary", "weight": canary},
                        ],
                    },
                ]},
            }))
            .unwrap()
        };
        assert_eq!(route_problems(&route(70, 30)), Vec::<String>::new());
        assert_eq!(
            route_split(&route(70, 30)),
            Split {
                stable: 70,
                candidate: Some(30),
                mirror: None,
                matches: true
            }
        );
        assert_eq!(route_problems(&route(70, 40)).len(), 1);

        let vs = |weights: serde_json::Value| -> VirtualService {
            serde_json::from_value(json!({
                "apiVersion": "networking.istio.io/v1",
                "kind": "VirtualService",
                "metadata": {"name": "iris"},
                "spec": {"http": [{"name": "primary", "route": weights}]},
            }))
            .unwrap()
        };
        let stable_alone =
            vs(json!([{"destination": {"host": "iris-stable.ns.svc.cluster.local"}}]));
        assert_eq!(vs_problems(&stable_alone), Vec::<String>::new());
        assert_eq!(vs_split(&stable_alone), Split::stable_only());
        let over = vs(json!([
            {"destination": {"host": "iris-stable.ns.svc.cluster.local"}, "weight": 90},
            {"destination": {"host": "iris-canary.ns.svc.cluster.local"}, "weight": 20},
        ]));
        assert_eq!(vs_problems(&over).len(), 1);
    }

    #[test]
    fn catch_an_event_announced_twice_in_one_attempt() {
        let event = |note: &str, at: &str, count: Option<i32>| -> Event {
            serde_json::from_value(json!({
                "metadata": {"name": format!("iris.{at}")},
                "eventTime": at,
                "reason": "StepStarted",
                "note": note,
                "series": count.map(|c| json!({"count": c, "lastObservedTime": at})),
            }))
            .unwrap()
        };
        let retries = ["2026-01-01T00:01:00Z".parse::<Timestamp>().unwrap()];
        let once_per_attempt = [
            event("step 2/2", "2026-01-01T00:00:10.000000Z", None),
            event("step 2/2", "2026-01-01T00:01:10.000000Z", None),
        ];
        assert_eq!(
            announced_twice(&once_per_attempt, &retries),
            Vec::<String>::new()
        );
        let twice = [
            event("step 2/2", "2026-01-01T00:00:10.000000Z", None),
            event("step 2/2", "2026-01-01T00:00:20.000000Z", None),
        ];
        assert_eq!(announced_twice(&twice, &retries).len(), 1);
        let series = [event("step 2/2", "2026-01-01T00:00:10.000000Z", Some(2))];
        assert_eq!(announced_twice(&series, &retries).len(), 1);
    }
}
