//! What each provider renders for a plan, and reading a carried plan back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use modeldeploy_api::v1alpha1::{
    GatewayApiTraffic, HeaderMatch, HeaderMatchType, IstioTraffic, ModelDeploymentSpec,
    ParentReference, RouteMatch, Stickiness, TrafficProvider,
};

use super::*;

use crate::observed::ObservedRevision;
use crate::testing::{owner, spec};

fn plan(weight: i32) -> TrafficPlan {
    TrafficPlan::canary("old", "new", weight)
}

fn with_provider(provider: TrafficProvider) -> ModelDeploymentSpec {
    let mut s = spec("1.0.0");
    s.traffic.provider = provider;
    s.traffic.gateway_api = (provider == TrafficProvider::GatewayApi).then(|| GatewayApiTraffic {
        parent_refs: vec![ParentReference {
            group: None,
            kind: None,
            namespace: Some("gateways".into()),
            name: "inference".into(),
            section_name: None,
            port: None,
        }],
        hostnames: vec!["iris.example.com".into()],
    });
    s.traffic.istio = (provider == TrafficProvider::Istio).then(|| IstioTraffic {
        hosts: vec!["iris.example.com".into()],
        gateways: vec!["istio-system/public".into()],
    });
    s
}

fn tester() -> RouteMatch {
    RouteMatch {
        headers: vec![HeaderMatch {
            name: "X-Tester".into(),
            value: "yes".into(),
            match_type: HeaderMatchType::Exact,
        }],
    }
}

fn selector(routing: &Routing, name: &str) -> BTreeMap<String, String> {
    routing
        .services
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(name))
        .and_then(|s| s.spec.as_ref()?.selector.clone())
        .unwrap_or_default()
}

fn names(routing: &Routing) -> Vec<String> {
    routing
        .services
        .iter()
        .filter_map(|s| s.metadata.name.clone())
        .collect()
}

#[test]
fn without_a_mesh_the_service_selects_what_serves() {
    let s = with_provider(TrafficProvider::Replicas);
    let r = router(TrafficProvider::Replicas);
    let only = r.render(&owner("iris"), &s, &TrafficPlan::only("old"));
    assert_eq!(names(&only), ["iris"]);
    assert_eq!(
        selector(&only, "iris")
            .get("modeldeploy.io/revision")
            .map(String::as_str),
        Some("old")
    );
    let split = r.render(&owner("iris"), &s, &plan(25));
    assert_eq!(names(&split), ["iris", "iris-canary"]);
    assert!(!selector(&split, "iris").contains_key("modeldeploy.io/revision"));
    let all = r.render(&owner("iris"), &s, &plan(100));
    assert_eq!(
        selector(&all, "iris")
            .get("modeldeploy.io/revision")
            .map(String::as_str),
        Some("new")
    );
}

#[test]
fn without_a_mesh_the_reported_split_is_the_ready_pod_ratio() {
    let revisions: BTreeMap<String, ObservedRevision> = [("old", 3), ("new", 1)]
        .into_iter()
        .map(|(name, ready)| {
            (
                name.to_owned(),
                ObservedRevision {
                    ready_replicas: ready,
                    ..ObservedRevision::default()
                },
            )
        })
        .collect();
    let reported = effective(TrafficProvider::Replicas, &plan(20), &revisions);
    let weights: Vec<(String, i32)> = reported
        .into_iter()
        .map(|t| (t.revision, t.weight))
        .collect();
    assert_eq!(weights, [("old".to_owned(), 75), ("new".to_owned(), 25)]);
    assert!(
        unsupported(
            TrafficProvider::Replicas,
            &{
                let mut p = plan(0);
                if let Some(c) = p.candidate.as_mut() {
                    c.mirror_percent = Some(10);
                }
                p
            },
            &None
        )
        .is_some()
    );
}

#[test]
fn gateway_api_weights_matches_mirror_and_session_persistence() {
    let s = with_provider(TrafficProvider::GatewayApi);
    let mut p = plan(20);
    if let Some(c) = p.candidate.as_mut() {
        c.matches = vec![tester()];
        c.mirror_percent = Some(30);
        c.stickiness = Some(Stickiness {
            header: Some("x-user".into()),
            cookie: None,
        });
    }
    let routing = router(TrafficProvider::GatewayApi).render(&owner("iris"), &s, &p);
    assert_eq!(names(&routing), ["iris", "iris-stable", "iris-canary"]);
    assert_eq!(
        selector(&routing, "iris")
            .get("modeldeploy.io/revision")
            .map(String::as_str),
        Some("old")
    );
    let route = routing.http_route.unwrap();
    assert_eq!(route.spec.parent_refs[0].name, "inference");
    assert_eq!(route.spec.hostnames, ["iris.example.com"]);
    let [matches, split] = route.spec.rules.as_slice() else {
        panic!("two rules expected: {:?}", route.spec.rules)
    };
    assert_eq!(matches.matches[0].headers[0].name, "X-Tester");
    assert_eq!(matches.backend_refs[0].name, "iris-canary");
    let weights: Vec<(String, Option<i32>)> = split
        .backend_refs
        .iter()
        .map(|b| (b.name.clone(), b.weight))
        .collect();
    assert_eq!(
        weights,
        [
            ("iris-stable".to_owned(), Some(80)),
            ("iris-canary".to_owned(), Some(20))
        ]
    );
    let mirror = split.filters[0].request_mirror.clone().unwrap();
    assert_eq!(
        (mirror.backend_ref.name.as_str(), mirror.percent),
        ("iris-canary", Some(30))
    );
    assert_eq!(
        split
            .session_persistence
            .as_ref()
            .and_then(|p| p.type_.as_deref()),
        Some("Header")
    );
}

#[test]
fn istio_weights_header_routes_and_mirror() {
    let s = with_provider(TrafficProvider::Istio);
    let mut p = plan(10);
    if let Some(c) = p.candidate.as_mut() {
        c.matches = vec![tester()];
        c.mirror_percent = Some(5);
    }
    let routing = router(TrafficProvider::Istio).render(&owner("iris"), &s, &p);
    let vs = routing.virtual_service.unwrap();
    assert_eq!(
        vs.spec.hosts,
        ["iris.ml.svc.cluster.local", "iris.example.com"]
    );
    assert_eq!(vs.spec.gateways, ["istio-system/public", "mesh"]);
    let [matches, primary] = vs.spec.http.as_slice() else {
        panic!("two routes expected")
    };
    assert_eq!(
        matches.match_[0]
            .headers
            .get("x-tester")
            .and_then(|m| m.exact.as_deref()),
        Some("yes")
    );
    assert_eq!(
        matches.route[0].destination.host,
        "iris-canary.ml.svc.cluster.local"
    );
    let weights: Vec<Option<i32>> = primary.route.iter().map(|r| r.weight).collect();
    assert_eq!(weights, [Some(90), Some(10)]);
    assert_eq!(
        primary.mirror_percentage.as_ref().map(|m| m.value),
        Some(5.0)
    );
    let sticky = {
        let mut p = plan(50);
        if let Some(c) = p.candidate.as_mut() {
            c.stickiness = Some(Stickiness {
                header: None,
                cookie: Some("user".into()),
            });
        }
        p
    };
    assert!(unsupported(TrafficProvider::Istio, &sticky, &None).is_some());
}

#[test]
fn gateway_api_mirrors_only_through_a_gateway_whose_class_supports_it() {
    let shadow = |percent| {
        let mut p = plan(0);
        if let Some(c) = p.candidate.as_mut() {
            c.mirror_percent = Some(percent);
        }
        p
    };
    let features = |names: &[&str]| Some(names.iter().map(|n| (*n).to_owned()).collect());
    // Unknown features (a class that publishes none): nothing is refused.
    assert_eq!(
        unsupported(TrafficProvider::GatewayApi, &shadow(20), &None),
        None
    );
    // Traefik 3.6 lists neither mirroring feature.
    let traefik = features(&["HTTPRoute", "HTTPRouteQueryParamMatching"]);
    let refused =
        unsupported(TrafficProvider::GatewayApi, &shadow(20), &traefik).unwrap_or_default();
    assert!(
        refused.contains("HTTPRouteRequestMirror and HTTPRouteRequestPercentageMirror"),
        "{refused}"
    );
    // A full mirror needs only the first; a plain split needs neither.
    let mirrors = features(&["HTTPRoute", "HTTPRouteRequestMirror"]);
    assert_eq!(
        unsupported(TrafficProvider::GatewayApi, &shadow(100), &mirrors),
        None
    );
    assert!(unsupported(TrafficProvider::GatewayApi, &shadow(20), &mirrors).is_some());
    assert_eq!(
        unsupported(TrafficProvider::GatewayApi, &plan(30), &traefik),
        None
    );
}

#[test]
fn a_carried_plan_is_read_back_only_while_every_object_holds_it() {
    for provider in [
        TrafficProvider::Replicas,
        TrafficProvider::GatewayApi,
        TrafficProvider::Istio,
        TrafficProvider::Router,
    ] {
        let s = with_provider(provider);
        let o = owner("iris");
        let wanted = router(provider).render(&o, &s, &plan(40));
        // The live objects are what the API server keeps of an apply: the stamped JSON.
        fn live<K: serde::Serialize + serde::de::DeserializeOwned>(object: &K) -> K {
            let stamped = crate::apply::stamped(object).unwrap();
            serde_json::from_value(stamped).unwrap()
        }
        let mut routing = LiveRouting {
            services: wanted
                .services
                .iter()
                .map(|s| (s.metadata.name.clone().unwrap_or_default(), live(s)))
                .collect(),
            http_route: wanted.http_route.as_ref().map(live),
            virtual_service: wanted.virtual_service.as_ref().map(live),
            router: wanted
                .router
                .as_ref()
                .map(|r| LiveRouter {
                    service_account: Some(live(&r.service_account)),
                    role: Some(live(&r.role)),
                    role_binding: Some(live(&r.role_binding)),
                    table: Some(live(&r.table)),
                    deployment: Some(live(&r.deployment)),
                })
                .unwrap_or_default(),
        };
        assert_eq!(
            carried(provider, &o, &s, &routing),
            Some(plan(40)),
            "{provider:?}"
        );
        // A hand edit of a Service the plan needs means the plan is not carried any more.
        routing.services.remove("iris-canary");
        assert_eq!(carried(provider, &o, &s, &routing), None, "{provider:?}");
    }
}

#[test]
fn the_router_serves_the_service_and_reads_a_table_naming_each_revisions_service() {
    let mut s = with_provider(TrafficProvider::Router);
    s.strategy = Some(modeldeploy_api::v1alpha1::StrategySpec {
        shadow: Some(modeldeploy_api::v1alpha1::ShadowStrategy {
            mirror_percent: Some(100),
            mirror_all_methods: None,
            duration: modeldeploy_api::v1alpha1::Duration("1m".into()),
            agreement: Some(modeldeploy_api::v1alpha1::PredictionAgreement {
                min_percent: 99,
                relative_tolerance: None,
                top_k: None,
                noise_sample_percent: None,
                tolerance: Some("0.01".into()),
                json_path: Some("$.outputs[0].data".into()),
                min_samples: None,
            }),
            drift: None,
            analysis: None,
            auto_promotion: None,
        }),
        ..Default::default()
    });
    let o = owner("iris");
    let r = router(TrafficProvider::Router);
    let mut mirrored = plan(0);
    if let Some(c) = mirrored.candidate.as_mut() {
        c.mirror_percent = Some(100);
    }
    assert_eq!(r.unsupported(&mirrored, &None), None, "the router mirrors");
    let routing = r.render(&o, &s, &mirrored);
    assert_eq!(names(&routing), ["iris", "iris-stable", "iris-canary"]);
    assert_eq!(
        selector(&routing, "iris"),
        BTreeMap::from([("modeldeploy.io/router".to_owned(), "iris".to_owned())])
    );
    let objects = routing.router.expect("the router's objects");
    let table: modeldeploy_api::routing::RouterTable = serde_json::from_str(
        &objects.table.data.as_ref().unwrap()[modeldeploy_api::routing::ROUTER_TABLE_KEY],
    )
    .unwrap();
    assert_eq!(table.plan, mirrored);
    assert_eq!(table.salt, format!("{}/iris", o.namespace));
    assert_eq!(
        table.services,
        BTreeMap::from([
            ("old".to_owned(), "iris-stable".to_owned()),
            ("new".to_owned(), "iris-canary".to_owned())
        ])
    );
    let agreement = table.agreement.unwrap();
    assert_eq!(agreement.json_path.as_deref(), Some("$.outputs[0].data"));
    assert_eq!(agreement.tolerance.as_deref(), Some("0.01"));

    // The router's pods are not model pods, and its Role reads its own table only.
    let pod_labels = objects
        .deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .clone()
        .unwrap();
    assert!(!pod_labels.contains_key(crate::labels::LABEL_DEPLOYMENT));
    let rules = objects.role.rules.unwrap();
    assert_eq!(
        rules[0].resource_names.as_deref(),
        Some(&["iris-router".to_owned()][..])
    );
    assert!(rules.iter().all(|r| {
        r.verbs
            .iter()
            .all(|v| ["get", "list", "watch"].contains(&v.as_str()))
    }));
}
