//! Monte Carlo checks of the guarantees the operator relies on: an A/A test under continuous
//! monitoring rarely declares a winner, a realistic lift is found about when
//! `expected_samples_per_arm` says, and the sample-ratio guard fires on broken splits only.
//!
//! Every experiment has its own seed, so results do not depend on test ordering or threads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use modeldeploy_stats::{
    ArmSummary, SRM_ALPHA, SequentialTest, expected_samples_per_arm, mixing_sd_for,
    sample_ratio_mismatch,
};
use rand::distr::{Bernoulli, Distribution};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ALPHA: f64 = 0.05;

fn rng(stream: u64, experiment: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(stream.wrapping_mul(1_000_003).wrapping_add(experiment))
}

/// Exact binomial draw as a sum of Bernoulli trials: simple enough to trust, and fast enough
/// at these sizes.
fn binomial(rng: &mut ChaCha8Rng, trials: u32, success: &Bernoulli) -> f64 {
    f64::from((0..trials).filter(|_| success.sample(rng)).count() as u32)
}

/// Box–Muller; `1 - u` keeps the logarithm's argument in (0, 1].
fn standard_normal_pair(rng: &mut ChaCha8Rng) -> (f64, f64) {
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random::<f64>();
    let radius = (-2.0 * u.ln()).sqrt();
    let angle = std::f64::consts::TAU * v;
    (radius * angle.cos(), radius * angle.sin())
}

/// Running count, sum and sum of squares, as the operator's counters provide them.
#[derive(Default)]
struct Moments {
    count: f64,
    sum: f64,
    sum_of_squares: f64,
}

impl Moments {
    fn add(&mut self, value: f64) {
        self.count += 1.0;
        self.sum += value;
        self.sum_of_squares += value * value;
    }

    fn summary(&self) -> ArmSummary {
        ArmSummary::from_moments(self.count, self.sum, self.sum_of_squares).unwrap()
    }
}

/// Looks per A/A experiment: 40 one-minute intervals of 500 requests per arm. Release takes
/// about a second for all simulations and debug (CI's `cargo test --workspace`) about 20 s, so
/// neither needs trimming.
const AA_LOOKS: u32 = 40;

const AA_EXPERIMENTS: u64 = 1_000;

#[test]
fn aa_conversion_rarely_declares_a_winner() {
    let (per_look, rate) = (500, 0.10);
    let success = Bernoulli::new(rate).unwrap();
    let test = SequentialTest::new(ALPHA, mixing_sd_for(0.10, rate)).unwrap();
    let mut false_winners = 0u32;
    for experiment in 0..AA_EXPERIMENTS {
        let mut rng = rng(1, experiment);
        let (mut stable, mut candidate, mut trials) = (0.0, 0.0, 0.0);
        for _ in 0..AA_LOOKS {
            stable += binomial(&mut rng, per_look, &success);
            candidate += binomial(&mut rng, per_look, &success);
            trials += f64::from(per_look);
            let comparison = test.compare(
                &ArmSummary::from_proportion(stable, trials).unwrap(),
                &ArmSummary::from_proportion(candidate, trials).unwrap(),
            );
            if comparison.is_ok_and(|c| c.significant) {
                false_winners += 1;
                break;
            }
        }
    }
    let rate = f64::from(false_winners) / AA_EXPERIMENTS as f64;
    println!("A/A conversion: {false_winners} false winners in {AA_EXPERIMENTS} ({rate})");
    assert!(
        rate <= ALPHA,
        "false-winner rate {rate} exceeds alpha {ALPHA}"
    );
}

#[test]
fn aa_latency_rarely_declares_a_winner() {
    // Log-normal latency around 100 ms (σ = 0.5 on the log scale, skewness ≈ 1.75), so the
    // normal approximation is exercised on realistically skewed data.
    let (per_look, log_median, log_sd) = (500, 100f64.ln(), 0.5);
    let mean = (log_median + log_sd * log_sd / 2.0).exp();
    let test = SequentialTest::new(ALPHA, mixing_sd_for(0.05, mean)).unwrap();
    let latency = |z: f64| (log_median + log_sd * z).exp();
    let mut false_winners = 0u32;
    for experiment in 0..AA_EXPERIMENTS {
        let mut rng = rng(2, experiment);
        let (mut stable, mut candidate) = (Moments::default(), Moments::default());
        for _ in 0..AA_LOOKS {
            for _ in 0..per_look {
                let (a, b) = standard_normal_pair(&mut rng);
                stable.add(latency(a));
                candidate.add(latency(b));
            }
            if test
                .compare(&stable.summary(), &candidate.summary())
                .unwrap()
                .significant
            {
                false_winners += 1;
                break;
            }
        }
    }
    let rate = f64::from(false_winners) / AA_EXPERIMENTS as f64;
    println!("A/A latency: {false_winners} false winners in {AA_EXPERIMENTS} ({rate})");
    assert!(
        rate <= ALPHA,
        "false-winner rate {rate} exceeds alpha {ALPHA}"
    );
}

#[test]
fn ten_percent_lift_is_found_about_when_expected() {
    // The horizon, 35 looks of 1,000 trials per arm, is about twice the expected sample size:
    // a rollout that has not decided by then would be stopped by the operator anyway.
    let (per_look, max_looks, runs) = (1_000u32, 35u32, 400u32);
    let (p_stable, p_candidate) = (0.10, 0.11);
    let test = SequentialTest::new(ALPHA, mixing_sd_for(0.10, p_stable)).unwrap();
    let expected = expected_samples_per_arm(
        p_stable,
        p_stable * (1.0 - p_stable),
        p_candidate,
        p_candidate * (1.0 - p_candidate),
        &test,
    )
    .unwrap();
    let (stable_success, candidate_success) = (
        Bernoulli::new(p_stable).unwrap(),
        Bernoulli::new(p_candidate).unwrap(),
    );
    let mut wins = 0u32;
    // Samples per arm at the first significant look; runs that never stop count as infinite.
    let mut stopped_at = Vec::new();
    for run in 0..runs {
        let mut rng = rng(3, u64::from(run));
        let (mut stable, mut candidate, mut trials) = (0.0, 0.0, 0.0);
        let mut stop = f64::INFINITY;
        for _ in 0..max_looks {
            stable += binomial(&mut rng, per_look, &stable_success);
            candidate += binomial(&mut rng, per_look, &candidate_success);
            trials += f64::from(per_look);
            let comparison = test.compare(
                &ArmSummary::from_proportion(stable, trials).unwrap(),
                &ArmSummary::from_proportion(candidate, trials).unwrap(),
            );
            if let Some(c) = comparison.ok().filter(|c| c.significant) {
                wins += u32::from(c.effect > 0.0);
                stop = trials;
                break;
            }
        }
        stopped_at.push(stop);
    }
    stopped_at.sort_by(f64::total_cmp);
    let median = stopped_at[stopped_at.len() / 2];
    let power = f64::from(wins) / f64::from(runs);
    println!("power {power}, median stop {median} per arm, expected {expected:.0} per arm");
    assert!(power >= 0.80, "power {power} below 80 %");
    // If θ̂ sat exactly on θ the test would stop at `expected`. θ̂ fluctuates around θ, and at
    // `expected` it is above θ (and so past the boundary) about half the time, while some
    // runs have already crossed earlier, so the median stop should be at or before `expected`.
    // The 1.1 factor absorbs the 1,000-trial look granularity (~6 % of `expected`), the
    // variances being estimated rather than known, and the median's sampling error over 400
    // runs.
    assert!(
        median <= expected * 1.1,
        "median stop {median} exceeds expected {expected} x 1.1"
    );
}

/// Splits `total` requests by independent draws from `weights` (a multinomial sample).
fn split(rng: &mut ChaCha8Rng, total: u32, weights: &[f64]) -> Vec<f64> {
    let sum: f64 = weights.iter().sum();
    let mut counts = vec![0.0; weights.len()];
    for _ in 0..total {
        let mut u = rng.random::<f64>() * sum;
        let mut arm = weights.len() - 1;
        for (i, w) in weights.iter().enumerate() {
            if u < *w {
                arm = i;
                break;
            }
            u -= w;
        }
        counts[arm] += 1.0;
    }
    counts
}

#[test]
fn srm_guard_trips_on_a_broken_two_way_split() {
    let r = sample_ratio_mismatch(&[4_500.0, 5_500.0], &[50.0, 50.0]).unwrap();
    assert!(r.p_value < SRM_ALPHA && r.mismatched, "{r:?}");
}

#[test]
fn srm_guard_rarely_trips_on_a_fair_split() {
    for weights in [&[50.0, 50.0][..], &[20.0, 30.0, 50.0][..]] {
        let runs = 1_000u32;
        let mut trips = 0u32;
        for run in 0..runs {
            let mut rng = rng(4 + weights.len() as u64, u64::from(run));
            let counts = split(&mut rng, 10_000, weights);
            trips += u32::from(sample_ratio_mismatch(&counts, weights).unwrap().mismatched);
        }
        println!("SRM {weights:?}: {trips} trips in {runs}");
        // SRM_ALPHA = 0.1 % is one expected trip; allow two (0.2 %).
        assert!(
            trips <= 2,
            "{trips} trips in {runs} fair splits of {weights:?}"
        );
    }
}

#[test]
fn srm_guard_trips_when_one_of_three_arms_loses_traffic() {
    // The third arm drops 20 % of its requests before they are counted.
    let weights = [20.0, 30.0, 50.0];
    let runs = 200u32;
    let mut trips = 0u32;
    for run in 0..runs {
        let mut rng = rng(7, u64::from(run));
        let mut counts = split(&mut rng, 10_000, &weights);
        let lost = Bernoulli::new(0.2).unwrap();
        counts[2] = (0..counts[2] as u32)
            .filter(|_| !lost.sample(&mut rng))
            .count() as f64;
        trips += u32::from(sample_ratio_mismatch(&counts, &weights).unwrap().mismatched);
    }
    assert_eq!(trips, runs);
}
