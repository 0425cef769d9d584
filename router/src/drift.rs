//! The distribution of predictions, for `shadow.drift`: each answer of a compared pair is read
//! at the drift's JSONPath and counted by value, once for the primary and once for the shadow,
//! so that the operator can compare the two distributions over the same requests (population
//! stability index over the shadow's run, from these counts in Prometheus).

use std::collections::BTreeSet;
use std::sync::Mutex;

use modeldeploy_api::routing::RouterDrift;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use serde_json::Value;

use crate::compare::{ComparatorError, Prediction};

/// Distinct values counted; any further value counts as [`OTHER`], so that a model answering
/// free text cannot grow the metrics without bound.
pub const MAX_VALUES: usize = 64;
/// The value of everything past [`MAX_VALUES`], and of items that are neither a label, a
/// number nor a boolean.
pub const OTHER: &str = "other";
/// The longest label kept; longer ones are cut.
const MAX_LABEL_BYTES: usize = 64;

/// How the predictions of one routing table are binned.
#[derive(Clone, Debug)]
pub struct Binning {
    prediction: Prediction,
    /// Upper bounds of the numeric bins, ascending; labels count by value when empty.
    bounds: Vec<f64>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BinningError {
    #[error("shadow.drift.jsonPath: {0}")]
    Path(ComparatorError),
    #[error("shadow.drift.bins must be finite and ascending, not {0:?}")]
    Bins(Vec<f64>),
}

impl Binning {
    pub fn new(settings: &RouterDrift) -> Result<Binning, BinningError> {
        let bounds = settings.bins.clone();
        if bounds.iter().any(|b| !b.is_finite()) || bounds.windows(2).any(|w| w[0] > w[1]) {
            return Err(BinningError::Bins(bounds));
        }
        Ok(Binning {
            prediction: Prediction::new(settings.json_path.as_deref())
                .map_err(BinningError::Path)?,
            bounds,
        })
    }

    /// The bin of each item of the prediction in `body` (one item unless it is a list); none
    /// when the body holds no prediction.
    pub fn values(&self, body: &[u8]) -> Option<Vec<String>> {
        let prediction = self.prediction.of(body)?;
        let items = match prediction {
            Value::Array(items) => items,
            one => vec![one],
        };
        Some(items.iter().map(|item| self.bin(item)).collect())
    }

    fn bin(&self, item: &Value) -> String {
        match item {
            Value::Number(n) if !self.bounds.is_empty() => match n.as_f64() {
                Some(x) => match self.bounds.iter().find(|bound| x <= **bound) {
                    Some(bound) => format!("<={bound}"),
                    None => format!(">{}", self.bounds[self.bounds.len() - 1]),
                },
                None => OTHER.to_owned(),
            },
            Value::Number(n) => n.to_string(),
            Value::String(label) => cut(label),
            Value::Bool(b) => b.to_string(),
            _ => OTHER.to_owned(),
        }
    }
}

fn cut(label: &str) -> String {
    if label.len() <= MAX_LABEL_BYTES {
        return label.to_owned();
    }
    let mut end = MAX_LABEL_BYTES;
    while !label.is_char_boundary(end) {
        end -= 1;
    }
    label[..end].to_owned()
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PredictionLabels {
    /// `primary` (the stable revision's answer) or `shadow`.
    pub role: String,
    pub value: String,
}

/// The counts of predictions by role and value.
#[derive(Debug, Default)]
pub struct Predictions {
    counts: Family<PredictionLabels, Counter>,
    known: Mutex<BTreeSet<String>>,
}

impl Predictions {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "predictions",
            "Predictions of compared answers by role (primary or shadow) and value (label or bin)",
            self.counts.clone(),
        );
    }

    /// Counts both answers of one compared pair, binned by `binning`; a pair of which either
    /// answer holds no prediction is not counted, so both sides always count the same requests.
    pub fn count(&self, binning: &Binning, primary: &[u8], shadow: &[u8]) {
        let (Some(primary), Some(shadow)) = (binning.values(primary), binning.values(shadow))
        else {
            return;
        };
        for (role, values) in [("primary", primary), ("shadow", shadow)] {
            for value in values {
                let value = self.bounded(value);
                self.counts
                    .get_or_create(&PredictionLabels {
                        role: role.to_owned(),
                        value,
                    })
                    .inc();
            }
        }
    }

    /// `value`, or [`OTHER`] once [`MAX_VALUES`] others are known.
    fn bounded(&self, value: String) -> String {
        let Ok(mut known) = self.known.lock() else {
            return OTHER.to_owned();
        };
        if known.contains(&value) {
            return value;
        }
        if known.len() >= MAX_VALUES {
            return OTHER.to_owned();
        }
        known.insert(value.clone());
        value
    }

    /// The count of `value` for `role`, for tests.
    pub fn get(&self, role: &str, value: &str) -> u64 {
        self.counts
            .get_or_create(&PredictionLabels {
                role: role.to_owned(),
                value: value.to_owned(),
            })
            .get()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn binning(json_path: Option<&str>, bins: &[f64]) -> Binning {
        Binning::new(&RouterDrift {
            json_path: json_path.map(str::to_owned),
            bins: bins.to_vec(),
        })
        .unwrap()
    }

    #[test]
    fn labels_count_by_value_and_scores_by_bin() {
        let labels = binning(Some("$.outputs[0].data"), &[]);
        assert_eq!(
            labels.values(br#"{"outputs":[{"data":["setosa","virginica"]}]}"#),
            Some(vec!["setosa".to_owned(), "virginica".to_owned()])
        );
        assert_eq!(labels.values(b"not json"), None);
        let scores = binning(Some("$.score"), &[0.25, 0.5, 0.75]);
        let bin = |s: &str| scores.values(format!(r#"{{"score":{s}}}"#).as_bytes());
        assert_eq!(bin("0.1"), Some(vec!["<=0.25".to_owned()]));
        assert_eq!(bin("0.5"), Some(vec!["<=0.5".to_owned()]));
        assert_eq!(bin("0.9"), Some(vec![">0.75".to_owned()]));
        assert_eq!(bin(r#""high""#), Some(vec!["high".to_owned()]));
    }

    #[test]
    fn bins_out_of_order_are_refused() {
        assert!(matches!(
            Binning::new(&RouterDrift {
                json_path: None,
                bins: vec![0.5, 0.25]
            }),
            Err(BinningError::Bins(_))
        ));
    }

    #[test]
    fn both_sides_of_a_pair_count_and_distinct_values_are_bounded() {
        let predictions = Predictions::default();
        let labels = binning(None, &[]);
        predictions.count(&labels, br#""cat""#, br#""dog""#);
        predictions.count(&labels, br#""cat""#, b"oops");
        assert_eq!(
            predictions.get("primary", "cat"),
            1,
            "a pair missing a side is not counted"
        );
        assert_eq!(predictions.get("shadow", "dog"), 1);
        for i in 0..100 {
            let label = format!(r#""label-{i}""#);
            predictions.count(&labels, label.as_bytes(), label.as_bytes());
        }
        assert_eq!(
            predictions.get("primary", OTHER),
            100 - (MAX_VALUES as u64 - 2)
        );
    }
}
