//! The run engine: the only place with tasks and timers.
//!
//! ```text
//!  Plan ─▶ schedule (per phase: open model via RateCurve, closed model for max)
//!            │ Job{phase, stream, seq, due, permit}   (no free worker ⇒ dropped)
//!            ▼
//!         workers ─▶ record(seq) → envelope → encode(route) → SinkHandle::send
//!            │
//!            ▼
//!         Recorder (per phase × stream counts, HDR latency from the due instant,
//!                   per-second timeline) ─▶ RunSummary
//! ```
//! Phases start at absolute offsets from the run start, so a slow phase never
//! shifts the next one. Stopping (Ctrl-C, SIGTERM) ends scheduling at once and
//! waits for in-flight sends until the grace deadline.
//!
//! - [`schedule`]: dispatch loops; [`worker`]: message building and sending
//! - [`recorder`]: counters and histograms; [`summary`]: the result
//! - [`prepare`]: per-stream runtime state; [`shutdown`]: stop / abort

pub mod prepare;
pub mod progress;
pub mod recorder;
pub mod schedule;
pub mod shutdown;
pub mod summary;
pub mod worker;

use std::sync::{Arc, Mutex};

use tokio::time::{Instant, sleep_until};

use crate::plan::Plan;
use crate::scenario::model::Load;
use crate::sink::Sinks;
pub use prepare::StreamRuntime;
pub use shutdown::Shutdown;
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
    /// Record every finished send, for arrival accounting.
    pub ledger: Option<Arc<crate::collect::Ledger>>,
}

/// Like [`run`], with progress output and/or a send ledger.
pub async fn run_with(
    plan: &Plan,
    streams: Vec<StreamRuntime>,
    sinks: Sinks,
    shutdown: &Shutdown,
    extras: Extras,
) -> RunSummary {
    let show_progress = extras.progress;
    let start = Instant::now();
    let shared = Arc::new(Shared {
        streams,
        phase_names: plan.phases.iter().map(|p| p.name.clone()).collect(),
        fatal: Mutex::new(None),
        stop: shutdown.stop.clone(),
        sinks: sinks.clone(),
        recorder: Mutex::new(recorder::Recorder::default()),
        start,
        ledger: extras.ledger,
    });
    let max_workers = plan
        .phases
        .iter()
        .map(|p| p.workers as usize)
        .max()
        .unwrap_or(1)
        .max(1);
    let (tx, rx) = async_channel::bounded(max_workers);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..max_workers {
        tasks.spawn(worker::run(shared.clone(), rx.clone()));
    }
    drop(rx);
    let progress_done = tokio_util::sync::CancellationToken::new();
    if show_progress {
        progress::spawn(
            Arc::new(plan.clone()),
            shared.clone(),
            progress_done.clone(),
        );
    }

    let mut next_seq: Vec<u64> = vec![0; shared.streams.len()];
    let mut phases_started = 0;
    for phase in &plan.phases {
        if shutdown.stop.is_cancelled() {
            break;
        }
        let phase_start = start + phase.offset;
        phases_started += 1;
        let first: Vec<u64> = phase.streams.iter().map(|s| next_seq[s.stream]).collect();
        let counts = match phase.load {
            Load::Rate(_) => {
                let c =
                    schedule::open_phase(&shared, phase, phase_start, &first, &tx, &shutdown.stop)
                        .await;
                // Rate phases consume their whole planned sequence range, so the
                // records of later phases do not depend on drops or stops.
                phase
                    .streams
                    .iter()
                    .zip(c)
                    .map(|(s, n)| s.curve.as_ref().map_or(n, |c| c.event_count().max(n)))
                    .collect::<Vec<_>>()
            }
            Load::Max => {
                schedule::closed_phase(&shared, phase, phase_start, &first, &tx, &shutdown.stop)
                    .await
            }
        };
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

    // Drain: in-flight sends get the grace period, whether the run ended or
    // was stopped; what is still unanswered then is reported as in flight
    // (a dead broker must not hold the summary hostage for its 5-minute
    // message timeout).
    let drained = async { while tasks.join_next().await.is_some() {} };
    let interrupted = shutdown.stop.is_cancelled();
    tokio::select! {
        _ = drained => {}
        _ = shutdown.abort.cancelled() => {}
        _ = tokio::time::sleep(shutdown.grace) => {}
    }
    let flush_deadline = Instant::now() + shutdown.grace;
    let _ = sinks.kafka.flush(flush_deadline).await;
    let _ = sinks.sqs.flush(flush_deadline).await;
    progress_done.cancel();
    let elapsed = start.elapsed();
    let recorder = shared.recorder.lock().unwrap_or_else(|p| p.into_inner());
    let mut summary = summary::summarize(
        plan,
        &recorder,
        elapsed,
        interrupted || shutdown.stop.is_cancelled(),
        phases_started,
    );
    summary.fatal_error = shared
        .fatal
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    summary.fatal = summary.fatal_error.as_ref().map(ToString::to_string);
    summary
}
