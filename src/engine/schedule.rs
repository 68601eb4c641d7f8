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
//!
//! Steering (see [`super::steering`]) is read through a watch channel: on a
//! change each stream's [`Cursor`] is re-aimed at the current instant — the
//! plan's curve (skipping what fell due while paused), a fixed operator rate,
//! or nothing while paused — and the worker [`Gate`] is resized. Without
//! changes the dispatch is exactly the plan's.

use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::pool::{Gate, Pool};
use super::steering::Overlay;
use super::worker::{Job, Shared};
use crate::plan::{PhaseStream, PlanPhase};
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

/// What a phase's dispatch loop needs besides the phase.
pub struct Ctx<'a> {
    pub shared: &'a Shared,
    pub pool: &'a Pool,
    pub jobs: &'a async_channel::Sender<Job>,
    pub stop: &'a CancellationToken,
    pub steer: &'a mut watch::Receiver<Overlay>,
    /// This run's shard, if sharded.
    pub shard: Option<crate::plan::Shard>,
}

impl Ctx<'_> {
    /// Resolves once steering changed (never, once the sender is gone).
    async fn changed(steer: &mut watch::Receiver<Overlay>) {
        if steer.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Where a stream's next open-model tick comes from.
#[derive(Debug, Clone, PartialEq)]
enum Cursor {
    /// Tick `k` of the plan's curve.
    Plan {
        k: u64,
    },
    /// Operator rate: tick `j` is due at `anchor + j / rate`.
    Fixed {
        anchor: Instant,
        rate: f64,
        j: u64,
    },
    Paused,
}

impl Cursor {
    fn due(&self, ps: &PhaseStream, phase_start: Instant, phase_end: Instant) -> Option<Instant> {
        match self {
            Cursor::Plan { k } => ps
                .curve
                .as_ref()
                .and_then(|c| c.arrival_offset(*k))
                .map(|o| phase_start + o),
            Cursor::Fixed { anchor, rate, j } => {
                let due = *anchor + std::time::Duration::from_secs_f64(*j as f64 / rate);
                (due < phase_end).then_some(due)
            }
            Cursor::Paused => None,
        }
    }

    fn advance(&mut self) {
        match self {
            Cursor::Plan { k } => *k += 1,
            Cursor::Fixed { j, .. } => *j += 1,
            Cursor::Paused => {}
        }
    }

    /// Re-aims the cursor after a steering change at `now`.
    fn retarget(&mut self, ps: &PhaseStream, ov: &Overlay, phase_start: Instant, now: Instant) {
        let paused = ov.paused.get(ps.stream).copied().unwrap_or(false);
        let rate = ov.rate.get(ps.stream).copied().flatten();
        *self = match (&*self, paused, rate) {
            (_, true, _) => Cursor::Paused,
            (Cursor::Fixed { rate: r, .. }, false, Some(want)) if *r == want => return,
            (_, false, Some(rate)) => Cursor::Fixed {
                anchor: now,
                rate,
                j: 1,
            },
            (Cursor::Plan { .. }, false, None) => return,
            // Back to the plan where it is now: no burst for what was skipped.
            (_, false, None) => Cursor::Plan {
                k: ps.curve.as_ref().map_or(0, |c| {
                    c.count_before(now.saturating_duration_since(phase_start))
                }),
            },
        };
    }
}

fn route_for(phase: &PlanPhase, ov: &Overlay, stream: usize) -> Route {
    route(ov.mode.get(stream).copied().flatten().unwrap_or(phase.mode))
}

/// Dispatches an open-model phase. `first_seq[i]` is the first sequence number
/// of the phase's i-th stream. Returns how many ticks each stream scheduled.
pub async fn open_phase(
    ctx: Ctx<'_>,
    phase: &PlanPhase,
    phase_start: Instant,
    first_seq: &[u64],
) -> Vec<u64> {
    let Ctx {
        shared,
        pool,
        jobs,
        stop,
        steer,
        shard,
    } = ctx;
    let phase_end = phase_start + phase.duration;
    let mut ov = steer.borrow_and_update().clone();
    let mut gate = Gate::new(phase.workers);
    gate.resize(ov.workers.unwrap_or(phase.workers), pool);
    let mut cursors: Vec<Cursor> = vec![Cursor::Plan { k: 0 }; phase.streams.len()];
    let now = Instant::now().max(phase_start);
    for (c, ps) in cursors.iter_mut().zip(&phase.streams) {
        c.retarget(ps, &ov, phase_start, now);
    }
    let mut next: Vec<u64> = vec![0; phase.streams.len()];
    loop {
        // Earliest due tick across the phase's streams.
        let mut best: Option<(usize, Instant)> = None;
        for (i, ps) in phase.streams.iter().enumerate() {
            if let Some(due) = cursors[i].due(ps, phase_start, phase_end)
                && best.is_none_or(|(_, b)| due < b)
            {
                best = Some((i, due));
            }
        }
        let woke = match best {
            // Nothing more to send unless steering changes something.
            None => tokio::select! {
                _ = sleep_until(phase_end) => break,
                _ = stop.cancelled() => break,
                _ = Ctx::changed(steer) => true,
            },
            Some((_, due)) if due > Instant::now() => tokio::select! {
                _ = sleep_until(due) => false,
                _ = stop.cancelled() => break,
                _ = Ctx::changed(steer) => true,
            },
            Some(_) => {
                if stop.is_cancelled() {
                    break;
                }
                false
            }
        };
        if woke || steer.has_changed().unwrap_or(false) {
            ov = steer.borrow_and_update().clone();
            gate.resize(ov.workers.unwrap_or(phase.workers), pool);
            let now = Instant::now();
            for (c, ps) in cursors.iter_mut().zip(&phase.streams) {
                c.retarget(ps, &ov, phase_start, now);
            }
            continue;
        }
        let Some((i, due)) = best else { break };
        if let Some(sh) = shard {
            let seq = first_seq[i] + next[i];
            if !sh.owns(seq) {
                match cursors[i] {
                    // Another shard sends this tick.
                    Cursor::Plan { .. } => {
                        next[i] += 1;
                        cursors[i].advance();
                        continue;
                    }
                    // An operator rate is this shard's own: keep the tick,
                    // take the next record this shard owns.
                    _ => next[i] = sh.next_owned(seq) - first_seq[i],
                }
            }
        }
        let stream = phase.streams[i].stream;
        let at = due.saturating_duration_since(shared.start);
        shared.scheduled(phase.index, stream, at);
        let permit = match gate.sem.clone().try_acquire_owned() {
            Ok(p) => Ok(p),
            // Timer wake-ups have ~1 ms granularity, so at high rates ticks
            // are dispatched in bursts; a worker that frees up within
            // DISPATCH_SLACK of the tick's due instant would have been free
            // on time. Busier than that is saturation: drop, never queue.
            Err(_) => {
                tokio::time::timeout_at(due + DISPATCH_SLACK, gate.sem.clone().acquire_owned())
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
                    route: route_for(phase, &ov, stream),
                    scheduled: due,
                    permit,
                };
                if !dispatch(jobs, job).await {
                    break;
                }
            }
            Err(_) => shared.dropped(phase.index, stream, at),
        }
        next[i] += 1;
        cursors[i].advance();
    }
    next
}

/// Dispatches a closed-model phase until it ends. Streams take turns in
/// proportion to their share (smooth weighted round robin, deterministic).
pub async fn closed_phase(
    ctx: Ctx<'_>,
    phase: &PlanPhase,
    phase_start: Instant,
    first_seq: &[u64],
) -> Vec<u64> {
    let Ctx {
        shared,
        pool,
        jobs,
        stop,
        steer,
        shard,
    } = ctx;
    // Shard I of N takes first + I, first + I + N, …; unsharded: every number.
    let (offset, stride) = shard.map_or((0, 1), |s| (u64::from(s.index), u64::from(s.count)));
    let seq_of = |k: usize, n: u64| first_seq[k] + offset + stride * n;
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
    let mut ov = steer.borrow_and_update().clone();
    let mut gate = Gate::new(phase.workers);
    gate.resize(ov.workers.unwrap_or(phase.workers), pool);
    sleep_until(phase_start).await;
    // `changed()` marks the value seen: remember that it fired.
    let mut refresh = false;
    loop {
        if std::mem::take(&mut refresh) || steer.has_changed().unwrap_or(false) {
            ov = steer.borrow_and_update().clone();
            gate.resize(ov.workers.unwrap_or(phase.workers), pool);
        }
        // Streams whose replay file has run out, or that are paused, take no turns.
        let live: Vec<usize> = (0..phase.streams.len())
            .filter(|&k| {
                let s = phase.streams[k].stream;
                !ov.paused.get(s).copied().unwrap_or(false)
                    && shared.streams[s]
                        .limit
                        .is_none_or(|l| seq_of(k, next[k]) < l)
                    && seq_of(k, next[k]) - first_seq[k] < crate::plan::shard::CLOSED_PHASE_SEQS
            })
            .collect();
        if live.is_empty() {
            tokio::select! {
                _ = sleep_until(end) => break,
                _ = stop.cancelled() => break,
                _ = Ctx::changed(steer) => { refresh = true; continue }
            }
        }
        let permit = tokio::select! {
            p = gate.sem.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = sleep_until(end) => break,
            _ = stop.cancelled() => break,
            _ = Ctx::changed(steer) => { refresh = true; continue }
        };
        let now = Instant::now();
        if now >= end {
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
        shared.scheduled(
            phase.index,
            stream,
            now.saturating_duration_since(shared.start),
        );
        let job = Job {
            phase: phase.index,
            stream,
            seq: seq_of(i, next[i]),
            route: route_for(phase, &ov, stream),
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
    // The range of sequence numbers consumed (all shards' share of it).
    next.iter().map(|n| n * stride).collect()
}
