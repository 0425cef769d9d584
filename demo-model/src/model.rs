//! The model: a fixed decision tree over four features (the shape of the iris data set: sepal
//! length and width, petal length and width, in cm), with a share of inputs whose answer is
//! moved to the next class, so that two versions can disagree by a known amount.

use crate::chance;

/// Classes the model answers with.
pub const CLASSES: [&str; 3] = ["setosa", "versicolor", "virginica"];

/// The class index for `features`: the base classifier, perturbed for a `perturbation` share of
/// inputs (the same inputs every time for one seed). Missing features count as 0.
pub fn classify(features: &[f64], perturbation: f64, seed: u64) -> usize {
    let feature = |i: usize| features.get(i).copied().unwrap_or(0.0);
    let (petal_length, petal_width) = (feature(2), feature(3));
    let base = if petal_length < 2.45 {
        0
    } else if petal_width < 1.75 && petal_length < 4.95 {
        1
    } else {
        2
    };
    if perturbation > 0.0 && chance::draw(seed, chance::key_of(features)) < perturbation {
        (base + 1) % CLASSES.len()
    } else {
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_iris_samples_get_their_classes() {
        assert_eq!(classify(&[5.1, 3.5, 1.4, 0.2], 0.0, 0), 0);
        assert_eq!(classify(&[6.4, 3.2, 4.5, 1.5], 0.0, 0), 1);
        assert_eq!(classify(&[6.3, 3.3, 6.0, 2.5], 0.0, 0), 2);
    }

    #[test]
    fn perturbation_moves_about_that_share_and_always_the_same_inputs() {
        let inputs: Vec<[f64; 4]> = (0..2_000)
            .map(|i| {
                let i = f64::from(i);
                [
                    4.0 + (i % 40.0) / 10.0,
                    2.0 + (i % 23.0) / 10.0,
                    1.0 + (i % 59.0) / 10.0,
                    (i % 25.0) / 10.0,
                ]
            })
            .collect();
        let moved = inputs
            .iter()
            .filter(|x| classify(x.as_slice(), 0.1, 3) != classify(x.as_slice(), 0.0, 3))
            .count();
        assert!((150..250).contains(&moved), "{moved}");
        assert!(
            inputs
                .iter()
                .all(|x| classify(x, 0.1, 3) == classify(x, 0.1, 3))
        );
    }
}
