#![allow(clippy::unwrap_used)]

use http::{HeaderMap, HeaderValue};
use modeldeploy_api::routing::TrafficPlan;
use modeldeploy_api::v1alpha1::{HeaderMatch, HeaderMatchType, RouteMatch, Stickiness};

use super::Reason;
use crate::split::Counter;
use crate::table::{RoutingTable, TableError};

fn plan(weight: i32) -> TrafficPlan {
    TrafficPlan::canary("old", "new", weight)
}

fn sticky(weight: i32, header: Option<&str>, cookie: Option<&str>) -> RoutingTable {
    let mut plan = plan(weight);
    if let Some(c) = plan.candidate.as_mut() {
        c.stickiness = Some(Stickiness {
            header: header.map(str::to_owned),
            cookie: cookie.map(str::to_owned),
        });
    }
    RoutingTable::compile(&plan, "ml/iris").unwrap()
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, HeaderValue::from_str(value).unwrap());
    }
    map
}

#[test]
fn without_a_candidate_everything_goes_to_stable() {
    let table = RoutingTable::compile(&TrafficPlan::only("old"), "s").unwrap();
    let choice = table.choose(&HeaderMap::new(), &Counter::default());
    assert_eq!((choice.revision, choice.reason), ("old", Reason::Stable));
}

#[test]
fn ten_thousand_requests_split_by_weight_within_a_point() {
    for weight in [0, 5, 20, 50, 100] {
        let table = RoutingTable::compile(&plan(weight), "s").unwrap();
        let counter = Counter::default();
        let candidate = (0..10_000)
            .filter(|_| table.choose(&HeaderMap::new(), &counter).revision == "new")
            .count();
        let share = candidate as f64 / 100.0;
        assert!(
            (share - f64::from(weight)).abs() <= 1.0,
            "{weight}: {share}"
        );
    }
}

#[test]
fn a_user_keeps_their_variant_and_a_larger_weight_moves_users_only_into_the_candidate() {
    for (header, cookie) in [(Some("x-user"), None), (None, Some("uid"))] {
        let at = |weight| sticky(weight, header, cookie);
        let (ten, twenty) = (at(10), at(20));
        let counter = Counter::default();
        let (mut moved_in, mut at_ten) = (0, 0);
        for i in 0..10_000 {
            let user = format!("user-{i}");
            let request = match header {
                Some(_) => headers(&[("x-user", &user)]),
                None => headers(&[("cookie", &format!("theme=dark; uid={user}; lang=en"))]),
            };
            let first = ten.choose(&request, &counter);
            assert_eq!(first.reason, Reason::Sticky);
            assert_eq!(first, ten.choose(&request, &counter), "{user} moved");
            let later = twenty.choose(&request, &counter);
            if first.revision == "new" {
                at_ten += 1;
                assert_eq!(later.revision, "new", "{user} moved out of the candidate");
            } else if later.revision == "new" {
                moved_in += 1;
            }
        }
        assert!((900..=1100).contains(&at_ten), "{at_ten} users at 10 %");
        assert!(
            (900..=1100).contains(&moved_in),
            "{moved_in} users moved in"
        );
    }
}

#[test]
fn a_request_without_the_user_key_goes_by_the_per_request_split() {
    let table = sticky(50, None, Some("uid"));
    let counter = Counter::default();
    let anonymous = headers(&[("cookie", "theme=dark; uid=")]);
    let reasons: Vec<Reason> = (0..4)
        .map(|_| table.choose(&anonymous, &counter).reason)
        .collect();
    assert_eq!(reasons, [Reason::Weight; 4]);
}

#[test]
fn a_matching_request_always_goes_to_the_candidate() {
    let mut plan = plan(0);
    if let Some(c) = plan.candidate.as_mut() {
        c.matches = vec![RouteMatch {
            headers: vec![
                HeaderMatch {
                    name: "x-tester".into(),
                    value: "true".into(),
                    match_type: HeaderMatchType::Exact,
                },
                HeaderMatch {
                    name: "x-team".into(),
                    value: "ml-(core|infra)".into(),
                    match_type: HeaderMatchType::RegularExpression,
                },
            ],
        }];
    }
    let table = RoutingTable::compile(&plan, "s").unwrap();
    let counter = Counter::default();
    let choose = |pairs: &[(&'static str, &str)]| table.choose(&headers(pairs), &counter);
    let tester = choose(&[("x-tester", "true"), ("x-team", "ml-core")]);
    assert_eq!((tester.revision, tester.reason), ("new", Reason::Match));
    // Every condition must hold, and a regular expression matches the whole value.
    assert_eq!(choose(&[("x-tester", "true")]).revision, "old");
    assert_eq!(
        choose(&[("x-tester", "true"), ("x-team", "ml-core-2")]).revision,
        "old"
    );
    assert_eq!(
        choose(&[("x-tester", "false"), ("x-team", "ml-infra")]).revision,
        "old"
    );
}

#[test]
fn a_plan_that_cannot_be_routed_is_refused_with_the_reason() {
    let refused = |plan: TrafficPlan| RoutingTable::compile(&plan, "s").unwrap_err();
    assert_eq!(refused(plan(101)), TableError::Weight(101));
    assert_eq!(refused(plan(-1)), TableError::Weight(-1));
    let mut mirror = plan(0);
    if let Some(c) = mirror.candidate.as_mut() {
        c.mirror_percent = Some(0);
    }
    assert_eq!(refused(mirror), TableError::Mirror(0));
    let mut regex = plan(0);
    if let Some(c) = regex.candidate.as_mut() {
        c.matches = vec![RouteMatch {
            headers: vec![HeaderMatch {
                name: "x-team".into(),
                value: "(unclosed".into(),
                match_type: HeaderMatchType::RegularExpression,
            }],
        }];
    }
    assert!(matches!(refused(regex), TableError::Regex { .. }));
    let mut bad_header = plan(10);
    if let Some(c) = bad_header.candidate.as_mut() {
        c.stickiness = Some(Stickiness {
            header: Some("x user".into()),
            cookie: None,
        });
    }
    assert_eq!(refused(bad_header), TableError::HeaderName("x user".into()));
    assert_eq!(refused(TrafficPlan::only("")), TableError::NoStable);
}
