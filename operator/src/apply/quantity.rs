//! Enough of the Kubernetes quantity format to tell that `1000m` and `1` are the same amount:
//! the API server stores quantities in canonical form, so a user's `cpu: 1000m` comes back as
//! `cpu: "1"` and must not count as drift.

/// The amount a quantity string stands for, or `None` if it is not a quantity.
pub fn amount(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exponent => {
            let power: i32 = exponent.strip_prefix(['e', 'E'])?.parse().ok()?;
            10f64.powi(power)
        }
    };
    Some(number * scale)
}

/// Whether two quantity strings stand for the same amount.
pub fn same_amount(a: &str, b: &str) -> bool {
    match (amount(a), amount(b)) {
        (Some(a), Some(b)) => (a - b).abs() <= f64::EPSILON * a.abs().max(b.abs()).max(1.0),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::same_amount;

    #[test]
    fn canonical_and_written_forms_are_the_same_amount() {
        for (written, canonical) in [
            ("1000m", "1"),
            ("0.5", "500m"),
            ("1024Mi", "1Gi"),
            ("1e3", "1k"),
            ("2", "2"),
        ] {
            assert!(same_amount(written, canonical), "{written} = {canonical}");
        }
    }

    #[test]
    fn different_amounts_and_non_quantities_differ() {
        for (a, b) in [
            ("1", "2"),
            ("1Gi", "1G"),
            ("abc", "abc"),
            ("1.0.0", "1.0.0"),
        ] {
            assert!(!same_amount(a, b), "{a} != {b}");
        }
    }
}
