//! The closed model (`rate: max`): lanes send flat out until the phase ends.
//!
//! The scheduler hands out one *slot* of the phase per allowed worker
//! (`Work::Closed(phase, slot)`); whichever lane takes a slot loops on its
//! own until the phase ends or steering lowers the worker count below the
//! slot (slots, not lane indices, decide how many send at once, so it does
//! not matter which lane picks a slot up) — take a unit of the
//! in-flight budget, [`ClosedPhase::claim`] the next (stream, seq), build and
//! submit — with no channel or wake-up per message. What bounds the phase is
//! the sink's speed at taking messages (lanes) and the budget (messages
//! awaiting their answer), never the round trip of one message.
//!
//! Claims are deterministic in *which* records a phase sends: streams take
//! turns in proportion to their share (smooth weighted round robin) and
//! sequence numbers are consecutive per stream (on a shard: its residue
//! class). Once the phase ends no claim succeeds, so the count the scheduler
//! reads at the end is exactly what was sent.

use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, Semaphore};
use tokio::time::{Instant, sleep_until};

use super::steering::Overlay;
use super::worker::{Job, Scratch, Shared, process};
use crate::plan::PlanPhase;
use crate::sink::Route;

/// One closed-model phase while it runs.
pub struct ClosedPhase {
    phase: usize,
    end: Instant,
    budget: Arc<Semaphore>,
    /// (stream index, share) per phase stream.
    streams: Vec<(usize, f64)>,
    first_seq: Vec<u64>,
    /// Shard I of N takes first + I, first + I + N, …; unsharded: (0, 1).
    offset: u64,
    stride: u64,
    state: Mutex<State>,
    /// Per slot: handed out or running (so a slot runs at most once at a time).
    slots: Mutex<Vec<bool>>,
    /// Woken on steering changes and at the end.
    changed: Notify,
}

struct State {
    next: Vec<u64>,
    credit: Vec<f64>,
    paused: Vec<bool>,
    route: Vec<Route>,
    ended: bool,
}

impl ClosedPhase {
    pub fn new(
        phase: &PlanPhase,
        end: Instant,
        first_seq: &[u64],
        shard: Option<crate::plan::Shard>,
        overlay: &Overlay,
    ) -> Self {
        let (offset, stride) = shard.map_or((0, 1), |s| (u64::from(s.index), u64::from(s.count)));
        let n = phase.streams.len();
        let cp = Self {
            phase: phase.index,
            end,
            budget: Arc::new(Semaphore::new(phase.max_in_flight as usize)),
            streams: phase.streams.iter().map(|s| (s.stream, s.share)).collect(),
            first_seq: first_seq.to_vec(),
            offset,
            stride,
            state: Mutex::new(State {
                next: vec![0; n],
                credit: vec![0.0; n],
                paused: vec![false; n],
                route: vec![super::schedule::route(phase.mode); n],
                ended: false,
            }),
            slots: Mutex::new(Vec::new()),
            changed: Notify::new(),
        };
        cp.steer(phase, overlay);
        cp
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies the steering overlay's pauses and modes.
    pub fn steer(&self, phase: &PlanPhase, ov: &Overlay) {
        {
            let mut st = self.lock();
            for (k, &(stream, _)) in self.streams.iter().enumerate() {
                st.paused[k] = ov.paused.get(stream).copied().unwrap_or(false);
                st.route[k] = super::schedule::route(
                    ov.mode.get(stream).copied().flatten().unwrap_or(phase.mode),
                );
            }
        }
        self.changed.notify_waiters();
    }

    /// The slots below `allowed` that are neither handed out nor running;
    /// they count as handed out from now on.
    pub fn slots_to_hand_out(&self, allowed: usize) -> Vec<usize> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if slots.len() < allowed {
            slots.resize(allowed, false);
        }
        let mut out = Vec::new();
        for (k, busy) in slots.iter_mut().enumerate().take(allowed) {
            if !*busy {
                *busy = true;
                out.push(k);
            }
        }
        out
    }

    fn release(&self, slot: usize) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(busy) = slots.get_mut(slot) {
            *busy = false;
        }
    }

    /// Ends the phase: no claim succeeds after this. Returns the range of
    /// sequence numbers consumed per phase stream (all shards' share of it).
    pub fn finish(&self) -> Vec<u64> {
        let mut st = self.lock();
        st.ended = true;
        self.changed.notify_waiters();
        st.next.iter().map(|n| n * self.stride).collect()
    }

    /// The next record to send: (stream, seq, route), or `None` when every
    /// stream is paused or used up, or the phase ended.
    pub fn claim(&self, shared: &Shared) -> Option<(usize, u64, Route)> {
        let mut st = self.lock();
        if st.ended {
            return None;
        }
        let seq_of =
            |k: usize, st: &State| self.first_seq[k] + self.offset + self.stride * st.next[k];
        let live = |k: usize, st: &State| {
            let stream = self.streams[k].0;
            let seq = seq_of(k, st);
            !st.paused[k]
                && shared.streams[stream].limit.is_none_or(|l| seq < l)
                && seq - self.first_seq[k] < crate::plan::shard::CLOSED_PHASE_SEQS
        };
        let mut best: Option<usize> = None;
        for k in 0..self.streams.len() {
            if !live(k, &st) {
                continue;
            }
            st.credit[k] += self.streams[k].1;
            // Highest credit wins; ties go to the earlier stream.
            if best.is_none_or(|b| st.credit[k] > st.credit[b]) {
                best = Some(k);
            }
        }
        let i = best?;
        st.credit[i] -= 1.0;
        let seq = seq_of(i, &st);
        st.next[i] += 1;
        Some((self.streams[i].0, seq, st.route[i]))
    }

    /// Slot `slot`'s loop, on lane `lane`: until the phase ends, the run
    /// stops or steering lowers the worker count to `slot` or below.
    pub async fn run_slot(
        &self,
        slot: usize,
        shared: &Arc<Shared>,
        scratch: &mut Scratch,
        lane: usize,
    ) {
        loop {
            self.send_flat_out(slot, shared, scratch, lane).await;
            self.release(slot);
            // Steering may have raised the count again while this slot was
            // leaving (the hand-out then skipped it as busy): take it back.
            let wanted =
                slot < shared.lanes() && Instant::now() < self.end && !shared.stop.is_cancelled();
            if !(wanted && self.take(slot)) {
                break;
            }
        }
    }

    /// Marks `slot` busy unless it already is (then someone else runs it).
    fn take(&self, slot: usize) -> bool {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        match slots.get_mut(slot) {
            Some(busy) if !*busy => {
                *busy = true;
                true
            }
            _ => false,
        }
    }

    async fn send_flat_out(
        &self,
        slot: usize,
        shared: &Arc<Shared>,
        scratch: &mut Scratch,
        lane: usize,
    ) {
        let mut sent: u32 = 0;
        loop {
            if shared.stop.is_cancelled() || Instant::now() >= self.end || slot >= shared.lanes() {
                break;
            }
            let permit = match self.budget.clone().try_acquire_owned() {
                Ok(p) => p,
                Err(_) => tokio::select! {
                    p = self.budget.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                    _ = sleep_until(self.end) => break,
                    _ = shared.stop.cancelled() => break,
                },
            };
            let now = Instant::now();
            if now >= self.end {
                break;
            }
            let claimed = match self.claim(shared) {
                Some(c) => c,
                None => {
                    // Every stream paused or used up: wait for a steering
                    // change. Registered before claiming again, so a change
                    // between the two claims is not missed.
                    let changed = self.changed.notified();
                    tokio::pin!(changed);
                    changed.as_mut().enable();
                    match self.claim(shared) {
                        Some(c) => c,
                        None => {
                            drop(permit);
                            tokio::select! {
                                _ = changed => continue,
                                _ = sleep_until(self.end) => break,
                                _ = shared.stop.cancelled() => break,
                            }
                        }
                    }
                }
            };
            let (stream, seq, route) = claimed;
            shared.scheduled(
                self.phase,
                stream,
                now.saturating_duration_since(shared.start),
            );
            let job = Job {
                phase: self.phase,
                stream,
                seq,
                route,
                scheduled: now,
                permit,
            };
            process(shared, job, scratch, lane).await;
            sent = sent.wrapping_add(1);
            if sent % 64 == 0 {
                // Sinks that answer inline never make a lane wait: let the
                // timers and the other tasks run now and then.
                tokio::task::yield_now().await;
            }
        }
    }
}
