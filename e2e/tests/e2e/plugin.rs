//! `kubectl-modeldeploy`, the real binary, steering rollouts that an in-process operator carries
//! out: each command ends with the documented exit code and text; `status`, `list` and
//! `kubectl get` show where the rollout stands; and neither the plugin nor the operator writes a
//! field that the user's manifest owns, so that `kubectl diff` of that manifest stays empty after
//! every command.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use k8s_openapi::api::events::v1::Event;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use modeldeploy_api::v1alpha1::{
    CanaryStep, ModelDeployment, ModelDeploymentStatus, PauseReason, Phase,
};
use modeldeploy_e2e::rollout::{reported_weight, until_status};
use modeldeploy_e2e::{Scenario, repo_path, until};
use modeldeploy_operator::traffic::HTTPRoute;
use serde_json::json;

use crate::strategies::{canary, gateway_traffic, iris, pause, route_split, until_step, weight};
use crate::{TIMEOUT, events_about, until_ready};

/// The field manager of the user's `kubectl apply`: it owns everything in the manifest.
const USER: &str = "e2e-user";

/// The field manager the plugin writes its request annotation with.
const PLUGIN_MANAGER: &str = "kubectl-modeldeploy";

/// The plugin, built once for all the tests of this process.
static PLUGIN: OnceLock<PathBuf> = OnceLock::new();

/// Builds the plugin with cargo and returns the executable cargo reports,
/// `target/debug/kubectl-modeldeploy` in a default checkout.
fn build_plugin() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    // The variables cargo set for this test describe the e2e package. Build scripts (ring's)
    // ask to rerun when they change, so handing them on would rebuild half the dependencies
    // here, and again in the next `cargo test`.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PKG_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_MANIFEST_LINKS",
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
                "OUT_DIR",
            ]
            .contains(&key.as_ref())
        {
            command.env_remove(key.as_ref());
        }
    }
    let output = command
        .args(["build", "-p", "modeldeploy-cli"])
        .arg("--message-format=json-render-diagnostics")
        .arg("--manifest-path")
        .arg(repo_path("Cargo.toml"))
        .stdin(Stdio::null())
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo build -p modeldeploy-cli failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| {
            message["reason"] == "compiler-artifact"
                && message["target"]["name"] == "kubectl-modeldeploy"
        })
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .expect("cargo reports the kubectl-modeldeploy executable")
}

/// What a command did.
#[derive(Debug)]
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ran {
    /// Exit 0; returns standard output.
    #[track_caller]
    fn succeeds(self) -> String {
        assert_eq!(self.code, Some(0), "{self:#?}");
        self.stdout
    }

    /// Exit 0 with exactly `expected` on standard output.
    #[track_caller]
    fn succeeds_with(self, expected: &str) {
        assert_eq!(
            (self.code, self.stdout.as_str()),
            (Some(0), expected),
            "{self:#?}"
        );
    }

    /// Exit `code`, nothing on standard output and exactly `stderr` on standard error.
    #[track_caller]
    fn fails_with(self, code: i32, stderr: &str) {
        assert_eq!(
            (self.code, self.stdout.as_str(), self.stderr.as_str()),
            (Some(code), "", stderr),
            "{self:#?}"
        );
    }
}

/// Runs `program` on a thread of its own: a blocking wait on the test's runtime would stop the
/// operator that runs on it.
async fn run(program: PathBuf, args: Vec<OsString>, env: Vec<(&'static str, OsString)>) -> Ran {
    tokio::task::spawn_blocking(move || {
        let output = Command::new(&program)
            .args(&args)
            .stdin(Stdio::null())
            .envs(env)
            .output()
            .unwrap_or_else(|error| panic!("cannot run {}: {error}", program.display()));
        Ran {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

/// A user at a terminal: a manifest in a directory of their own, kubectl and the plugin, all
/// pointed at the scenario's namespace.
struct User {
    plugin: PathBuf,
    kubectl: PathBuf,
    kubeconfig: PathBuf,
    namespace: String,
    dir: PathBuf,
    manifest: PathBuf,
    models: Api<ModelDeployment>,
}

impl User {
    async fn new(scenario: &Scenario) -> User {
        let plugin = tokio::task::spawn_blocking(|| PLUGIN.get_or_init(build_plugin).clone())
            .await
            .unwrap();
        let dir = std::env::temp_dir().join(format!("modeldeploy-e2e-{}", scenario.ns.name));
        std::fs::create_dir_all(&dir).unwrap();
        User {
            plugin,
            kubectl: scenario.cluster.tool("kubectl"),
            kubeconfig: scenario.cluster.kubeconfig.clone(),
            namespace: scenario.ns.name.clone(),
            manifest: dir.join("iris.yaml"),
            dir,
            models: scenario.api(),
        }
    }

    /// `kubectl modeldeploy ARGS` in the namespace; then checks that nothing the user's
    /// manifest owns has changed.
    async fn plugin(&self, args: &[&str]) -> Ran {
        let mut argv: Vec<OsString> = vec![
            "--kubeconfig".into(),
            self.kubeconfig.clone().into(),
            "-n".into(),
            self.namespace.clone().into(),
        ];
        argv.extend(args.iter().map(OsString::from));
        let ran = run(self.plugin.clone(), argv, Vec::new()).await;
        self.assert_manifest_owns_its_fields(&format!("kubectl modeldeploy {}", args.join(" ")))
            .await;
        ran
    }

    /// `kubectl ARGS` in the namespace.
    async fn kubectl(&self, args: &[&str]) -> Ran {
        self.kubectl_with(args, Vec::new()).await
    }

    async fn kubectl_with(&self, args: &[&str], env: Vec<(&'static str, OsString)>) -> Ran {
        let mut argv: Vec<OsString> = vec!["-n".into(), self.namespace.clone().into()];
        argv.extend(args.iter().map(OsString::from));
        let mut env = env;
        env.push(("KUBECONFIG", self.kubeconfig.clone().into()));
        run(self.kubectl.clone(), argv, env).await
    }

    /// Writes `md` to the manifest file and applies it the way the user does.
    async fn apply(&self, md: &ModelDeployment) {
        std::fs::write(&self.manifest, serde_saphyr::to_string(md).unwrap()).unwrap();
        let manifest = self.manifest.to_str().unwrap();
        self.kubectl(&[
            "apply",
            "--server-side",
            &format!("--field-manager={USER}"),
            "-f",
            manifest,
        ])
        .await
        .succeeds();
    }

    /// `kubectl diff` of the manifest finds nothing to change, and no other field manager owns
    /// a field of the spec.
    ///
    /// kubectl reads the live object, then asks for a dry-run apply; when the operator updates
    /// the status in between, kubectl reports that as a difference too. The diff is therefore
    /// shown with full context, and only a changed line outside `status` (or the
    /// `resourceVersion` that comes with a status update) counts as drift.
    async fn assert_manifest_owns_its_fields(&self, after: &str) {
        let manifest = self.manifest.to_str().unwrap();
        let ran = self
            .kubectl_with(
                &[
                    "diff",
                    "--server-side",
                    &format!("--field-manager={USER}"),
                    "-f",
                    manifest,
                ],
                vec![("KUBECTL_EXTERNAL_DIFF", "diff -N --unified=100000".into())],
            )
            .await;
        match ran.code {
            Some(0) => {}
            Some(1) => {
                let drift = drifted_lines(&ran.stdout);
                assert!(
                    drift.is_empty(),
                    "after `{after}`, applying the user's manifest would change {drift:#?}:\n{}",
                    ran.stdout
                );
            }
            _ => panic!("after `{after}`, kubectl diff failed: {ran:#?}"),
        }

        let md = self.models.get("iris").await.unwrap();
        let mut user_owns_spec = false;
        for entry in md.metadata.managed_fields.unwrap_or_default() {
            let manager = entry.manager.unwrap_or_default();
            let fields = entry.fields_v1.map(|f| f.0).unwrap_or_default();
            if manager == USER {
                user_owns_spec = fields.pointer("/f:spec/f:model/f:version").is_some();
                continue;
            }
            assert!(
                fields.get("f:spec").is_none(),
                "after `{after}`, {manager} owns fields of the spec: {fields}"
            );
            if manager == PLUGIN_MANAGER {
                // The annotation, and the annotations map itself (`.`) when the plugin's write
                // created it.
                let mut annotations = fields.clone();
                if let Some(map) = annotations
                    .pointer_mut("/f:metadata/f:annotations")
                    .and_then(serde_json::Value::as_object_mut)
                {
                    map.remove(".");
                }
                assert_eq!(
                    annotations,
                    json!({"f:metadata": {"f:annotations": {"f:modeldeploy.io/request": {}}}}),
                    "after `{after}`, the plugin owns more than its request annotation: {fields}"
                );
            }
        }
        assert!(
            user_owns_spec,
            "after `{after}`, {USER} no longer owns the spec"
        );
    }
}

impl Drop for User {
    /// The manifest goes with the user, also when a test fails.
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The changed lines of a full-context unified diff of two YAML objects that lie outside the
/// top-level `status` and are not the `resourceVersion`.
fn drifted_lines(diff: &str) -> Vec<String> {
    let mut drift = Vec::new();
    let mut section = String::new();
    let body = diff.lines().skip_while(|line| !line.starts_with("@@"));
    for line in body.filter(|line| !line.starts_with("@@")) {
        let (mark, text) = line.split_at(line.len().min(1));
        if !text.starts_with(' ') && !text.is_empty() {
            section = text.split(':').next().unwrap_or_default().to_owned();
        }
        let changed = mark == "+" || mark == "-";
        let volatile = section == "status"
            || (section == "metadata" && text.starts_with("  resourceVersion:"));
        if changed && !volatile {
            drift.push(line.to_owned());
        }
    }
    drift
}

/// The cell under `column` in the row of `name`, in a table as kubectl prints it: each cell
/// starts where its column's heading starts.
fn cell(table: &str, name: &str, column: &str) -> String {
    let mut lines = table.lines();
    let header = lines.next().unwrap_or_default();
    let starts: Vec<usize> = header
        .char_indices()
        .filter(|&(i, c)| c != ' ' && (i == 0 || header[..i].ends_with(' ')))
        .map(|(i, _)| i)
        .collect();
    let position = starts
        .iter()
        .position(|&start| header[start..].split(' ').next() == Some(column))
        .unwrap_or_else(|| panic!("no column {column} in\n{table}"));
    let start = starts[position];
    let end = starts.get(position + 1).copied().unwrap_or(usize::MAX);
    let row = lines
        .find(|line| line.split(' ').next() == Some(name))
        .unwrap_or_else(|| panic!("no row {name} in\n{table}"));
    row.get(start..end.min(row.len()))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// The iris model at `version`, over the Gateway API so that weights are exact, with `steps`.
fn manifest(version: &str, replicas: i32, steps: Vec<CanaryStep>) -> ModelDeployment {
    let mut md = iris(replicas, gateway_traffic(), canary(steps));
    md.spec.model.version = version.into();
    md
}

fn now_seconds() -> i64 {
    Timestamp::now().as_second()
}

fn revisions(status: &ModelDeploymentStatus) -> (String, String) {
    (
        status.stable_revision.clone().unwrap(),
        status.candidate_revision.clone().unwrap(),
    )
}

fn pairs(items: &[(&str, i32)]) -> Vec<(String, i32)> {
    items.iter().map(|(n, w)| ((*n).to_owned(), *w)).collect()
}

/// Waits until the HTTPRoute splits as `split`, without a mirror. The operator records each
/// transition in the status before it rewrites the route, so a status that says all traffic is
/// on one revision may come a moment before the route drops the other backend.
async fn until_route(routes: &Api<HTTPRoute>, split: &[(&str, i32)]) {
    let expected = (pairs(split), None);
    until(TIMEOUT, &format!("the HTTPRoute splits {split:?}"), || {
        let expected = expected.clone();
        async move { (route_split(routes).await == expected).then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn pause_holds_a_canary_at_its_weights_until_resume() {
    let scenario = Scenario::start("plugin-pause", false).await;
    let user = User::new(&scenario).await;
    let steps = || vec![weight(25), pause(Some("8s")), weight(50), pause(None)];
    user.apply(&manifest("1.0.0", 4, steps())).await;
    until_ready(&user.models, "iris").await;
    user.apply(&manifest("1.1.0", 4, steps())).await;
    let (old, new) = revisions(&until_step(&user.models, 1, 25).await);

    user.plugin(&["pause", "iris"])
        .await
        .succeeds_with("pause accepted: paused at step 2/4 pause 8s\n");
    // The answer and the rollout it describes are one status update.
    let paused = user.models.get("iris").await.unwrap().status.unwrap();
    let rollout = paused.rollout.clone().unwrap();
    assert!(rollout.paused_by_user, "{paused:#?}");
    assert_eq!(
        rollout
            .pause
            .as_ref()
            .map(|p| (p.reason, p.until.is_none())),
        Some((PauseReason::ByUser, true)),
        "the timed pause no longer counts down: {paused:#?}"
    );
    assert_eq!(paused.phase, Some(Phase::Paused));
    assert_eq!(rollout.step.as_deref(), Some("2/4 pause 8s"));
    assert_eq!(
        (
            reported_weight(&paused, &old),
            reported_weight(&paused, &new)
        ),
        (75, 25)
    );

    let text = user.plugin(&["status", "iris"]).await.succeeds();
    assert!(
        text.contains("Paused:        ByUser: `kubectl modeldeploy resume iris` goes on\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "Steps:\n  ✓ 1. setWeight 25\n  ▶ 2. pause 8s\n    3. setWeight 50\n    4. pause until promoted\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(&format!("Traffic:       {old} 75%, {new} 25%\n")),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(
        &user
            .plugin(&["status", "iris", "-o", "json"])
            .await
            .succeeds(),
    )
    .unwrap();
    assert_eq!(json["rollout"]["pausedByUser"], true, "{json:#}");
    assert_eq!(json["rollout"]["pause"]["reason"], "ByUser", "{json:#}");

    user.plugin(&["pause", "iris"]).await.fails_with(
        1,
        &format!(
            "error: the operator refused pause: the rollout of revision {new} is already paused\n"
        ),
    );

    // The pause holds past the time the timed pause step would have ended: proving that
    // nothing moves takes watching for that long.
    let timed_end = rollout.step_started_at.clone().unwrap().0.as_second() + 8;
    until(
        TIMEOUT,
        "the 8s pause step would have ended 3s ago",
        || async {
            let status = user.models.get("iris").await.unwrap().status.unwrap();
            let held = status.rollout.as_ref().is_some_and(|r| {
                r.paused_by_user
                    && r.step_index == 1
                    && reported_weight(&status, &new) == 25
                    && reported_weight(&status, &old) == 75
            });
            assert!(held, "the pause did not hold: {status:#?}");
            (now_seconds() > timed_end + 3).then_some(())
        },
    )
    .await;

    user.plugin(&["resume", "iris"])
        .await
        .succeeds_with("resume accepted: resumed at step 2/4 pause 8s\n");
    // The pause step ran out meanwhile: on to 50 % and the pause that waits for a person.
    let status = until_step(&user.models, 3, 50).await;
    assert_eq!(
        status
            .rollout
            .as_ref()
            .and_then(|r| r.pause.as_ref())
            .map(|p| p.reason),
        Some(PauseReason::Indefinite)
    );
    // `resume` also ends a pause step that waits for a person; it was the last step.
    user.plugin(&["resume", "iris"])
        .await
        .succeeds_with("resume accepted: resumed at step 4/4 done\n");
    let done = until_ready(&user.models, "iris").await.status.unwrap();
    assert_eq!(done.phase, Some(Phase::Healthy));
    assert_eq!(done.stable_revision.as_deref(), Some(new.as_str()));
    user.assert_manifest_owns_its_fields("the rollout").await;
    scenario.finish().await;
}

#[tokio::test]
async fn promote_goes_one_step_and_promote_full_finishes_the_rollout() {
    let scenario = Scenario::start("plugin-promote", false).await;
    let user = User::new(&scenario).await;
    let routes: Api<HTTPRoute> = scenario.api();
    let steps = || {
        vec![
            weight(20),
            pause(None),
            weight(40),
            pause(None),
            weight(60),
            pause(None),
        ]
    };
    user.apply(&manifest("1.0.0", 5, steps())).await;
    let first = until_ready(&user.models, "iris").await.status.unwrap();
    let old = first.stable_revision.clone().unwrap();

    user.plugin(&["promote", "iris"]).await.fails_with(
        1,
        "error: the operator refused promote: no rollout in progress for iris\n",
    );
    let list = user.plugin(&["list"]).await.succeeds();
    assert_eq!(
        list.lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["NAME", "PHASE", "SERVING", "STEP", "TRAFFIC", "READY"],
        "{list}"
    );
    assert_eq!(cell(&list, "iris", "PHASE"), "Healthy", "{list}");
    assert_eq!(cell(&list, "iris", "SERVING"), "1.0.0", "{list}");
    assert_eq!(
        cell(&list, "iris", "TRAFFIC"),
        format!("{old}=100%"),
        "{list}"
    );
    assert_eq!(cell(&list, "iris", "READY"), "5/5", "{list}");

    user.apply(&manifest("1.1.0", 5, steps())).await;
    let status = until_step(&user.models, 1, 20).await;
    let new = status.candidate_revision.clone().unwrap();
    let split = format!("{old}=80% {new}=20%");

    // `kubectl get` with the CRD's default columns.
    let table = user.kubectl(&["get", "mdep", "iris"]).await.succeeds();
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAME", "PHASE", "SERVING", "STEP", "TRAFFIC", "READY", "AGE"
        ],
        "{table}"
    );
    for (column, value) in [
        ("PHASE", "Paused"),
        ("SERVING", "1.0.0"),
        ("STEP", "2/6 pause until promoted"),
        ("TRAFFIC", split.as_str()),
        ("READY", "5/5"),
    ] {
        assert_eq!(cell(&table, "iris", column), value, "{column}:\n{table}");
    }

    // The plugin's list shows the same.
    let list = user.plugin(&["list"]).await.succeeds();
    for (column, value) in [
        ("PHASE", "Paused"),
        ("SERVING", "1.0.0"),
        ("STEP", "2/6 pause until promoted"),
        ("TRAFFIC", split.as_str()),
        ("READY", "5/5"),
    ] {
        assert_eq!(cell(&list, "iris", column), value, "{column}:\n{list}");
    }

    // status: the steps with the current one marked, the pause and the weights.
    let text = user.plugin(&["status", "iris"]).await.succeeds();
    for expected in [
        "Name:          iris\n".to_owned(),
        format!("Namespace:     {}\n", scenario.ns.name),
        "Phase:         Paused\n".to_owned(),
        format!("Serving:       model 1.0.0 on revision {old}\n"),
        format!("Candidate:     revision {new} (model 1.1.0), strategy canary, started "),
        "Steps:\n  ✓ 1. setWeight 20\n  ▶ 2. pause until promoted\n    3. setWeight 40\n    4. pause until promoted\n    5. setWeight 60\n    6. pause until promoted\n".to_owned(),
        "Paused:        Indefinite: `kubectl modeldeploy promote iris` goes on\n".to_owned(),
        format!("Traffic:       {old} 80%, {new} 20%\n"),
        "Events:\n".to_owned(),
    ] {
        assert!(text.contains(&expected), "{expected:?} in\n{text}");
    }
    let json: ModelDeploymentStatus = serde_json::from_str(
        &user
            .plugin(&["status", "iris", "-o", "json"])
            .await
            .succeeds(),
    )
    .unwrap();
    let rollout = json.rollout.clone().unwrap();
    assert_eq!(
        rollout.steps,
        [
            "setWeight 20",
            "pause until promoted",
            "setWeight 40",
            "pause until promoted",
            "setWeight 60",
            "pause until promoted"
        ]
    );
    assert_eq!(
        (
            rollout.step_index,
            rollout.step_count,
            rollout.step.as_deref()
        ),
        (1, 6, Some("2/6 pause until promoted"))
    );
    assert_eq!(
        (reported_weight(&json, &old), reported_weight(&json, &new)),
        (80, 20)
    );
    assert_eq!(json.traffic_summary.as_deref(), Some(split.as_str()));

    user.plugin(&["promote", "iris"]).await.succeeds_with(
        "promote accepted: skipped step 2/6 pause until promoted; going on with 3/6 setWeight 40\n",
    );
    until_step(&user.models, 3, 40).await;
    assert_eq!(
        route_split(&routes).await,
        (pairs(&[("iris-stable", 60), ("iris-canary", 40)]), None)
    );
    let text = user.plugin(&["status", "iris"]).await.succeeds();
    assert!(
        text.contains("  ✓ 3. setWeight 40\n  ▶ 4. pause until promoted\n    5. setWeight 60\n"),
        "{text}"
    );

    user.plugin(&["promote", "iris", "--full"])
        .await
        .succeeds_with(&format!(
            "promoteFull accepted: promoting revision {new} now, skipping the remaining steps\n"
        ));
    let done = until_ready(&user.models, "iris").await.status.unwrap();
    assert_eq!(done.phase, Some(Phase::Healthy));
    assert_eq!(done.stable_revision.as_deref(), Some(new.as_str()));
    assert_eq!(done.serving_model_version.as_deref(), Some("1.1.0"));
    assert_eq!(
        done.traffic_summary.as_deref(),
        Some(format!("{new}=100%").as_str())
    );
    until_route(&routes, &[("iris-stable", 100)]).await;
    let list = user.plugin(&["list"]).await.succeeds();
    assert_eq!(cell(&list, "iris", "PHASE"), "Healthy", "{list}");
    assert_eq!(cell(&list, "iris", "SERVING"), "1.1.0", "{list}");
    assert_eq!(cell(&list, "iris", "STEP"), "", "{list}");

    user.plugin(&["promote", "iris"]).await.fails_with(
        1,
        "error: the operator refused promote: no rollout in progress for iris\n",
    );
    scenario.finish().await;
}

#[tokio::test]
async fn abort_returns_all_traffic_retry_starts_over_and_undo_goes_back() {
    let scenario = Scenario::start("plugin-abort", false).await;
    let user = User::new(&scenario).await;
    let routes: Api<HTTPRoute> = scenario.api();
    let events: Api<Event> = scenario.api();
    let steps = || vec![weight(50), pause(None)];
    user.apply(&manifest("1.0.0", 2, steps())).await;
    until_ready(&user.models, "iris").await;
    user.apply(&manifest("1.1.0", 2, steps())).await;
    let (old, new) = revisions(&until_step(&user.models, 1, 50).await);

    user.plugin(&["retry", "iris"]).await.fails_with(
        1,
        &format!(
            "error: the operator refused retry: the rollout of revision {new} was not aborted; there is nothing to retry\n"
        ),
    );

    user.plugin(&["abort", "iris"])
        .await
        .succeeds_with(&format!(
            "abort accepted: aborting revision {new}: traffic goes back to the stable revision\n"
        ));
    let aborted = until_status(
        &user.models,
        "iris",
        TIMEOUT,
        "the rollout is aborted",
        |s| s.phase == Some(Phase::Aborted),
    )
    .await;
    assert_eq!(
        (
            reported_weight(&aborted, &old),
            reported_weight(&aborted, &new)
        ),
        (100, 0),
        "{aborted:#?}"
    );
    assert_eq!(aborted.stable_revision.as_deref(), Some(old.as_str()));
    until_route(&routes, &[("iris-stable", 100)]).await;
    let text = user.plugin(&["status", "iris"]).await.succeeds();
    for expected in [
        "Phase:         Aborted\n",
        "Stage:         aborted: the stable revision serves; the new revision's pods are removed shortly\n",
        "Steps:\n  ✓ 1. setWeight 50\n    2. pause until promoted\n",
        "Abort reason:  aborted with kubectl modeldeploy abort\n",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    assert!(
        !text.contains('▶'),
        "no step is current once aborted:\n{text}"
    );

    user.plugin(&["promote", "iris"]).await.fails_with(
        1,
        &format!(
            "error: the operator refused promote: the rollout of revision {new} is aborted; use `kubectl modeldeploy retry iris` or change the spec\n"
        ),
    );

    user.plugin(&["retry", "iris"])
        .await
        .succeeds_with(&format!(
            "retry accepted: retrying revision {new} from its first step\n"
        ));
    let again = until_step(&user.models, 1, 50).await;
    assert_eq!(again.candidate_revision.as_deref(), Some(new.as_str()));
    assert_eq!(
        route_split(&routes).await,
        (pairs(&[("iris-stable", 50), ("iris-canary", 50)]), None)
    );
    let retried = format!("rolling out revision {new} again from step 1/2 setWeight 50");
    until(TIMEOUT, "the retry is announced from step 1", || async {
        events_about(&events, "iris")
            .await
            .contains(&("RolloutRetried".to_owned(), retried.clone()))
            .then_some(())
    })
    .await;

    let list: serde_json::Value =
        serde_json::from_str(&user.plugin(&["list", "-o", "json"]).await.succeeds()).unwrap();
    assert_eq!(list[0]["name"], "iris", "{list:#}");
    assert_eq!(list[0]["namespace"], scenario.ns.name.as_str(), "{list:#}");
    assert_eq!(
        list[0]["status"]["candidateRevision"],
        new.as_str(),
        "{list:#}"
    );

    // A usage error: exit 2, from the argument parser, before any request is made.
    let usage = user.plugin(&["promote"]).await;
    assert_eq!(
        (usage.code, usage.stdout.as_str()),
        (Some(2), ""),
        "{usage:#?}"
    );
    assert!(
        usage
            .stderr
            .contains("required arguments were not provided"),
        "{usage:#?}"
    );

    // A ModelDeployment that does not exist: exit 3, for reading and for requests alike.
    let missing = format!(
        "error: modelDeployment nosuch not found in namespace {}\n",
        scenario.ns.name
    );
    for args in [
        &["status", "nosuch"][..],
        &["promote", "nosuch"],
        &["abort", "nosuch"],
        &["undo", "nosuch"],
    ] {
        user.plugin(args).await.fails_with(3, &missing);
    }

    // undo, mid-rollout: the stable revision serves alone again, without a change to the spec,
    // until the spec changes.
    user.plugin(&["undo", "iris"]).await.succeeds_with(&format!(
        "undo accepted: rolling back to revision {old} (model 1.0.0); it serves instead of the spec's revision {new} until the spec changes\n"
    ));
    let undone = until_status(
        &user.models,
        "iris",
        TIMEOUT,
        "the previous revision serves all traffic again",
        |s| {
            s.stable_revision.as_deref() == Some(old.as_str())
                && s.rollout.is_none()
                && reported_weight(s, &old) == 100
        },
    )
    .await;
    assert_eq!(
        undone
            .undo
            .as_ref()
            .map(|u| (u.revision.as_str(), u.spec_revision.as_str())),
        Some((old.as_str(), new.as_str())),
        "{undone:#?}"
    );
    assert_eq!(undone.serving_model_version.as_deref(), Some("1.0.0"));
    until_route(&routes, &[("iris-stable", 100)]).await;
    let text = user.plugin(&["status", "iris"]).await.succeeds();
    assert!(
        text.contains(&format!(
            "Undo:          revision {old} (model 1.0.0) serves instead of the spec's revision {new} until the spec changes\n"
        )),
        "{text}"
    );
    let history = text
        .split("History (undo --to-revision NUMBER or NAME):\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no history in\n{text}"));
    for entry in &undone.history {
        let line = format!("{}  {}", entry.number, entry.revision);
        assert!(history.contains(&line), "{line:?} in\n{text}");
    }
    assert!(
        [&old, &new]
            .iter()
            .all(|r| undone.history.iter().any(|h| &&h.revision == r)),
        "{undone:#?}"
    );

    // A revision the history does not hold is refused.
    user.plugin(&["undo", "iris", "--to-revision", "99"])
        .await
        .fails_with(
            1,
            "error: the operator refused undo: revision 99 is not in the history of iris; `kubectl modeldeploy status iris` lists it\n",
        );
    scenario.finish().await;
}

#[test]
fn only_changes_outside_the_status_count_as_drift() {
    let diff = "\
diff -N --unified=100000 /tmp/LIVE-1/iris /tmp/MERGED-2/iris
--- /tmp/LIVE-1/iris
+++ /tmp/MERGED-2/iris
@@ -1,12 +1,12 @@
 apiVersion: modeldeploy.io/v1alpha1
 kind: ModelDeployment
 metadata:
-  resourceVersion: \"41\"
+  resourceVersion: \"42\"
 spec:
-  replicas: 2
+  replicas: 3
 status:
-  phase: Progressing
+  phase: Paused
   traffic:
-  - weight: 20
+  - weight: 40
";
    assert_eq!(drifted_lines(diff), ["-  replicas: 2", "+  replicas: 3"]);
    let status_only: String = diff
        .lines()
        .filter(|line| !line.contains("replicas"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(drifted_lines(&status_only).is_empty(), "{status_only}");
}

#[test]
fn cells_are_read_under_their_heading() {
    let table = "\
NAME   PHASE    SERVING   STEP                       TRAFFIC                 READY   AGE
iris   Paused   1.0.0     2/6 pause until promoted   a=80% b=20%             5/5     12s
other  Healthy  2.0.0                                c=100%                  1/1     3m
";
    assert_eq!(cell(table, "iris", "STEP"), "2/6 pause until promoted");
    assert_eq!(cell(table, "iris", "TRAFFIC"), "a=80% b=20%");
    assert_eq!(cell(table, "other", "STEP"), "");
    assert_eq!(cell(table, "other", "AGE"), "3m");
}
