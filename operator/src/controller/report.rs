//! Recording: the status subresource and the events of a plan.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use modeldeploy_api::v1alpha1::{ModelDeployment, ModelDeploymentStatus};
use serde_json::json;
use tracing::{info, warn};

use super::Context;
use crate::announce;
use crate::error::Error;
use crate::labels::{self, FIELD_MANAGER};
use crate::plan::Plan;
use crate::render::Owner;

pub(super) async fn write_status(
    client: &kube::Client,
    owner: &Owner,
    status: &ModelDeploymentStatus,
) -> Result<(), Error> {
    let api = Api::<ModelDeployment>::namespaced(client.clone(), &owner.namespace);
    let patch = json!({
        "apiVersion": ModelDeployment::api_version(&()),
        "kind": ModelDeployment::kind(&()),
        "status": status,
    });
    api.patch_status(
        &owner.name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(|source| Error::kube::<ModelDeployment>("write status of", &owner.name, source))?;
    Ok(())
}

/// Events are best effort: a failure to publish one is logged and never fails the reconcile.
pub(super) async fn publish(ctx: &Context, md: &ModelDeployment, plan: &Plan) {
    let reference = md.object_ref(&());
    for planned in &plan.events {
        if planned.warning {
            warn!(reason = planned.reason, note = %planned.note, "rollout event");
        } else {
            info!(reason = planned.reason, note = %planned.note, "rollout event");
        }
        let related = ObjectReference {
            api_version: Some("apps/v1".to_owned()),
            kind: Some("Deployment".to_owned()),
            namespace: md.namespace(),
            name: Some(labels::deployment_name(&md.name_any(), &planned.revision)),
            ..ObjectReference::default()
        };
        let event =
            announce::rollout_event(planned, &reference, related, &ctx.identity, (ctx.now)());
        let events: Api<k8s_openapi::api::events::v1::Event> =
            Api::namespaced(ctx.client.clone(), &md.namespace().unwrap_or_default());
        if let Err(error) = events.create(&PostParams::default(), &event).await {
            warn!(%error, reason = planned.reason, "could not publish an event");
        }
    }
}
