//! The scheduler: one implementation for every open-model shape, plus the
//! closed model for `max`.
//!
//! Open model: message `n` of stream `s` in a phase is due at
//! `phase_start + curve_s.arrival_offset(n)` (absolute instants; never
//! `sleep(period)` loops, which drift). The streams' due times are merged in
//! order; ticks already due when the scheduler wakes are dispatched in one go
//! (batching at high rates without changing the per-second counts). A due tick
//! with no free worker is counted as dropped, never queued.
//!
//! Closed model (`max`): as soon as a worker is free it gets the next message,
//! until the phase ends.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::worker::{Job, Shared};
use crate::plan::PlanPhase;
use crate::scenario::model::Mode;
use crate::sink::Route;

/// How long past its due instant a tick may wait for a free worker before it
/// counts as dropped (absorbs timer granularity; far below any real send time).
pub const DISPATCH_SLACK: std::time::Duration = std::time::Duration::from_millis(2);

pub fn route(mode: Mode) -> Route {
    match mode {
        Mode::KafkaViaConnect => Route::Kafka,
        Mode::DirectSqs => Route::Sqs,
    }
}

/// Hands a job to the workers; `false` once they are gone (the run is ending).
async fn dispatch(jobs: &async_channel::Sender<Job>, job: Job) -> bool {
    jobs.send(job).await.is_ok()
}

/// Dispatches an open-model phase. `first_seq[i]` is the first sequence number
/// of the phase's i-th stream. Returns how many ticks each stream scheduled.
pub async fn open_phase(
    shared: &Shared,
    phase: &PlanPhase,
    phase_start: Instant,
    first_seq: &[u64],
    jobs: &async_channel::Sender<Job>,
    stop: &CancellationToken,
) -> Vec<u64> {
    let workers = Arc::new(Semaphore::new(phase.workers as usize));
    let route = route(phase.mode);
    let mut next: Vec<u64> = vec![0; phase.streams.len()];
    loop {
        // Earliest due tick across the phase's streams.
        let mut best: Option<(usize, std::time::Duration)> = None;
        for (i, ps) in phase.streams.iter().enumerate() {
            if let Some(off) = ps.curve.as_ref().and_then(|c| c.arrival_offset(next[i]))
                && best.is_none_or(|(_, b)| off < b)
            {
                best = Some((i, off));
            }
        }
        let Some((i, offset)) = best else { break };
        let due = phase_start + offset;
        if due > Instant::now() {
            tokio::select! {
                _ = sleep_until(due) => {}
                _ = stop.cancelled() => break,
            }
        } else if stop.is_cancelled() {
            break;
        }
        let stream = phase.streams[i].stream;
        let at = due.saturating_duration_since(shared.start);
        shared.record(|r| r.scheduled(phase.index, stream, at));
        let permit = match workers.clone().try_acquire_owned() {
            Ok(p) => Ok(p),
            // Timer wake-ups have ~1 ms granularity, so at high rates ticks
            // are dispatched in bursts; a worker that frees up within
            // DISPATCH_SLACK of the tick's due instant would have been free
            // on time. Busier than that is saturation: drop, never queue.
            Err(_) => {
                tokio::time::timeout_at(due + DISPATCH_SLACK, workers.clone().acquire_owned())
                    .await
                    .map_err(|_| ())
                    .and_then(|r| r.map_err(|_| ()))
            }
        };
        match permit {
            Ok(permit) => {
                let job = Job {
                    phase: phase.index,
                    stream,
                    seq: first_seq[i] + next[i],
                    route,
                    scheduled: due,
                    permit,
                };
                if !dispatch(jobs, job).await {
                    break;
                }
            }
            Err(_) => shared.record(|r| r.dropped(phase.index, stream, at)),
        }
        next[i] += 1;
    }
    next
}

/// Dispatches a closed-model phase until it ends. Streams take turns in
/// proportion to their share (smooth weighted round robin, deterministic).
pub async fn closed_phase(
    shared: &Shared,
    phase: &PlanPhase,
    phase_start: Instant,
    first_seq: &[u64],
    jobs: &async_channel::Sender<Job>,
    stop: &CancellationToken,
) -> Vec<u64> {
    let workers = Arc::new(Semaphore::new(phase.workers as usize));
    let route = route(phase.mode);
    let end = phase_start + phase.duration;
    let mut next: Vec<u64> = vec![0; phase.streams.len()];
    let mut credit: Vec<f64> = vec![0.0; phase.streams.len()];
    if phase.streams.is_empty() {
        tokio::select! {
            _ = sleep_until(end) => {}
            _ = stop.cancelled() => {}
        }
        return next;
    }
    sleep_until(phase_start).await;
    loop {
        let permit = tokio::select! {
            p = workers.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = sleep_until(end) => break,
            _ = stop.cancelled() => break,
        };
        let now = Instant::now();
        if now >= end {
            break;
        }
        // Streams whose replay file has run out take no more turns.
        let live: Vec<usize> = (0..phase.streams.len())
            .filter(|&k| {
                shared.streams[phase.streams[k].stream]
                    .limit
                    .is_none_or(|l| first_seq[k] + next[k] < l)
            })
            .collect();
        if live.is_empty() {
            drop(permit);
            tokio::select! {
                _ = sleep_until(end) => {}
                _ = stop.cancelled() => {}
            }
            break;
        }
        for &k in &live {
            credit[k] += phase.streams[k].share;
        }
        let Some(i) = live
            .iter()
            .copied()
            .max_by(|&a, &b| credit[a].total_cmp(&credit[b]).then(b.cmp(&a)))
        else {
            break;
        };
        credit[i] -= 1.0;
        let stream = phase.streams[i].stream;
        shared.record(|r| {
            r.scheduled(
                phase.index,
                stream,
                now.saturating_duration_since(shared.start),
            )
        });
        let job = Job {
            phase: phase.index,
            stream,
            seq: first_seq[i] + next[i],
            route,
            scheduled: now,
            permit,
        };
        if !dispatch(jobs, job).await {
            break;
        }
        next[i] += 1;
        // Let workers run between dispatches on a busy runtime.
        tokio::task::yield_now().await;
    }
    next
}
