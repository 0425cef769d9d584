//! Whether a live object already holds every field the operator wants, so that a steady state
//! sends no writes while a hand edit of a managed field is still noticed and put back.

use serde_json::Value;

/// True when every field set in `desired` has the same value in `live`. Fields only `live` has
/// (defaults, status, other managers' fields) are ignored; lists must match element by element.
pub fn satisfies(live: &Value, desired: &Value) -> bool {
    match (live, desired) {
        (_, Value::Null) => true,
        (Value::Object(live), Value::Object(desired)) => desired.iter().all(|(key, want)| {
            want.is_null() || live.get(key).is_some_and(|have| satisfies(have, want))
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
    fn lists_compare_element_by_element() {
        let live = json!({"ports": [{"port": 80, "protocol": "TCP", "nodePort": 0}]});
        assert!(satisfies(&live, &json!({"ports": [{"port": 80}]})));
        assert!(!satisfies(
            &live,
            &json!({"ports": [{"port": 80}, {"port": 81}]})
        ));
    }
}
