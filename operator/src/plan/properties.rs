//! Property tests of the planner: for random strategies, cluster behaviour, requests, spec
//! changes, restarts and clocks, the safety rules hold at every plan.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use modeldeploy_api::v1alpha1::{
    AbTestStrategy, BlueGreenStrategy, CanaryStep, CanaryStrategy, Duration as ApiDuration,
    GatewayApiTraffic, HeaderMatch, HeaderMatchType, ModelDeploymentSpec, ParentReference,
    PauseStep, RequestAction, RolloutStage, RouteMatch, ShadowStrategy, StrategySpec,
    TrafficProvider, TrafficSpec,
};

use super::sim::World;
use super::{Plan, TrafficPlan};
use crate::testing::spec;

#[derive(Clone, Debug)]
enum Happening {
    Reconcile,
    /// The operator dies after writing the status, before carrying the plan out.
    KillAfterStatus,
    /// The operator dies before writing anything: the plan is lost.
    KillBeforeStatus,
    Tick(i64),
    PodsReady,
    PodsStuck,
    Ask(RequestAction),
    NewVersion,
    /// The strategy in the spec changes mid-flight.
    NewStrategy(usize),
}

fn happening() -> impl Strategy<Value = Happening> {
    prop_oneof![
        6 => Just(Happening::Reconcile),
        1 => Just(Happening::KillAfterStatus),
        1 => Just(Happening::KillBeforeStatus),
        2 => (1i64..400).prop_map(Happening::Tick),
        2 => Just(Happening::PodsReady),
        1 => Just(Happening::PodsStuck),
        1 => prop_oneof![
            Just(RequestAction::Promote),
            Just(RequestAction::PromoteFull),
            Just(RequestAction::Abort),
            Just(RequestAction::Pause),
            Just(RequestAction::Resume),
            Just(RequestAction::Retry),
            Just(RequestAction::Undo),
        ]
        .prop_map(Happening::Ask),
        1 => Just(Happening::NewVersion),
        1 => (0usize..4).prop_map(Happening::NewStrategy),
    ]
}

fn gateway() -> TrafficSpec {
    TrafficSpec {
        provider: TrafficProvider::GatewayApi,
        gateway_api: Some(GatewayApiTraffic {
            parent_refs: vec![ParentReference {
                group: None,
                kind: None,
                namespace: None,
                name: "gw".into(),
                section_name: None,
                port: None,
            }],
            hostnames: vec![],
        }),
        istio: None,
    }
}

fn canary_step() -> impl Strategy<Value = CanaryStep> {
    prop_oneof![
        (0i32..=100).prop_map(|w| CanaryStep {
            set_weight: Some(w),
            ..CanaryStep::default()
        }),
        prop::option::of(1u32..600).prop_map(|d| CanaryStep {
            pause: Some(PauseStep {
                duration: d.map(|s| ApiDuration(format!("{s}s"))),
            }),
            ..CanaryStep::default()
        }),
    ]
}

fn a_spec() -> impl Strategy<Value = ModelDeploymentSpec> {
    let strategy = prop_oneof![
        Just(None),
        (prop::collection::vec(canary_step(), 1..6), any::<bool>()).prop_map(|(steps, flat)| {
            Some(StrategySpec {
                canary: Some(CanaryStrategy {
                    steps,
                    dynamic_stable_scale: Some(flat),
                    ..CanaryStrategy::default()
                }),
                ..StrategySpec::default()
            })
        }),
        (any::<bool>(), 1i32..4).prop_map(|(auto, preview)| Some(StrategySpec {
            blue_green: Some(BlueGreenStrategy {
                auto_promotion: Some(auto),
                preview_replicas: Some(preview),
                ..BlueGreenStrategy::default()
            }),
            ..StrategySpec::default()
        })),
        (1i32..=100, any::<bool>()).prop_map(|(mirror, auto)| Some(StrategySpec {
            shadow: Some(ShadowStrategy {
                mirror_percent: Some(mirror),
                mirror_all_methods: None,
                duration: ApiDuration("5m".into()),
                agreement: None,
                drift: None,
                analysis: None,
                auto_promotion: Some(auto),
            }),
            ..StrategySpec::default()
        })),
        (1i32..=99).prop_map(|weight| Some(StrategySpec {
            ab_test: Some(AbTestStrategy {
                weight: Some(weight),
                stickiness: None,
                matches: vec![RouteMatch {
                    headers: vec![HeaderMatch {
                        name: "x-group".into(),
                        value: "b".into(),
                        match_type: HeaderMatchType::Exact,
                    }],
                }],
                max_duration: ApiDuration("20m".into()),
                analysis: None,
                decision: None,
            }),
            ..StrategySpec::default()
        })),
    ];
    (strategy, 1i32..6, any::<bool>()).prop_map(|(strategy, replicas, mesh)| {
        let mut s = spec("1.0.0");
        s.replicas = replicas;
        let needs_mesh = strategy
            .as_ref()
            .is_some_and(|st| st.shadow.is_some() || st.ab_test.is_some());
        if mesh || needs_mesh {
            s.traffic = gateway();
        }
        s.strategy = strategy;
        s
    })
}

/// A strategy to switch to; shadow and A/B only where a mesh or gateway can carry them.
fn other_strategy(pick: usize, mesh: bool) -> Option<StrategySpec> {
    let canary = StrategySpec {
        canary: Some(CanaryStrategy {
            steps: vec![
                CanaryStep {
                    set_weight: Some(30),
                    ..CanaryStep::default()
                },
                CanaryStep {
                    pause: Some(PauseStep { duration: None }),
                    ..CanaryStep::default()
                },
            ],
            ..CanaryStrategy::default()
        }),
        ..StrategySpec::default()
    };
    let blue_green = StrategySpec {
        blue_green: Some(BlueGreenStrategy {
            auto_promotion: Some(false),
            ..BlueGreenStrategy::default()
        }),
        ..StrategySpec::default()
    };
    let shadow = StrategySpec {
        shadow: Some(ShadowStrategy {
            mirror_percent: Some(50),
            mirror_all_methods: None,
            duration: ApiDuration("1m".into()),
            agreement: None,
            drift: None,
            analysis: None,
            auto_promotion: None,
        }),
        ..StrategySpec::default()
    };
    match (pick, mesh) {
        (0, _) => None,
        (1, _) => Some(canary),
        (2, _) => Some(blue_green),
        (_, true) => Some(shadow),
        (_, false) => Some(canary),
    }
}

/// Percent of requests `plan` sends to `revision`, by weight.
fn weight(plan: &TrafficPlan, revision: &str) -> i32 {
    plan.targets()
        .iter()
        .filter(|t| t.revision == revision)
        .map(|t| t.weight)
        .sum()
}

fn receives(plan: &TrafficPlan, revision: &str) -> bool {
    weight(plan, revision) > 0
        || plan
            .candidate
            .as_ref()
            .is_some_and(|c| c.revision == revision && plan.candidate_receives_requests())
}

/// The safety rules, checked on a plan made from `world` before it is carried out.
fn check(world: &World, plan: &Plan) -> Result<(), TestCaseError> {
    let traffic = &plan.traffic;
    let total: i32 = traffic.targets().iter().map(|t| t.weight).sum();
    prop_assert_eq!(total, 100, "weights sum to 100: {:?}", traffic);
    let carried = world.observed.traffic.as_ref();
    let seen = |r: &str| world.observed.revisions.get(r);
    let ready = |r: &str| seen(r).map_or(0, |o| o.ready_replicas);
    // Traffic only moves to a revision that can take it.
    for target in traffic.targets() {
        let before = carried.map_or(0, |c| weight(c, &target.revision));
        let first_deploy = world.status.stable_revision.is_none();
        if target.weight > before && !first_deploy {
            prop_assert!(
                ready(&target.revision) > 0,
                "{} gets traffic without ready pods",
                target.revision
            );
            // The stable revision takes more than its pods can only from a candidate that has
            // none left: serving from too few pods beats serving from none.
            let from_dead_candidate = carried
                .and_then(|c| c.candidate.as_ref())
                .is_some_and(|c| ready(&c.revision) == 0);
            prop_assert!(
                super::capacity_weight(ready(&target.revision), world.spec.replicas)
                    >= target.weight
                    || target.revision != traffic.stable
                    || from_dead_candidate,
                "stable gets {}% with {} ready pods of {}",
                target.weight,
                ready(&target.revision),
                world.spec.replicas
            );
        }
    }
    // The candidate never gets more than the steps so far allow.
    if let (Some(candidate), Some(rollout)) = (&traffic.candidate, &plan.status.rollout)
        && rollout.stage == RolloutStage::Steps
        && candidate.revision == rollout.revision
    {
        let steps = super::strategy::steps(&world.spec);
        let allowed = steps.steps[..usize::try_from(rollout.step_index + 1)
            .unwrap_or(0)
            .min(steps.steps.len())]
            .iter()
            .filter_map(|s| match s {
                super::steps::Step::Traffic(t) => Some(t.weight),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        // Above the steps only on the way down from more (after a change of strategy), and
        // only as long as the stable revision's ready pods cannot take the rest.
        let before = carried
            .and_then(|c| c.candidate.as_ref())
            .filter(|c| c.revision == candidate.revision)
            .map_or(0, |c| c.weight);
        prop_assert!(
            candidate.weight <= allowed || candidate.weight <= before,
            "candidate at {}% beyond the steps' {}% (it had {}%)",
            candidate.weight,
            allowed,
            before
        );
    }
    // Pods go only after traffic has left them.
    for gone in &plan.delete {
        prop_assert!(
            !receives(traffic, gone),
            "{gone} deleted while the plan routes to it"
        );
        prop_assert!(
            carried.is_none_or(|c| !receives(c, gone)),
            "{gone} deleted while the live route still sends it requests"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn rollouts_are_safe_whatever_happens(
        spec in a_spec(),
        happenings in prop::collection::vec(happening(), 1..80),
    ) {
        let mut world = World::new(spec);
        world.settle(5);
        world.spec.model.version = "2.0.0".into();
        let mut version = 2;
        for happening in happenings {
            match happening {
                Happening::Reconcile => {
                    let plan = world.plan();
                    check(&world, &plan)?;
                    world.status = plan.status.clone();
                    world.carry_out(&plan);
                    world.announce(&plan);
                }
                Happening::KillAfterStatus => {
                    let plan = world.plan();
                    check(&world, &plan)?;
                    world.status = plan.status;
                }
                Happening::KillBeforeStatus => {
                    let plan = world.plan();
                    check(&world, &plan)?;
                }
                Happening::Tick(seconds) => world.now += seconds,
                Happening::PodsReady => {
                    let revision = world.revision();
                    world.pods_ready(&revision);
                }
                Happening::PodsStuck => {
                    let revision = world.revision();
                    world.stuck.insert(revision);
                }
                Happening::Ask(action) => world.ask(action),
                Happening::NewVersion => {
                    version += 1;
                    world.spec.model.version = format!("{version}.0.0");
                }
                Happening::NewStrategy(pick) => {
                    let mesh = world.spec.traffic.provider != TrafficProvider::Replicas;
                    world.spec.strategy = other_strategy(pick, mesh);
                }
            }
        }
        // Let everything finish: the spec's revision ends up serving, or the rollout is aborted
        // with all traffic on the stable revision.
        let revision = world.revision();
        world.pods_ready(&revision);
        world.stuck.clear();
        for _ in 0..40 {
            world.ask(RequestAction::Resume);
            world.settle(30);
            world.ask(RequestAction::Promote);
            world.settle(30);
            world.now += 3600;
        }
        let status = &world.status;
        let aborted = status.rollout.as_ref().is_some_and(|r| r.stage == RolloutStage::Aborted);
        let serving = status.undo.as_ref().map_or(revision.clone(), |u| u.revision.clone());
        prop_assert!(
            aborted || status.stable_revision.as_deref() == Some(serving.as_str()),
            "stuck: {:#?}", status
        );
        if !aborted {
            prop_assert_eq!(world.weight_of(&serving), 100);
            prop_assert_eq!(world.observed.revisions.len(), 1, "{:?}", world.observed.revisions);
        }
    }
}
