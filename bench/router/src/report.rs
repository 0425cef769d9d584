//! The figures of every round, and the table they print as, each target beside its figure.

use std::collections::BTreeMap;
use std::time::Duration;

use modeldeploy_load::LoadReport;

/// Added latency of one router hop at 5k requests/s, at the median and the 99th percentile.
const ADDED_P50_TARGET: Duration = Duration::from_micros(100);
const ADDED_P99_TARGET: Duration = Duration::from_micros(500);
/// Most a shadow that is slow or down may move the primary's p99, in percent.
const SHADOW_P99_TARGET_PERCENT: f64 = 5.0;

/// Latency percentiles of one measurement.
#[derive(Clone, Copy, Debug)]
pub struct Measured {
    p50: Duration,
    p99: Duration,
}

impl Measured {
    pub fn of(report: &LoadReport) -> Measured {
        Measured {
            p50: report.latency.p50,
            p99: report.latency.p99,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Missed,
}

#[derive(Debug)]
pub struct Figures {
    rounds: u64,
    seconds: Duration,
    /// By path and rate, one per round.
    latency: BTreeMap<(&'static str, u64), Vec<Measured>>,
    /// Answers per second by path, one per round.
    throughput: BTreeMap<&'static str, Vec<f64>>,
    /// The primary's latency at 5k/s by shadow, in the order measured, one per round.
    shadow: Vec<(&'static str, Vec<Measured>)>,
}

impl Figures {
    pub fn new(rounds: u64, seconds: Duration) -> Figures {
        Figures {
            rounds,
            seconds,
            latency: BTreeMap::new(),
            throughput: BTreeMap::new(),
            shadow: Vec::new(),
        }
    }

    pub fn latency(&mut self, path: &'static str, rate: f64, measured: Measured) {
        self.latency
            .entry((path, rate as u64))
            .or_default()
            .push(measured);
    }

    pub fn throughput(&mut self, path: &'static str, answers_per_second: f64) {
        self.throughput
            .entry(path)
            .or_default()
            .push(answers_per_second);
    }

    pub fn shadow(&mut self, shadow: &'static str, measured: Measured) {
        match self.shadow.iter_mut().find(|(name, _)| *name == shadow) {
            Some((_, all)) => all.push(measured),
            None => self.shadow.push((shadow, vec![measured])),
        }
    }

    /// Prints the table and says whether every target was met. A run too short to judge
    /// (`judged` false) prints the verdicts it would give and always passes.
    pub fn print(&self, judged: bool) -> Verdict {
        let mut verdict = Verdict::Met;
        let mut judge = |met: bool| match (met, judged) {
            (true, true) => "met",
            (false, true) => {
                verdict = Verdict::Missed;
                "MISSED"
            }
            (true, false) => "met (short run, not judged)",
            (false, false) => "missed (short run, not judged)",
        };
        println!(
            "\nModel router hop on loopback, {}; median of {} round(s) of {} s each",
            machine(),
            self.rounds,
            self.seconds.as_secs()
        );
        println!(
            "Backends: two demo model servers; nginx splits 50/50 with split_clients like the router.\n"
        );
        println!(
            "| rate | path | p50 | p99 | added p50 | added p99 | target |\n|---|---|---|---|---|---|---|"
        );
        let rates: std::collections::BTreeSet<u64> =
            self.latency.keys().map(|(_, rate)| *rate).collect();
        for rate in rates {
            let direct = self.latency.get(&("direct", rate));
            for path in ["direct", "router", "nginx"] {
                let Some(all) = self.latency.get(&(path, rate)) else {
                    continue;
                };
                let p50 = median(all.iter().map(|m| micros(m.p50)));
                let p99 = median(all.iter().map(|m| micros(m.p99)));
                let (added_p50, added_p99) = match (path, direct) {
                    ("direct", _) | (_, None) => (None, None),
                    (_, Some(direct)) => (
                        Some(added(all, direct, |m| m.p50)),
                        Some(added(all, direct, |m| m.p99)),
                    ),
                };
                let target = match (path, rate, added_p50, added_p99) {
                    ("router", 5_000, Some(p50), Some(p99)) => format!(
                        "added p50 ≤ {}, p99 ≤ {}: {}",
                        ms(micros(ADDED_P50_TARGET)),
                        ms(micros(ADDED_P99_TARGET)),
                        judge(p50 <= micros(ADDED_P50_TARGET) && p99 <= micros(ADDED_P99_TARGET))
                    ),
                    _ => String::new(),
                };
                println!(
                    "| {rate}/s | {path} | {} | {} | {} | {} | {target} |",
                    ms(p50),
                    ms(p99),
                    added_p50.map(signed_ms).unwrap_or_default(),
                    added_p99.map(signed_ms).unwrap_or_default(),
                );
            }
        }

        println!("\n| full speed, 64 in flight | answers/s | target |\n|---|---|---|");
        let fastest = |path| {
            self.throughput
                .get(path)
                .map(|all| median(all.iter().copied()))
        };
        let (router, nginx) = (fastest("router"), fastest("nginx"));
        for path in ["router", "nginx", "direct"] {
            let Some(rate) = fastest(path) else { continue };
            let target = match (path, router, nginx) {
                ("router", Some(router), Some(nginx)) => {
                    format!("at least nginx's: {}", judge(router >= nginx))
                }
                _ => String::new(),
            };
            println!("| {path} | {rate:.0} | {target} |");
        }

        println!("\n| primary at 5000/s | p99 | change | target |\n|---|---|---|---|");
        let baseline = self.shadow.first().map(|(_, all)| all);
        for (index, (shadow, all)) in self.shadow.iter().enumerate() {
            let p99 = median(all.iter().map(|m| micros(m.p99)));
            let (change, target) = match baseline.filter(|_| index > 0) {
                None => (String::new(), String::new()),
                Some(baseline) => {
                    let percent = median(
                        all.iter()
                            .zip(baseline)
                            .map(|(m, b)| 100.0 * (micros(m.p99) - micros(b.p99)) / micros(b.p99)),
                    );
                    (
                        format!("{percent:+.1} %"),
                        format!(
                            "< {SHADOW_P99_TARGET_PERCENT} %: {}",
                            judge(percent < SHADOW_P99_TARGET_PERCENT)
                        ),
                    )
                }
            };
            println!("| {shadow} | {} | {change} | {target} |", ms(p99));
        }
        verdict
    }
}

/// The median over rounds of `path`'s figure minus the direct call's in the same round.
fn added(path: &[Measured], direct: &[Measured], figure: impl Fn(&Measured) -> Duration) -> f64 {
    median(
        path.iter()
            .zip(direct)
            .map(|(p, d)| micros(figure(p)) - micros(figure(d))),
    )
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn ms(micros: f64) -> String {
    format!("{:.3} ms", micros / 1e3)
}

fn signed_ms(micros: f64) -> String {
    format!("{:+.3} ms", micros / 1e3)
}

/// The cores and CPU model, for the README's table.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    format!("{cores} cores ({model})")
}
