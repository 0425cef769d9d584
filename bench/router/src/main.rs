//! The model router's cost: the latency one router hop adds to a call of the demo model server
//! at 1k and 5k requests/s, its throughput beside nginx doing the same weighted split to the
//! same backends, and what a slow or dead shadow does to the primary's latency. Everything runs
//! on loopback as separate release-built processes; the load comes from `modeldeploy-load`
//! (an open loop: requests start at the rate whatever the answers' latency).
//!
//! Prints a table with each target beside its figure and exits non-zero when one is missed.
//! `BENCH_ROUNDS` (default 3) rounds of `BENCH_SECONDS` (default 5) per measurement; every
//! figure is the median over rounds, and an overhead is the median of each round's difference,
//! so that a slow second on the machine moves both sides of a difference alike. A run shorter
//! than 3 rounds of 5 s is a smoke run: it prints the verdicts without judging them.

mod nginx;
mod processes;
mod report;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use modeldeploy_api::routing::{CandidateRole, CandidateTraffic, TrafficPlan};
use modeldeploy_load::{LoadReport, LoadSpec, MAX_RATE, Stop, run};
use serde_json::json;

use processes::Running;
use report::{Figures, Measured, Verdict};

/// Rates of the latency measurements.
const RATES: [f64; 2] = [1_000.0, 5_000.0];
/// Requests in flight in the throughput measurement: enough to keep both cores busy.
const THROUGHPUT_IN_FLIGHT: usize = 64;
/// The shortest run whose figures are judged against the targets. Percentiles of a couple of
/// seconds on a shared 2-core machine move by more than the 5 % some targets allow, so a
/// shorter run (CI's, which proves the benchmark runs) prints its figures without a verdict.
const JUDGED_ROUNDS: u64 = 3;
const JUDGED_SECONDS: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> ExitCode {
    match bench().await {
        Ok(Verdict::Met) => ExitCode::SUCCESS,
        Ok(Verdict::Missed) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("router-overhead: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn setting(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(text) => text
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .with_context(|| format!("{name}={text:?} is not a positive whole number")),
    }
}

/// Where the benchmark sends requests, and the processes behind them.
struct Targets {
    direct: SocketAddr,
    split: SocketAddr,
    nginx: SocketAddr,
    plain: SocketAddr,
    slow_shadow: SocketAddr,
    dead_shadow: SocketAddr,
    _processes: Vec<Running>,
    _dir: TempDir,
}

async fn bench() -> anyhow::Result<Verdict> {
    let rounds = setting("BENCH_ROUNDS", 3)?;
    let seconds = Duration::from_secs(setting("BENCH_SECONDS", 5)?);
    let targets = start().await?;
    // Warm every pool before measuring.
    for target in targets.all() {
        latency(target, 1_000.0, Duration::from_secs(1)).await?;
    }
    let mut figures = Figures::new(rounds, seconds);
    for round in 0..rounds {
        eprintln!("round {} of {rounds}", round + 1);
        for rate in RATES {
            for (name, target) in [
                ("direct", targets.direct),
                ("router", targets.split),
                ("nginx", targets.nginx),
            ] {
                let measured = latency(target, rate, seconds).await?;
                figures.latency(name, rate, measured);
            }
        }
        for (name, target) in [
            ("router", targets.split),
            ("nginx", targets.nginx),
            ("direct", targets.direct),
        ] {
            figures.throughput(name, throughput(target, seconds).await?);
        }
        for (name, target) in [
            ("no shadow", targets.plain),
            ("shadow answering in 1 s", targets.slow_shadow),
            ("shadow down", targets.dead_shadow),
        ] {
            let measured = latency(target, RATES[1], seconds).await?;
            figures.shadow(name, measured);
        }
    }
    Ok(figures.print(rounds >= JUDGED_ROUNDS && seconds >= JUDGED_SECONDS))
}

impl Targets {
    fn all(&self) -> [SocketAddr; 6] {
        [
            self.direct,
            self.split,
            self.nginx,
            self.plain,
            self.slow_shadow,
            self.dead_shadow,
        ]
    }
}

async fn start() -> anyhow::Result<Targets> {
    let dir = TempDir::new()?;
    let stable = processes::model("1", 0).await?;
    let candidate = processes::model("2", 0).await?;
    let slow = processes::model("3", 1_000).await?;
    let dead = processes::free_address()?;

    let canary = TrafficPlan::canary("v1", "v2", 50);
    let shadow = TrafficPlan {
        stable: "v1".into(),
        candidate: Some(CandidateTraffic {
            revision: "v3".into(),
            role: CandidateRole::Canary,
            weight: 0,
            mirror_percent: Some(100),
            matches: vec![],
            stickiness: None,
        }),
    };
    let endpoints = |candidate: SocketAddr| {
        BTreeMap::from([
            ("v1", vec![stable.address]),
            ("v2", vec![candidate]),
            ("v3", vec![candidate]),
        ])
    };
    let split = router(&dir, "split", &canary, endpoints(candidate.address)).await?;
    let plain = router(
        &dir,
        "plain",
        &TrafficPlan::only("v1"),
        endpoints(stable.address),
    )
    .await?;
    let slow_shadow = router(&dir, "slow-shadow", &shadow, endpoints(slow.address)).await?;
    let dead_shadow = router(&dir, "dead-shadow", &shadow, endpoints(dead)).await?;

    let listen = processes::free_address()?;
    let config = dir.path().join("nginx.conf");
    std::fs::write(
        &config,
        nginx::config(dir.path(), listen, stable.address, candidate.address, 50),
    )
    .context("cannot write the nginx configuration")?;
    let nginx = processes::nginx(dir.path(), &config, listen).await?;

    Ok(Targets {
        direct: stable.address,
        split: split.address,
        nginx: nginx.address,
        plain: plain.address,
        slow_shadow: slow_shadow.address,
        dead_shadow: dead_shadow.address,
        _processes: vec![
            stable,
            candidate,
            slow,
            split,
            plain,
            slow_shadow,
            dead_shadow,
            nginx,
        ],
        _dir: dir,
    })
}

/// A router over `plan`, its revisions served by `endpoints`.
async fn router(
    dir: &TempDir,
    name: &str,
    plan: &TrafficPlan,
    endpoints: BTreeMap<&str, Vec<SocketAddr>>,
) -> anyhow::Result<Running> {
    let path = dir.path().join(format!("{name}.json"));
    let routes = json!({
        "salt": "bench/router",
        "plan": plan,
        "endpoints": endpoints,
        // Inference requests are POSTs.
        "mirrorAllMethods": true,
    });
    std::fs::write(&path, routes.to_string())
        .with_context(|| format!("cannot write {}", path.display()))?;
    processes::router(&path).await
}

/// Latency at `rate` for `seconds`; every request must be answered with 200.
async fn latency(target: SocketAddr, rate: f64, seconds: Duration) -> anyhow::Result<Measured> {
    let report = load(LoadSpec {
        rate,
        stop: Stop::After(seconds),
        ..LoadSpec::new(target)
    })
    .await?;
    if report.skipped > 0 || report.errors() > 0 || report.status(200) != report.total() {
        bail!("{} could not keep up with {rate}/s: {report}", target);
    }
    Ok(Measured::of(&report))
}

/// Answers per second with [`THROUGHPUT_IN_FLIGHT`] requests always outstanding.
async fn throughput(target: SocketAddr, seconds: Duration) -> anyhow::Result<f64> {
    let report = load(LoadSpec {
        rate: MAX_RATE,
        stop: Stop::After(seconds),
        max_in_flight: THROUGHPUT_IN_FLIGHT,
        ..LoadSpec::new(target)
    })
    .await?;
    if report.errors() > 0 {
        bail!("{} failed requests at full speed: {report}", target);
    }
    Ok(report.status(200) as f64 / report.elapsed.as_secs_f64())
}

async fn load(spec: LoadSpec) -> anyhow::Result<LoadReport> {
    run(spec)
        .await
        .context("the load generator refused its spec")
}

/// A directory removed at the end of the run.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<TempDir> {
        let path = std::env::temp_dir().join(format!("router-overhead-{}", std::process::id()));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(TempDir(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
