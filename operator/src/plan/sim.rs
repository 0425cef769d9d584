//! A simulated cluster for planner tests: plans are carried out at once (Deployments scale,
//! traffic moves), pods become available when the test lets them, and the clock moves when the
//! test says so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use jiff::Timestamp;
use modeldeploy_api::v1alpha1::{
    AnalysisTemplateRef, ModelDeploymentSpec, ModelDeploymentStatus, RequestAction, RolloutRequest,
};

use super::analysis::templates::{self, TemplateBody, TemplateSource};
use super::analysis::{Due, Measured, MeasuredValue};
use super::{Input, Observed, ObservedRevision, Plan, plan};
use crate::revision::revision_of;

pub(super) fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A simulated metric provider.
pub(super) type Source = Box<dyn FnMut(&Due) -> Result<MeasuredValue, String>>;

pub(super) struct World {
    pub spec: ModelDeploymentSpec,
    pub status: ModelDeploymentStatus,
    pub observed: Observed,
    pub now: i64,
    pub request: Option<Result<RolloutRequest, String>>,
    /// Revisions whose pods never become ready.
    pub stuck: BTreeSet<String>,
    next_request: u32,
    /// Every event announced so far, as (reason, revision).
    pub announced: Vec<(String, String)>,
    /// What a metric measures when it is due, by metric name: the provider of the simulation.
    pub measure: Option<Source>,
    /// Measurements for the next plan.
    measurements: Vec<Measured>,
    /// Every measurement taken so far, as (analysis, metric, second).
    pub measured: Vec<(String, String, i64)>,
    /// The analysis templates in the cluster.
    pub templates: Vec<(AnalysisTemplateRef, TemplateBody)>,
    /// The Gateway has not accepted the route's latest generation: every route write leaves it
    /// pending until the test clears `observed.route_pending`.
    pub lagging_gateway: bool,
}

impl TemplateSource for World {
    fn template(&self, reference: &AnalysisTemplateRef) -> Option<TemplateBody> {
        self.templates
            .iter()
            .find(|(r, _)| r == reference)
            .map(|(_, body)| body.clone())
    }
}

impl World {
    pub fn new(spec: ModelDeploymentSpec) -> World {
        World {
            spec,
            status: ModelDeploymentStatus::default(),
            observed: Observed::default(),
            now: 0,
            request: None,
            stuck: BTreeSet::new(),
            next_request: 0,
            announced: Vec::new(),
            measure: None,
            measurements: Vec::new(),
            measured: Vec::new(),
            templates: Vec::new(),
            lagging_gateway: false,
        }
    }

    pub fn revision(&self) -> String {
        revision_of(&self.spec)
    }

    /// The spec with its templates inlined, as the controller plans it.
    fn inlined(&self) -> (ModelDeploymentSpec, Option<String>) {
        match templates::inline(&self.spec, self) {
            Ok(inlined) => (inlined.unwrap_or_else(|| self.spec.clone()), None),
            Err(problem) => (self.spec.clone(), Some(problem)),
        }
    }

    /// Plans from the current state without carrying anything out.
    pub fn plan(&self) -> Plan {
        let revision = self.revision();
        let (spec, template_problem) = self.inlined();
        plan(Input {
            name: "iris",
            namespace: "ml",
            spec: &spec,
            generation: Some(1),
            status: &self.status,
            revision: &revision,
            version: &self.spec.model.version,
            observed: &self.observed,
            request: self.request.as_ref(),
            registry: None,
            measurements: &self.measurements,
            template_problem: template_problem.as_deref(),
            now: at(self.now),
        })
    }

    /// Takes the measurements that are due, as the controller does before it plans.
    fn measure_due(&mut self) {
        let revision = self.revision();
        let (spec, template_problem) = self.inlined();
        let due = super::due(&Input {
            name: "iris",
            namespace: "ml",
            spec: &spec,
            generation: Some(1),
            status: &self.status,
            revision: &revision,
            version: &self.spec.model.version,
            observed: &self.observed,
            request: self.request.as_ref(),
            registry: None,
            measurements: &[],
            template_problem: template_problem.as_deref(),
            now: at(self.now),
        });
        let Some(measure) = self.measure.as_mut() else {
            return;
        };
        self.measurements = due
            .iter()
            .map(|d| Measured {
                analysis: d.analysis.clone(),
                metric: d.metric.name.clone(),
                at: at(self.now),
                value: measure(d),
                samples: None,
            })
            .collect();
        self.measured.extend(
            self.measurements
                .iter()
                .map(|m| (m.analysis.clone(), m.metric.clone(), self.now)),
        );
    }

    /// One reconcile: measure what is due, plan, record the status, carry the plan out,
    /// announce its events.
    pub fn reconcile(&mut self) -> Plan {
        self.measure_due();
        let plan = self.plan();
        self.measurements.clear();
        self.status = plan.status.clone();
        self.carry_out(&plan);
        self.announce(&plan);
        plan
    }

    /// A reconcile cut short after the status write: nothing is carried out or announced.
    pub fn reconcile_killed_after_status(&mut self) -> Plan {
        self.measure_due();
        let plan = self.plan();
        self.measurements.clear();
        self.status = plan.status.clone();
        plan
    }

    pub fn announce(&mut self, plan: &Plan) {
        self.announced.extend(
            plan.events
                .iter()
                .map(|e| (e.reason.to_owned(), e.revision.clone())),
        );
    }

    pub fn carry_out(&mut self, plan: &Plan) {
        for run in &plan.run {
            let ready = if self.stuck.contains(&run.revision) {
                0
            } else {
                run.replicas
            };
            let model_version = (run.revision == self.revision())
                .then(|| self.spec.model.version.clone())
                .or_else(|| {
                    self.observed
                        .revisions
                        .get(&run.revision)
                        .and_then(|r| r.model_version.clone())
                });
            self.observed.revisions.insert(
                run.revision.clone(),
                ObservedRevision {
                    model_version,
                    replicas: run.replicas,
                    ready_replicas: ready,
                    available_replicas: ready,
                    updated_replicas: run.replicas,
                    observed_latest: true,
                    problem: None,
                },
            );
        }
        for gone in &plan.delete {
            self.observed.revisions.remove(gone);
        }
        self.observed.history = plan.status.history.clone();
        if crate::traffic::unsupported(
            self.spec.traffic.provider,
            &plan.traffic,
            &self.observed.gateway_features,
        )
        .is_none()
        {
            if self.observed.traffic.as_ref() != Some(&plan.traffic) && self.lagging_gateway {
                self.observed.route_pending = true;
            }
            self.observed.traffic = Some(plan.traffic.clone());
        }
    }

    /// Reconciles until nothing changes any more, at most `limit` times.
    pub fn settle(&mut self, limit: usize) {
        for _ in 0..limit {
            let before = (self.status.clone(), self.observed.clone());
            self.reconcile();
            if before == (self.status.clone(), self.observed.clone()) {
                return;
            }
        }
    }

    pub fn ask(&mut self, action: RequestAction) {
        self.next_request += 1;
        self.request = Some(Ok(RolloutRequest {
            id: self.next_request.to_string(),
            action,
            to_revision: None,
        }));
    }

    pub fn pods_ready(&mut self, revision: &str) {
        self.stuck.remove(revision);
        for run in self
            .observed
            .revisions
            .iter_mut()
            .filter(|(r, _)| *r == revision)
        {
            run.1.ready_replicas = run.1.replicas;
            run.1.available_replicas = run.1.replicas;
        }
    }

    pub fn weight_of(&self, revision: &str) -> i32 {
        self.observed.traffic.as_ref().map_or(0, |t| {
            t.targets()
                .iter()
                .find(|x| x.revision == revision)
                .map_or(0, |x| x.weight)
        })
    }

    pub fn replicas_of(&self, revision: &str) -> i32 {
        self.observed
            .revisions
            .get(revision)
            .map_or(0, |r| r.replicas)
    }

    /// The status condition of `type_`; panics when there is none.
    pub fn condition(
        &self,
        type_: &str,
    ) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
        self.status
            .conditions
            .iter()
            .find(|c| c.type_ == type_)
            .unwrap_or_else(|| panic!("no {type_} condition in {:?}", self.status.conditions))
    }

    pub fn count(&self, reason: &str) -> usize {
        self.announced.iter().filter(|(r, _)| r == reason).count()
    }
}
