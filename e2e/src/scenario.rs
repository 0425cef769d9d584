use kube::Api;
use modeldeploy_operator::Operator;

use crate::{Cluster, OperatorOptions, TestNamespace, start_operator};

/// One test's world: the cluster, a fresh namespace, and an operator watching only it.
#[derive(Debug)]
pub struct Scenario {
    pub cluster: Cluster,
    pub ns: TestNamespace,
    pub operator: Operator,
}

impl Scenario {
    pub async fn start(prefix: &str, leader_election: bool) -> Scenario {
        let cluster = Cluster::connect().await;
        let ns = cluster.namespace(prefix).await;
        let options = OperatorOptions {
            namespace: ns.name.clone(),
            leader_election,
        };
        let operator = start_operator(cluster.config.clone(), &options).await;
        Scenario {
            cluster,
            ns,
            operator,
        }
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        self.ns.api()
    }

    /// Stops the operator gracefully and deletes the namespace.
    pub async fn finish(self) {
        self.operator
            .shutdown()
            .await
            .expect("the operator stops cleanly");
        self.ns.delete().await;
    }
}
