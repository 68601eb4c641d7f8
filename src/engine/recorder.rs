//! What happened, per phase × stream: every scheduled message ends up exactly
//! once as acked, failed or dropped (or is still in flight at an abort).
//!
//! Latency is measured from the *scheduled* instant, not from when a worker
//! got to it, so a saturated system shows its queueing delay instead of hiding
//! it (no coordinated omission). Schedule lag (dispatch − scheduled) shows how
//! late the generator itself was.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Counters and histograms of one phase × stream.
#[derive(Debug, Clone)]
pub struct Cell {
    pub scheduled: u64,
    pub sent: u64,
    pub acked: u64,
    /// By error kind; kinds are the sinks' static names, or owned when
    /// read back from a report (`report merge`).
    pub failed: BTreeMap<std::borrow::Cow<'static, str>, u64>,
    pub dropped: u64,
    pub retried: u64,
    /// Send → ack latency from the scheduled instant, µs.
    pub latency: Histogram<u64>,
    /// Dispatch lag behind the scheduled instant, µs.
    pub lag: Histogram<u64>,
}

pub use crate::stats::latency_histogram;
use crate::stats::{LatencySeries, SecondLatency};

impl Default for Cell {
    fn default() -> Self {
        Self {
            scheduled: 0,
            sent: 0,
            acked: 0,
            failed: BTreeMap::new(),
            dropped: 0,
            retried: 0,
            latency: latency_histogram(),
            lag: latency_histogram(),
        }
    }
}

impl Cell {
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }
}

/// Outcome counts of one timeline slot (a second, or a few for plans longer
/// than a day: see [`crate::stats::timeline_step`]).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Second {
    pub scheduled: u64,
    pub acked: u64,
    pub failed: u64,
    pub dropped: u64,
    /// `failed`, by error kind (borrowed kinds: no allocation per failure).
    pub failed_by_kind: BTreeMap<Cow<'static, str>, u64>,
}

/// Mutable run state; the engine holds it behind a mutex.
#[derive(Debug)]
pub struct Recorder {
    cells: BTreeMap<(usize, usize), Cell>,
    /// Seconds per slot of `seconds`.
    step: u64,
    seconds: Vec<Second>,
    /// Send → ack percentiles per second of the ack.
    ack_series: LatencySeries,
    /// `report merge`: the shards' per-second percentiles, already combined.
    merged_ack: Vec<SecondLatency>,
}

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

impl Recorder {
    /// A recorder rebuilt from its parts (`report merge`).
    /// A recorder whose timeline has slots of `step` seconds.
    pub fn new(step: u64) -> Self {
        Self::from_parts(BTreeMap::new(), step, Vec::new(), Vec::new())
    }

    pub fn from_parts(
        cells: BTreeMap<(usize, usize), Cell>,
        step: u64,
        seconds: Vec<Second>,
        ack_latency: Vec<SecondLatency>,
    ) -> Self {
        Self {
            cells,
            step: step.max(1),
            seconds,
            ack_series: LatencySeries::default(),
            merged_ack: ack_latency,
        }
    }

    fn cell(&mut self, phase: usize, stream: usize) -> &mut Cell {
        self.cells.entry((phase, stream)).or_default()
    }

    fn second(&mut self, at: Duration) -> &mut Second {
        let i = crate::stats::timeline_slot(at.as_secs(), self.step);
        if self.seconds.len() <= i {
            self.seconds.resize(i + 1, Second::default());
        }
        &mut self.seconds[i]
    }

    /// A message became due at `scheduled_at` (offset from the run start).
    pub fn scheduled(&mut self, phase: usize, stream: usize, scheduled_at: Duration) {
        self.cell(phase, stream).scheduled += 1;
        self.second(scheduled_at).scheduled += 1;
    }

    /// A due message found the in-flight budget exhausted.
    pub fn dropped(&mut self, phase: usize, stream: usize, scheduled_at: Duration) {
        self.cell(phase, stream).dropped += 1;
        self.second(scheduled_at).dropped += 1;
    }

    /// A worker picked the message up `lag` after it was due and sent it.
    pub fn sent(&mut self, phase: usize, stream: usize, lag: Duration) {
        let c = self.cell(phase, stream);
        c.sent += 1;
        let _ = c.lag.record(us(lag));
    }

    /// The destination acknowledged, `latency` after the scheduled instant.
    pub fn acked(&mut self, phase: usize, stream: usize, latency: Duration, at: Duration) {
        let c = self.cell(phase, stream);
        c.acked += 1;
        let _ = c.latency.record(us(latency));
        self.second(at).acked += 1;
        let slot = crate::stats::timeline_slot(at.as_secs(), self.step) as u64;
        self.ack_series.record(slot, us(latency));
    }

    pub fn failed(&mut self, phase: usize, stream: usize, kind: &'static str, at: Duration) {
        *self
            .cell(phase, stream)
            .failed
            .entry(std::borrow::Cow::Borrowed(kind))
            .or_default() += 1;
        let second = self.second(at);
        second.failed += 1;
        *second
            .failed_by_kind
            .entry(Cow::Borrowed(kind))
            .or_default() += 1;
    }

    pub fn retried(&mut self, phase: usize, stream: usize, n: u64) {
        self.cell(phase, stream).retried += n;
    }

    pub fn cells(&self) -> &BTreeMap<(usize, usize), Cell> {
        &self.cells
    }

    /// Per slot of [`Self::step`] seconds.
    pub fn seconds(&self) -> &[Second] {
        &self.seconds
    }

    pub fn step(&self) -> u64 {
        self.step
    }

    /// Starts collecting every send → ack latency from now on into one
    /// histogram (see [`crate::stats::LatencySeries::open_window`]).
    pub fn open_ack_window(&mut self) {
        self.ack_series.open_window();
    }

    /// The send → ack latencies since [`Self::open_ack_window`].
    pub fn close_ack_window(&mut self) -> Option<Histogram<u64>> {
        self.ack_series.close_window()
    }

    /// Send → ack p50/p99 for each slot with acks (`second` = slot index).
    pub fn ack_latency(&self) -> Vec<SecondLatency> {
        if self.merged_ack.is_empty() {
            self.ack_series.seconds()
        } else {
            self.merged_ack.clone()
        }
    }
}
