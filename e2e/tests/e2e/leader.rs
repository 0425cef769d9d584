//! Two operator replicas are safe: only the lease holder reconciles, and the other takes over
//! when it stops.

use kube::Api;
use kube::api::{Patch, PatchParams};
use modeldeploy_api::v1alpha1::ModelDeployment;
use modeldeploy_e2e::{Cluster, OperatorOptions, sample, start_operator, until};
use serde_json::json;

use crate::metrics::{sample_sum, scrape};
use crate::{TIMEOUT, apply_md, until_ready};

#[tokio::test]
async fn only_the_leader_reconciles_and_a_standby_takes_over_when_it_stops() {
    let cluster = Cluster::connect().await;
    let ns = cluster.namespace("leader").await;
    let options = OperatorOptions {
        namespace: ns.name.clone(),
        leader_election: true,
    };
    let mut replicas = vec![
        start_operator(cluster.config.clone(), &options).await,
        start_operator(cluster.config.clone(), &options).await,
    ];

    let leading = until(TIMEOUT, "exactly one replica holds the lease", || async {
        let mut flags = Vec::new();
        for replica in &replicas {
            flags.push(sample_sum(
                &scrape(replica.http_address()).await,
                "modeldeploy_leader",
                "",
            ));
        }
        match flags.as_slice() {
            [1, 0] => Some(0),
            [0, 1] => Some(1),
            _ => None,
        }
    })
    .await;
    let leader = replicas.remove(leading);
    let standby = replicas.remove(0);
    let reconciles =
        |text: &str| sample_sum(text, "modeldeploy_reconciles_total", "result=\"success\"");

    let models: Api<ModelDeployment> = ns.api();
    apply_md(&models, &sample("iris-sklearn.yaml")).await;
    until_ready(&models, "iris").await;
    assert_eq!(
        reconciles(&scrape(standby.http_address()).await),
        0,
        "the standby must not reconcile"
    );

    // The leader stops and releases the lease; the standby takes over and carries out a change.
    leader.shutdown().await.unwrap();
    until(TIMEOUT, "the standby holds the lease", || async {
        (sample_sum(
            &scrape(standby.http_address()).await,
            "modeldeploy_leader",
            "",
        ) == 1)
            .then_some(())
    })
    .await;
    models
        .patch(
            "iris",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    let md = until_ready(&models, "iris").await;
    assert_eq!(md.status.unwrap().ready.as_deref(), Some("3/3"));
    assert!(reconciles(&scrape(standby.http_address()).await) > 0);

    standby.shutdown().await.unwrap();
    ns.delete().await;
}
