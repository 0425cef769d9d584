//! The `list` table and its JSON form. Pure, so that rows can be tested without a cluster.

use modeldeploy_api::v1alpha1::{ModelDeployment, ModelDeploymentStatus};
use serde::Serialize;

use crate::columns::columns;

/// Gap between columns, as in `kubectl get`.
const GAP: &str = "   ";

/// One row per ModelDeployment, sorted by namespace and name; `with_namespace` adds the
/// NAMESPACE column that `--all-namespaces` needs.
pub fn rows(deployments: &[ModelDeployment], with_namespace: bool) -> Vec<Vec<String>> {
    let mut sorted: Vec<&ModelDeployment> = deployments.iter().collect();
    sorted.sort_by_key(|deployment| (namespace(deployment), name(deployment)));
    sorted
        .into_iter()
        .map(|deployment| {
            let status = deployment.status.as_ref();
            let text = |field: fn(&ModelDeploymentStatus) -> Option<String>| {
                status.and_then(field).unwrap_or_default()
            };
            let mut row = Vec::with_capacity(7);
            if with_namespace {
                row.push(namespace(deployment).to_owned());
            }
            row.extend([
                name(deployment).to_owned(),
                text(|s| s.phase.map(|phase| phase.as_str().to_owned())),
                text(|s| s.serving_model_version.clone()),
                text(|s| s.rollout.as_ref().and_then(|rollout| rollout.step.clone())),
                text(|s| s.traffic_summary.clone()),
                text(|s| s.ready.clone()),
            ]);
            row
        })
        .collect()
}

/// The table `kubectl modeldeploy list` prints, header first.
pub fn render(deployments: &[ModelDeployment], with_namespace: bool) -> String {
    let mut header = Vec::with_capacity(7);
    if with_namespace {
        header.push("NAMESPACE".to_owned());
    }
    header.extend(["NAME", "PHASE", "SERVING", "STEP", "TRAFFIC", "READY"].map(str::to_owned));
    let mut table = vec![header];
    table.extend(rows(deployments, with_namespace));
    let mut text = columns(&table, GAP).join("\n");
    text.push('\n');
    text
}

/// One ModelDeployment in `list -o json`: where it is and its status, without the spec that
/// the manifest already holds.
#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub status: Option<&'a ModelDeploymentStatus>,
}

/// The entries of `list -o json`, in the order of the table.
pub fn entries(deployments: &[ModelDeployment]) -> Vec<Entry<'_>> {
    let mut entries: Vec<Entry<'_>> = deployments
        .iter()
        .map(|deployment| Entry {
            namespace: namespace(deployment),
            name: name(deployment),
            status: deployment.status.as_ref(),
        })
        .collect();
    entries.sort_by_key(|entry| (entry.namespace, entry.name));
    entries
}

fn name(deployment: &ModelDeployment) -> &str {
    deployment.metadata.name.as_deref().unwrap_or_default()
}

fn namespace(deployment: &ModelDeployment) -> &str {
    deployment.metadata.namespace.as_deref().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use modeldeploy_api::v1alpha1::{Phase, RolloutStage, RolloutStatus};
    use serde_json::json;

    use super::*;
    use crate::testing::deployment;

    fn fleet() -> Vec<ModelDeployment> {
        let mut healthy = deployment("iris", "ml");
        healthy.status = Some(ModelDeploymentStatus {
            phase: Some(Phase::Healthy),
            serving_model_version: Some("1.0.0".into()),
            traffic_summary: Some("6ca803f789=100%".into()),
            ready: Some("2/2".into()),
            ..ModelDeploymentStatus::default()
        });
        let mut canary = deployment("fraud", "risk");
        canary.status = Some(ModelDeploymentStatus {
            phase: Some(Phase::Progressing),
            serving_model_version: Some("3.2.0".into()),
            rollout: Some(RolloutStatus {
                revision: "22d4853c0d".into(),
                model_version: "3.3.0".into(),
                started_at: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    jiff::Timestamp::UNIX_EPOCH,
                ),
                strategy: "canary".into(),
                stage: RolloutStage::Steps,
                step_index: 1,
                step_count: 5,
                steps: Vec::new(),
                step: Some("2/5 setWeight 20".into()),
                step_started_at: None,
                pause: None,
                paused_by_user: false,
                abort_reason: None,
                analysis: Vec::new(),
                decision: None,
            }),
            traffic_summary: Some("a1=80%,22d4853c0d=20%".into()),
            ready: Some("4/4".into()),
            ..ModelDeploymentStatus::default()
        });
        let new = deployment("llm", "ml");
        vec![healthy, canary, new]
    }

    #[test]
    fn rows_hold_phase_serving_step_traffic_and_ready() {
        assert_eq!(
            rows(&fleet(), false),
            [
                vec!["iris", "Healthy", "1.0.0", "", "6ca803f789=100%", "2/2"],
                vec!["llm", "", "", "", "", ""],
                vec![
                    "fraud",
                    "Progressing",
                    "3.2.0",
                    "2/5 setWeight 20",
                    "a1=80%,22d4853c0d=20%",
                    "4/4"
                ],
            ]
        );
    }

    #[test]
    fn renders_an_aligned_table() {
        assert_eq!(
            render(&fleet(), false),
            "\
NAME    PHASE         SERVING   STEP               TRAFFIC                 READY
iris    Healthy       1.0.0                        6ca803f789=100%         2/2
llm
fraud   Progressing   3.2.0     2/5 setWeight 20   a1=80%,22d4853c0d=20%   4/4
"
        );
    }

    #[test]
    fn all_namespaces_adds_the_namespace_column() {
        let table = render(&fleet(), true);
        let mut lines = table.lines();
        assert_eq!(
            lines.next(),
            Some(
                "NAMESPACE   NAME    PHASE         SERVING   STEP               TRAFFIC                 READY"
            )
        );
        assert_eq!(
            lines.next(),
            Some(
                "ml          iris    Healthy       1.0.0                        6ca803f789=100%         2/2"
            )
        );
    }

    #[test]
    fn json_entries_carry_namespace_name_and_status() -> Result<(), serde_json::Error> {
        let fleet = fleet();
        let value = serde_json::to_value(entries(&fleet))?;
        assert_eq!(value[0]["name"], json!("iris"));
        assert_eq!(value[0]["status"]["phase"], json!("Healthy"));
        assert_eq!(value[1]["name"], json!("llm"));
        assert_eq!(value[1]["status"], json!(null));
        assert_eq!(value[2]["namespace"], json!("risk"));
        assert_eq!(
            value[2]["status"]["rollout"]["step"],
            json!("2/5 setWeight 20")
        );
        Ok(())
    }
}
