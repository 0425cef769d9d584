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
