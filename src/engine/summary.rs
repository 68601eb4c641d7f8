//! `RunSummary`: the data a report is made of. Every scheduled message is
//! accounted: scheduled = acked + failed + dropped + in_flight.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::recorder::{Cell, Recorder, Second};
use crate::plan::Plan;
use crate::scenario::model::{Mode, serde_duration};
use crate::scenario::units::{format_duration, format_measured_rate, format_number};

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct RunSummary {
    pub scenario: String,
    pub seed: u64,
    pub interrupted: bool,
    /// Why the run stopped early on an invalid scenario (e.g. an override failing at run time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fatal: Option<String>,
    /// The error behind `fatal`, for locating it in the scenario file.
    #[serde(skip)]
    pub fatal_error: Option<crate::datagen::expr::ExprError>,
    #[serde(with = "serde_duration")]
    #[schemars(with = "String")]
    pub elapsed: Duration,
    pub phases: Vec<PhaseSummary>,
    pub totals: Counts,
    /// Per timeline slot with anything planned or measured, in order (slots
    /// where nothing was due and nothing happened are left out).
    pub timeline: Vec<TimelinePoint>,
    /// Seconds per timeline slot: 1, or more for plans longer than a day.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub timeline_step_s: u64,
    /// Whether anyone changed the run at runtime (control API): its numbers
    /// then do not follow the scenario alone.
    pub steered: bool,
    /// The runtime changes, in order.
    pub steering: Vec<super::steering::SteeringEvent>,
    /// What each `seek` phase found, in phase order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seek: Vec<super::seek::SeekResult>,
    /// Send→ack latency per phase (µs, all streams), for assertions on any percentile.
    #[serde(skip)]
    pub send_ack: Vec<hdrhistogram::Histogram<u64>>,
    /// Per phase × stream (plan order): send→ack latency and schedule lag,
    /// µs — what a sharded report serializes for merging.
    #[serde(skip)]
    pub cell_histograms: Vec<CellHistograms>,
}

/// Raw histograms of one phase × stream.
#[derive(Debug, Clone)]
pub struct CellHistograms {
    pub phase: usize,
    pub stream: usize,
    pub latency: Histogram<u64>,
    pub lag: Histogram<u64>,
}

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct PhaseSummary {
    pub name: String,
    pub mode: Mode,
    pub workers: u32,
    pub started: bool,
    /// Planned messages (`None` for closed-model phases).
    pub planned: Option<u64>,
    #[serde(with = "serde_duration")]
    #[schemars(with = "String")]
    pub duration: Duration,
    pub counts: Counts,
    /// Acked messages per second of phase duration.
    pub achieved_rate: f64,
    /// Planned messages per second (`None` for closed-model phases).
    pub target_rate: Option<f64>,
    /// Send→ack latency of all the phase's streams.
    pub latency: Percentiles,
    pub streams: Vec<StreamSummary>,
}

#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct StreamSummary {
    pub name: String,
    pub counts: Counts,
    pub latency: Percentiles,
    pub schedule_lag: Percentiles,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct Counts {
    pub scheduled: u64,
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub failed_by_kind: BTreeMap<String, u64>,
    pub dropped: u64,
    pub retried: u64,
    /// Scheduled but neither acked, failed nor dropped when the run ended (abort).
    pub in_flight: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.scheduled += o.scheduled;
        self.sent += o.sent;
        self.acked += o.acked;
        self.failed += o.failed;
        for (k, v) in &o.failed_by_kind {
            *self.failed_by_kind.entry(k.clone()).or_default() += v;
        }
        self.dropped += o.dropped;
        self.retried += o.retried;
        self.in_flight += o.in_flight;
    }

    fn of(c: &Cell) -> Counts {
        let failed = c.failed_total();
        Counts {
            scheduled: c.scheduled,
            sent: c.sent,
            acked: c.acked,
            failed,
            failed_by_kind: c
                .failed
                .iter()
                .map(|(k, v)| ((*k).to_string(), *v))
                .collect(),
            dropped: c.dropped,
            retried: c.retried,
            in_flight: c.scheduled.saturating_sub(c.acked + failed + c.dropped),
        }
    }
}

pub use crate::stats::Percentiles;

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, schemars::JsonSchema)]
pub struct TimelinePoint {
    pub second: u64,
    /// Planned messages due in this second (sum over rate-limited phases).
    pub target: u64,
    pub scheduled: u64,
    pub acked: u64,
    pub failed: u64,
    pub dropped: u64,
    /// `failed` by error kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failed_by_kind: BTreeMap<String, u64>,
    /// Send → ack p50 of the messages acknowledged in this second (none: no acks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_p50_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_p99_us: Option<u64>,
}

pub fn summarize(
    plan: &Plan,
    rec: &Recorder,
    elapsed: Duration,
    interrupted: bool,
    phases_started: usize,
) -> RunSummary {
    let mut totals = Counts::default();
    let mut send_ack = Vec::new();
    let mut cell_histograms = Vec::new();
    let phases = plan
        .phases
        .iter()
        .map(|p| {
            let mut counts = Counts::default();
            let mut merged = crate::engine::recorder::latency_histogram();
            let streams = p
                .streams
                .iter()
                .map(|ps| {
                    let cell = rec
                        .cells()
                        .get(&(p.index, ps.stream))
                        .cloned()
                        .unwrap_or_default();
                    let c = Counts::of(&cell);
                    counts.add(&c);
                    cell_histograms.push(CellHistograms {
                        phase: p.index,
                        stream: ps.stream,
                        latency: cell.latency.clone(),
                        lag: cell.lag.clone(),
                    });
                    let _ = merged.add(&cell.latency);
                    StreamSummary {
                        name: ps.name.clone(),
                        counts: c,
                        latency: Percentiles::of(&cell.latency),
                        schedule_lag: Percentiles::of(&cell.lag),
                    }
                })
                .collect();
            totals.add(&counts);
            let secs = p.duration.as_secs_f64();
            let latency = Percentiles::of(&merged);
            send_ack.push(merged);
            PhaseSummary {
                name: p.name.clone(),
                mode: p.mode,
                workers: p.workers,
                started: p.index < phases_started,
                planned: p.expected_messages,
                duration: p.duration,
                achieved_rate: counts.acked as f64 / secs,
                target_rate: p.expected_messages.map(|n| n as f64 / secs),
                latency,
                counts,
                streams,
            }
        })
        .collect();
    let timeline = timeline(plan, rec);
    RunSummary {
        steered: false,
        seek: Vec::new(),
        steering: Vec::new(),
        scenario: plan.scenario.clone(),
        seed: plan.seed,
        interrupted,
        fatal: None,
        fatal_error: None,
        elapsed,
        phases,
        totals,
        timeline,
        timeline_step_s: rec.step(),
        send_ack,
        cell_histograms,
    }
}

fn one() -> u64 {
    1
}

fn is_one(v: &u64) -> bool {
    *v == 1
}

fn timeline(plan: &Plan, rec: &Recorder) -> Vec<TimelinePoint> {
    let step = rec.step();
    let slots = (plan.total_duration.as_secs_f64().ceil() as u64).div_ceil(step) as usize;
    let n = slots.max(rec.seconds().len());
    let mut ack = rec.ack_latency().into_iter().peekable();
    let mut out = Vec::new();
    for i in 0..n {
        let second = i as u64 * step;
        let s = rec.seconds().get(i).cloned().unwrap_or_default();
        while ack.next_if(|a| a.second < i as u64).is_some() {}
        let a = ack.next_if(|a| a.second == i as u64);
        let target = target_in_span(plan, second, step);
        if target == 0 && s == Second::default() && a.is_none() {
            continue; // nothing due, nothing happened
        }
        out.push(TimelinePoint {
            second,
            target,
            scheduled: s.scheduled,
            acked: s.acked,
            failed: s.failed,
            dropped: s.dropped,
            failed_by_kind: s
                .failed_by_kind
                .into_iter()
                .map(|(k, n)| (k.into_owned(), n))
                .collect(),
            ack_p50_us: a.map(|a| a.p50_us),
            ack_p99_us: a.map(|a| a.p99_us),
        });
    }
    out
}

/// Planned messages due in `[second, second + step)` of the run.
fn target_in_span(plan: &Plan, second: u64, step: u64) -> u64 {
    let lo = Duration::from_secs(second);
    let hi = Duration::from_secs(second.saturating_add(step));
    plan.phases
        .iter()
        .filter(|p| p.offset < hi && p.end() > lo)
        .flat_map(|p| p.streams.iter().map(move |s| (p, s)))
        .filter_map(|(p, s)| {
            let c = s.curve.as_ref()?;
            let a = lo.saturating_sub(p.offset);
            let b = (hi.saturating_sub(p.offset)).min(p.duration);
            Some(plan.planned_between(s, c.count_before(a), c.count_before(b)))
        })
        .sum()
}

impl RunSummary {
    /// The console summary printed at the end of `run`.
    pub fn render_text(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "run {}: {} in {} (seed {})",
            self.scenario,
            if self.interrupted {
                "INTERRUPTED"
            } else {
                "finished"
            },
            format_duration(Duration::from_millis(self.elapsed.as_millis() as u64)),
            self.seed
        );
        let _ = writeln!(
            o,
            "  {:<14} {:>9} {:>9} {:>9} {:>7} {:>8} {:>9} {:>10} {:>9} {:>9}",
            "phase",
            "planned",
            "scheduled",
            "acked",
            "failed",
            "dropped",
            "in-flight",
            "rate",
            "p50",
            "p99"
        );
        for p in &self.phases {
            let lat = p
                .streams
                .iter()
                .map(|s| &s.latency)
                .max_by_key(|l| l.p99_us);
            let _ = writeln!(
                o,
                "  {:<14} {:>9} {:>9} {:>9} {:>7} {:>8} {:>9} {:>10} {:>9} {:>9}",
                p.name,
                match p.planned {
                    Some(n) => n.to_string(),
                    None if self.seek.iter().any(|k| k.phase == p.name) => "seek".into(),
                    None => "max".into(),
                },
                p.counts.scheduled,
                p.counts.acked,
                p.counts.failed,
                p.counts.dropped,
                p.counts.in_flight,
                format_measured_rate(p.achieved_rate),
                lat.map_or("-".into(), |l| micros(l.p50_us)),
                lat.map_or("-".into(), |l| micros(l.p99_us)),
            );
        }
        let t = &self.totals;
        let _ = writeln!(
            o,
            "  total: scheduled {} = acked {} + failed {} + dropped {} + in flight {}",
            t.scheduled, t.acked, t.failed, t.dropped, t.in_flight
        );
        if !t.failed_by_kind.is_empty() {
            let kinds: Vec<String> = t
                .failed_by_kind
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let _ = writeln!(o, "  failures by kind: {}", kinds.join(", "));
        }
        o
    }
}

fn micros(us: u64) -> String {
    if us >= 1_000_000 {
        format!("{}s", format_number(us as f64 / 1e6))
    } else if us >= 1_000 {
        format!("{}ms", format_number(us as f64 / 1e3))
    } else {
        format!("{us}µs")
    }
}
