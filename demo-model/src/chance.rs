//! Deterministic draws in [0, 1) from a seed and a key. A few lines of SplitMix64 rather than a
//! random-number crate: the draws must be a pure function of (seed, key) so that a test knows
//! exactly which request fails or which answer is perturbed, which a stateful generator shared
//! between concurrent requests cannot give.

/// SplitMix64's output function (Steele, Lea and Flood, 2014).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A draw in [0, 1) for `key` under `seed`; the same arguments always give the same draw.
pub fn draw(seed: u64, key: u64) -> f64 {
    let bits = mix(seed ^ mix(key)) >> 11;
    // 53 bits fit an f64 mantissa exactly.
    bits as f64 / (1u64 << 53) as f64
}

/// A key for a slice of numbers, from their bits.
pub fn key_of(values: &[f64]) -> u64 {
    values
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |acc, v| mix(acc ^ v.to_bits()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_repeatable_and_spread() {
        assert_eq!(draw(7, 1), draw(7, 1));
        assert_ne!(draw(7, 1), draw(8, 1));
        let below: usize = (0..10_000).filter(|k| draw(42, *k) < 0.2).count();
        assert!((1_800..2_200).contains(&below), "{below}");
    }
}
