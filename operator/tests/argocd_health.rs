#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The Argo CD health check and resource actions in `config/argocd`, run the way Argo CD runs
//! them: the global `obj` holds the resource as JSON turned into Lua tables, and the script
//! sees only what Argo CD gives it (the base, package and table libraries, and an `os` with
//! `time` and `date` only; no `string`, no `math`). The resources are built from the API's Rust
//! types, so a renamed status field breaks these tests before it breaks Argo CD.
//!
//! Argo CD runs Lua 5.1 (gopher-lua); these tests run Lua 5.4. Integers stay Lua integers here,
//! so `tostring` and `..` print them as gopher-lua prints its whole numbers ("3", not "3.0").
//! `lua_sticks_to_lua_5_1` keeps the scripts free of what Lua 5.1 lacks.

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use mlua::serde::SerializeOptions;
use mlua::{Function, Lua, LuaOptions, LuaSerdeExt, StdLib, Table};
use modeldeploy_api::v1alpha1::{
    ModelDeployment, ModelDeploymentSpec, ModelDeploymentStatus, PauseReason, PauseStatus, Phase,
    REQUEST_ANNOTATION, RequestAction, RequestStatus, RolloutRequest, RolloutStage, RolloutStatus,
};
use serde_json::{Value, json};

/// The argocd-cm patch, relative to the repository root.
const CM_PATCH: &str = "config/argocd/argocd-cm-patch.yaml";
/// Set to rewrite [`CM_PATCH`] from the `.lua` files.
const UPDATE: &str = "UPDATE_ARGOCD_CM";

/// Every action: its directory under `config/argocd/actions` and the request it makes.
const ACTIONS: [(&str, RequestAction); 6] = [
    ("promote", RequestAction::Promote),
    ("promote-full", RequestAction::PromoteFull),
    ("abort", RequestAction::Abort),
    ("pause", RequestAction::Pause),
    ("resume", RequestAction::Resume),
    ("retry", RequestAction::Retry),
];

const GENERATION: i64 = 4;
const STABLE: &str = "5d8c7f9b6";
const CANDIDATE: &str = "7f6b9c4d2";
const STEPS: [&str; 5] = [
    "setWeight 20",
    "pause 300s",
    "setWeight 50",
    "pause",
    "setWeight 100",
];

// ---------------------------------------------------------------------------------------------
// Running the scripts as Argo CD does

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A file under `config/argocd`.
fn argocd_file(path: &str) -> String {
    let full = repo().join("config/argocd").join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// Every script under `config/argocd`, by its path there.
fn scripts() -> Vec<String> {
    let mut paths = vec!["health.lua".to_owned(), "actions/discovery.lua".to_owned()];
    paths.extend(
        ACTIONS
            .iter()
            .map(|(name, _)| format!("actions/{name}/action.lua")),
    );
    paths
}

/// A Lua state with what Argo CD's `runLua` opens, and nothing more.
fn argo_cd_lua() -> Lua {
    let lua = Lua::new_with(
        StdLib::PACKAGE | StdLib::TABLE | StdLib::OS,
        LuaOptions::default(),
    )
    .unwrap();
    let globals = lua.globals();
    let os: Table = globals.get("os").unwrap();
    let safe_os = lua.create_table().unwrap();
    for name in ["time", "date"] {
        safe_os
            .set(name, os.get::<Function>(name).unwrap())
            .unwrap();
    }
    globals.set("os", safe_os.clone()).unwrap();
    let package: Table = globals.get("package").unwrap();
    let loaded: Table = package.get("loaded").unwrap();
    loaded.set("os", safe_os).unwrap();
    lua
}

/// Runs the script at `path` with the global `obj` set to `object`, and returns what it returns.
fn run(path: &str, object: &Value) -> Value {
    let lua = argo_cd_lua();
    // Argo CD turns JSON null into nil.
    let options = SerializeOptions::new()
        .serialize_none_to_null(false)
        .serialize_unit_to_null(false);
    let obj = lua.to_value_with(object, options).unwrap();
    lua.globals().set("obj", obj).unwrap();
    let script = argocd_file(path);
    let result: mlua::Value = lua
        .load(script.as_str())
        .set_name(path)
        .eval()
        .unwrap_or_else(|e| panic!("{path} failed: {e}"));
    assert!(result.is_table(), "{path} returned {result:?}, not a table");
    lua.from_value(result).unwrap()
}

/// The health Argo CD would show: status and message.
fn health_of(object: &Value) -> (String, String) {
    let hs = run("health.lua", object);
    let status = hs["status"].as_str().expect("hs.status").to_owned();
    let message = hs["message"].as_str().expect("hs.message").to_owned();
    (status, message)
}

/// The actions Argo CD would offer enabled, in the order of [`ACTIONS`]; checks that every
/// action is listed and well formed.
fn enabled(object: &Value) -> Vec<&'static str> {
    let actions = run("actions/discovery.lua", object);
    let listed = actions.as_object().expect("an actions table");
    let mut names: Vec<&str> = listed.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut expected: Vec<&str> = ACTIONS.iter().map(|(name, _)| *name).collect();
    expected.sort_unstable();
    assert_eq!(
        names, expected,
        "discovery lists exactly the actions there are"
    );
    ACTIONS
        .iter()
        .filter(|(name, _)| {
            let action = &listed[*name];
            assert!(action["displayName"].is_string(), "{name}: {action}");
            assert!(action["iconClass"].is_string(), "{name}: {action}");
            !action["disabled"].as_bool().expect("disabled is a boolean")
        })
        .map(|(name, _)| *name)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// ModelDeployments in the states that matter

fn at(second: i64) -> Time {
    Time(Timestamp::from_second(second).unwrap())
}

/// An `iris` ModelDeployment at [`GENERATION`] with `status`, as the API server returns it.
fn model_deployment(status: Option<ModelDeploymentStatus>) -> Value {
    let spec: ModelDeploymentSpec = serde_json::from_value(json!({
        "model": {
            "name": "iris-classifier",
            "version": "2.0.0",
            "storageUri": "s3://models/iris/2.0.0",
        },
        "runtime": {"image": "docker.io/seldonio/mlserver:1.6.1"},
        "replicas": 2,
        "strategy": {"canary": {"steps": [
            {"setWeight": 20},
            {"pause": {"duration": "300s"}},
            {"setWeight": 50},
            {"pause": {}},
            {"setWeight": 100},
        ]}},
    }))
    .unwrap();
    let mut md = ModelDeployment::new("iris", spec);
    md.metadata.namespace = Some("models".to_owned());
    md.metadata.generation = Some(GENERATION);
    md.metadata.resource_version = Some("48213".to_owned());
    md.metadata.uid = Some("0b5e5d0e-8f7c-4a53-9d0e-1f4a2b3c4d5e".to_owned());
    md.status = status;
    serde_json::to_value(md).unwrap()
}

fn condition(type_: &str, status: bool, reason: &str, message: &str) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: if status { "True" } else { "False" }.to_owned(),
        reason: reason.to_owned(),
        message: message.to_owned(),
        observed_generation: Some(GENERATION),
        last_transition_time: at(1_767_000_000),
    }
}

/// The five conditions the operator writes: `Ready`, `Progressing`, `Degraded`, `Reconciling`
/// and `Stalled`.
fn conditions(
    ready: bool,
    reconciling: bool,
    stalled: Option<&str>,
    message: &str,
) -> Vec<Condition> {
    let reason = if ready {
        "Available"
    } else {
        "RolloutInProgress"
    };
    let (stalled, stalled_reason) = match stalled {
        Some(reason) => (true, reason),
        None => (false, "AsExpected"),
    };
    vec![
        condition("Ready", ready, reason, message),
        condition("Progressing", reconciling, reason, message),
        condition(
            "Degraded",
            stalled,
            stalled_reason,
            if stalled { message } else { "" },
        ),
        condition(
            "Reconciling",
            reconciling,
            reason,
            if reconciling { message } else { "" },
        ),
        condition(
            "Stalled",
            stalled,
            stalled_reason,
            if stalled { message } else { "" },
        ),
    ]
}

/// The spec's revision serves all traffic with every replica ready.
fn settled() -> ModelDeploymentStatus {
    let message =
        format!("revision {STABLE} (model 2.0.0) serves all traffic with 2/2 replicas ready");
    ModelDeploymentStatus {
        observed_generation: Some(GENERATION),
        phase: Some(Phase::Healthy),
        stable_revision: Some(STABLE.to_owned()),
        serving_model_version: Some("2.0.0".to_owned()),
        replicas: 2,
        ready_replicas: 2,
        ready: Some("2/2".to_owned()),
        conditions: conditions(true, false, None, &message),
        message: Some(message),
        ..ModelDeploymentStatus::default()
    }
}

/// A canary rollout of [`CANDIDATE`] at `step_index` of [`STEPS`].
fn rollout(stage: RolloutStage, step_index: usize) -> RolloutStatus {
    RolloutStatus {
        revision: CANDIDATE.to_owned(),
        model_version: "2.1.0".to_owned(),
        started_at: at(1_767_000_000),
        strategy: "canary".to_owned(),
        stage,
        step_index: i32::try_from(step_index).unwrap(),
        step_count: 5,
        steps: STEPS.iter().map(|s| (*s).to_owned()).collect(),
        step: STEPS
            .get(step_index)
            .map(|s| format!("{}/{} {s}", step_index + 1, STEPS.len())),
        step_started_at: Some(at(1_767_000_060)),
        pause: None,
        paused_by_user: false,
        abort_reason: None,
        analysis: Vec::new(),
        decision: None,
    }
}

/// A status during `rollout`, with the phase and message the operator writes.
fn rolling(phase: Phase, rollout: RolloutStatus, message: &str) -> ModelDeploymentStatus {
    let stalled = match phase {
        Phase::Aborted => Some("RolloutAborted"),
        Phase::Degraded => Some("ProgressDeadlineExceeded"),
        _ => None,
    };
    ModelDeploymentStatus {
        observed_generation: Some(GENERATION),
        phase: Some(phase),
        stable_revision: Some(STABLE.to_owned()),
        serving_model_version: Some("2.0.0".to_owned()),
        candidate_revision: Some(CANDIDATE.to_owned()),
        rollout: Some(rollout),
        replicas: 2,
        ready_replicas: 2,
        ready: Some("2/2".to_owned()),
        conditions: conditions(false, stalled.is_none(), stalled, message),
        message: Some(message.to_owned()),
        ..ModelDeploymentStatus::default()
    }
}

/// At step 1/5 `setWeight 20`, nothing paused.
fn stepping() -> ModelDeploymentStatus {
    rolling(
        Phase::Progressing,
        rollout(RolloutStage::Steps, 0),
        &format!("revision {CANDIDATE} at step 1/5 setWeight 20 ({STABLE}=80% {CANDIDATE}=20%)"),
    )
}

/// At step 2/5 `pause 300s`, until the five minutes have passed.
fn timed_pause() -> ModelDeploymentStatus {
    let mut r = rollout(RolloutStage::Steps, 1);
    r.pause = Some(PauseStatus {
        reason: PauseReason::Timed,
        until: Some(at(1_767_000_360)),
    });
    rolling(
        Phase::Paused,
        r,
        &format!(
            "revision {CANDIDATE} at step 2/5 pause 300s ({STABLE}=80% {CANDIDATE}=20%), paused: Timed until 2025-12-29T09:26:00Z"
        ),
    )
}

/// At step 4/5 `pause`, until someone promotes.
fn indefinite_pause() -> ModelDeploymentStatus {
    let mut r = rollout(RolloutStage::Steps, 3);
    r.pause = Some(PauseStatus {
        reason: PauseReason::Indefinite,
        until: None,
    });
    rolling(
        Phase::Paused,
        r,
        &format!(
            "revision {CANDIDATE} at step 4/5 pause ({STABLE}=50% {CANDIDATE}=50%), paused: Indefinite"
        ),
    )
}

/// Paused with `kubectl modeldeploy pause` at step 3/5 `setWeight 50`.
fn paused_by_user() -> ModelDeploymentStatus {
    let mut r = rollout(RolloutStage::Steps, 2);
    r.paused_by_user = true;
    r.pause = Some(PauseStatus {
        reason: PauseReason::ByUser,
        until: None,
    });
    let mut status = rolling(
        Phase::Paused,
        r,
        &format!(
            "revision {CANDIDATE} at step 3/5 setWeight 50 ({STABLE}=50% {CANDIDATE}=50%), paused: ByUser"
        ),
    );
    status.last_request = Some(RequestStatus {
        id: "1767000100000".to_owned(),
        action: "pause".to_owned(),
        accepted: true,
        message: "paused at step 3/5 setWeight 50".to_owned(),
    });
    status
}

/// Scaling the candidate to full size before it takes all traffic.
fn promoting() -> ModelDeploymentStatus {
    rolling(
        Phase::Promoting,
        rollout(RolloutStage::Promoting, 5),
        &format!("promoting revision {CANDIDATE} ({STABLE}=0% {CANDIDATE}=100%)"),
    )
}

/// Traffic returning to the stable revision after an abort.
fn aborting() -> ModelDeploymentStatus {
    let mut r = rollout(RolloutStage::Aborting, 2);
    r.abort_reason = Some("aborted with kubectl modeldeploy abort".to_owned());
    rolling(
        Phase::RollingBack,
        r,
        &format!(
            "aborted with kubectl modeldeploy abort: traffic returns to {STABLE} ({STABLE}=100%)"
        ),
    )
}

/// A new spec arrived mid-rollout: traffic returns to the stable revision before the next
/// rollout starts, and the operator refuses requests meanwhile.
fn superseded() -> ModelDeploymentStatus {
    rolling(
        Phase::RollingBack,
        rollout(RolloutStage::Steps, 2),
        &format!(
            "revision {CANDIDATE} was superseded by revision 9a8b7c6d5: traffic returns to {STABLE} before the new rollout starts"
        ),
    )
}

/// Aborted: the stable revision serves everything again.
fn aborted() -> ModelDeploymentStatus {
    let mut r = rollout(RolloutStage::Aborted, 2);
    r.abort_reason = Some("aborted with kubectl modeldeploy abort".to_owned());
    rolling(
        Phase::Aborted,
        r,
        &format!(
            "aborted with kubectl modeldeploy abort; revision {STABLE} serves all traffic. Retry with `kubectl modeldeploy retry`, or change the spec"
        ),
    )
}

/// The candidate's pods did not become available within the progress deadline.
fn deadline_exceeded() -> ModelDeploymentStatus {
    rolling(
        Phase::Degraded,
        rollout(RolloutStage::Steps, 0),
        &format!(
            "revision {CANDIDATE} did not become available within 600s: revision {CANDIDATE} at step 1/5 setWeight 20 ({STABLE}=100%); waiting for revision {CANDIDATE}: 0/1 replicas available"
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// health.lua

#[test]
fn settled_is_healthy() {
    let status = settled();
    let (health, message) = health_of(&model_deployment(Some(status.clone())));
    assert_eq!(health, "Healthy");
    assert_eq!(Some(message), status.message);
}

#[test]
fn rollout_step_is_progressing() {
    let status = stepping();
    let (health, message) = health_of(&model_deployment(Some(status.clone())));
    assert_eq!(health, "Progressing");
    assert_eq!(Some(message), status.message);
}

#[test]
fn promoting_rolling_back_and_pending_are_progressing() {
    let mut pending = ModelDeploymentStatus {
        observed_generation: Some(GENERATION),
        phase: Some(Phase::Pending),
        message: Some(format!(
            "revision {STABLE} (model 2.0.0): 0/2 replicas ready"
        )),
        ..ModelDeploymentStatus::default()
    };
    pending.conditions = conditions(false, true, None, pending.message.as_deref().unwrap());
    // Ready but not yet Healthy: the replicas of the stable revision are still coming up.
    let mut scaling = settled();
    scaling.phase = Some(Phase::Progressing);
    scaling.conditions[0] = condition("Ready", false, "ReplicasNotReady", "1/2");
    for status in [promoting(), aborting(), superseded(), pending, scaling] {
        let (health, message) = health_of(&model_deployment(Some(status.clone())));
        assert_eq!(health, "Progressing", "{:?}", status.phase);
        assert_eq!(Some(message), status.message);
    }
}

#[test]
fn stale_observed_generation_is_progressing() {
    // Whatever the status says, it is about an older spec.
    for mut status in [
        settled(),
        deadline_exceeded(),
        aborted(),
        indefinite_pause(),
    ] {
        status.observed_generation = Some(GENERATION - 1);
        let (health, message) = health_of(&model_deployment(Some(status)));
        assert_eq!(health, "Progressing");
        assert_eq!(message, "waiting for the operator to observe generation 4");
    }
    let mut unobserved = settled();
    unobserved.observed_generation = None;
    assert_eq!(
        health_of(&model_deployment(Some(unobserved))),
        (
            "Progressing".to_owned(),
            "waiting for the operator to observe generation 4".to_owned()
        )
    );
}

#[test]
fn no_status_is_progressing() {
    let object = model_deployment(None);
    assert!(object.get("status").is_none_or(Value::is_null), "{object}");
    assert_eq!(
        health_of(&object),
        (
            "Progressing".to_owned(),
            "waiting for the operator to observe generation 4".to_owned()
        )
    );
    // Not even a generation: an object as bare as Argo CD may hold.
    let bare = json!({
        "apiVersion": "modeldeploy.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": "iris"},
    });
    assert_eq!(
        health_of(&bare),
        (
            "Progressing".to_owned(),
            "waiting for the operator to observe the ModelDeployment".to_owned()
        )
    );
    // An empty status, as a status subresource may start.
    let mut empty = model_deployment(None);
    empty["status"] = json!({});
    assert_eq!(health_of(&empty).0, "Progressing");
}

#[test]
fn timed_pause_is_suspended() {
    let (health, message) = health_of(&model_deployment(Some(timed_pause())));
    assert_eq!(health, "Suspended");
    assert_eq!(
        message,
        format!(
            "revision {CANDIDATE} paused at step 2/5 pause 300s (Timed until 2025-12-29T09:26:00Z): goes on by itself"
        )
    );
}

#[test]
fn indefinite_pause_is_suspended() {
    let (health, message) = health_of(&model_deployment(Some(indefinite_pause())));
    assert_eq!(health, "Suspended");
    assert_eq!(
        message,
        format!(
            "revision {CANDIDATE} paused at step 4/5 pause (Indefinite): run the promote action to go on"
        )
    );
    let mut awaiting = indefinite_pause();
    awaiting.rollout.as_mut().unwrap().pause = Some(PauseStatus {
        reason: PauseReason::AwaitingPromotion,
        until: None,
    });
    let (health, message) = health_of(&model_deployment(Some(awaiting)));
    assert_eq!(health, "Suspended");
    assert!(
        message.contains("(AwaitingPromotion): run the promote action"),
        "{message}"
    );
}

#[test]
fn paused_by_user_is_suspended() {
    let (health, message) = health_of(&model_deployment(Some(paused_by_user())));
    assert_eq!(health, "Suspended");
    assert_eq!(
        message,
        format!(
            "revision {CANDIDATE} paused at step 3/5 setWeight 50 (ByUser): run the resume action to go on"
        )
    );
    // The flag alone, before the operator has written the pause.
    let mut flagged = paused_by_user();
    flagged.phase = Some(Phase::Progressing);
    flagged.rollout.as_mut().unwrap().pause = None;
    assert_eq!(health_of(&model_deployment(Some(flagged))).0, "Suspended");
}

#[test]
fn aborted_is_degraded() {
    let status = aborted();
    let (health, message) = health_of(&model_deployment(Some(status.clone())));
    assert_eq!(health, "Degraded");
    assert_eq!(Some(message), status.message);
}

#[test]
fn stalled_is_degraded() {
    let status = deadline_exceeded();
    let (health, message) = health_of(&model_deployment(Some(status.clone())));
    assert_eq!(health, "Degraded");
    assert_eq!(Some(message), status.message);
    // Stalled alone is enough, whatever the phase; without a message, the condition's.
    let mut stalled = settled();
    stalled.message = None;
    stalled.conditions = conditions(false, false, Some("TrafficNotSupported"), "no route");
    assert_eq!(
        health_of(&model_deployment(Some(stalled))),
        ("Degraded".to_owned(), "no route".to_owned())
    );
}

// ---------------------------------------------------------------------------------------------
// Actions

#[test]
fn discovery_offers_what_the_operator_accepts() {
    let cases: [(&str, Option<ModelDeploymentStatus>, &[&str]); 11] = [
        ("no status", None, &[]),
        ("settled", Some(settled()), &[]),
        (
            "at a step",
            Some(stepping()),
            &["promote", "promote-full", "abort", "pause"],
        ),
        (
            "in a timed pause",
            Some(timed_pause()),
            &["promote", "promote-full", "abort", "pause"],
        ),
        (
            "in an indefinite pause",
            Some(indefinite_pause()),
            &["promote", "promote-full", "abort", "pause", "resume"],
        ),
        (
            "paused by a person",
            Some(paused_by_user()),
            &["promote", "promote-full", "abort", "resume"],
        ),
        ("promoting", Some(promoting()), &["abort"]),
        ("rolling back", Some(aborting()), &[]),
        ("superseded by a new spec", Some(superseded()), &[]),
        ("aborted", Some(aborted()), &["retry"]),
        (
            "past its progress deadline",
            Some(deadline_exceeded()),
            &["promote", "promote-full", "abort", "pause"],
        ),
    ];
    for (state, status, expected) in cases {
        assert_eq!(
            enabled(&model_deployment(status)),
            expected,
            "actions enabled {state}"
        );
    }
}

#[test]
fn each_action_writes_its_request_annotation() {
    for (name, action) in ACTIONS {
        let before = model_deployment(Some(stepping()));
        assert!(before["metadata"].get("annotations").is_none());
        let after = run(&format!("actions/{name}/action.lua"), &before);

        let annotations: BTreeMap<String, String> =
            serde_json::from_value(after["metadata"]["annotations"].clone()).unwrap();
        let request = RolloutRequest::from_annotations(&annotations)
            .unwrap_or_else(|| panic!("{name}: no {REQUEST_ANNOTATION} annotation"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(request.action, action, "{name}");
        assert!(
            request.id.starts_with("argocd-"),
            "{name}: id {}",
            request.id
        );
        assert!(request.id.ends_with("-48213"), "{name}: id {}", request.id);
        assert_eq!(
            serde_json::from_str::<Value>(&annotations[REQUEST_ANNOTATION]).unwrap(),
            json!({"id": request.id, "action": action.as_str()}),
            "{name}: the annotation holds the id and the action, nothing else"
        );

        // Nothing else changes: not the spec, so GitOps tools see no drift.
        let mut unchanged = after.clone();
        unchanged["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("annotations");
        assert_eq!(unchanged, before, "{name} changed more than its annotation");
    }
}

#[test]
fn actions_keep_other_annotations_and_replace_an_older_request() {
    let mut before = model_deployment(Some(paused_by_user()));
    before["metadata"]["annotations"] = json!({
        "team": "fraud",
        REQUEST_ANNOTATION: r#"{"id":"1767000100000","action":"pause"}"#,
    });
    let after = run("actions/resume/action.lua", &before);
    let annotations: BTreeMap<String, String> =
        serde_json::from_value(after["metadata"]["annotations"].clone()).unwrap();
    assert_eq!(annotations["team"], "fraud");
    let request = RolloutRequest::from_annotations(&annotations)
        .unwrap()
        .unwrap();
    assert_eq!(request.action, RequestAction::Resume);
    assert_ne!(request.id, "1767000100000");
}

#[test]
fn request_ids_differ_between_clicks() {
    let id = |action: &str, resource_version: Option<&str>| {
        let mut object = model_deployment(Some(stepping()));
        match resource_version {
            Some(v) => object["metadata"]["resourceVersion"] = json!(v),
            None => {
                object["metadata"]
                    .as_object_mut()
                    .unwrap()
                    .remove("resourceVersion");
            }
        }
        let after = run(&format!("actions/{action}/action.lua"), &object);
        let annotations: BTreeMap<String, String> =
            serde_json::from_value(after["metadata"]["annotations"].clone()).unwrap();
        RolloutRequest::from_annotations(&annotations)
            .unwrap()
            .unwrap()
            .id
    };
    // The same click again, once the first one has been written (a new resourceVersion).
    assert_ne!(id("promote", Some("100")), id("promote", Some("101")));
    // Two actions in the same second.
    assert_ne!(id("promote", Some("100")), id("abort", Some("100")));
    // A resourceVersion that is not a number stays out of the JSON.
    let odd = id("promote", Some("12\"}"));
    assert!(!odd.contains('"'), "{odd}");
    assert!(id("promote", None).starts_with("argocd-"));
}

// ---------------------------------------------------------------------------------------------
// The scripts themselves, and the argocd-cm patch that carries them

#[test]
fn lua_sticks_to_lua_5_1() {
    // What Lua 5.2+ has and gopher-lua does not; `string` and `math` are missing at run time.
    let forbidden = [
        "goto",
        "//",
        "<const>",
        "<close>",
        "&",
        "|",
        "<<",
        ">>",
        "table.unpack",
        "table.move",
        "table.pack",
        "utf8.",
        "string.",
        "math.",
        "load(",
        "loadstring",
        "setfenv",
        "getfenv",
    ];
    for path in scripts() {
        let text = argocd_file(&path);
        for (number, line) in text.lines().enumerate() {
            let code = line.split("--").next().unwrap_or_default();
            for word in forbidden {
                assert!(
                    !code.contains(word),
                    "{path}:{}: `{word}` is not available in Argo CD's Lua 5.1",
                    number + 1
                );
            }
            // `~` only in `~=`: a lone `~` is a Lua 5.3 bitwise operator.
            assert!(
                code.replace("~=", "").find('~').is_none(),
                "{path}:{}: bitwise `~`",
                number + 1
            );
        }
    }
}

/// A YAML literal block (`|`) body holding `text` exactly: every line indented by `indent`,
/// empty lines left empty.
fn literal_block(text: &str, indent: usize) -> String {
    text.lines()
        .map(|line| {
            if line.is_empty() {
                "\n".to_owned()
            } else {
                format!("{:indent$}{line}\n", "")
            }
        })
        .collect()
}

/// The argocd-cm patch, built from the `.lua` files.
fn expected_cm_patch() -> String {
    let mut yaml = String::from(
        "\
# Argo CD health check and resource actions for modeldeploy.io/ModelDeployment.
#
# Generated from config/argocd/health.lua and config/argocd/actions/*: edit those, then run
#   UPDATE_ARGOCD_CM=1 cargo test -p modeldeploy-operator --test argocd_health
# The test fails while this file does not embed the .lua files exactly.
#
# Merge it into argocd-cm: list it under `patches` in the kustomization that installs Argo CD, or
#   kubectl -n argocd patch configmap argocd-cm --patch-file config/argocd/argocd-cm-patch.yaml
# Try it without a cluster:
#   argocd admin settings resource-overrides health my-model.yaml --argocd-cm-path config/argocd/argocd-cm-patch.yaml
#   argocd admin settings resource-overrides list-actions my-model.yaml --argocd-cm-path config/argocd/argocd-cm-patch.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
data:
  resource.customizations.health.modeldeploy.io_ModelDeployment: |
",
    );
    yaml.push_str(&literal_block(&argocd_file("health.lua"), 4));
    yaml.push_str("  resource.customizations.actions.modeldeploy.io_ModelDeployment: |\n");
    yaml.push_str("    discovery.lua: |\n");
    yaml.push_str(&literal_block(&argocd_file("actions/discovery.lua"), 6));
    yaml.push_str("    definitions:\n");
    for (name, _) in ACTIONS {
        yaml.push_str(&format!("      - name: {name}\n        action.lua: |\n"));
        yaml.push_str(&literal_block(
            &argocd_file(&format!("actions/{name}/action.lua")),
            10,
        ));
    }
    yaml
}

/// Reads the literal block (`|`, clip chomping) that follows the first line after `from` that
/// ends with `key: |`, the way a YAML parser does: the block's indentation is that of its first
/// line, and the block ends at the first non-empty line indented less.
fn read_literal_block(yaml: &str, from: usize, key: &str) -> (String, usize) {
    let lines: Vec<&str> = yaml.lines().collect();
    let header = format!("{key}: |");
    let start = (from..lines.len())
        .find(|&i| lines[i].trim_start().trim_start_matches("- ") == header)
        .unwrap_or_else(|| panic!("no `{header}` after line {from}"));
    let key_indent = lines[start].len() - lines[start].trim_start().len();
    let first = lines[start + 1];
    let indent = first.len() - first.trim_start().len();
    assert!(indent > key_indent, "`{header}`: empty block");
    let mut end = start + 1;
    let mut body = Vec::new();
    while end < lines.len() {
        let line = lines[end];
        if line.trim().is_empty() {
            body.push("");
        } else if line.len() - line.trim_start().len() >= indent {
            body.push(&line[indent..]);
        } else {
            break;
        }
        end += 1;
    }
    while body.last() == Some(&"") {
        body.pop();
    }
    (body.join("\n") + "\n", end)
}

#[test]
fn lua_files_fit_in_a_yaml_literal_block() {
    for path in scripts() {
        let text = argocd_file(&path);
        assert!(
            text.ends_with('\n') && !text.ends_with("\n\n"),
            "{path}: end with one newline"
        );
        assert!(
            !text.starts_with([' ', '\n']),
            "{path}: starts with a blank"
        );
        assert!(
            !text.contains(['\t', '\r']),
            "{path}: tabs or carriage returns"
        );
        assert!(
            text.lines().all(|l| l.trim_end() == l),
            "{path}: trailing blanks"
        );
    }
}

#[test]
fn argocd_cm_patch_embeds_the_lua_files_exactly() {
    let path = repo().join(CM_PATCH);
    let expected = expected_cm_patch();
    if std::env::var_os(UPDATE).is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "{CM_PATCH} does not embed the .lua files as they are; run\n  {UPDATE}=1 cargo test -p modeldeploy-operator --test argocd_health\nand commit the result"
    );

    // Read back as YAML would, it gives each file as it is.
    let (health, _) = read_literal_block(
        &actual,
        0,
        "resource.customizations.health.modeldeploy.io_ModelDeployment",
    );
    assert_eq!(health, argocd_file("health.lua"));
    let (actions, _) = read_literal_block(
        &actual,
        0,
        "resource.customizations.actions.modeldeploy.io_ModelDeployment",
    );
    let (discovery, mut next) = read_literal_block(&actions, 0, "discovery.lua");
    assert_eq!(discovery, argocd_file("actions/discovery.lua"));
    let lines: Vec<&str> = actions.lines().collect();
    for (name, _) in ACTIONS {
        let entry = (next..lines.len())
            .find(|&i| lines[i] == format!("  - name: {name}"))
            .unwrap_or_else(|| panic!("no definition for {name}"));
        assert_eq!(
            lines[entry + 1],
            "    action.lua: |",
            "{name}: its script follows"
        );
        let (script, end) = read_literal_block(&actions, entry + 1, "action.lua");
        assert_eq!(
            script,
            argocd_file(&format!("actions/{name}/action.lua")),
            "{name}"
        );
        next = end;
    }
}
