//! Whether a live object already holds every field the operator wants, so that a steady state
//! sends no writes while a hand edit of a managed field is still noticed and put back.

use serde_json::Value;

use super::quantity;

/// True when every field set in `desired` has the same value in `live`. Fields only `live` has
/// (defaults, status, other managers' fields) are ignored; lists must match element by element;
/// resource quantities match by amount.
pub fn satisfies(live: &Value, desired: &Value) -> bool {
    match (live, desired) {
        (_, Value::Null) => true,
        (Value::Object(live), Value::Object(desired)) => desired.iter().all(|(key, want)| {
            want.is_null()
                || live.get(key).is_some_and(|have| {
                    if key == "requests" || key == "limits" {
                        quantities_satisfy(have, want)
                    } else {
                        satisfies(have, want)
                    }
                })
        }),
        (Value::Array(live), Value::Array(desired)) => {
            live.len() == desired.len()
                && live
                    .iter()
                    .zip(desired)
                    .all(|(have, want)| satisfies(have, want))
        }
        (Value::Number(live), Value::Number(desired)) => live.as_f64() == desired.as_f64(),
        (live, desired) => live == desired,
    }
}

/// A `requests` or `limits` map: each wanted quantity is present with the same amount.
fn quantities_satisfy(live: &Value, desired: &Value) -> bool {
    match (live, desired) {
        (Value::Object(live), Value::Object(desired)) => desired.iter().all(|(name, want)| {
            live.get(name)
                .is_some_and(|have| match (have.as_str(), want.as_str()) {
                    (Some(have), Some(want)) => have == want || quantity::same_amount(have, want),
                    _ => satisfies(have, want),
                })
        }),
        _ => satisfies(live, desired),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::satisfies;

    #[test]
    fn extra_live_fields_are_fine() {
        let live =
            json!({"spec": {"replicas": 2, "paused": false}, "status": {"readyReplicas": 2}});
        assert!(satisfies(&live, &json!({"spec": {"replicas": 2}})));
    }

    #[test]
    fn a_changed_managed_field_is_drift() {
        let live = json!({"spec": {"replicas": 5}});
        assert!(!satisfies(&live, &json!({"spec": {"replicas": 2}})));
    }

    #[test]
    fn a_missing_managed_field_is_drift() {
        let live = json!({"metadata": {"labels": {}}});
        assert!(!satisfies(
            &live,
            &json!({"metadata": {"labels": {"app": "iris"}}})
        ));
    }

    #[test]
    fn resource_quantities_compare_by_amount() {
        let live = json!({"resources": {"requests": {"cpu": "1", "memory": "1Gi"}}});
        let written = json!({"resources": {"requests": {"cpu": "1000m", "memory": "1024Mi"}}});
        assert!(satisfies(&live, &written));
        assert!(!satisfies(
            &live,
            &json!({"resources": {"requests": {"cpu": "2"}}})
        ));
    }

    #[test]
    fn lists_compare_element_by_element() {
        let live = json!({"ports": [{"port": 80, "protocol": "TCP", "nodePort": 0}]});
        assert!(satisfies(&live, &json!({"ports": [{"port": 80}]})));
        assert!(!satisfies(
            &live,
            &json!({"ports": [{"port": 80}, {"port": 81}]})
        ));
    }
}
