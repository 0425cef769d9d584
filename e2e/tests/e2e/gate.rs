//! Holding a revision back: its pods need a node label that no node has until the test opens
//! the gate, so the revision stays unavailable for exactly as long as the test wants.

use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::{Patch, PatchParams};
use modeldeploy_api::v1alpha1::ModelDeployment;
use serde_json::json;

/// The node every pod of the local control plane runs on.
const NODE: &str = "kwok-node-0";

pub struct Gate {
    label: String,
    nodes: Api<Node>,
}

impl Gate {
    /// A gate of its own for the test running in `namespace`.
    pub fn new(client: kube::Client, namespace: &str) -> Gate {
        Gate {
            label: format!("e2e.modeldeploy.io/{namespace}"),
            nodes: Api::all(client),
        }
    }

    /// Makes the pods of `md`'s revision wait for the gate. This changes the revision.
    pub fn hold(&self, md: &mut ModelDeployment) {
        md.spec
            .runtime
            .node_selector
            .insert(self.label.clone(), "open".into());
    }

    pub async fn open(&self) {
        self.label_node(json!("open")).await;
    }

    pub async fn close(&self) {
        self.label_node(json!(null)).await;
    }

    async fn label_node(&self, value: serde_json::Value) {
        let patch = json!({"metadata": {"labels": {self.label.as_str(): value}}});
        self.nodes
            .patch(NODE, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .unwrap();
    }
}
