//! Comparing two answers to the same request, as `shadow.agreement` says: the prediction at a
//! JSONPath (the whole body when unset), numbers equal within a tolerance, everything else
//! (labels, booleans, the shape of lists and objects) equal exactly.

use serde_json::Value;
use serde_json_path::JsonPath;

/// The verdict on one pair of answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compared {
    Agree,
    Disagree,
    /// One of the answers is not JSON or has nothing at the path: not a prediction to judge.
    Unreadable,
}

#[derive(Clone, Debug)]
pub struct Comparator {
    path: Option<JsonPath>,
    /// Numbers closer than this are equal.
    tolerance: f64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ComparatorError {
    #[error("shadow.agreement.jsonPath {path:?} is not a JSONPath: {error}")]
    Path { path: String, error: String },
    #[error("shadow.agreement.tolerance {0:?} is not a non-negative number")]
    Tolerance(String),
}

impl Comparator {
    pub fn new(
        json_path: Option<&str>,
        tolerance: Option<&str>,
    ) -> Result<Comparator, ComparatorError> {
        let path = json_path
            .map(|p| {
                JsonPath::parse(p).map_err(|e| ComparatorError::Path {
                    path: p.to_owned(),
                    error: e.to_string(),
                })
            })
            .transpose()?;
        let tolerance = match tolerance {
            None => 0.0,
            Some(text) => text
                .parse::<f64>()
                .ok()
                .filter(|t| t.is_finite() && *t >= 0.0)
                .ok_or_else(|| ComparatorError::Tolerance(text.to_owned()))?,
        };
        Ok(Comparator { path, tolerance })
    }

    /// Whether the primary's answer and the shadow's agree.
    pub fn compare(&self, primary: &[u8], shadow: &[u8]) -> Compared {
        let (Some(primary), Some(shadow)) = (self.prediction(primary), self.prediction(shadow))
        else {
            return Compared::Unreadable;
        };
        if self.same(&primary, &shadow) {
            Compared::Agree
        } else {
            Compared::Disagree
        }
    }

    /// The prediction in `body`: the nodes at the path (one value, or a list of several).
    fn prediction(&self, body: &[u8]) -> Option<Value> {
        let document: Value = serde_json::from_slice(body).ok()?;
        let Some(path) = &self.path else {
            return Some(document);
        };
        let nodes = path.query(&document).all();
        match nodes.as_slice() {
            [] => None,
            [one] => Some((*one).clone()),
            many => Some(Value::Array(many.iter().map(|v| (*v).clone()).collect())),
        }
    }

    fn same(&self, a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => (x - y).abs() <= self.tolerance,
                _ => x == y,
            },
            (Value::Array(xs), Value::Array(ys)) => {
                xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| self.same(x, y))
            }
            (Value::Object(xs), Value::Object(ys)) => {
                xs.len() == ys.len()
                    && xs
                        .iter()
                        .all(|(k, x)| ys.get(k).is_some_and(|y| self.same(x, y)))
            }
            _ => a == b,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const V2: &str = r#"{"model_name":"iris","id":"a","outputs":[{"name":"predict","datatype":"FP32","shape":[2],"data":[0.5,1.25]}]}"#;

    #[test]
    fn predictions_at_the_path_agree_within_the_tolerance() {
        let exact = Comparator::new(Some("$.outputs[0].data"), None).unwrap();
        let close = V2
            .replace("1.25", "1.2501")
            .replace(r#""id":"a""#, r#""id":"b""#);
        // Other fields (the request id) are not the prediction.
        assert_eq!(
            exact.compare(V2.as_bytes(), V2.replace("\"a\"", "\"b\"").as_bytes()),
            Compared::Agree
        );
        assert_eq!(
            exact.compare(V2.as_bytes(), close.as_bytes()),
            Compared::Disagree
        );
        let tolerant = Comparator::new(Some("$.outputs[0].data"), Some("0.001")).unwrap();
        assert_eq!(
            tolerant.compare(V2.as_bytes(), close.as_bytes()),
            Compared::Agree
        );
        let far = V2.replace("1.25", "1.3");
        assert_eq!(
            tolerant.compare(V2.as_bytes(), far.as_bytes()),
            Compared::Disagree
        );
    }

    #[test]
    fn labels_and_shapes_compare_exactly() {
        let whole = Comparator::new(None, Some("0.5")).unwrap();
        let label = |l: &str| format!(r#"{{"label":"{l}","score":0.9}}"#);
        assert_eq!(
            whole.compare(label("cat").as_bytes(), label("cat").as_bytes()),
            Compared::Agree
        );
        assert_eq!(
            whole.compare(label("cat").as_bytes(), label("dog").as_bytes()),
            Compared::Disagree
        );
        assert_eq!(whole.compare(b"[1,2]", b"[1,2,3]"), Compared::Disagree);
        assert_eq!(
            whole.compare(br#"{"a":1}"#, br#"{"a":1,"b":2}"#),
            Compared::Disagree
        );
    }

    #[test]
    fn answers_that_are_not_predictions_are_unreadable_not_disagreements() {
        let at_path = Comparator::new(Some("$.outputs[0].data"), None).unwrap();
        assert_eq!(
            at_path.compare(V2.as_bytes(), b"<html>502</html>"),
            Compared::Unreadable
        );
        assert_eq!(
            at_path.compare(V2.as_bytes(), br#"{"error":"oom"}"#),
            Compared::Unreadable
        );
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(matches!(
            Comparator::new(Some("outputs["), None),
            Err(ComparatorError::Path { .. })
        ));
        assert_eq!(
            Comparator::new(None, Some("-1")).unwrap_err(),
            ComparatorError::Tolerance("-1".into())
        );
    }
}
