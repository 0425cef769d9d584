//! The `status` summary of one ModelDeployment, for people. Pure: the object, its events and
//! the time in, text out, so that every line can be tested without a cluster.

use k8s_openapi::api::events::v1::Event;
use modeldeploy_api::v1alpha1::{
    MeasurementPhase, ModelDeployment, ModelDeploymentStatus, PauseReason, PauseStatus,
    RolloutStage, RolloutStatus,
};

use crate::columns::columns;
use crate::durations;
use crate::events;

/// Width of the labels, so that values line up.
const LABEL_WIDTH: usize = 15;

/// Marks a step that is done.
const DONE: &str = "✓";
/// Marks the step the rollout is at.
const CURRENT: &str = "▶";

/// The summary `kubectl modeldeploy status` prints. `events` are oldest first.
pub fn render(deployment: &ModelDeployment, events: &[Event], now: jiff::Timestamp) -> String {
    let name = deployment.metadata.name.as_deref().unwrap_or_default();
    let mut text = Text::default();
    text.field("Name", name);
    text.field(
        "Namespace",
        deployment.metadata.namespace.as_deref().unwrap_or_default(),
    );
    match &deployment.status {
        Some(status) => render_status(&mut text, name, status, now),
        None => text.field(
            "Phase",
            "no status yet; is modeldeploy-operator running and watching this namespace?",
        ),
    }
    render_events(&mut text, events, now);
    text.0
}

fn render_status(
    text: &mut Text,
    name: &str,
    status: &ModelDeploymentStatus,
    now: jiff::Timestamp,
) {
    text.field(
        "Phase",
        status.phase.map_or("Unknown", |phase| phase.as_str()),
    );
    text.field("Serving", serving(status));
    if let Some(ready) = &status.ready {
        text.field("Ready", ready);
    }
    if let Some(candidate) = candidate(status, now) {
        text.field("Candidate", candidate);
    }
    if let Some(rollout) = &status.rollout {
        render_rollout(text, name, rollout, now);
    }
    if let Some(traffic) = traffic(status) {
        text.field("Traffic", traffic);
    }
    if let Some(mirror) = &status.mirror {
        text.field(
            "Mirror",
            format!(
                "{} gets a copy of {}% of requests; its answers are dropped",
                mirror.revision, mirror.percent
            ),
        );
    }
    render_revisions(text, status);
    if let Some(undo) = &status.undo {
        text.field(
            "Undo",
            format!(
                "revision {} (model {}) serves instead of the spec's revision {} until the spec changes",
                undo.revision, undo.model_version, undo.spec_revision
            ),
        );
    }
    render_history(text, status);
    if let Some(message) = &status.message {
        text.field("Message", message);
    }
    render_conditions(text, status);
    if let Some(request) = &status.last_request {
        let outcome = if request.accepted {
            "accepted"
        } else {
            "refused"
        };
        text.field(
            "Last request",
            format!(
                "{} {} {outcome}: {}",
                request.action, request.id, request.message
            ),
        );
    }
}

fn serving(status: &ModelDeploymentStatus) -> String {
    match (&status.serving_model_version, &status.stable_revision) {
        (Some(version), Some(revision)) => format!("model {version} on revision {revision}"),
        (None, Some(revision)) => format!("revision {revision}"),
        (Some(version), None) => format!("model {version}"),
        (None, None) => "nothing yet".to_owned(),
    }
}

fn candidate(status: &ModelDeploymentStatus, now: jiff::Timestamp) -> Option<String> {
    let Some(rollout) = &status.rollout else {
        return status
            .candidate_revision
            .as_ref()
            .map(|revision| format!("revision {revision}"));
    };
    let mut candidate = format!(
        "revision {} (model {})",
        rollout.revision, rollout.model_version
    );
    if !rollout.strategy.is_empty() {
        candidate.push_str(&format!(", strategy {}", rollout.strategy));
    }
    candidate.push_str(&format!(
        ", started {} ago",
        durations::approximate(now.duration_since(rollout.started_at.0).as_secs())
    ));
    Some(candidate)
}

fn render_rollout(text: &mut Text, name: &str, rollout: &RolloutStatus, now: jiff::Timestamp) {
    if rollout.stage != RolloutStage::Steps {
        text.field("Stage", stage(rollout.stage));
    }
    if rollout.steps.is_empty() {
        // An operator older than the `steps` list only reports the current step.
        if let Some(step) = &rollout.step {
            text.field("Step", step);
        }
    } else {
        text.heading("Steps");
        for (index, label) in rollout.steps.iter().enumerate() {
            let index = i32::try_from(index).unwrap_or(i32::MAX);
            let mark = if index < rollout.step_index {
                DONE
            } else if index == rollout.step_index && rollout.stage == RolloutStage::Steps {
                CURRENT
            } else {
                " "
            };
            text.line(format!("  {mark} {}. {label}", index + 1));
        }
    }
    if let Some(pause) = &rollout.pause {
        text.field("Paused", paused(name, pause, now));
    }
    if rollout.paused_by_user
        && rollout
            .pause
            .as_ref()
            .is_none_or(|pause| pause.reason != PauseReason::ByUser)
    {
        text.field(
            "Held",
            format!("by `kubectl modeldeploy pause`; `kubectl modeldeploy resume {name}` goes on"),
        );
    }
    if let Some(reason) = &rollout.abort_reason {
        text.field("Abort reason", reason);
    }
    render_analysis(text, rollout);
    render_decision(text, rollout);
}

/// The A/B decision: each variant's figures, the effect with its interval, the p-values.
fn render_decision(text: &mut Text, rollout: &RolloutStatus) {
    let Some(decision) = &rollout.decision else {
        return;
    };
    text.heading("A/B decision");
    text.line(format!(
        "  {} after {} readings",
        decision.phase.as_str(),
        decision.readings
    ));
    for (side, variant) in [
        ("stable", &decision.stable),
        ("candidate", &decision.candidate),
    ] {
        if let Some(v) = variant {
            text.line(format!(
                "  {side:<9} {}  mean {}  samples {}",
                v.revision, v.mean, v.samples
            ));
        }
    }
    if let (Some(effect), Some(low), Some(high)) = (
        &decision.effect,
        &decision.effect_low,
        &decision.effect_high,
    ) {
        let relative = decision
            .relative_effect_percent
            .as_deref()
            .map(|r| format!(" ({r} %)"))
            .unwrap_or_default();
        text.line(format!(
            "  effect    {effect}{relative}, interval [{low}, {high}]"
        ));
    }
    let figures: Vec<String> = [
        ("p-value", &decision.p_value),
        ("sample-ratio p-value", &decision.sample_ratio_p_value),
        ("expected samples per variant", &decision.expected_samples),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.as_ref().map(|v| format!("{name} {v}")))
    .collect();
    if !figures.is_empty() {
        text.line(format!("  {}", figures.join(", ")));
    }
    if let Some(message) = &decision.message {
        text.line(format!("  {message}"));
    }
}

/// Each analysis with each metric's latest values, oldest first.
fn render_analysis(text: &mut Text, rollout: &RolloutStatus) {
    if rollout.analysis.is_empty() {
        return;
    }
    text.heading("Analysis");
    for run in &rollout.analysis {
        text.line(format!("  {} {}", run.name, run.phase.as_str()));
        for metric in &run.metrics {
            let values: Vec<String> = metric
                .measurements
                .iter()
                .map(|m| match (&m.value, m.phase) {
                    (Some(value), MeasurementPhase::Successful) => value.clone(),
                    (Some(value), phase) => format!("{value} ({})", phase.as_str()),
                    (None, phase) => phase.as_str().to_owned(),
                })
                .collect();
            let dry_run = if metric.dry_run { ", dry run" } else { "" };
            text.line(format!(
                "    {} {}{dry_run}: {} measured, {} failed, {} inconclusive, {} errors; latest {}",
                metric.name,
                metric.phase.as_str(),
                metric.measured,
                metric.failed,
                metric.inconclusive,
                metric.errors,
                if values.is_empty() {
                    "-".to_owned()
                } else {
                    values.join(", ")
                }
            ));
            if let Some(message) = metric
                .measurements
                .last()
                .and_then(|m| m.message.as_deref())
            {
                text.line(format!("      {message}"));
            }
        }
    }
}

fn stage(stage: RolloutStage) -> &'static str {
    match stage {
        RolloutStage::Steps => "walking the steps",
        RolloutStage::Promoting => "promoting: the new revision gets full size, then all traffic",
        RolloutStage::Aborting => "aborting: traffic goes back to the stable revision",
        RolloutStage::Aborted => {
            "aborted: the stable revision serves; the new revision's pods are removed shortly"
        }
    }
}

fn paused(name: &str, pause: &PauseStatus, now: jiff::Timestamp) -> String {
    let reason = pause.reason.as_str();
    match (pause.reason, &pause.until) {
        (PauseReason::Timed, Some(until)) => {
            let left = until.0.duration_since(now).as_secs();
            let when = if left > 0 {
                format!("in {}", durations::approximate(left))
            } else {
                "now".to_owned()
            };
            format!("{reason}, until {} ({when})", until.0)
        }
        (PauseReason::Timed, None) => reason.to_owned(),
        (PauseReason::Indefinite, _) => {
            format!("{reason}: `kubectl modeldeploy promote {name}` goes on")
        }
        (PauseReason::AwaitingPromotion, _) => {
            format!("{reason}: `kubectl modeldeploy promote {name}` promotes")
        }
        (PauseReason::ByUser, _) => {
            format!("{reason}: `kubectl modeldeploy resume {name}` goes on")
        }
        (
            PauseReason::AnalysisFailed
            | PauseReason::AnalysisInconclusive
            | PauseReason::AnalysisError,
            _,
        ) => format!(
            "{reason}: `kubectl modeldeploy promote {name}` skips the gate, `resume` measures again, `abort` rolls back"
        ),
    }
}

fn traffic(status: &ModelDeploymentStatus) -> Option<String> {
    if status.traffic.is_empty() {
        return status.traffic_summary.clone();
    }
    let shares: Vec<String> = status
        .traffic
        .iter()
        .map(|target| format!("{} {}%", target.revision, target.weight))
        .collect();
    Some(shares.join(", "))
}

/// The kept revisions, for `undo --to-revision`.
fn render_history(text: &mut Text, status: &ModelDeploymentStatus) {
    if status.history.is_empty() {
        return;
    }
    text.heading("History (undo --to-revision NUMBER or NAME)");
    let rows: Vec<Vec<String>> = status
        .history
        .iter()
        .map(|entry| {
            vec![
                entry.number.to_string(),
                entry.revision.clone(),
                entry
                    .model_version
                    .as_ref()
                    .map(|version| format!("model {version}"))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    for row in columns(&rows, "  ") {
        text.line(format!("  {row}"));
    }
}

fn render_revisions(text: &mut Text, status: &ModelDeploymentStatus) {
    if status.revisions.is_empty() {
        return;
    }
    text.heading("Revisions");
    let rows: Vec<Vec<String>> = status
        .revisions
        .iter()
        .map(|revision| {
            let role = if status.stable_revision.as_ref() == Some(&revision.name) {
                "stable"
            } else if status.candidate_revision.as_ref() == Some(&revision.name) {
                "candidate"
            } else {
                ""
            };
            vec![
                revision.name.clone(),
                revision
                    .model_version
                    .as_ref()
                    .map(|version| format!("model {version}"))
                    .unwrap_or_default(),
                format!("{}/{} ready", revision.ready_replicas, revision.replicas),
                role.to_owned(),
            ]
        })
        .collect();
    for row in columns(&rows, "  ") {
        text.line(format!("  {row}"));
    }
}

fn render_conditions(text: &mut Text, status: &ModelDeploymentStatus) {
    if status.conditions.is_empty() {
        return;
    }
    text.heading("Conditions");
    let rows: Vec<Vec<String>> = status
        .conditions
        .iter()
        .map(|condition| {
            vec![
                format!("{}={}", condition.type_, condition.status),
                condition.reason.clone(),
            ]
        })
        .collect();
    for row in columns(&rows, "  ") {
        text.line(format!("  {row}"));
    }
}

fn render_events(text: &mut Text, events: &[Event], now: jiff::Timestamp) {
    text.heading("Events");
    if events.is_empty() {
        text.line("  <none>");
        return;
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|event| {
            let age = events::last_seen(event).map_or_else(
                || "unknown".to_owned(),
                |seen| {
                    format!(
                        "{} ago",
                        durations::approximate(now.duration_since(seen).as_secs())
                    )
                },
            );
            let repeated = match events::count(event) {
                count if count > 1 => format!(" (x{count})"),
                _ => String::new(),
            };
            // Notes may span lines; one event per line keeps the list readable.
            let note = event
                .note
                .as_deref()
                .unwrap_or_default()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            vec![
                age,
                event.type_.clone().unwrap_or_default(),
                format!(
                    "{}: {note}{repeated}",
                    event.reason.as_deref().unwrap_or_default()
                ),
            ]
        })
        .collect();
    for row in columns(&rows, "  ") {
        text.line(format!("  {row}"));
    }
}

/// Lines of `Label:  value`, with the values aligned.
#[derive(Default)]
struct Text(String);

impl Text {
    fn field(&mut self, label: &str, value: impl std::fmt::Display) {
        let label = format!("{label}:");
        self.line(format!("{label:<LABEL_WIDTH$}{value}"));
    }

    fn heading(&mut self, label: &str) {
        self.line(format!("{label}:"));
    }

    fn line(&mut self, line: impl AsRef<str>) {
        self.0.push_str(line.as_ref());
        self.0.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
    use modeldeploy_api::v1alpha1::{
        MirrorTarget, Phase, RequestStatus, RevisionStatus, TrafficTarget,
    };

    use super::*;
    use crate::testing::{deployment, event};

    const NOW: jiff::Timestamp = jiff::Timestamp::constant(1_767_225_600, 0);

    fn at(seconds_before_now: i64) -> Time {
        Time(jiff::Timestamp::constant(
            NOW.as_second() - seconds_before_now,
            0,
        ))
    }

    fn canary(step_index: i32, stage: RolloutStage, pause: Option<PauseStatus>) -> RolloutStatus {
        RolloutStatus {
            revision: "22d4853c0d".into(),
            model_version: "1.1.0".into(),
            started_at: at(300),
            strategy: "canary".into(),
            stage,
            step_index,
            step_count: 3,
            steps: vec!["setWeight 20".into(), "pause".into(), "setWeight 50".into()],
            step: Some(format!("{}/3", step_index + 1)),
            step_started_at: Some(at(60)),
            pause,
            paused_by_user: false,
            abort_reason: None,
            analysis: Vec::new(),
            decision: None,
        }
    }

    fn rolling_out(rollout: RolloutStatus) -> ModelDeployment {
        let mut deployment = deployment("iris", "ml");
        deployment.status = Some(ModelDeploymentStatus {
            phase: Some(Phase::Paused),
            stable_revision: Some("6ca803f789".into()),
            serving_model_version: Some("1.0.0".into()),
            candidate_revision: Some("22d4853c0d".into()),
            rollout: Some(rollout),
            replicas: 2,
            ready_replicas: 2,
            ready: Some("2/2".into()),
            revisions: vec![
                RevisionStatus {
                    name: "6ca803f789".into(),
                    model_version: Some("1.0.0".into()),
                    replicas: 2,
                    ready_replicas: 2,
                },
                RevisionStatus {
                    name: "22d4853c0d".into(),
                    model_version: Some("1.1.0".into()),
                    replicas: 1,
                    ready_replicas: 0,
                },
            ],
            traffic: vec![
                TrafficTarget {
                    revision: "6ca803f789".into(),
                    weight: 80,
                },
                TrafficTarget {
                    revision: "22d4853c0d".into(),
                    weight: 20,
                },
            ],
            traffic_summary: Some("6ca803f789=80%,22d4853c0d=20%".into()),
            conditions: vec![Condition {
                type_: "Progressing".into(),
                status: "True".into(),
                reason: "RolloutPaused".into(),
                message: "waiting".into(),
                last_transition_time: at(60),
                observed_generation: None,
            }],
            message: Some("step 2/3 pause waits for kubectl modeldeploy promote".into()),
            last_request: Some(RequestStatus {
                id: "1767225500000".into(),
                action: "resume".into(),
                accepted: true,
                message: "the rollout goes on".into(),
            }),
            ..ModelDeploymentStatus::default()
        });
        deployment
    }

    #[test]
    fn renders_a_paused_canary_in_full() {
        let deployment = rolling_out(canary(
            1,
            RolloutStage::Steps,
            Some(PauseStatus {
                reason: PauseReason::Indefinite,
                until: None,
            }),
        ));
        let events = vec![
            event(
                "ModelDeployment",
                "iris",
                NOW.as_second() - 300,
                "RolloutStarted",
                "rolling out\nmodel 1.1.0",
            ),
            event(
                "ModelDeployment",
                "iris",
                NOW.as_second() - 60,
                "StepReached",
                "pause",
            ),
        ];
        assert_eq!(
            render(&deployment, &events, NOW),
            "\
Name:          iris
Namespace:     ml
Phase:         Paused
Serving:       model 1.0.0 on revision 6ca803f789
Ready:         2/2
Candidate:     revision 22d4853c0d (model 1.1.0), strategy canary, started 5m ago
Steps:
  ✓ 1. setWeight 20
  ▶ 2. pause
    3. setWeight 50
Paused:        Indefinite: `kubectl modeldeploy promote iris` goes on
Traffic:       6ca803f789 80%, 22d4853c0d 20%
Revisions:
  6ca803f789  model 1.0.0  2/2 ready  stable
  22d4853c0d  model 1.1.0  0/1 ready  candidate
Message:       step 2/3 pause waits for kubectl modeldeploy promote
Conditions:
  Progressing=True  RolloutPaused
Last request:  resume 1767225500000 accepted: the rollout goes on
Events:
  5m ago   Normal  RolloutStarted: rolling out model 1.1.0
  60s ago  Normal  StepReached: pause
"
        );
    }

    #[test]
    fn a_timed_pause_shows_when_it_ends() {
        let deployment = rolling_out(canary(
            1,
            RolloutStage::Steps,
            Some(PauseStatus {
                reason: PauseReason::Timed,
                until: Some(at(-150)),
            }),
        ));
        let text = render(&deployment, &[], NOW);
        assert!(
            text.contains("Paused:        Timed, until 2026-01-01T00:02:30Z (in 2m30s)\n"),
            "{text}"
        );
        assert!(text.ends_with("Events:\n  <none>\n"), "{text}");
    }

    #[test]
    fn a_pause_by_the_user_names_resume() {
        let mut rollout = canary(
            0,
            RolloutStage::Steps,
            Some(PauseStatus {
                reason: PauseReason::ByUser,
                until: None,
            }),
        );
        rollout.paused_by_user = true;
        let text = render(&rolling_out(rollout), &[], NOW);
        assert!(
            text.contains("Paused:        ByUser: `kubectl modeldeploy resume iris` goes on\n"),
            "{text}"
        );
        assert!(!text.contains("Held:"), "{text}");
        assert!(
            text.contains("  ▶ 1. setWeight 20\n    2. pause\n"),
            "{text}"
        );
    }

    #[test]
    fn steps_are_all_done_and_none_current_while_promoting() {
        let text = render(
            &rolling_out(canary(3, RolloutStage::Promoting, None)),
            &[],
            NOW,
        );
        assert!(
            text.contains(
                "Stage:         promoting: the new revision gets full size, then all traffic\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("  ✓ 1. setWeight 20\n  ✓ 2. pause\n  ✓ 3. setWeight 50\n"),
            "{text}"
        );
        assert!(!text.contains("Paused:"), "{text}");
    }

    #[test]
    fn an_aborted_rollout_marks_no_current_step_and_says_why() {
        let mut rollout = canary(1, RolloutStage::Aborted, None);
        rollout.abort_reason = Some("requested with kubectl modeldeploy abort".into());
        let text = render(&rolling_out(rollout), &[], NOW);
        assert!(
            text.contains("  ✓ 1. setWeight 20\n    2. pause\n"),
            "{text}"
        );
        assert!(!text.contains(CURRENT), "{text}");
        assert!(
            text.contains("Abort reason:  requested with kubectl modeldeploy abort\n"),
            "{text}"
        );
    }

    #[test]
    fn analysis_shows_each_metric_with_its_latest_values() {
        use modeldeploy_api::v1alpha1::{
            AnalysisPhase, AnalysisRunStatus, MeasurementStatus, MetricStatus,
        };
        let mut rollout = canary(1, RolloutStage::Aborting, None);
        let measurement = |value: &str, phase| MeasurementStatus {
            phase,
            value: Some(value.into()),
            measured_at: at(60),
            message: (phase == MeasurementPhase::Failed)
                .then(|| "successCondition `result < 0.05` does not hold".to_owned()),
        };
        rollout.analysis = vec![AnalysisRunStatus {
            name: "background".into(),
            phase: AnalysisPhase::Failed,
            started_at: at(120),
            message: None,
            metrics: vec![MetricStatus {
                name: "error-rate".into(),
                phase: AnalysisPhase::Failed,
                dry_run: false,
                measured: 2,
                successful: 1,
                failed: 1,
                inconclusive: 0,
                errors: 0,
                consecutive_errors: 0,
                measurements: vec![
                    measurement("0.01", MeasurementPhase::Successful),
                    measurement("0.2", MeasurementPhase::Failed),
                ],
            }],
        }];
        let text = render(&rolling_out(rollout), &[], NOW);
        assert!(
            text.contains("  background Failed\n    error-rate Failed: 2 measured, 1 failed, 0 inconclusive, 0 errors; latest 0.01, 0.2 (Failed)\n      successCondition `result < 0.05` does not hold\n"),
            "{text}"
        );
    }

    #[test]
    fn an_ab_decision_shows_both_variants_the_effect_and_the_p_values() {
        use modeldeploy_api::v1alpha1::{DecisionPhase, DecisionStatus, VariantStatus};
        let mut rollout = canary(1, RolloutStage::Steps, None);
        rollout.decision = Some(DecisionStatus {
            phase: DecisionPhase::CandidateWins,
            started_at: at(600),
            measured_at: Some(at(60)),
            readings: 12,
            consecutive_errors: 0,
            message: Some("the candidate wins".into()),
            stable: Some(VariantStatus {
                revision: "aaa".into(),
                samples: "12000".into(),
                mean: "0.1".into(),
            }),
            candidate: Some(VariantStatus {
                revision: "bbb".into(),
                samples: "11950".into(),
                mean: "0.12".into(),
            }),
            effect: Some("0.02".into()),
            effect_low: Some("0.004".into()),
            effect_high: Some("0.036".into()),
            relative_effect_percent: Some("20".into()),
            p_value: Some("0.012".into()),
            sample_ratio_p_value: Some("0.74".into()),
            expected_samples: Some("9000".into()),
        });
        let text = render(&rolling_out(rollout), &[], NOW);
        assert!(
            text.contains("  CandidateWins after 12 readings\n  stable    aaa  mean 0.1  samples 12000\n  candidate bbb  mean 0.12  samples 11950\n  effect    0.02 (20 %), interval [0.004, 0.036]\n  p-value 0.012, sample-ratio p-value 0.74, expected samples per variant 9000\n  the candidate wins\n"),
            "{text}"
        );
    }

    #[test]
    fn a_shadow_rollout_shows_the_mirror() {
        let mut deployment = rolling_out(canary(0, RolloutStage::Steps, None));
        if let Some(status) = deployment.status.as_mut() {
            status.mirror = Some(MirrorTarget {
                revision: "22d4853c0d".into(),
                percent: 10,
            });
            status.traffic = vec![TrafficTarget {
                revision: "6ca803f789".into(),
                weight: 100,
            }];
        }
        let text = render(&deployment, &[], NOW);
        assert!(text.contains("Traffic:       6ca803f789 100%\n"), "{text}");
        assert!(
            text.contains(
                "Mirror:        22d4853c0d gets a copy of 10% of requests; its answers are dropped\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_settled_deployment_shows_no_rollout() {
        let mut deployment = deployment("iris", "ml");
        deployment.status = Some(ModelDeploymentStatus {
            phase: Some(Phase::Healthy),
            stable_revision: Some("6ca803f789".into()),
            serving_model_version: Some("1.0.0".into()),
            ready: Some("2/2".into()),
            traffic_summary: Some("6ca803f789=100%".into()),
            ..ModelDeploymentStatus::default()
        });
        assert_eq!(
            render(&deployment, &[], NOW),
            "\
Name:          iris
Namespace:     ml
Phase:         Healthy
Serving:       model 1.0.0 on revision 6ca803f789
Ready:         2/2
Traffic:       6ca803f789=100%
Events:
  <none>
"
        );
    }

    #[test]
    fn a_deployment_without_status_points_at_the_operator() {
        let text = render(&deployment("iris", "ml"), &[], NOW);
        assert!(
            text.contains("Phase:         no status yet; is modeldeploy-operator running"),
            "{text}"
        );
    }

    #[test]
    fn repeated_events_show_their_count() {
        let mut repeated = event(
            "ModelDeployment",
            "iris",
            NOW.as_second() - 10,
            "Degraded",
            "pods not ready",
        );
        repeated.type_ = Some("Warning".into());
        repeated.deprecated_count = Some(4);
        let text = render(&deployment("iris", "ml"), &[repeated], NOW);
        assert!(
            text.ends_with("Events:\n  10s ago  Warning  Degraded: pods not ready (x4)\n"),
            "{text}"
        );
    }
}
