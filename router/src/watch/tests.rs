#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::json;

fn table(text: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": "iris-router", "namespace": "ml"},
        "data": {ROUTER_TABLE_KEY: text}
    }))
    .unwrap()
}

fn slice(service: &str, port: i32, endpoints: serde_json::Value) -> Arc<EndpointSlice> {
    Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": format!("{service}-x1"), "namespace": "ml",
                "labels": {SERVICE_NAME_LABEL: service}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": port}],
            "endpoints": endpoints
        }))
        .unwrap(),
    )
}

const CANARY: &str = r#"{"salt": "ml/iris",
    "plan": {"stable": "old", "candidate": {"revision": "new", "role": "canary", "weight": 20}},
    "services": {"old": "iris-stable", "new": "iris-canary"}}"#;

#[test]
fn each_revision_is_served_by_the_ready_endpoints_of_its_service() {
    let slices = [
        slice(
            "iris-stable",
            8080,
            json!([
                {"addresses": ["198.18.0.9"], "conditions": {"ready": true}},
                {"addresses": ["198.18.0.7"]},
                {"addresses": ["198.18.0.8"], "conditions": {"ready": false, "terminating": true}}
            ]),
        ),
        slice("iris-canary", 9000, json!([{"addresses": ["198.18.0.20"]}])),
        slice(
            "other-stable",
            8080,
            json!([{"addresses": ["198.18.0.30"]}]),
        ),
    ];
    let routes = routes("iris-router", Some(&table(CANARY)), &slices).unwrap();
    assert_eq!(routes.table.stable, "old");
    assert_eq!(routes.table.candidate.unwrap().weight, 20);
    let addresses = |r: &str| -> Vec<String> {
        routes.endpoints[r]
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    assert_eq!(addresses("old"), ["198.18.0.7:8080", "198.18.0.9:8080"]);
    assert_eq!(addresses("new"), ["198.18.0.20:9000"]);
}

#[test]
fn a_missing_or_bad_table_is_refused_with_the_reason() {
    let missing = routes("iris-router", None, &[]).err().unwrap();
    assert_eq!(
        missing.to_string(),
        "the ConfigMap iris-router does not exist"
    );

    let garbled = routes("iris-router", Some(&table("{\"salt\": 1}")), &[])
        .err()
        .unwrap();
    assert!(matches!(garbled, LoadError::Parse { .. }), "{garbled}");

    let heavy = CANARY.replace("\"weight\": 20", "\"weight\": 120");
    let refused = routes("iris-router", Some(&table(&heavy)), &[])
        .err()
        .unwrap();
    assert_eq!(
        error_chain(&refused),
        "the routing table in iris-router cannot be served: the candidate's weight 120 is not a percentage from 0 to 100"
    );
}

#[test]
fn a_revision_without_ready_endpoints_has_none_rather_than_failing_the_table() {
    let routes = routes("iris-router", Some(&table(CANARY)), &[]).unwrap();
    assert!(routes.endpoints["old"].is_empty());
    assert!(routes.endpoints["new"].is_empty());
}
