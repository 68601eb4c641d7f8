//! The scheduler: one implementation for every open-model shape, plus the
//! closed model for `max`.
//!
//! Open model: message `n` of stream `s` in a phase is due at
//! `phase_start + curve_s.arrival_offset(n)` (absolute instants; never
//! `sleep(period)` loops, which drift). The streams' due times are merged in
//! order; ticks already due when the scheduler wakes are dispatched in one go
//! as one batch of [`Work::Jobs`] (one channel send and one lane wake-up per
//! batch, not per message). Each tick takes a unit of the phase's in-flight
//! budget (`max_in_flight`); a due tick that finds the budget exhausted is
//! counted as dropped, never queued. Lanes are never what drops a tick: a
//! lane only builds and submits, the round trip runs on the budget.
//!
//! Closed model (`max`): see [`super::closed`] — the lanes send flat out.
//!
//! Steering (see [`super::steering`]) is read through a watch channel: on a
//! change each stream's `Cursor` is re-aimed at the current instant — the
//! plan's curve (skipping what fell due while paused), a fixed operator rate,
//! or nothing while paused — and the lane pool grows if more workers are
//! asked for. Without changes the dispatch is exactly the plan's.

use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::closed::ClosedPhase;
use super::pool::{Budget, Pool};
use super::steering::Overlay;
use super::worker::{Job, Shared, Work};
use crate::plan::{PhaseStream, PlanPhase};
use crate::scenario::model::Mode;
use crate::sink::Route;

/// How long past its due instant a tick may wait for budget before it counts
/// as dropped (absorbs timer granularity; far below any real send time).
pub const DISPATCH_SLACK: std::time::Duration = std::time::Duration::from_millis(2);

pub fn route(mode: Mode) -> Route {
    match mode {
        Mode::KafkaViaConnect => Route::Kafka,
        Mode::DirectSqs => Route::Sqs,
    }
}

/// Lets `n` lanes work, spawning them if the pool has fewer.
fn set_lanes(shared: &Shared, pool: &Pool, n: u32) {
    pool.ensure(n as usize);
    shared.set_lanes(n as usize);
}

/// Most ticks handed to a lane in one batch.
const BATCH: usize = 256;

/// Hands the pending ticks to the lanes, split evenly over the lanes that
/// may work (ticks due together go to different lanes, as they would to
/// different senders); `false` once the lanes are gone (the run is ending).
/// The channel is unbounded: every job in it holds a unit of the budget,
/// which is what bounds it.
fn flush(shared: &Shared, jobs: &async_channel::Sender<Work>, batch: &mut Vec<Job>) -> bool {
    if batch.is_empty() {
        return true;
    }
    let lanes = shared.lanes().clamp(1, batch.len());
    let chunk = batch.len().div_ceil(lanes);
    let mut rest = std::mem::take(batch);
    while rest.len() > chunk {
        let tail = rest.split_off(chunk);
        if jobs.try_send(Work::Jobs(rest)).is_err() {
            return false;
        }
        rest = tail;
    }
    jobs.try_send(Work::Jobs(rest)).is_ok()
}

/// What a phase's dispatch loop needs besides the phase.
pub struct Ctx<'a> {
    pub shared: &'a Shared,
    pub pool: &'a Pool,
    pub jobs: &'a async_channel::Sender<Work>,
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

/// Where an open phase's streams stand: each one's cursor, the records it
/// took so far, and the steering overlay the cursors were aimed with.
struct Ticks<'p> {
    phase: &'p PlanPhase,
    phase_start: Instant,
    cursors: Vec<Cursor>,
    /// Records taken per stream: stream `i`'s next one is `first_seq[i] + next[i]`.
    next: Vec<u64>,
    ov: Overlay,
}

impl<'p> Ticks<'p> {
    fn new(phase: &'p PlanPhase, phase_start: Instant, ov: Overlay) -> Self {
        let mut ticks = Self {
            phase,
            phase_start,
            cursors: vec![Cursor::Plan { k: 0 }; phase.streams.len()],
            next: vec![0; phase.streams.len()],
            ov,
        };
        ticks.retarget(Instant::now().max(phase_start));
        ticks
    }

    fn retarget(&mut self, now: Instant) {
        for (c, ps) in self.cursors.iter_mut().zip(&self.phase.streams) {
            c.retarget(ps, &self.ov, self.phase_start, now);
        }
    }

    /// Takes stream `i`'s tick (sent or dropped) and moves on to its next one.
    fn advance(&mut self, i: usize) {
        self.next[i] += 1;
        self.cursors[i].advance();
    }

    /// In a sharded run, whether stream `i`'s due tick is another shard's
    /// (then it is passed over). An operator rate is this shard's own: the
    /// tick stays, and takes the next record this shard owns.
    fn passes_over(
        &mut self,
        i: usize,
        shard: Option<&crate::plan::Shard>,
        first_seq: &[u64],
    ) -> bool {
        let Some(sh) = shard else { return false };
        let seq = first_seq[i] + self.next[i];
        if sh.owns(seq) {
            return false;
        }
        match self.cursors[i] {
            Cursor::Plan { .. } => {
                self.advance(i);
                true
            }
            _ => {
                self.next[i] = sh.next_owned(seq) - first_seq[i];
                false
            }
        }
    }
}

/// Why the dispatch loop stopped waiting.
enum Wake {
    /// The awaited tick is due.
    Due,
    /// Steering changed: re-aim before dispatching anything.
    Steered,
    /// The phase is over (or the run stops).
    End,
}

/// Waits for the tick `best` (or, with none left, for the phase's end),
/// for a steering change, or for the run to stop.
async fn wait_for(
    best: Option<(usize, Instant)>,
    phase_end: Instant,
    stop: &CancellationToken,
    steer: &mut watch::Receiver<Overlay>,
) -> Wake {
    match best {
        // Nothing more to send unless steering changes something.
        None => tokio::select! {
            _ = sleep_until(phase_end) => Wake::End,
            _ = stop.cancelled() => Wake::End,
            _ = Ctx::changed(steer) => Wake::Steered,
        },
        Some((_, due)) if due > Instant::now() => tokio::select! {
            _ = sleep_until(due) => Wake::Due,
            _ = stop.cancelled() => Wake::End,
            _ = Ctx::changed(steer) => Wake::Steered,
        },
        Some(_) if stop.is_cancelled() => Wake::End,
        Some(_) => Wake::Due,
    }
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
    let budget = Budget::new(phase.max_in_flight);
    let mut ticks = Ticks::new(phase, phase_start, steer.borrow_and_update().clone());
    set_lanes(shared, pool, ticks.ov.workers.unwrap_or(phase.workers));
    let mut batch: Vec<Job> = Vec::new();
    loop {
        let best = earliest(&ticks.cursors, phase, phase_start, phase_end);
        // Before any wait: the lanes get what is due so far.
        let waits = best.is_none_or(|(_, due)| due > Instant::now());
        if (waits || batch.len() >= BATCH) && !flush(shared, jobs, &mut batch) {
            break;
        }
        let woke = match wait_for(best, phase_end, stop, steer).await {
            Wake::End => break,
            Wake::Steered => true,
            Wake::Due => false,
        };
        if woke || steer.has_changed().unwrap_or(false) {
            ticks.ov = steer.borrow_and_update().clone();
            set_lanes(shared, pool, ticks.ov.workers.unwrap_or(phase.workers));
            ticks.retarget(Instant::now());
            continue;
        }
        let Some((i, due)) = best else { break };
        if ticks.passes_over(i, shard.as_ref(), first_seq) {
            continue;
        }
        let stream = phase.streams[i].stream;
        let at = due.saturating_duration_since(shared.start);
        shared.scheduled(phase.index, stream, at);
        let Some(permit) = acquire(&budget, due, shared, jobs, &mut batch).await else {
            break;
        };
        match permit {
            Some(permit) => batch.push(Job {
                phase: phase.index,
                stream,
                seq: first_seq[i] + ticks.next[i],
                route: route_for(phase, &ticks.ov, stream),
                scheduled: due,
                permit,
            }),
            None => shared.dropped(phase.index, stream, at),
        }
        ticks.advance(i);
    }
    finish_batch(shared, jobs, stop, batch);
    ticks.next
}

/// The stream whose next tick is due first, and when (`None`: no stream of
/// the phase has a tick left).
fn earliest(
    cursors: &[Cursor],
    phase: &PlanPhase,
    phase_start: Instant,
    phase_end: Instant,
) -> Option<(usize, Instant)> {
    let mut best: Option<(usize, Instant)> = None;
    for (i, ps) in phase.streams.iter().enumerate() {
        if let Some(due) = cursors[i].due(ps, phase_start, phase_end)
            && best.is_none_or(|(_, b)| due < b)
        {
            best = Some((i, due));
        }
    }
    best
}

/// A unit of the in-flight budget for a tick due at `due`: `Some(None)` when
/// the budget stayed exhausted (the tick is dropped), `None` when the lanes
/// are gone (the phase ends).
async fn acquire(
    budget: &Budget,
    due: Instant,
    shared: &Shared,
    jobs: &async_channel::Sender<Work>,
    batch: &mut Vec<Job>,
) -> Option<Option<tokio::sync::OwnedSemaphorePermit>> {
    if let Ok(p) = budget.sem.clone().try_acquire_owned() {
        return Some(Some(p));
    }
    // Timer wake-ups have ~1 ms granularity, so at high rates ticks are
    // dispatched in bursts; budget that comes back within DISPATCH_SLACK of
    // the tick's due instant would have been there on time. Exhausted longer
    // than that is saturation: drop, never queue.
    if !flush(shared, jobs, batch) {
        return None;
    }
    let waited =
        tokio::time::timeout_at(due + DISPATCH_SLACK, budget.sem.clone().acquire_owned()).await;
    Some(waited.ok().and_then(Result::ok))
}

/// The jobs still batched when the phase ends: sent to the lanes, or
/// dropped when the run was stopped.
fn finish_batch(
    shared: &Shared,
    jobs: &async_channel::Sender<Work>,
    stop: &CancellationToken,
    mut batch: Vec<Job>,
) {
    if batch.is_empty() {
        return;
    }
    if stop.is_cancelled() {
        for job in batch {
            let at = job.scheduled.saturating_duration_since(shared.start);
            shared.dropped(job.phase, job.stream, at);
        }
    } else {
        flush(shared, jobs, &mut batch);
    }
}

/// Runs a closed-model phase until it ends: its lanes send flat out (see
/// [`super::closed`]); this loop only passes steering changes on. Returns the
/// range of sequence numbers consumed per phase stream.
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
    let end = phase_start + phase.duration;
    if phase.streams.is_empty() {
        tokio::select! {
            _ = sleep_until(end) => {}
            _ = stop.cancelled() => {}
        }
        return vec![0; phase.streams.len()];
    }
    let ov = steer.borrow_and_update().clone();
    let cp = std::sync::Arc::new(ClosedPhase::new(phase, end, first_seq, shard, &ov));
    tokio::select! {
        _ = sleep_until(phase_start) => {}
        _ = stop.cancelled() => return cp.finish(),
    }
    // One slot per allowed worker; after a change, the slots that are not
    // running (a slot steering stopped may be wanted again).
    let hand_out = |n: u32| {
        set_lanes(shared, pool, n);
        for slot in cp.slots_to_hand_out(n as usize) {
            if jobs.try_send(Work::Closed(cp.clone(), slot)).is_err() {
                return;
            }
        }
    };
    hand_out(ov.workers.unwrap_or(phase.workers));
    loop {
        tokio::select! {
            _ = sleep_until(end) => break,
            _ = stop.cancelled() => break,
            _ = Ctx::changed(steer) => {
                let ov = steer.borrow_and_update().clone();
                cp.steer(phase, &ov);
                hand_out(ov.workers.unwrap_or(phase.workers));
            }
        }
    }
    cp.finish()
}
