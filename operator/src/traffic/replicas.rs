//! Without a mesh: the Service `<name>` selects every revision that serves, and a split follows
//! the ratio of ready pods. Mirroring and header matches cannot be expressed.

use std::collections::BTreeMap;

use modeldeploy_api::v1alpha1::{ModelDeploymentSpec, TrafficTarget};

use super::{GatewayFeatures, Routing, TrafficRouter, plan_annotation, services};
use crate::labels;
use modeldeploy_api::routing::TrafficPlan;

use crate::observed::ObservedRevision;
use crate::render::Owner;

pub struct Replicas;

impl TrafficRouter for Replicas {
    fn unsupported(&self, plan: &TrafficPlan, _features: &GatewayFeatures) -> Option<String> {
        let candidate = plan.candidate.as_ref()?;
        if candidate.mirror_percent.is_some() {
            return Some(
                "traffic.provider replicas cannot mirror requests; use gatewayAPI or istio"
                    .to_owned(),
            );
        }
        if !candidate.matches.is_empty() || candidate.stickiness.is_some() {
            return Some("traffic.provider replicas cannot route by header or keep users on one revision; use gatewayAPI or istio".to_owned());
        }
        None
    }

    fn render(&self, owner: &Owner, spec: &ModelDeploymentSpec, plan: &TrafficPlan) -> Routing {
        let selector = match plan.candidate.as_ref().map(|c| (c.weight, &c.revision)) {
            Some((100, candidate)) => labels::revision_selector(&owner.name, candidate),
            Some((weight, _)) if weight > 0 => labels::all_revisions_selector(&owner.name),
            _ => labels::revision_selector(&owner.name, &plan.stable),
        };
        let mut list = vec![services::main(owner, spec, selector, plan_annotation(plan))];
        list.extend(services::candidate(owner, spec, plan));
        Routing {
            services: list,
            ..Routing::default()
        }
    }

    /// Both revisions behind one Service take requests in proportion to their ready pods.
    fn effective(
        &self,
        plan: &TrafficPlan,
        revisions: &BTreeMap<String, ObservedRevision>,
    ) -> Vec<TrafficTarget> {
        let Some(candidate) = plan
            .candidate
            .as_ref()
            .filter(|c| c.weight > 0 && c.weight < 100)
        else {
            return plan.targets();
        };
        let ready = |r: &str| revisions.get(r).map_or(0, |o| o.ready_replicas.max(0));
        let (stable_ready, candidate_ready) = (ready(&plan.stable), ready(&candidate.revision));
        let total = i64::from(stable_ready) + i64::from(candidate_ready);
        if total == 0 {
            return plan.targets();
        }
        let share = (i64::from(candidate_ready) * 100 + total / 2) / total;
        let share = i32::try_from(share).unwrap_or(0);
        [
            (plan.stable.clone(), 100 - share),
            (candidate.revision.clone(), share),
        ]
        .into_iter()
        .filter(|(_, weight)| *weight > 0)
        .map(|(revision, weight)| TrafficTarget { revision, weight })
        .collect()
    }
}
