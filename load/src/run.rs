//! The sending loop: requests start on a fixed schedule whatever the answers' latency (an open
//! loop, as real clients behave), so a slow version shows as latency and skipped requests rather
//! than as a lower rate that hides it.

use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior, interval_at};

use super::client::{self, HttpClient};
use super::counts::Counts;
use super::error::LoadError;
use super::outcome::Outcome;
use super::plan::Plan;
use super::report::{Latency, LoadReport};
use super::snapshot::Snapshot;
use super::spec::LoadSpec;
use super::timeline::{Sample, Timeline};

/// The histogram's range in microseconds: up to the longest timeout accepted, with room.
const MAX_LATENCY_MICROS: u64 = 120_000_000;

/// Sends the spec's requests and reports what answered. Fails before sending anything when the
/// spec is out of bounds.
pub async fn run(spec: LoadSpec) -> Result<LoadReport, LoadError> {
    drive(&spec, None, std::future::pending()).await
}

/// As [`run`], calling `on_second` once a second with what finished in that second, and once
/// more at the end for the last part-second.
pub async fn run_each_second<F>(spec: LoadSpec, mut on_second: F) -> Result<LoadReport, LoadError>
where
    F: FnMut(&Snapshot) + Send,
{
    drive(&spec, Some(&mut on_second), std::future::pending()).await
}

/// As [`run_each_second`], and stops sending when `stop` completes (e.g. on Ctrl-C): the
/// requests in flight are still awaited, and the report covers what was sent.
pub async fn run_each_second_until<F>(
    spec: LoadSpec,
    mut on_second: F,
    stop: impl Future<Output = ()> + Send,
) -> Result<LoadReport, LoadError>
where
    F: FnMut(&Snapshot) + Send,
{
    drive(&spec, Some(&mut on_second), stop).await
}

async fn drive(
    spec: &LoadSpec,
    mut on_second: Option<&mut (dyn FnMut(&Snapshot) + Send)>,
    stop: impl Future<Output = ()> + Send,
) -> Result<LoadReport, LoadError> {
    let mut stop = std::pin::pin!(stop);
    let mut stopped = false;
    let plan = Plan::new(spec)?;
    let mut tally = Tally::new(&plan)?;
    let client = client::client(plan.timeout, plan.max_in_flight);
    let start = Instant::now();
    let mut ticks = interval_at(start, plan.period);
    // Catch up on ticks missed while the loop was busy, so the rate over the run is the one asked.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let second = Duration::from_secs(1);
    let mut seconds = interval_at(start + second, second);
    seconds.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut window_start = start;
    // Dropping the set aborts what is still in flight, so a cancelled run stops sending at once.
    let mut in_flight: JoinSet<Sample> = JoinSet::new();
    let mut due: u64 = 0;
    while (due < plan.planned && !stopped) || !in_flight.is_empty() {
        tokio::select! {
            biased;
            () = &mut stop, if !stopped => stopped = true,
            _ = ticks.tick(), if due < plan.planned && !stopped => {
                if in_flight.len() >= plan.max_in_flight {
                    tally.skipped += 1;
                } else {
                    in_flight.spawn(one(client.clone(), &plan, due, start));
                    tally.sent += 1;
                    tally.window_sent += 1;
                }
                due += 1;
            }
            now = seconds.tick(), if on_second.is_some() => {
                if let Some(on_second) = on_second.as_mut() {
                    on_second(&tally.take_window(now - start, now - window_start));
                }
                window_start = now;
            }
            Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => match joined {
                Ok(sample) => tally.record(sample),
                // The task only sends and classifies; a panic there is a bug to surface as is.
                Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
                Err(_) => {}
            },
        }
    }
    let end = Instant::now();
    if let Some(on_second) = on_second.as_mut() {
        let window = tally.take_window(end - start, end - window_start);
        if window.sent > 0 || window.counts.total() > 0 {
            on_second(&window);
        }
    }
    Ok(tally.report(end - start, if stopped { due } else { plan.planned }))
}

/// Request `index`, sent now; the sample is timed from the moment it was handed to the client.
fn one(
    client: HttpClient,
    plan: &Plan,
    index: u64,
    start: Instant,
) -> impl Future<Output = Sample> + Send + 'static {
    let request = plan.request(index);
    let timeout = plan.timeout;
    async move {
        let sent = Instant::now();
        let outcome = client::send(&client, request, timeout).await;
        Sample {
            sent_at: sent - start,
            latency: sent.elapsed(),
            outcome,
        }
    }
}

/// What the loop has seen so far.
struct Tally {
    sent: u64,
    skipped: u64,
    counts: Counts,
    window_sent: u64,
    window: Counts,
    latency: Histogram<u64>,
    timeline: Option<Vec<Sample>>,
}

impl Tally {
    fn new(plan: &Plan) -> Result<Tally, LoadError> {
        Ok(Tally {
            sent: 0,
            skipped: 0,
            counts: Counts::default(),
            window_sent: 0,
            window: Counts::default(),
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_MICROS, 3)?,
            timeline: plan.record_timeline.then(|| {
                // The plan caps timeline runs, so reserving the whole run up front is bounded.
                Vec::with_capacity(usize::try_from(plan.planned).unwrap_or(0))
            }),
        })
    }

    fn record(&mut self, sample: Sample) {
        self.counts.add(&sample.outcome);
        self.window.add(&sample.outcome);
        if matches!(sample.outcome, Outcome::Answered { .. }) {
            let micros = u64::try_from(sample.latency.as_micros()).unwrap_or(u64::MAX);
            self.latency.saturating_record(micros.max(1));
        }
        if let Some(timeline) = &mut self.timeline {
            timeline.push(sample);
        }
    }

    fn take_window(&mut self, at: Duration, window: Duration) -> Snapshot {
        Snapshot {
            at,
            window,
            sent: std::mem::take(&mut self.window_sent),
            counts: std::mem::take(&mut self.window),
        }
    }

    fn report(self, elapsed: Duration, planned: u64) -> LoadReport {
        LoadReport {
            elapsed,
            planned,
            sent: self.sent,
            skipped: self.skipped,
            counts: self.counts,
            latency: Latency::of(&self.latency),
            timeline: self.timeline.map(Timeline::from_unordered),
        }
    }
}
