//! Splits by weight. Per request: exactly `weight` of every hundred consecutive requests go to
//! the candidate, spread evenly. Per user: a salted user key hashes into one of [`BUCKETS`]
//! buckets and the candidate holds the lowest `weight × 100` of them, so a user keeps their
//! variant, every replica agrees, and a larger weight only moves users into the candidate.

use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

/// Buckets of the sticky split: one per hundredth of a percent.
pub const BUCKETS: u64 = 10_000;

/// The bucket of `key` under `salt`, in `0..BUCKETS`. SHA-256 rather than std's hasher: that one
/// is seeded at random per process, and every router replica and release must agree.
pub fn bucket(salt: &str, key: &str) -> u64 {
    let mut hasher = Sha256::new();
    // The length first, so that ("ab", "c") and ("a", "bc") differ.
    hasher.update((salt.len() as u64).to_be_bytes());
    hasher.update(salt.as_bytes());
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    let mut first = [0; 8];
    first.copy_from_slice(&digest[..8]);
    // 2^64 is not a multiple of 10,000; the bias is below 10^-15 per bucket.
    u64::from_be_bytes(first) % BUCKETS
}

/// Whether the user in `bucket` sees the candidate at `weight` percent.
pub fn sticky_to_candidate(bucket: u64, weight: u8) -> bool {
    bucket < u64::from(weight.min(100)) * (BUCKETS / 100)
}

/// The per-request split, shared by every connection of a router.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Whether the next request goes to the candidate at `weight` percent: request `n` does
    /// when `⌊(n+1)·w/100⌋ > ⌊n·w/100⌋`, which picks exactly `w` of every 100 consecutive
    /// numbers, evenly spaced.
    pub fn next_to_candidate(&self, weight: u8) -> bool {
        let n = self.0.fetch_add(1, Ordering::Relaxed) % 100;
        let w = u64::from(weight.min(100));
        (n + 1) * w / 100 > n * w / 100
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn a_larger_weight_only_moves_users_into_the_candidate(
            salt in ".{0,16}", key in ".{0,64}", low in 0u8..=100, high in 0u8..=100,
        ) {
            let (low, high) = (low.min(high), low.max(high));
            let b = bucket(&salt, &key);
            prop_assert!(b < BUCKETS);
            prop_assert_eq!(b, bucket(&salt, &key));
            if sticky_to_candidate(b, low) {
                prop_assert!(sticky_to_candidate(b, high));
            }
        }

        #[test]
        fn every_hundred_consecutive_requests_hold_the_weight_exactly(weight in 0u8..=100, start in 0u64..1000) {
            let counter = Counter(AtomicU64::new(start));
            let sent = (0..100).filter(|_| counter.next_to_candidate(weight)).count();
            prop_assert_eq!(sent, usize::from(weight));
        }
    }

    #[test]
    fn ten_thousand_users_split_within_a_point_of_the_weight() {
        for weight in [1u8, 10, 20, 50, 90] {
            let candidate = (0..10_000)
                .filter(|i| sticky_to_candidate(bucket("ml/iris", &format!("user-{i}")), weight))
                .count();
            let share = candidate as f64 / 100.0;
            assert!(
                (share - f64::from(weight)).abs() <= 1.0,
                "{weight} %: {share} %"
            );
        }
    }

    #[test]
    fn the_salt_reshuffles_users() {
        let moved = (0..1000)
            .filter(|i| {
                let key = format!("user-{i}");
                sticky_to_candidate(bucket("a", &key), 50)
                    != sticky_to_candidate(bucket("b", &key), 50)
            })
            .count();
        assert!((350..650).contains(&moved), "{moved}");
    }
}
