//! Live status of a run (`GET /status`, `mbscenario ctl status`): where the
//! run is, what each stream is asked to do (plan + steering) and what it
//! achieves, with its counts so far.
//!
//! Achieved rates come from acked-count samples the engine takes every
//! second (the last [`WINDOW`] of them), so they are a short moving average,
//! not a lifetime mean.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::steering::{RunState, Steering, SteeringEvent, seconds};
use crate::scenario::model::{Load, Mode};

/// How far back achieved rates look.
pub const WINDOW: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Status {
    pub scenario: String,
    pub state: RunState,
    /// Seconds since the run started.
    pub elapsed_s: f64,
    pub phase: Option<PhaseStatus>,
    /// Whether anyone changed the run at runtime.
    pub steered: bool,
    pub streams: Vec<StreamStatus>,
    pub totals: LiveCounts,
    pub events: Vec<SteeringEvent>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PhaseStatus {
    pub index: usize,
    pub name: String,
    pub elapsed_s: f64,
    pub remaining_s: f64,
    /// `rate` (open model) or `max` (closed model).
    pub load: String,
    pub workers: u32,
    pub planned_workers: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StreamStatus {
    pub name: String,
    /// Takes part in the current phase.
    pub active: bool,
    pub paused: bool,
    pub mode: String,
    pub mode_overridden: bool,
    /// Msgs/s asked for now (`None`: flat out, or no phase).
    pub target_rate: Option<f64>,
    pub rate_overridden: bool,
    /// Acked msgs/s over the last few seconds.
    pub achieved_rate: f64,
    pub counts: LiveCounts,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LiveCounts {
    pub scheduled: u64,
    pub acked: u64,
    pub failed: u64,
    pub dropped: u64,
    pub in_flight: u64,
    pub errors: BTreeMap<String, u64>,
}

impl LiveCounts {
    fn add_cell(&mut self, c: &super::recorder::Cell) {
        self.scheduled += c.scheduled;
        self.acked += c.acked;
        self.failed += c.failed_total();
        self.dropped += c.dropped;
        for (k, v) in &c.failed {
            *self.errors.entry((*k).to_string()).or_default() += v;
        }
        self.in_flight = self
            .scheduled
            .saturating_sub(self.acked + self.failed + self.dropped);
    }

    fn add(&mut self, o: &LiveCounts) {
        self.scheduled += o.scheduled;
        self.acked += o.acked;
        self.failed += o.failed;
        self.dropped += o.dropped;
        self.in_flight += o.in_flight;
        for (k, v) in &o.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
    }
}

/// Acked count per stream right now.
pub(crate) fn acked_per_stream(steering: &Steering) -> Vec<u64> {
    let n = steering.plan().streams.len();
    let mut out = vec![0; n];
    if let Some(shared) = steering.live.get() {
        shared.record(|r| {
            for ((_, s), c) in r.cells() {
                if let Some(slot) = out.get_mut(*s) {
                    *slot += c.acked;
                }
            }
        });
    }
    out
}

/// Engine, once a second: remembers acked counts for achieved rates.
pub(crate) fn sample(steering: &Steering, now: Instant) -> Vec<f64> {
    let acked = acked_per_stream(steering);
    let mut q = steering.samples.lock().unwrap_or_else(|p| p.into_inner());
    q.push_back((now, acked));
    while q.len() > 2
        && q.front()
            .is_some_and(|(t, _)| now.duration_since(*t) > WINDOW)
    {
        q.pop_front();
    }
    rates(&q)
}

fn rates(q: &std::collections::VecDeque<(Instant, Vec<u64>)>) -> Vec<f64> {
    match (q.front(), q.back()) {
        (Some((t0, a0)), Some((t1, a1))) if t1 > t0 => {
            let dt = t1.duration_since(*t0).as_secs_f64();
            a1.iter()
                .zip(a0)
                .map(|(b, a)| b.saturating_sub(*a) as f64 / dt)
                .collect()
        }
        _ => q
            .back()
            .map(|(_, a)| vec![0.0; a.len()])
            .unwrap_or_default(),
    }
}

/// The status as of now.
pub fn status(steering: &Steering) -> Status {
    let plan = steering.plan();
    let overlay = steering.overlay();
    let now = Instant::now();
    let elapsed = steering
        .started()
        .map_or(Duration::ZERO, |s| now.saturating_duration_since(s));
    let phase = overlay.phase.map(|i| &plan.phases[i]);
    let mut per_stream = vec![LiveCounts::default(); plan.streams.len()];
    if let Some(shared) = steering.live.get() {
        shared.record(|r| {
            for ((_, s), c) in r.cells() {
                if let Some(slot) = per_stream.get_mut(*s) {
                    slot.add_cell(c);
                }
            }
        });
    }
    let achieved = rates(&steering.samples.lock().unwrap_or_else(|p| p.into_inner()));
    let in_phase = phase.map(|p| elapsed.saturating_sub(p.offset));
    let streams = plan
        .streams
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let achieved = achieved.get(i).copied().unwrap_or(0.0);
            stream_status(
                i,
                &s.name,
                phase,
                in_phase,
                &overlay,
                achieved,
                &per_stream[i],
            )
        })
        .collect();
    let mut totals = LiveCounts::default();
    for c in &per_stream {
        totals.add(c);
    }
    let events = steering.events();
    Status {
        scenario: plan.scenario.clone(),
        state: steering.state(),
        elapsed_s: seconds(elapsed),
        phase: phase.map(|p| PhaseStatus {
            index: p.index,
            name: p.name.clone(),
            elapsed_s: seconds(elapsed.saturating_sub(p.offset)),
            remaining_s: seconds((p.offset + p.duration).saturating_sub(elapsed)),
            load: if matches!(p.load, Load::Max) {
                "max"
            } else {
                "rate"
            }
            .to_string(),
            workers: overlay.workers.unwrap_or(p.workers),
            planned_workers: p.workers,
        }),
        steered: !events.is_empty(),
        streams,
        totals,
        events,
    }
}

/// Stream `i` now: active in the phase or not, its target rate (planned,
/// steered or paused), mode, achieved rate and counts.
fn stream_status(
    i: usize,
    name: &str,
    phase: Option<&crate::plan::PlanPhase>,
    in_phase: Option<Duration>,
    overlay: &super::steering::Overlay,
    achieved: f64,
    counts: &LiveCounts,
) -> StreamStatus {
    let ps = phase.and_then(|p| p.streams.iter().find(|x| x.stream == i));
    let planned_rate = match (phase, ps, in_phase) {
        (Some(p), Some(ps), Some(t)) if !matches!(p.load, Load::Max) => {
            Some(ps.curve.as_ref().map_or(0.0, |c| c.rate_at(t)))
        }
        _ => None,
    };
    let paused = overlay.paused[i];
    let target_rate = if paused && ps.is_some() {
        Some(0.0)
    } else {
        overlay.rate[i].or(planned_rate)
    };
    let mode = overlay.mode[i].or(phase.map(|p| p.mode));
    StreamStatus {
        name: name.to_string(),
        active: ps.is_some(),
        paused,
        mode: mode.map_or("-", Mode::as_str).to_string(),
        mode_overridden: overlay.mode[i].is_some(),
        target_rate,
        rate_overridden: overlay.rate[i].is_some(),
        achieved_rate: achieved,
        counts: counts.clone(),
    }
}
