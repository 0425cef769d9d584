use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use modeldeploy_operator::preset::Presets;
use modeldeploy_operator::{LeaderElection, Operator, Settings};

/// How a test runs its operator.
#[derive(Clone, Debug)]
pub struct OperatorOptions {
    pub namespace: String,
    pub leader_election: bool,
}

static NEXT_REPLICA: AtomicU32 = AtomicU32::new(0);

/// Starts an operator in this process that watches only `options.namespace`, with its HTTP
/// server on a free loopback port.
pub async fn start_operator(config: kube::Config, options: &OperatorOptions) -> Operator {
    start_operator_with(config, options, Presets::builtin()).await
}

/// [`start_operator`] with the runtime presets `presets`, as an admin's file would give them.
pub async fn start_operator_with(
    config: kube::Config,
    options: &OperatorOptions,
    presets: Presets,
) -> Operator {
    let settings = Settings {
        presets,
        prometheus_url: std::env::var("MODELDEPLOY_PROMETHEUS_URL").ok(),
        namespace: Some(options.namespace.clone()),
        http_address: "127.0.0.1:0".parse().unwrap(),
        leader_election: options.leader_election.then(|| LeaderElection {
            namespace: options.namespace.clone(),
            lease_name: LeaderElection::DEFAULT_LEASE_NAME.to_owned(),
            lease_duration: Duration::from_secs(15),
        }),
        concurrency: 4,
        // Replicas must differ in identity, or each would take the other's lease for its own.
        identity: format!(
            "e2e-{}-{}",
            options.namespace,
            NEXT_REPLICA.fetch_add(1, Ordering::Relaxed)
        ),
    };
    Operator::start(settings, config)
        .await
        .expect("the operator starts")
}
