//! Comparing two answers to the same request, as `shadow.agreement` says: the prediction at a
//! JSONPath (the whole body when unset); numbers equal within an absolute or a relative
//! tolerance, everything else (labels, booleans, the shape of lists and objects) equal exactly;
//! or, for ranked predictions, enough overlap between the top `k` items of each.

use modeldeploy_api::routing::RouterAgreement;
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

/// The prediction in an answer: the nodes at a JSONPath, or the whole document.
#[derive(Clone, Debug)]
pub struct Prediction {
    path: Option<JsonPath>,
}

impl Prediction {
    pub fn new(json_path: Option<&str>) -> Result<Prediction, ComparatorError> {
        let path = json_path
            .map(|p| {
                JsonPath::parse(p).map_err(|e| ComparatorError::Path {
                    path: p.to_owned(),
                    error: e.to_string(),
                })
            })
            .transpose()?;
        Ok(Prediction { path })
    }

    /// The prediction in `body`: the node at the path, a list of the nodes when several match,
    /// or none when the body is not JSON or nothing matches.
    pub fn of(&self, body: &[u8]) -> Option<Value> {
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
}

#[derive(Clone, Debug)]
pub struct Comparator {
    prediction: Prediction,
    /// Numbers closer than this are equal.
    tolerance: f64,
    /// Numbers closer than this share of the larger magnitude are equal.
    relative_tolerance: f64,
    /// For ranked predictions: how many items from the top, and the least share of them both
    /// lists must hold.
    top_k: Option<(usize, f64)>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ComparatorError {
    #[error("shadow.agreement.jsonPath {path:?} is not a JSONPath: {error}")]
    Path { path: String, error: String },
    #[error("shadow.agreement.{field} {value:?} is not a non-negative number")]
    Tolerance { field: &'static str, value: String },
    #[error(
        "shadow.agreement.topK needs k ≥ 1 and minOverlapPercent from 1 to 100, not {k} and {min_overlap_percent}"
    )]
    TopK { k: u8, min_overlap_percent: u8 },
}

fn tolerance(field: &'static str, text: Option<&str>) -> Result<f64, ComparatorError> {
    match text {
        None => Ok(0.0),
        Some(text) => text
            .parse::<f64>()
            .ok()
            .filter(|t| t.is_finite() && *t >= 0.0)
            .ok_or_else(|| ComparatorError::Tolerance {
                field,
                value: text.to_owned(),
            }),
    }
}

impl Comparator {
    pub fn new(settings: &RouterAgreement) -> Result<Comparator, ComparatorError> {
        let top_k = settings
            .top_k
            .map(|top| {
                if top.k == 0 || !(1..=100).contains(&top.min_overlap_percent) {
                    return Err(ComparatorError::TopK {
                        k: top.k,
                        min_overlap_percent: top.min_overlap_percent,
                    });
                }
                Ok((
                    usize::from(top.k),
                    f64::from(top.min_overlap_percent) / 100.0,
                ))
            })
            .transpose()?;
        Ok(Comparator {
            prediction: Prediction::new(settings.json_path.as_deref())?,
            tolerance: tolerance("tolerance", settings.tolerance.as_deref())?,
            relative_tolerance: tolerance(
                "relativeTolerance",
                settings.relative_tolerance.as_deref(),
            )?,
            top_k,
        })
    }

    /// Whether the primary's answer and the shadow's agree.
    pub fn compare(&self, primary: &[u8], shadow: &[u8]) -> Compared {
        let (Some(primary), Some(shadow)) =
            (self.prediction.of(primary), self.prediction.of(shadow))
        else {
            return Compared::Unreadable;
        };
        let agree = match self.top_k {
            Some((k, min_overlap)) => match (&primary, &shadow) {
                (Value::Array(a), Value::Array(b)) => self.overlap(a, b, k) >= min_overlap,
                // A ranked comparison of something that is not a ranking.
                _ => return Compared::Unreadable,
            },
            None => self.same(&primary, &shadow),
        };
        if agree {
            Compared::Agree
        } else {
            Compared::Disagree
        }
    }

    /// The share of the top `k` items (of the longer list, when both are shorter) that both
    /// lists hold; two empty lists overlap fully.
    fn overlap(&self, a: &[Value], b: &[Value], k: usize) -> f64 {
        let (a, b) = (&a[..a.len().min(k)], &b[..b.len().min(k)]);
        let size = a.len().max(b.len());
        if size == 0 {
            return 1.0;
        }
        // k is at most 100: comparing every pair is cheaper than hashing JSON values.
        let shared = a
            .iter()
            .filter(|x| b.iter().any(|y| self.same(x, y)))
            .count();
        shared as f64 / size as f64
    }

    fn same(&self, a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => {
                    let difference = (x - y).abs();
                    difference <= self.tolerance
                        || difference <= self.relative_tolerance * x.abs().max(y.abs())
                }
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
    use modeldeploy_api::routing::RouterTopK;

    fn comparator(json_path: Option<&str>, tolerance: Option<&str>) -> Comparator {
        Comparator::new(&RouterAgreement {
            json_path: json_path.map(str::to_owned),
            tolerance: tolerance.map(str::to_owned),
            ..settings()
        })
        .unwrap()
    }

    const V2: &str = r#"{"model_name":"iris","id":"a","outputs":[{"name":"predict","datatype":"FP32","shape":[2],"data":[0.5,1.25]}]}"#;

    #[test]
    fn predictions_at_the_path_agree_within_the_tolerance() {
        let exact = comparator(Some("$.outputs[0].data"), None);
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
        let tolerant = comparator(Some("$.outputs[0].data"), Some("0.001"));
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
        let whole = comparator(None, Some("0.5"));
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
        let at_path = comparator(Some("$.outputs[0].data"), None);
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
    fn numbers_agree_within_the_relative_tolerance_or_the_absolute_one() {
        let relative = Comparator::new(&RouterAgreement {
            relative_tolerance: Some("0.01".into()),
            tolerance: Some("0.001".into()),
            ..settings()
        })
        .unwrap();
        let agree = |a: &str, b: &str| relative.compare(a.as_bytes(), b.as_bytes());
        assert_eq!(agree("1000", "1009"), Compared::Agree, "within 1 %");
        assert_eq!(agree("1000", "1011"), Compared::Disagree);
        assert_eq!(
            agree("0.0001", "0.0009"),
            Compared::Agree,
            "within the absolute 0.001"
        );
        assert_eq!(
            agree("0.01", "0.0102"),
            Compared::Agree,
            "within the absolute 0.001"
        );
        assert_eq!(agree("0.1", "0.1015"), Compared::Disagree);
    }

    #[test]
    fn ranked_predictions_agree_by_the_overlap_of_their_top_k() {
        let ranked = Comparator::new(&RouterAgreement {
            json_path: Some("$.items".into()),
            top_k: Some(RouterTopK {
                k: 4,
                min_overlap_percent: 75,
            }),
            ..settings()
        })
        .unwrap();
        let agree = |a: &str, b: &str| {
            ranked.compare(
                format!(r#"{{"items":{a}}}"#).as_bytes(),
                format!(r#"{{"items":{b}}}"#).as_bytes(),
            )
        };
        // Order within the top does not matter; what is below it does not count.
        assert_eq!(agree("[1,2,3,4,5]", "[4,3,2,1,9]"), Compared::Agree);
        assert_eq!(agree("[1,2,3,4]", "[1,2,3,9]"), Compared::Agree, "3 of 4");
        assert_eq!(
            agree("[1,2,3,4]", "[1,2,8,9]"),
            Compared::Disagree,
            "2 of 4"
        );
        assert_eq!(agree(r#"["a","b"]"#, r#"["b","a"]"#), Compared::Agree);
        assert_eq!(agree("[1,2,3,4]", "[1,2]"), Compared::Disagree, "2 of 4");
        assert_eq!(agree("[1,2,3,4]", "7"), Compared::Unreadable);
    }

    fn settings() -> RouterAgreement {
        RouterAgreement {
            json_path: None,
            tolerance: None,
            relative_tolerance: None,
            top_k: None,
            noise_sample_percent: 0,
        }
    }

    #[test]
    fn bad_settings_are_refused() {
        let refused = |settings: RouterAgreement| Comparator::new(&settings).unwrap_err();
        assert!(matches!(
            refused(RouterAgreement {
                json_path: Some("outputs[".into()),
                ..settings()
            }),
            ComparatorError::Path { .. }
        ));
        assert_eq!(
            refused(RouterAgreement {
                tolerance: Some("-1".into()),
                ..settings()
            }),
            ComparatorError::Tolerance {
                field: "tolerance",
                value: "-1".into()
            }
        );
        assert!(matches!(
            refused(RouterAgreement {
                top_k: Some(RouterTopK {
                    k: 0,
                    min_overlap_percent: 50
                }),
                ..settings()
            }),
            ComparatorError::TopK { .. }
        ));
    }
}
