//! The run engine: the only place with tasks and timers.
//!
//! ```text
//!  Plan ─▶ schedule (per phase: open model via RateCurve; closed model for max)
//!            │ batches of Job{phase, stream, seq, due, budget permit}
//!            │ (in-flight budget exhausted ⇒ dropped)
//!            ▼
//!         lanes ─▶ record(seq) → envelope → encode(route) → SinkHandle::submit
//!                                                              │ (returns at once)
//!         sink (delivery report / SQS batch task) ─▶ Ticket::complete
//!            │  records the outcome, returns the budget permit
//!            ▼
//!         Recorder (per phase × stream counts, HDR latency from the due instant,
//!                   per-second timeline) ─▶ RunSummary
//! ```
//! `workers` is the number of lanes (generation and submission parallelism,
//! and the senders of a closed phase); `max_in_flight` bounds the messages
//! outstanding at once. Phases start at absolute offsets from the run start,
//! so a slow phase never shifts the next one. Stopping (Ctrl-C, SIGTERM) ends
//! scheduling at once and waits for outstanding answers until the grace
//! deadline.
//!
//! - [`schedule`]: dispatch loops; [`closed`]: the closed model's lanes;
//!   [`worker`]: lanes and completions (`Ticket`); `message`: record → message;
//!   [`pool`]: lane tasks and the phase's in-flight budget
//! - [`recorder`]: counters and histograms; [`summary`]: the result
//! - [`steering`]: runtime changes (rate, pause, workers, mode, stop) and
//!   their log; [`status`]: the live view the control API serves
//! - [`prepare`]: per-stream runtime state; [`shutdown`]: stop / abort

pub mod closed;
mod message;
pub mod pool;
pub mod prepare;
pub mod progress;
pub mod recorder;
pub mod schedule;
pub mod seek;
pub mod shutdown;
pub mod status;
pub mod steering;
pub mod summary;
pub mod worker;

use std::sync::Arc;

use tokio::time::{Instant, sleep_until};

use crate::plan::Plan;
use crate::scenario::model::{Load, RateShape};
use crate::sink::Sinks;
pub use prepare::StreamRuntime;
pub use shutdown::Shutdown;
pub use steering::Steering;
pub use summary::RunSummary;
use worker::Shared;

/// Runs every phase of `plan` and returns what happened.
pub async fn run(
    plan: &Plan,
    streams: Vec<StreamRuntime>,
    sinks: Sinks,
    shutdown: &Shutdown,
) -> RunSummary {
    run_with(plan, streams, sinks, shutdown, Extras::default()).await
}

/// Optional parts of a run.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// Print live progress to stderr.
    pub progress: bool,
    /// Record every finished send (and each phase's first record numbers),
    /// for arrival accounting.
    pub sends: Option<Arc<crate::collect::Sends>>,
    /// Virtual runs: every acknowledged message arrives at once, through
    /// the collector's own per-copy path.
    pub echo: Option<Arc<crate::collect::Arrivals>>,
    /// Runtime steering shared with the control API (a private one otherwise).
    pub steering: Option<Arc<Steering>>,
    /// Real runs: the collector's arrivals, which `seek` phases judge levels on
    /// (virtual runs use `echo`).
    pub observe: Option<Arc<crate::collect::Arrivals>>,
}

/// Like [`run`], with progress output and/or send accounting.
pub async fn run_with(
    plan: &Plan,
    streams: Vec<StreamRuntime>,
    sinks: Sinks,
    shutdown: &Shutdown,
    extras: Extras,
) -> RunSummary {
    let Extras {
        progress: show_progress,
        sends,
        echo,
        steering,
        observe,
    } = extras;
    let observe = observe.or_else(|| echo.clone());
    // Someone reads the live status (control API, progress line, metrics):
    // only then is it sampled every second. A virtual run has no reader, and
    // a year-long idle phase would otherwise cost 31.5 million wake-ups.
    let status_read = steering.is_some() || show_progress;
    let steering =
        steering.unwrap_or_else(|| Steering::new(Arc::new(plan.clone()), shutdown.stop.clone()));
    let start = Instant::now();
    let shared = Arc::new(Shared::new(
        plan,
        streams,
        sinks.clone(),
        (sends, echo),
        start,
        shutdown.stop.clone(),
    ));
    steering.begin(start, shared.clone());
    let max_workers = plan
        .phases
        .iter()
        .map(|p| p.workers as usize)
        .max()
        .unwrap_or(1)
        .max(1);
    // Unbounded: every job in it holds a unit of its phase's in-flight budget.
    let (tx, rx) = async_channel::unbounded();
    let pool = pool::Pool::new(shared.clone(), rx, max_workers);
    let progress_done = tokio_util::sync::CancellationToken::new();
    if status_read || shared.metrics.is_some() {
        spawn_sampler(steering.clone(), shared.clone(), progress_done.clone());
    }
    let mut steer = steering.subscribe();
    if show_progress {
        progress::spawn(steering.clone(), progress_done.clone());
    }

    let (phases_started, seeks) = run_phases(
        plan,
        &shared,
        &pool,
        tx,
        &steering,
        &mut steer,
        shutdown,
        observe.as_deref(),
    )
    .await;
    // Parked lanes must see the channel close too.
    shared.set_lanes(usize::MAX);
    steering.finish();
    let interrupted = shutdown.stop.is_cancelled();
    drain(&shared, &sinks, pool.take(), shutdown).await;
    progress_done.cancel();
    let ended = Ended {
        elapsed: start.elapsed(),
        interrupted: interrupted || shutdown.stop.is_cancelled(),
        phases_started,
        seeks,
    };
    summary_of(plan, &shared, &steering, ended)
}

/// Runs the phases in order, each on the plan's clock, until the last ends or
/// the run is stopped; closes the job channel. Returns how many phases
/// started and what seek phases found.
#[allow(clippy::too_many_arguments)]
async fn run_phases(
    plan: &Plan,
    shared: &Arc<Shared>,
    pool: &pool::Pool,
    tx: async_channel::Sender<worker::Work>,
    steering: &Steering,
    steer: &mut tokio::sync::watch::Receiver<steering::Overlay>,
    shutdown: &Shutdown,
    observe: Option<&crate::collect::Arrivals>,
) -> (usize, Vec<seek::SeekResult>) {
    let start = shared.start;
    let mut next_seq: Vec<u64> = vec![0; shared.streams.len()];
    let mut phases_started = 0;
    let mut seeks: Vec<seek::SeekResult> = Vec::new();
    for phase in &plan.phases {
        if shutdown.stop.is_cancelled() {
            break;
        }
        let phase_start = start + phase.offset;
        phases_started += 1;
        let first = begin_phase(phase, &next_seq, steering, shared);
        let ctx = schedule::Ctx {
            shared,
            pool,
            jobs: &tx,
            stop: &shutdown.stop,
            steer,
            shard: plan.shard,
        };
        let (counts, found) = run_phase(ctx, phase, phase_start, &first, steering, observe).await;
        seeks.extend(found);
        for (s, n) in phase.streams.iter().zip(counts) {
            next_seq[s.stream] += n;
        }
        // Idle tails: the phase lasts its full duration even after its last tick.
        tokio::select! {
            _ = sleep_until(phase_start + phase.duration) => {}
            _ = shutdown.stop.cancelled() => {}
        }
    }
    drop(tx);
    (phases_started, seeks)
}

/// Drain: lanes finish what they were given, then outstanding messages get
/// the grace period for their answers, whether the run ended or was stopped;
/// what is still unanswered then is reported as in flight (a dead broker must
/// not hold the summary hostage for its 5-minute message timeout).
async fn drain(
    shared: &Shared,
    sinks: &Sinks,
    mut tasks: tokio::task::JoinSet<()>,
    shutdown: &Shutdown,
) {
    let drained = async {
        while tasks.join_next().await.is_some() {}
        shared.settled().await;
    };
    // One deadline for draining and flushing: `--grace` bounds both together,
    // and a second signal (abort) ends either at once.
    let deadline = Instant::now() + shutdown.grace;
    tokio::select! {
        _ = drained => {}
        _ = shutdown.abort.cancelled() => {}
        _ = sleep_until(deadline) => {}
    }
    // In slices: a flush blocks a thread until its deadline, and an abort
    // must not wait for it (nor must the runtime's shutdown).
    loop {
        let slice = (Instant::now() + std::time::Duration::from_millis(200)).min(deadline);
        let kafka = sinks.kafka.flush(slice).await;
        let sqs = sinks.sqs.flush(slice).await;
        let flushed = kafka.is_ok() && sqs.is_ok();
        if flushed || Instant::now() >= deadline || shutdown.abort.is_cancelled() {
            break;
        }
    }
}

/// How the phase loop ended.
struct Ended {
    elapsed: std::time::Duration,
    interrupted: bool,
    phases_started: usize,
    seeks: Vec<seek::SeekResult>,
}

/// The run's summary: the recorder's counts, the first fatal error, the
/// steering log and what seek phases found.
fn summary_of(plan: &Plan, shared: &Shared, steering: &Steering, ended: Ended) -> RunSummary {
    let mut summary = summary::summarize(
        plan,
        &shared.recorder.lock().unwrap_or_else(|p| p.into_inner()),
        ended.elapsed,
        ended.interrupted,
        ended.phases_started,
    );
    summary.fatal_error = shared
        .fatal
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    summary.fatal = summary.fatal_error.as_ref().map(ToString::to_string);
    summary.steering = steering.events();
    summary.steered = !summary.steering.is_empty();
    summary.seek = ended.seeks;
    tracing::info!(
        event = "RunFinished",
        acked = summary.totals.acked,
        failed = summary.totals.failed,
        dropped = summary.totals.dropped,
        interrupted = summary.interrupted,
        "run finished"
    );
    summary
}

/// Marks the phase started (status, log, send accounting); returns each of
/// its streams' first record number.
fn begin_phase(
    phase: &crate::plan::PlanPhase,
    next_seq: &[u64],
    steering: &Steering,
    shared: &Shared,
) -> Vec<u64> {
    steering.enter_phase(phase.index);
    tracing::info!(
        event = "PhaseStarted",
        phase = %phase.name,
        mode = phase.mode.as_str(),
        workers = phase.workers,
        "phase {} started",
        phase.name
    );
    // The plan numbers each phase's records (`first_seq`); the count so far
    // only matters where the plan cannot know it (after a replay's closed
    // phase) or went past it (a phase steered above its planned rate), so
    // that no record number is ever sent twice.
    let first: Vec<u64> = phase
        .streams
        .iter()
        .map(|s| {
            let so_far = next_seq[s.stream];
            s.first_seq.map_or(so_far, |planned| planned.max(so_far))
        })
        .collect();
    if let Some(sends) = &shared.sends {
        for (ps, &f) in phase.streams.iter().zip(&first) {
            sends.phase_started(phase.index as u32, ps.stream as u32, f);
        }
    }
    first
}

/// Runs one phase; returns how many record numbers each of its streams
/// took (the next phase numbers on from there) and what a seek phase found.
async fn run_phase(
    ctx: schedule::Ctx<'_>,
    phase: &crate::plan::PlanPhase,
    phase_start: Instant,
    first: &[u64],
    steering: &Steering,
    observe: Option<&crate::collect::Arrivals>,
) -> (Vec<u64>, Option<seek::SeekResult>) {
    let shared = ctx.shared;
    match &phase.load {
        Load::Rate(RateShape::Seek(k)) => {
            let controller = seek::Controller {
                phase,
                seek: k,
                steering,
                shared,
                arrivals: observe,
                phase_start,
                stop: ctx.stop,
            };
            let (_, found) = tokio::join!(
                schedule::open_phase(ctx, phase, phase_start, first),
                controller.run()
            );
            // Like a closed phase, a fixed range of record numbers.
            let used = phase
                .streams
                .iter()
                .map(|_| crate::plan::shard::CLOSED_PHASE_SEQS)
                .collect();
            (used, Some(found))
        }
        Load::Rate(_) => {
            let c = schedule::open_phase(ctx, phase, phase_start, first).await;
            // Rate phases consume their whole planned sequence range, so the
            // records of later phases do not depend on drops or stops.
            let used = phase
                .streams
                .iter()
                .zip(c)
                .map(|(s, n)| s.curve.as_ref().map_or(n, |c| c.event_count().max(n)))
                .collect();
            (used, None)
        }
        Load::Max => {
            let used = schedule::closed_phase(ctx, phase, phase_start, first).await;
            // The plan reserves a fixed range per closed phase (replays
            // excepted), so later phases line up across runs and shards.
            let used = phase
                .streams
                .iter()
                .zip(used)
                .map(|(s, n)| {
                    if shared.streams[s.stream].limit.is_none() {
                        crate::plan::shard::CLOSED_PHASE_SEQS
                    } else {
                        n
                    }
                })
                .collect();
            (used, None)
        }
    }
}

/// Once a second: achieved-rate samples for the status, and the gauges.
fn spawn_sampler(
    steering: Arc<Steering>,
    shared: Arc<Shared>,
    done: tokio_util::sync::CancellationToken,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = done.cancelled() => break,
            }
            status::sample(&steering, Instant::now());
            let Some(m) = &shared.metrics else { continue };
            let st = status::status(&steering);
            for (i, s) in st.streams.iter().enumerate() {
                if let Some(g) = m.target_rate.get(i) {
                    g.set(s.target_rate.unwrap_or(0.0));
                }
                if let Some(g) = m.achieved_rate.get(i) {
                    g.set(s.achieved_rate);
                }
            }
            for (i, g) in m.phase_active.iter().enumerate() {
                g.set(if st.phase.as_ref().is_some_and(|p| p.index == i) {
                    1.0
                } else {
                    0.0
                });
            }
            if let Some(p) = &st.phase
                && let Some(g) = m.workers.get(p.index)
            {
                g.set(f64::from(p.workers));
            }
        }
    });
}
